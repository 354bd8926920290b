-- autograd_spec.lua — the autograd semantics of api.md, following the flows
-- of the MyGrad / PyTorch / MXNet tutorials (shared/seeds): backward and .grad
-- on every variable, constants, head gradients, freed and retained graphs,
-- .grad cleared by use, null_grad, detach / detach_ / requires_grad_,
-- no_grad, grad_fn names, second derivatives, descent loops, deep chains,
-- and the error for values modified in place after being saved.
local mg = require("moongrad")
local H = require("helpers")
local flat, near, raises = H.flat, H.near_within(1e-4), H.raises

describe("backward: the tutorials' numbers", function()
  it("x = [1, 2, 3]; z = 2 (x + 2)^2; mean -> x.grad = [4, 5.3333, 6.6667]", function()
    local x = mg.tensor({1.0, 2.0, 3.0})
    local y = x + 2
    local z = y * y * 2
    local result = z:mean()
    result:backward()
    near({4, 16 / 3, 20 / 3}, x.grad)
    assert.are.equal("Tensor([4.0000, 5.3333, 6.6667], constant=true)", tostring(x.grad))
  end)

  it("f(x) = x^2 + 3x + 2 at 2 -> 7", function()
    local x = mg.tensor(2.0)
    local y = x ^ 2 + 3 * x + 2
    y:backward()
    assert.are.equal(7, x.grad:item())
    assert.are.same({}, x.grad.shape)
  end)

  it("f(x, y) = 3x^2 + 2xy + y^2 at (1, 2) -> 10 and 6", function()
    local x = mg.tensor(1.0)
    local y = mg.tensor(2.0)
    local z = 3 * x ^ 2 + 2 * x * y + y ^ 2
    z:backward()
    assert.are.equal(10, x.grad:item())
    assert.are.equal(6, y.grad:item())
  end)

  it("4x^3 + 2x^2 + x at 1 -> 17; x^2 + y^3 at (2, 3) -> 4 and 27", function()
    local x = mg.tensor(1.0)
    local y = 4 * x ^ 3 + 2 * x ^ 2 + x
    y:backward()
    assert.are.equal(17, x.grad:item())
    local a, b = mg.tensor(2.0), mg.tensor(3.0)
    local z = a ^ 2 + b ^ 3
    z:backward()
    assert.are.equal(4, a.grad:item())
    assert.are.equal(27, b.grad:item())
  end)

  it("MyGrad's exercises at x = 2.5", function()
    local function d(f)
      local x = mg.tensor(2.5, {dtype = "float64"})
      f(x):backward()
      return x.grad:item()
    end
    near(5, d(function(x) return x ^ 2 end))
    near(-math.sin(math.sqrt(2.5)) / (2 * math.sqrt(2.5)), d(function(x) return mg.cos(mg.sqrt(x)) end))
    near(3 - 10 * 2.5, d(function(x) return 2 + 3 * x - 5 * x ^ 2 end))
    near(1, d(function(x) return mg.exp(mg.log(x)) end))
    near(24 * 2.5 ^ 5 - 2 * 2.5, d(function(x)
      local f = x ^ 2
      return (2 * x * f) ^ 2 - f
    end))
  end)

  it("loss = y - x: d/dx = -1, d/dy = 1", function()
    local x = mg.random.rand(1)
    local y = mg.random.rand(1, {constant = true}):requires_grad_(true)
    local loss = y - x
    loss:backward()
    assert.are.same({-1}, x.grad:totable())
    assert.are.same({1}, y.grad:totable())
  end)

  it("MXNet: y = 2 x^T x gives 4x", function()
    local x = mg.arange(4.0):reshape(4, 1)
    local y = 2 * mg.matmul(x.T, x)
    y:backward()
    near({{0}, {4}, {8}, {12}}, x.grad)
  end)

  it("the gradient of a function with control flow", function()
    local function f(a)
      local b = a * 2
      while (b * b):sum():sqrt():item() < 1000 do b = b * 2 end
      if b:sum():item() > 0 then return b end
      return 100 * b
    end
    for _, start in ipairs({0.37, -1.3}) do
      local a = mg.tensor({start}, {dtype = "float64"})
      local d = f(a)
      d:backward()
      local grad = a.grad
      near((d / a):totable(), grad, 1e-12)
    end
  end)
end)

describe(".grad", function()
  it("every variable, leaf or intermediate, holds a constant .grad of its shape", function()
    local x = mg.tensor({1.0, 2.0, 3.0})
    local y = x + 2
    local z = y * y * 2
    local m = z:mean()
    m:backward()
    near({1}, m.grad)
    near({1 / 3, 1 / 3, 1 / 3}, z.grad)
    near({4, 16 / 3, 20 / 3}, y.grad)
    for _, t in ipairs({x, y, z, m}) do
      assert.is_true(t.grad.constant)
      assert.are.same(t.shape, t.grad.shape)
      assert.are.equal(t.dtype, t.grad.dtype)
    end
  end)

  it("is nil before backward", function()
    assert.is_nil(mg.tensor({1.0}).grad)
  end)

  it("constants have nil .grad", function()
    local x = mg.tensor(1.0)
    local y = mg.tensor(2.0, {constant = true})
    assert.is_false(x.constant)
    assert.is_true(y.constant)
    local F = x * y
    F:backward()
    assert.are.equal(1, F.grad:item())
    assert.are.equal(2, x.grad:item())
    assert.is_nil(y.grad)
  end)

  it("integer tensors are constants and get no .grad", function()
    local x = mg.tensor({1.0, 2.0})
    local k = mg.tensor({3, 4})
    local F = (x * k):sum()
    F:backward()
    assert.are.same({3, 4}, x.grad:totable())
    assert.is_nil(k.grad)
  end)

  it("ops on constants only give constants; their backward does nothing", function()
    local x = mg.tensor(1.0, {constant = true})
    local y = mg.tensor(2.0, {constant = true})
    local F = x + y
    assert.is_true(F.constant)
    assert.is_nil(F.grad_fn)
    F:backward()
    assert.is_nil(F.grad)
    assert.is_nil(x.grad)
  end)

  it("holds the gradient of a multi-dimensional function element by element", function()
    local t = mg.tensor({2.0, 4.0, 8.0})
    local arr = mg.tensor({-1.0, 2.0, 0.0}, {constant = true})
    local F = (arr * t ^ 2):sum()
    F:backward()
    assert.are.same({-4, 16, 0}, t.grad:totable())
  end)
end)

describe("backward of a non-scalar", function()
  it("seeds with ones (the gradient of y:sum())", function()
    local t = mg.linspace(-5, 5, 20, {dtype = "float64"})
    local F = t ^ 2
    F:backward()
    near((2 * t.data):totable(), t.grad, 1e-12)
    near(flat(mg.ones(20):totable()), F.grad)
  end)

  it("takes a head gradient: a vector-Jacobian product", function()
    local a = mg.tensor({2.0, 3.0})
    local b = mg.tensor({6.0, 4.0})
    local Q = 3 * a ^ 3 - b ^ 2
    Q:backward(mg.tensor({1.0, 1.0}))
    assert.are.same({36, 81}, a.grad:totable())
    assert.are.same({-12, -8}, b.grad:totable())
  end)

  it("the blitz tutorial: y = x * 2, y:backward(v) gives 2 v", function()
    local x = mg.tensor({0.5, -1.0, 2.0}, {dtype = "float64"})
    local y = x * 2
    local v = mg.tensor({0.1, 1.0, 0.0001}, {dtype = "float64"})
    y:backward(v)
    near({0.2, 2.0, 0.0002}, x.grad, 1e-12)
  end)

  it("MXNet's head gradient through z = 2 x * x", function()
    local x = mg.arange(4.0):reshape(4, 1)
    local y = x * 2
    local z = y * x
    z:backward(mg.tensor({{10}, {1.}, {.1}, {.01}}))
    near({{0}, {4}, {0.8}, {0.12}}, x.grad)
  end)

  it("a head gradient broadcasts to the tensor's shape (a number too)", function()
    local x = mg.tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}})
    local y = x * 3
    y:backward(mg.tensor({1.0, 0.0, 2.0}))
    assert.are.same({{3, 0, 6}, {3, 0, 6}}, x.grad:totable())
    local x2 = mg.tensor({1.0, 2.0})
    local y2 = x2 * x2
    y2:backward(0.5)
    assert.are.same({1, 2}, x2.grad:totable())
  end)

  it("the blitz tutorial's mean of 3 (x + 2)^2 over ones gives 4.5", function()
    local x = mg.ones(2, 2)
    local y = x + 2
    assert.are.equal("AddBackward", y.grad_fn)
    local z = y * y * 3
    local out = z:mean()
    assert.are.same({{27, 27}, {27, 27}}, z:totable())
    assert.are.equal(27, out:item())
    out:backward()
    assert.are.same({{4.5, 4.5}, {4.5, 4.5}}, x.grad:totable())
  end)
end)

describe("graphs are freed by backward", function()
  it("a second backward raises an error that mentions retain_graph", function()
    local x = mg.tensor({1.0, 2.0})
    local out = (x * x):sum()
    out:backward()
    local err = raises(function() out:backward() end, "retain_graph")
    assert.is_truthy(err:find("backward", 1, true))
    assert.are.same({2, 4}, x.grad:totable()) -- unchanged by the failed call
  end)

  it("{retain_graph = true} allows another pass, which accumulates", function()
    local x = mg.tensor({1.0, 2.0})
    local y = (x * x):sum()
    y:backward(nil, {retain_graph = true})
    assert.are.same({2, 4}, x.grad:totable())
    y:backward()
    assert.are.same({4, 8}, x.grad:totable())
    raises(function() y:backward() end, "retain_graph")
  end)

  it("the options may come in place of the head gradient", function()
    local x = mg.tensor(3.0)
    local y = x * x
    y:backward({retain_graph = true})
    y:backward()
    assert.are.equal(12, x.grad:item())
  end)

  it("an intermediate of a freed graph acts as a leaf in a new graph", function()
    local x = mg.tensor(2.0)
    local y = x * x
    y:backward()
    local z = y * 3
    z:backward()
    assert.are.equal(3, y.grad:item())
    assert.are.equal(4, x.grad:item())
  end)
end)

describe("clearing .grad", function()
  it("using a variable in a new operation clears its .grad", function()
    local x = mg.tensor(2.0)
    local f = x ^ 2
    f:backward()
    assert.are.equal(4, x.grad:item())
    local _ = x + 2
    assert.is_nil(x.grad)
  end)

  it("null_grad and zero_grad set .grad to nil and return the tensor", function()
    local x = mg.tensor(2.0)
    local f = x ^ 2
    f:backward()
    assert.are.equal(x, x:null_grad())
    assert.is_nil(x.grad)
    local g = x ^ 2
    g:backward()
    x:zero_grad()
    assert.is_nil(x.grad)
  end)

  it("mg.null_grads clears a list", function()
    local a, b = mg.tensor(1.0), mg.tensor(2.0)
    local f = a * b
    f:backward()
    mg.null_grads({a, b})
    assert.is_nil(a.grad)
    assert.is_nil(b.grad)
  end)

  it("mg.keep_grads(true) keeps .grad across forward passes, for accumulation", function()
    local x = mg.tensor({1.0, 2.0})
    local prev = mg.keep_grads(true)
    local ok, err = pcall(function()
      for _ = 1, 3 do
        local y = (x * x):sum()
        y:backward()
      end
    end)
    mg.keep_grads(prev)
    assert(ok, err)
    assert.are.same({6, 12}, x.grad:totable())
    local _ = x * 2
    assert.is_nil(x.grad)
  end)
end)

describe("detach, detach_ and requires_grad_", function()
  it("detach returns a constant sharing memory", function()
    local x = mg.tensor({1.0, 2.0, 3.0})
    local d = x:detach()
    assert.is_true(d.constant)
    assert.is_nil(d.grad_fn)
    d[1] = 10
    assert.are.same({10, 2, 3}, x:totable())
    local y = x * 2
    local dy = y:detach()
    assert.is_true(dy.constant)
    assert.are.same(y:totable(), dy:totable())
  end)

  it("x.data is a constant view sharing memory", function()
    local x = mg.tensor({1.0, 2.0})
    assert.is_true(x.data.constant)
    x.data[2] = 5
    assert.are.same({1, 5}, x:totable())
  end)

  it("requires_grad_ flips a leaf and returns it", function()
    local a = mg.random.randn(2, 2, {constant = true}) * 3
    assert.is_false(a.requires_grad)
    assert.are.equal(a, a:requires_grad_(true))
    assert.is_true(a.requires_grad)
    local b = a * a
    assert.are.equal("MulBackward", b.grad_fn)
    a:requires_grad_(false)
    assert.is_true(a.constant)
    assert.is_true(a:requires_grad_().requires_grad)
  end)

  it("detach_ cuts a tensor from its graph in place and returns it", function()
    local w = mg.tensor({1.0, 2.0})
    local v = w * 2
    assert.are.equal(v, v:detach_())
    assert.is_nil(v.grad_fn)
    assert.is_true(v.constant)
    assert.is_true(v.is_leaf)
    v:requires_grad_(true)
    local s = (v * v):sum()
    s:backward()
    assert.are.same({4, 8}, v.grad:totable())
    assert.is_nil(w.grad)
  end)

  it("tutorial 003: matmul(x, W) + b, MSE, and a detach_():requires_grad_(true) loop", function()
    mg.random.seed(7)
    local x = mg.ones(4, {constant = true})
    local y = mg.zeros(3, {constant = true})
    local W = mg.random.rand(4, 3)
    local b = mg.random.rand(3)
    local z = mg.matmul(x, W) + b
    local loss = ((z - y) ^ 2):mean()
    loss:backward()
    near(((W.data:sum(1) + b.data) * (2 / 3)):totable(), b.grad)
    for i = 1, 4 do near(b.grad:totable(), W.grad[i]) end
    local threshold, lr, n = 0.1, 0.1, 0
    local losses = {loss:item()}
    while loss:item() > threshold do
      n = n + 1
      W = W - lr * W.grad
      b = b - lr * b.grad
      W:detach_():requires_grad_(true)
      b:detach_():requires_grad_(true)
      z = mg.matmul(x, W) + b
      loss = ((z - y) ^ 2):mean()
      loss:backward()
      losses[#losses + 1] = loss:item()
      assert(n < 100, "the loop does not converge")
    end
    for i = 2, #losses do assert.is_true(losses[i] < losses[i - 1]) end
    assert.is_true(W.is_leaf)
    assert.is_true(loss:item() <= threshold)
  end)
end)

describe("grad mode", function()
  it("mg.no_grad(fn) runs fn without recording and returns its results", function()
    local x = mg.tensor({1.0, 2.0})
    assert.is_true(mg.is_grad_enabled())
    local y, extra = mg.no_grad(function()
      assert.is_false(mg.is_grad_enabled())
      return x * 2, "extra"
    end)
    assert.is_true(y.constant)
    assert.is_nil(y.grad_fn)
    assert.are.equal("extra", extra)
    assert.is_true(mg.is_grad_enabled())
  end)

  it("local g <close> = mg.no_grad() lasts until the end of the scope", function()
    local x = mg.tensor({1.0, 2.0})
    do
      local g <close> = mg.no_grad()
      assert.is_false(mg.is_grad_enabled())
      assert.is_true((x * 2).constant)
    end
    assert.is_true(mg.is_grad_enabled())
    assert.is_false((x * 2).constant)
  end)

  it("restores the mode after an error, and nests", function()
    assert.has_error(function() mg.no_grad(function() error("boom") end) end)
    assert.is_true(mg.is_grad_enabled())
    mg.no_grad(function()
      mg.no_grad(function() end)
      assert.is_false(mg.is_grad_enabled())
      mg.enable_grad(function() assert.is_true(mg.is_grad_enabled()) end)
      assert.is_false(mg.is_grad_enabled())
    end)
    assert.is_true(mg.is_grad_enabled())
  end)

  it("does not clear .grad of inputs it uses", function()
    local x = mg.tensor(3.0)
    local f = x * x
    f:backward()
    mg.no_grad(function() return x * 2 end)
    assert.are.equal(6, x.grad:item())
  end)
end)

describe("grad_fn", function()
  it("names the op that made a tensor; nil for leaves and constants", function()
    local x = mg.tensor({1.0, 2.0})
    assert.is_nil(x.grad_fn)
    assert.is_true(x.is_leaf)
    assert.are.equal("MulBackward", (x * x).grad_fn)
    assert.are.equal("AddBackward", (x + 1).grad_fn)
    assert.are.equal("SubBackward", (x - 1).grad_fn)
    assert.are.equal("DivBackward", (x / 2).grad_fn)
    assert.are.equal("PowBackward", (x ^ 2).grad_fn)
    assert.are.equal("NegBackward", (-x).grad_fn)
    assert.are.equal("SumBackward", x:sum().grad_fn)
    assert.are.equal("MeanBackward", x:mean().grad_fn)
    assert.are.equal("ExpBackward", x:exp().grad_fn)
    assert.are.equal("MatmulBackward", mg.matmul(x:reshape(1, 2), x:reshape(2, 1)).grad_fn)
    assert.are.equal("IndexBackward", x[1].grad_fn)
    assert.is_false((x * x).is_leaf)
    assert.is_nil(mg.tensor({1.0}, {constant = true}):exp().grad_fn)
  end)
end)

describe("higher order", function()
  it("d2/dx2 of x^3 at 2 is 12 through backward(nil, {create_graph = true})", function()
    for _, cube in ipairs({function(x) return x ^ 3 end, function(x) return x * x * x end}) do
      local x = mg.tensor(2.0, {dtype = "float64"})
      local y = cube(x)
      y:backward(nil, {create_graph = true})
      local g = x.grad
      assert.are.equal(12, g:item())
      assert.is_true(g.requires_grad)
      x:null_grad()
      g:backward()
      assert.are.equal(12, x.grad:item())
    end
  end)

  it("second derivatives go through intermediates", function()
    local x = mg.tensor(0.5, {dtype = "float64"})
    local y = mg.sin(mg.exp(x))
    y:backward(nil, {create_graph = true})
    local g = x.grad
    near(math.cos(math.exp(0.5)) * math.exp(0.5), g:item(), 1e-12)
    x:null_grad()
    g:backward()
    local e = math.exp(0.5)
    near(-math.sin(e) * e * e + math.cos(e) * e, x.grad:item(), 1e-12)
  end)

  it("a third derivative", function()
    local x = mg.tensor(2.0, {dtype = "float64"})
    local y = x ^ 4
    y:backward(nil, {create_graph = true})
    local g1 = x.grad -- 4x^3 = 32
    x:null_grad()
    g1:backward(nil, {create_graph = true})
    local g2 = x.grad -- 12x^2 = 48
    x:null_grad()
    g2:backward()
    assert.are.equal(32, g1:item())
    assert.are.equal(48, g2:item())
    assert.are.equal(48, x.grad:item()) -- 24x
  end)
end)

describe("gradient descent", function()
  it("w = w - lr * w.grad converges (each step's graph is freed)", function()
    local w = mg.tensor({2.0, 4.0})
    local c = mg.tensor({2.0, 3.0}, {constant = true})
    local lr = 0.1
    local expected = {{1.2, 1.6}, {0.72, 0.64}, {0.432, 0.256}, {0.2592, 0.1024}, {0.15552, 0.04096}}
    for step = 1, 500 do
      local L = (c * w ^ 2):sum()
      L:backward()
      w = w - lr * w.grad
      if expected[step] then near(expected[step], w) end
    end
    assert.are.equal("SubBackward", w.grad_fn)
    near({0, 0}, w, 1e-6)
  end)

  it("MyGrad's descent on w^2 with w.data updated in place", function()
    local w = mg.tensor(10.0)
    local lr = 0.3
    local seen = {}
    for _ = 1, 5 do
      local L = w ^ 2
      L:backward()
      w.data[{}] = w.data - lr * w.grad
      seen[#seen + 1] = tostring(w)
    end
    assert.are.same({"Tensor(4.)", "Tensor(1.6)", "Tensor(0.64)", "Tensor(0.256)", "Tensor(0.1024)"}, seen)
    assert.is_true(w.is_leaf)
  end)
end)

describe("deep graphs", function()
  it("a 10000-op chain backpropagates without a stack overflow", function()
    local x = mg.tensor(1.0, {dtype = "float64"})
    local y = x
    for _ = 1, 10000 do y = y * 1.0001 end
    y:backward()
    near(1.0001 ^ 10000, x.grad:item(), 1e-9)
  end)

  it("a 100000-op chain is released without a stack overflow", function()
    local x = mg.tensor(1.0)
    local y = x
    for _ = 1, 100000 do y = y + 1 end
    assert.are.equal(100001, y:item())
    y = nil
    collectgarbage()
    collectgarbage()
    assert.are.equal(1, x:item())
  end)
end)

describe("in-place writes into saved values", function()
  it("writing into an input saved by multiply makes backward fail, naming the op", function()
    local x = mg.tensor({1.0, 2.0, 3.0})
    local y = x * x
    x.data[1] = 5
    raises(function() y:sum():backward() end, "MulBackward")
  end)

  it("a setitem on a saved input does too", function()
    local x = mg.tensor({1.0, 2.0, 3.0})
    local y = x * x
    x[1] = 5
    local err = raises(function() y:sum():backward() end, "MulBackward")
    assert.is_truthy(err:find("modified in place", 1, true))
  end)

  it("writing into a saved output (exp) is caught", function()
    local x = mg.tensor({1.0, 2.0})
    local y = x:exp()
    y.data[2] = 0
    raises(function() y:sum():backward() end, "ExpBackward")
  end)

  it("a write that no backward reads is fine", function()
    local x = mg.tensor({1.0, 2.0})
    local y = x + 1
    x.data[1] = 5
    y:sum():backward()
    assert.are.same({1, 1}, x.grad:totable())
  end)
end)

describe("differentiable writes", function()
  it("setitem sends gradient to the kept old values and to the written value", function()
    local a = mg.tensor({1.0, 2.0, 3.0, 4.0})
    local v = mg.tensor(10.0)
    local b = a * 1
    b[{{2, 3}}] = v
    assert.are.equal("SetitemBackward", b.grad_fn)
    assert.are.same({1, 10, 10, 4}, b:totable())
    local s = (b * mg.tensor({1.0, 2.0, 3.0, 4.0}, {constant = true})):sum()
    s:backward()
    assert.are.same({1, 0, 0, 4}, a.grad:totable())
    assert.are.equal(5, v.grad:item())
  end)

  it("a write into a variable leaf moves its handle to the new contents", function()
    local x = mg.tensor({1.0, 2.0, 3.0})
    local v = mg.tensor(4.0)
    x[2] = v
    assert.are.equal("SetitemBackward", x.grad_fn)
    assert.are.same({1, 4, 3}, x:totable())
    local s = (x * x):sum()
    s:backward()
    assert.are.equal(8, v.grad:item())
  end)
end)

describe(".grad kept without copying until it is read", function()
  it("two inputs given the same gradient tensor (add) do not share memory once read", function()
    local a, b = mg.tensor({1., 2.}), mg.tensor({3., 4.})
    local y = (a + b):sum()
    y:backward()
    a.grad:mul_(10)
    assert.are.same({1, 1}, b.grad:totable())
    assert.are.same({10, 10}, a.grad:totable())
  end)

  it("an intermediate's .grad and its input's do not share memory once read", function()
    local x = mg.tensor({1., 2., 3.})
    local h = x * 1
    local y = h:sum()
    y:backward()
    h.grad:fill_(7)
    assert.are.same({1, 1, 1}, x.grad:totable())
  end)

  it("does not see later writes into the gradient passed to backward", function()
    local x = mg.tensor({1., 2.})
    local g = mg.tensor({5., 6.}, {constant = true})
    local y = x * 1
    y:backward(g)
    g:fill_(0)
    assert.are.same({5, 6}, x.grad:totable())
    assert.are.same({5, 6}, y.grad:totable())
  end)

  it("is the same tensor on every read (writes through one read are seen by the next)", function()
    local x = mg.tensor({1., 2.})
    local y = (x * 3):sum()
    y:backward()
    local g = x.grad
    g:add_(1)
    assert.are.same({4, 4}, x.grad:totable())
  end)

  it("a transposed Linear weight gets its gradient in its own layout", function()
    local w = mg.random.randn(4, 3, {dtype = "float64"})
    local x = mg.random.randn(5, 3, {dtype = "float64", constant = true})
    local y = mg.matmul(x, w.T):sum()
    y:backward()
    local want = mg.matmul(mg.ones(5, 4, {dtype = "float64"}).T, x)
    assert.is_true(mg.allclose and mg.allclose(w.grad, want) or
                   ((w.grad - want):abs():max():item() < 1e-12))
  end)
end)
