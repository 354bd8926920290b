-- conv_threads_spec.lua — convolution and pooling give the same bits
-- whatever the thread count: forward and backward (input, filter and bias
-- gradients) of conv 1-d/2-d/3-d with odd batch sizes, groups, stride,
-- padding, dilation and 1x1 filters, in float32 and float64, run under
-- mg.set_num_threads(1), (2) and (3) and compared exactly; the gradients
-- with create_graph (recorded ops) against those without (the fused
-- backward kernel); max_pool forward and backward likewise.
local mg = require("moongrad")
local nn = mg.nnet
local H = require("helpers")
local flat = H.flat

-- conv(x, w, b) with opts, forward + backward of sum(y * r) for fixed
-- values; the flat values of y and of the three gradients.
-- a and b hold the same lists of numbers, bit for bit (the first
-- difference is reported, not the whole lists)
local function same(a, b, what)
  for k, va in pairs(a) do
    local vb = b[k]
    assert(vb, what .. ": " .. k .. " is missing")
    assert(#va == #vb, what .. ": " .. k .. " has " .. #vb .. " values, expected " .. #va)
    for i = 1, #va do
      if va[i] ~= vb[i] then
        error(string.format("%s: %s[%d] is %.17g, expected %.17g", what, k, i, vb[i], va[i]), 2)
      end
    end
  end
  for k in pairs(b) do assert(a[k], what .. ": unexpected " .. k) end
end

local function run(case, dtype, threads, create_graph)
  mg.set_num_threads(threads)
  mg.random.seed(case.seed or 1)
  local ctor = {dtype = dtype}
  local x = mg.tensor(mg.random.randn(case.x, ctor), {requires_grad = not case.xconst})
  local w = mg.tensor(mg.random.randn(case.w, ctor) * 0.3, {requires_grad = true})
  local b = case.bias and mg.tensor(mg.random.randn({case.w[1]}, ctor), {requires_grad = true}) or nil
  local y = nn.conv_nd(x, w, b, case.opts or {})
  local r = mg.random.randn(y.shape, ctor)
  local loss = case.plain_sum and y:sum() or (y * r):sum()
  loss:backward(nil, create_graph and {create_graph = true} or nil)
  local out = {y = flat(y:detach()), gw = flat(w.grad:detach())}
  if not case.xconst then out.gx = flat(x.grad:detach()) end
  if b then out.gb = flat(b.grad:detach()) end
  -- a recorded .grad refers back to its leaf: break the cycle
  for _, t in ipairs({x, w, b}) do t:null_grad() end
  return out
end

local cases = {
  -- the demo CNN's second layer, at odd batch sizes (several chunks and slices)
  {name = "3x3 over 32 channels, batch 7 (one chunk)", x = {7, 32, 13, 13}, w = {32, 32, 3, 3},
   bias = true},
  {name = "3x3, batch 129 (16 chunks), sum()", x = {129, 8, 13, 13}, w = {16, 8, 3, 3},
   bias = true, plain_sum = true},
  {name = "one sample", x = {1, 4, 9, 9}, w = {6, 4, 3, 3}, bias = true},
  {name = "three samples, constant input", x = {3, 3, 10, 10}, w = {5, 3, 3, 3}, bias = true,
   xconst = true},
  -- large outputs: one sample per chunk, more chunks than weight slices
  {name = "one sample per chunk, 37 chunks", x = {37, 2, 34, 34}, w = {3, 2, 3, 3}, bias = true},
  {name = "stride, padding, dilation, groups", x = {7, 4, 11, 9}, w = {6, 2, 3, 2}, bias = true,
   opts = {stride = {2, 1}, padding = {1, 2}, dilation = {1, 2}, groups = 2}},
  {name = "1x1 filters (no im2col)", x = {5, 6, 7, 7}, w = {4, 6, 1, 1}, bias = true},
  {name = "1x1 filters with groups, no bias", x = {3, 6, 5, 5}, w = {9, 2, 1, 1},
   opts = {groups = 3}},
  {name = "1-d, stride 3, padding", x = {9, 3, 40}, w = {4, 3, 5}, bias = true,
   opts = {stride = 3, padding = 2}},
  {name = "3-d", x = {3, 2, 5, 6, 4}, w = {3, 2, 2, 3, 2}, bias = true, opts = {padding = {1, 0, 1}}},
}

describe("convolution under 1, 2 and 3 threads", function()
  local saved
  before_each(function() saved = mg.get_num_threads() end)
  after_each(function() mg.set_num_threads(saved) end)

  for _, dtype in ipairs({"float32", "float64"}) do
    for _, case in ipairs(cases) do
      it(case.name .. " (" .. dtype .. "): the same bits", function()
        local one = run(case, dtype, 1)
        same(one, run(case, dtype, 2), "2 threads")
        same(one, run(case, dtype, 3), "3 threads")
      end)
    end
  end

  it("create_graph (recorded ops) gives the gradients of the fused backward, bit for bit", function()
    for _, dtype in ipairs({"float32", "float64"}) do
      for _, i in ipairs({1, 2, 5, 6, 7, 9}) do
        for _, t in ipairs({1, 2}) do
          same(run(cases[i], dtype, t), run(cases[i], dtype, t, true),
               cases[i].name .. " " .. dtype .. " create_graph")
        end
      end
    end
  end)

  it("the values are right at 2 threads (against float64 at 1 thread)", function()
    local case = cases[1]
    local ref = run(case, "float64", 1)
    local got = run(case, "float32", 2)
    for k, v in pairs(ref) do H.near(v, got[k], 1e-3, k) end
  end)
end)

describe("max_pool under 1, 2 and 3 threads", function()
  local saved
  before_each(function() saved = mg.get_num_threads() end)
  after_each(function() mg.set_num_threads(saved) end)

  local function pool(threads, dtype, shape, k, opts)
    mg.set_num_threads(threads)
    mg.random.seed(3)
    local x = mg.tensor(mg.random.randn(shape, {dtype = dtype}), {requires_grad = true})
    local y = nn.max_pool(x, k, opts)
    local r = mg.random.randn(y.shape, {dtype = dtype})
    ;(y * r):sum():backward()
    return {y = flat(y:detach()), gx = flat(x.grad:detach())}
  end

  for _, dtype in ipairs({"float32", "float64"}) do
    it("2-d and 1-d, with padding and overlapping windows (" .. dtype .. ")", function()
      for _, c in ipairs({{{129, 4, 26, 26}, 2}, {{3, 5, 9, 7}, 3, {stride = 2, padding = 1}},
                          {{7, 3, 20}, 2}}) do
        local one = pool(1, dtype, c[1], c[2], c[3])
        same(one, pool(2, dtype, c[1], c[2], c[3]), "2 threads")
        same(one, pool(3, dtype, c[1], c[2], c[3]), "3 threads")
      end
    end)
  end
end)
