-- moongrad-scm-1.rockspec: LuaRocks build of moongrad (the C core in src/ and
-- the Lua 5.4 binding in binding/) for `luarocks make` from a checkout.
-- The builtin backend has no globs: every .c file in src/ and binding/
-- must be listed below (`make rockspec-check` enforces this).
rockspec_format = "3.0"
package = "moongrad"
version = "scm-1"

source = {
   -- `luarocks make` builds the checkout it runs in and never fetches this.
   url = ".",
}

description = {
   summary = "Tensors with reverse-mode autograd: a C11 core with a Lua 5.4 binding",
}

dependencies = {
   "lua >= 5.4",
}

build = {
   type = "builtin",
   modules = {
      ["moongrad.core"] = {
         sources = {
            "src/autograd.c",
            "src/custom.c",
            "src/einsum.c",
            "src/format.c",
            "src/gemm.c",
            "src/grad_util.c",
            "src/graph_dot.c",
            "src/inplace.c",
            "src/io_idx.c",
            "src/io_safetensors.c",
            "src/nn_act.c",
            "src/nn_conv.c",
            "src/nn_layers.c",
            "src/nn_loss.c",
            "src/nn_pool.c",
            "src/ops.c",
            "src/ops_elementwise.c",
            "src/ops_gather.c",
            "src/ops_join.c",
            "src/ops_linalg.c",
            "src/ops_math.c",
            "src/ops_matmul.c",
            "src/ops_reduce.c",
            "src/ops_shape.c",
            "src/ops_stats.c",
            "src/optim.c",
            "src/parallel.c",
            "src/random.c",
            "src/slice.c",
            "src/tensor.c",
            "binding/b_autograd.c",
            "binding/b_create.c",
            "binding/b_extend.c",
            "binding/b_index.c",
            "binding/b_inplace.c",
            "binding/b_io.c",
            "binding/b_linalg.c",
            "binding/b_math.c",
            "binding/b_nnet.c",
            "binding/b_nnet_act.c",
            "binding/b_nnet_layers.c",
            "binding/b_ops.c",
            "binding/b_optim.c",
            "binding/b_shape.c",
            "binding/b_stats.c",
            "binding/core.c",
            "binding/gc_alloc.c",
         },
         -- cblas.h lives under the multiarch include dir on Debian/Ubuntu
         -- (libopenblas-dev). The sources are plain C11; luarocks' builtin
         -- backend has no per-module flags, so they build with the
         -- compiler's default dialect (gcc: gnu17) and CFLAGS from the
         -- luarocks config (`luarocks make CFLAGS="-O2 -fPIC -std=c11"`).
         incdirs = { "src", "binding", "/usr/include/x86_64-linux-gnu" },
         libraries = { "openblas", "z", "jansson", "m" },
      },
      ["moongrad"] = "lua/moongrad/init.lua",
      ["moongrad.autograd"] = "lua/moongrad/autograd.lua",
      ["moongrad.graph"] = "lua/moongrad/graph.lua",
      ["moongrad.nnet"] = "lua/moongrad/nnet.lua",
      ["moongrad.nnet_act"] = "lua/moongrad/nnet_act.lua",
      ["moongrad.nnet_layers"] = "lua/moongrad/nnet_layers.lua",
      ["moongrad.data"] = "lua/moongrad/data.lua",
      ["moongrad.progress"] = "lua/moongrad/progress.lua",
      ["moongrad.plot"] = "lua/moongrad/plot.lua",
      ["moongrad.optim"] = "lua/moongrad/optim.lua",
      ["moongrad.nn"] = "lua/moongrad/nn.lua",
      ["moongrad.nn_util"] = "lua/moongrad/nn_util.lua",
      ["moongrad.nn_state"] = "lua/moongrad/nn_state.lua",
      ["moongrad.nn_containers"] = "lua/moongrad/nn_containers.lua",
      ["moongrad.nn_activations"] = "lua/moongrad/nn_activations.lua",
      ["moongrad.nn_layers"] = "lua/moongrad/nn_layers.lua",
   },
}
