-- spec/tutorials_spec.lua — the five tutorials in examples/tutorials/ run, each
-- in its own Lua process (as a user runs them), and print the numbers their
-- tutorials show; docs/autodiff.md quotes only code that is in the scripts;
-- and mg.tensor takes a table of tensors (the gap the MyGrad lab found).
local mg = require("moongrad")
local read = require("helpers").read

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Under `make sanitize` a child process inherits the ASan runtime: gnuplot
-- would then fail on its own leaks, so the scripts are told it is missing.
local sanitized = (os.getenv("LD_PRELOAD") or ""):find("asan", 1, true) ~= nil
local plot_path = os.tmpname() .. ".png"

-- Runs a script in a fresh lua5.4 process; returns its output and exit status.
local function run_script(name, env)
  local cmd = (env or "") .. " MOONGRAD_TUTORIAL_PLOT=" .. shell_quote(plot_path)
    .. (sanitized and " MOONGRAD_GNUPLOT=/nonexistent/gnuplot" or "")
    .. " lua5.4 examples/tutorials/" .. name .. " 2>&1"
  local p = assert(io.popen(cmd))
  local text = p:read("a")
  local ok, _, code = p:close()
  return text, ok, code
end

-- The output of each script, run once.
local outputs = {}
local function output_of(name)
  if not outputs[name] then
    local text, ok, code = run_script(name)
    assert(ok, ("%s exited with status %s:\n%s"):format(name, tostring(code), text))
    outputs[name] = text
  end
  return outputs[name]
end

-- The text of one "== title" section of a script's output.
local function section(text, title)
  local start = text:find("\n== " .. title .. "\n", 1, true)
  assert(start, "no section " .. title .. " in:\n" .. text)
  local stop = text:find("\n== ", start + 4, true)
  return text:sub(start, stop or #text)
end

-- Each of `wants` occurs in text, in order (plain text, not patterns).
local function in_order(text, wants)
  local pos = 1
  for _, want in ipairs(wants) do
    local s, e = text:find(want, pos, true)
    assert(s, ("expected %q after position %d in:\n%s"):format(want, pos, text))
    pos = e + 1
  end
end

-- The numbers in a piece of printed text.
local function floats(s)
  assert(s, "nothing to read numbers from")
  local t = {}
  for v in s:gmatch("[-%d.]+e?[-+]?%d*") do t[#t + 1] = tonumber(v) end
  return t
end

local function near(a, b, tol)
  return math.abs(a - b) <= (tol or 1e-4) * math.max(1, math.abs(b))
end

local SCRIPTS = {"mygrad_lab.lua", "pytorch_autograd_basics.lua", "pytorch_blitz.lua",
                 "pytorch_descent.lua", "mxnet_autograd.lua"}

describe("tutorial scripts", function()
  for _, name in ipairs(SCRIPTS) do
    it(name .. " runs to the end and prints the same every time", function()
      local first = output_of(name)
      local again = run_script(name)
      assert.are.equal(first, again)
    end)
  end

  it("run from another directory with no LUA_PATH (the preamble finds the build)", function()
    if not io.open("lua/moongrad/core.so") then
      pending("needs `make` (lua/moongrad/core.so)")
      return
    end
    local dir = os.getenv("PWD") or io.popen("pwd"):read("l")
    local cmd = "cd /tmp && env -u LUA_PATH -u LUA_CPATH lua5.4 "
      .. shell_quote(dir .. "/examples/tutorials/pytorch_autograd_basics.lua") .. " 2>&1"
    local p = assert(io.popen(cmd))
    local text = p:read("a")
    assert.is_true(p:close(), text)
    assert.is_truthy(text:find("Tensor(7., constant=true)", 1, true))
  end)
end)

describe("mygrad_lab.lua (MyGrad's AutoDiff lab)", function()
  local function out(title) return section(output_of("mygrad_lab.lua"), title) end

  it("makes, reshapes and slices tensors", function()
    in_order(out("Step 1. Making tensors"), {
      "Tensor(2.3)", "Tensor([1., 2., 3.], dtype=float32)",
      "Tensor([-5, -3, -1,  1,  3,  5,  7,  9, 11, 13])",
      "Tensor([0., 1., 2., 3., 4., 5., 6., 7., 8.])",
      "Tensor([0.0000, 0.2244,", "2.9172, 3.1416])"})
    in_order(out("Changing a tensor's shape"), {
      "[ 0,  3,  6,  9],", "[ 2,  5,  8, 11]]", "Tensor([3, 4, 5])", "Tensor([3, 4, 5])"})
  end)

  it("reduces along axes and broadcasts (and refuses what does not broadcast)", function()
    in_order(out("Standard math on tensors"), {
      "Tensor([0.0000, 0.2474, 0.4794, 0.6816, 0.8415])",
      "Tensor(66)", "Tensor([12, 15, 18, 21])", "Tensor([ 6, 22, 38])",
      "[2.00, 2.25, 2.50, 2.75, 3.00]]", "[10., 11., 12., 13.]]",
      "error: add: shapes {5} and {3, 4} cannot be broadcast together",
      "[0.00, 0.50, 1.00, 1.50, 2.00]]", "[16., 18., 20., 22.]]",
      "error: multiply: shapes {5} and {3, 4} cannot be broadcast together"})
  end)

  it("solves the basic-math exercise, normalising the rows", function()
    local text = out("Exercise: basic math")
    in_order(text, {"Tensor([2.0794, 2.3026])", "Tensor([[20., 24.],", "[36., 40.]])",
                    "Tensor([6., 7., 8., 9.])", "[0.0000, 0.2673, 0.5345, 0.8018]"})
    local sums = floats(text:match("0%.5537%]%]%)\nTensor%(%[([^%]]*)%]"))
    assert.are.equal(4, #sums)
    for _, v in ipairs(sums) do assert.is_true(near(v, 1, 1e-12)) end
  end)

  it("multiplies matrices with matmul and einsum", function()
    in_order(out("Linear algebra"), {
      "Tensor(-11.)", "[20, 11, 39]])",
      "[[ 15,  18,  21],", "[276, 306, 336]]])",
      "Tensor(60)", "Tensor([ 0,  6, 12, 18, 24])",
      "[ 2,  5,  8, 11, 14]])",
      "[690, 800, 910]])", "[690, 800, 910]])",
      "Tensor([  -5,  -50, -149, -302, -509])"})
  end)

  it("puts .grad on every variable, f included", function()
    in_order(out("Step 2. backward()"), {
      "Tensor(3., constant=true)\nTensor(2., constant=true)\ntrue\n",
      "Tensor(1., constant=true)\nTensor(2., constant=true)\nTensor(4., constant=true)\n"})
  end)

  it("solves the dF/dx exercises at x = 2.5", function()
    local text = out("Exercise: dF/dx at x = 2.5")
    local want = {5, -math.sin(math.sqrt(2.5)) / (2 * math.sqrt(2.5)), 3 - 10 * 2.5, 1,
                  24 * 2.5 ^ 5 - 2 * 2.5}
    local got = {}
    for v in text:gmatch("Tensor%(([-%d.]+), constant=true%)") do got[#got + 1] = tonumber(v) end
    assert.are.equal(#want, #got)
    for i = 1, #want do assert.is_true(near(got[i], want[i]), i .. ": " .. got[i]) end
  end)

  it("clears .grad by use in a new operation and by null_grad", function()
    in_order(out("Clearing .grad"), {"Tensor(4., constant=true)", "Tensor(4.)", "true\ntrue"})
  end)

  it("shows the data behind a tensor and a Lua function applied to one", function()
    in_order(out("Tensors and their data (1)"), {"Tensor([0., 1., 2., 3.], constant=true)",
                                                 "0.0, 1.0, 2.0, 3.0"})
    in_order(out("Tensors and their data (2)"), {"9\nTensor(9.)\nTensor(6., constant=true)"})
  end)

  it("leaves constants out of backward", function()
    in_order(out("Constants"), {
      "Tensor(2., constant=true)", "error: attempt to index a number value",
      "false\ntrue\nTensor(1., constant=true)\nTensor(2., constant=true)\ntrue\n",
      "true\ntrue"})
  end)

  it("gives the gradient of a multivariate function and of a vectorised one", function()
    local text = out("Step 3. Gradients of multivariate functions")
    in_order(text, {"Tensor([-4., 16.,  0.], constant=true)"})
    local g = floats(text:match("16%.,  0%.%], constant=true%)\nTensor%(%[([^%]]*)%]"))
    assert.are.equal(20, #g)
    for i = 1, 20 do assert.is_true(near(g[i], 2 * (-5 + 10 * (i - 1) / 19))) end
  end)

  it("differentiates f(x) = sin(2x) cos(x) exp(-x/3) at 10,000 points and draws it", function()
    local text = out("Exercise: a function and its derivative, drawn")
    assert.is_truthy(text:find("df/dx at 0:\t2.0\n", 1, true))
    local err = tonumber(text:match("largest |autodiff %- exact|: (%S+)"))
    assert.is_true(err < 1e-12)
    if sanitized or not mg.plot.available() then
      assert.is_truthy(text:find("mg.plot or gnuplot is not available: no figure drawn", 1, true))
    else
      assert.is_truthy(text:find("wrote " .. plot_path, 1, true))
      local png = assert(io.open(plot_path, "rb"))
      assert.are.equal("\137PNG", png:read(4))
      png:close()
      os.remove(plot_path)
    end
  end)

  it("descends L(w) = w^2 three ways and L(w1, w2) = 2 w1^2 + 3 w2^2", function()
    local steps = "Tensor(4.)\nTensor(1.6)\nTensor(0.64)\nTensor(0.256)\nTensor(0.1024)\n"
    in_order(out("Step 4. Gradient descent on L(w) = w^2"), {steps, steps})
    in_order(out("Exercise: a general gradient step"), {steps})
    in_order(out("Gradient descent on L(w1, w2) = 2 w1^2 + 3 w2^2"), {
      "Tensor([1.2, 1.6])", "Tensor([0.72, 0.64])", "Tensor([0.432, 0.256])",
      "Tensor([0.2592, 0.1024])", "Tensor([0.1555, 0.0410])"})
  end)
end)

describe("pytorch_autograd_basics.lua", function()
  local function out(title) return section(output_of("pytorch_autograd_basics.lua"), title) end

  it("reaches the lesson's gradients", function()
    in_order(out("requires_grad and a gradient through a mean"),
             {"Tensor([1., 2., 3.])\ttrue", "Tensor([4.0000, 5.3333, 6.6667], constant=true)"})
    in_order(out("The derivative of f(x) = x^2 + 3x + 2 at x = 2"), {"Tensor(7., constant=true)"})
    in_order(out("f(x, y) = 3x^2 + 2xy + y^2 at (1, 2)"),
             {"Tensor(10., constant=true)\nTensor(6., constant=true)"})
    in_order(out("The graph: backward of a vector with an explicit gradient"),
             {"SubBackward", "digraph moongrad", "PowBackward",
              "Tensor([36., 81.], constant=true)\nTensor([-12.,  -8.], constant=true)"})
    in_order(out("Exercise: f(x) = 4x^3 + 2x^2 + x at x = 1"), {"Tensor(17., constant=true)"})
    in_order(out("Exercise: f(x, y) = x^2 + y^3 at (2, 3)"),
             {"Tensor(4., constant=true)\nTensor(27., constant=true)"})
  end)
end)

describe("pytorch_blitz.lua", function()
  local function out(title) return section(output_of("pytorch_blitz.lua"), title) end

  it("tracks operations, flips requires_grad and reaches 4.5", function()
    in_order(out("Tracking operations"), {"[3., 3.]])\nAddBackward", "[27., 27.]])\tTensor(27.)"})
    in_order(out("requires_grad_ changes the flag in place"), {"false\ntrue\n", "MulBackward"})
    in_order(out("Gradients"), {"false\tbackward: the graph behind this tensor was already freed",
                                "retain_graph = true",
                                "Tensor([[4.5, 4.5],\n        [4.5, 4.5]], constant=true)"})
  end)

  it("computes a vector-Jacobian product", function()
    local text = out("The vector-Jacobian product")
    local c = tonumber(text:match("c =\t(%S+)"))
    assert.are.equal(c, 2 ^ math.floor(math.log(c, 2) + 0.5))   -- a power of two
    local g = floats(text:match("\nTensor%(%[([^%]]*)%], constant=true%)"))
    local v = {0.1, 1.0, 0.0001}
    assert.are.equal(3, #g)
    for i = 1, 3 do assert.is_true(near(g[i], c * v[i], 1e-3), g[i] .. " vs " .. c * v[i]) end
  end)

  it("stops tracking under no_grad and with detach", function()
    in_order(out("Stopping the tracking"), {"true\ntrue\nfalse\nfalse\nTensor(True)"})
  end)
end)

describe("pytorch_descent.lua", function()
  local function out(title) return section(output_of("pytorch_descent.lua"), title) end

  it("gives dloss/dx = -1 and dloss/dy = 1 for loss = y - x", function()
    in_order(out("Leaves and root: loss = y - x"),
             {"true\ttrue\tfalse", "Tensor([-1.], constant=true)\tTensor([1.], constant=true)"})
  end)

  it("gives the MSE gradients of matmul(x, W) + b", function()
    local text = out("A linear model and its loss")
    local z = floats(text:match("\tTensor%(%[([^%[%]]*)%]%)\nTensor%("))
    local loss = tonumber(text:match("\nTensor%(([%d.]+)%)\t"))
    local db = floats(text:match("%]%], constant=true%)\tTensor%(%[([^%]]*)%]"))
    local dW = floats(text:match("\tTensor%(%[(%[[^)]*)%], constant=true%)"))
    assert.are.equal(3, #z)
    assert.is_true(near(loss, (z[1] ^ 2 + z[2] ^ 2 + z[3] ^ 2) / 3, 1e-3))
    assert.are.equal(12, #dW)
    for j = 1, 3 do
      assert.is_true(near(db[j], 2 * z[j] / 3, 1e-3))
      for i = 1, 4 do assert.are.equal(db[j], dW[(i - 1) * 3 + j]) end   -- x is all ones
    end
  end)

  it("descends with the loss shrinking by 4/9 a step until it is under 0.1", function()
    local text = out("Descent until the loss is under the threshold")
    local losses = {}
    for i, l in text:gmatch("\n(%d+)\tTensor%(([%d.]+)%)") do losses[tonumber(i)] = tonumber(l) end
    assert.is_true(#losses >= 3)
    for i = 2, #losses do
      assert.is_true(math.abs(losses[i] / losses[i - 1] - 4 / 9) < 2e-3,
                     ("step %d: %g / %g"):format(i, losses[i], losses[i - 1]))
    end
    assert.is_true(losses[#losses] <= 0.1 and losses[#losses - 1] > 0.1)
  end)
end)

describe("mxnet_autograd.lua", function()
  local function out(title) return section(output_of("mxnet_autograd.lua"), title) end

  it("finds 4x as the gradient of 2 x^T x", function()
    in_order(out("A simple example: y = 2 x^T x"), {
      "Tensor([[28.]])", "true\nTensor([[ 0.],\n        [ 4.],\n        [ 8.],\n        [12.]], constant=true)"})
  end)

  it("switches to training mode inside record", function()
    in_order(out("Training mode and predict mode"), {"false\ntrue"})
  end)

  it("differentiates through Lua control flow: the gradient is d / a", function()
    local text = out("Gradients through Lua control flow")
    in_order(text, {"Tensor([True])"})
    local a, d, g = text:match("Tensor%(%[([-%d.]+)%]%)\tTensor%(%[([-%d.]+)%]%)\t"
                               .. "Tensor%(%[([-%d.]+)%], constant=true%)")
    a, d, g = tonumber(a), tonumber(d), tonumber(g)
    assert.is_true(near(g, d / a, 1e-3))
    assert.are.equal(g, 2 ^ math.floor(math.log(math.abs(g), 2) + 0.5) * (g < 0 and -1 or 1))
  end)

  it("multiplies by the head gradient", function()
    in_order(out("Head gradients and the chain rule"),
             {"[[0.00],\n        [4.00],\n        [0.80],\n        [0.12]], constant=true)"})
  end)
end)

describe("docs/autodiff.md", function()
  local guide = read("docs/autodiff.md")
  local scripts = {}
  for _, name in ipairs(SCRIPTS) do scripts[#scripts + 1] = read("examples/tutorials/" .. name) end

  it("quotes only code that is in the scripts, verbatim", function()
    local n = 0
    for block in guide:gmatch("```lua\n(.-)```") do
      n = n + 1
      local found = false
      for _, s in ipairs(scripts) do found = found or s:find(block, 1, true) ~= nil end
      assert(found, "this block of docs/autodiff.md is in no script:\n" .. block)
    end
    assert.is_true(n >= 10)
  end)

  it("shows only output that the scripts print", function()
    local printed = {}
    for _, name in ipairs(SCRIPTS) do printed[#printed + 1] = output_of(name) end
    local n = 0
    for block in guide:gmatch("```text\n(.-)```") do
      n = n + 1
      local found = false
      for _, s in ipairs(printed) do found = found or s:find(block, 1, true) ~= nil end
      assert(found, "this output in docs/autodiff.md is printed by no script:\n" .. block)
    end
    assert.is_true(n >= 8)
  end)

  it("shows a figure that is there", function()
    for path in guide:gmatch("!%[[^%]]*%]%(([^)]+)%)") do
      local f = io.open("docs/" .. path, "rb")
      assert(f, "docs/autodiff.md shows a missing image: " .. path)
      assert.are.equal("\137PNG", f:read(4))
      f:close()
    end
  end)
end)

describe("mg.tensor from a table of tensors (as NumPy's array of arrays)", function()
  it("stacks tensors along a new first axis", function()
    local A1 = mg.arange(6):reshape(2, 3)
    local A = mg.tensor({A1, A1 + 2, A1 + 4, A1 + 6})
    assert.are.same({4, 2, 3}, A.shape)
    assert.are.equal("int64", A.dtype)
    assert.are.same({{0, 1, 2}, {3, 4, 5}}, A[1]:totable())
    assert.are.same({{6, 7, 8}, {9, 10, 11}}, A[4]:totable())
  end)

  it("mixes tensors, tables and numbers, promoting the dtype", function()
    local t = mg.tensor({{1, 2}, mg.tensor({3.5, 4.0})})
    assert.are.same({{1, 2}, {3.5, 4}}, t:totable())
    assert.are.equal(mg.get_default_dtype(), t.dtype)
    local s = mg.tensor({mg.tensor(1.5), 2, mg.tensor(3)})   -- 0-d tensors stand for numbers
    assert.are.same({1.5, 2, 3}, s:totable())
    local b = mg.tensor({mg.tensor({true, false}), {false, true}})
    assert.are.equal("bool", b.dtype)
    assert.are.same({{true, false}, {false, true}}, b:totable())
  end)

  it("reads views in their logical order (transposed, reversed)", function()
    local m = mg.tensor({{1, 2, 3}, {4, 5, 6}})
    local t = mg.tensor({m.T, m.T[{{}, {2, 1, -1}}]})
    assert.are.same({{{1, 4}, {2, 5}, {3, 6}}, {{4, 1}, {5, 2}, {6, 3}}}, t:totable())
  end)

  it("copies the values into a new leaf, outside any graph", function()
    local v = mg.tensor({1.0, 2.0})
    local t = mg.tensor({v, v * 2})
    assert.is_nil(t.grad_fn)
    assert.is_true(t.requires_grad)
    t.data[{1, 1}] = 10
    assert.are.same({1, 2}, v:totable())
    local c = mg.tensor({v, v}, {constant = true, dtype = "float64"})
    assert.is_true(c.constant)
    assert.are.equal("float64", c.dtype)
  end)

  it("works wherever a tensor-like is accepted", function()
    local s = mg.add({mg.tensor(1.0), mg.tensor(2.0)}, 1)
    assert.are.same({2, 3}, s:totable())
  end)

  it("refuses ragged tables and mixed booleans, naming the function", function()
    assert.has_error(function() mg.tensor({mg.tensor({1, 2}), mg.tensor({1, 2, 3})}) end,
      "tensor: ragged nested table: expected a tensor of shape {2} at [2], got shape {3}")
    assert.has_error(function() mg.tensor({mg.tensor({1, 2}), 3}) end,
      "tensor: ragged nested table: expected a table of length 2 at [2], got number")
    assert.has_error(function() mg.tensor({1, mg.tensor({1, 2})}) end,
      "tensor: ragged nested table: expected a tensor of shape {} at [2], got shape {2}")
    assert.has_error(function() mg.tensor({mg.tensor({true, false}), {1, 2}}) end,
      "tensor: cannot mix booleans and numbers (at [2][1])")
    assert.has_error(function() mg.tensor({{mg.tensor({1, 2})}, {mg.tensor({true, true})}}) end,
      "tensor: cannot mix booleans and numbers (at [2][1])")
  end)
end)
