-- inplace_spec.lua — in-place ops (add_, sub_, mul_, div_, pow_, clamp_,
-- fill_, copy_, zero_): values with numbers and broadcast tensors, views and
-- non-contiguous targets, dtypes; what is recorded (plain writes on
-- constants and under no_grad, errors for leaf variables, recorded writes on
-- graph tensors with gradchecks); the guarantee that a backward reading a
-- value overwritten in place (directly, by setitem, or through a view)
-- raises an error naming the op; and the error messages.
local mg = require("moongrad")
local H = require("helpers")
local near, raises, var, check, check2 = H.near, H.raises, H.f64, H.check, H.check2

local function const(v, dtype) return mg.tensor(v, {constant = true, dtype = dtype}) end

describe("in-place values", function()
  it("add_, sub_, mul_, div_, pow_ with numbers return x itself", function()
    local x = const({1.0, 2.0, 3.0})
    assert.are.equal(x, x:add_(1))
    near({2, 3, 4}, x)
    assert.are.equal(x, x:sub_(0.5))
    near({1.5, 2.5, 3.5}, x)
    assert.are.equal(x, x:mul_(2))
    near({3, 5, 7}, x)
    assert.are.equal(x, x:div_(4))
    near({0.75, 1.25, 1.75}, x)
    assert.are.equal(x, x:pow_(2))
    near({0.5625, 1.5625, 3.0625}, x)
  end)

  it("chain", function()
    local x = const({1.0, 2.0})
    x:add_(1):mul_(3):sub_(1)
    near({5, 8}, x)
  end)

  it("broadcast a tensor argument into the target's shape", function()
    local x = const({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}})
    x:add_(const({10.0, 20.0, 30.0}))
    near({{11, 22, 33}, {14, 25, 36}}, x)
    x:mul_(const({{1.0}, {-1.0}}))
    near({{11, 22, 33}, {-14, -25, -36}}, x)
    x:div_({1.0, 2.0, 3.0}) -- a nested table is a tensor-like argument
    near({{11, 11, 11}, {-14, -12.5, -12}}, x)
  end)

  it("a tensor argument with the same shape, and x with itself", function()
    local x = const({2.0, 3.0})
    x:pow_(const({3.0, 2.0}))
    near({8, 9}, x)
    x:mul_(x)
    near({64, 81}, x)
  end)

  it("mg.add_(x, v) is the same as x:add_(v)", function()
    local x = const({1.0, 2.0})
    assert.are.equal(x, mg.add_(x, 1))
    assert.are.equal(x, mg.mul_(x, 2))
    near({4, 6}, x)
  end)

  it("write through a non-contiguous view (x.T) into its base", function()
    local x = const({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}})
    local t = x.T -- {2, 3}
    t:add_(const({{100.0}, {200.0}}))
    near({{101, 202}, {103, 204}, {105, 206}}, x)
    x[{{}, 2}]:mul_(0)
    near({{101, 0}, {103, 0}, {105, 0}}, x)
    x[-1]:fill_(-1)
    near({{101, 0}, {103, 0}, {-1, -1}}, x)
  end)

  it("the result is stored in the target's dtype", function()
    local i = mg.tensor({1, 2, 3})
    i:add_(2):mul_(3)
    assert.are.same({9, 12, 15}, i:totable())
    assert.are.equal("int64", i.dtype)
    local f = const({1.0, 2.0}, "float32")
    f:add_(const({0.5, 0.25}, "float64"))
    assert.are.equal("float32", f.dtype)
    near({1.5, 2.25}, f)
  end)

  it("fill_ and zero_", function()
    local x = const({{1.0, 2.0}, {3.0, 4.0}})
    assert.are.equal(x, x:fill_(7))
    near({{7, 7}, {7, 7}}, x)
    assert.are.equal(x, x:zero_())
    near({{0, 0}, {0, 0}}, x)
    x:fill_(const({1.0, 2.0}))
    near({{1, 2}, {1, 2}}, x)
    local i = mg.tensor({5, 6})
    i:fill_(2.9) -- converted to the target's dtype, as copy_
    assert.are.same({2, 2}, i:totable())
    local b = mg.tensor({true, false})
    b:zero_()
    assert.are.same({false, false}, b:totable())
  end)

  it("copy_ broadcasts and converts; overlapping copies read the old values", function()
    local x = const({{1.0, 2.0}, {3.0, 4.0}})
    x:copy_(mg.tensor({10, 20}))
    near({{10, 20}, {10, 20}}, x)
    x:copy_(const({{1.0, 2.0}, {3.0, 4.0}}))
    x:copy_(x.T)
    near({{1, 3}, {2, 4}}, x)
  end)

  it("clamp_ with numbers, one side only, tensor bounds and integers", function()
    local x = const({-3.0, -0.5, 0.0, 0.5, 3.0})
    assert.are.equal(x, x:clamp_(-1, 1))
    near({-1, -0.5, 0, 0.5, 1}, x)
    local y = const({-3.0, 0.5, 3.0})
    y:clamp_(nil, 1)
    near({-3, 0.5, 1}, y)
    y:clamp_(0)
    near({0, 0.5, 1}, y)
    local z = const({{1.0, 5.0}, {-4.0, 2.0}})
    z:clamp_(const({0.0, 3.0}), const({{1.5}, {2.5}}))
    near({{1, 1.5}, {0, 2.5}}, z)
    local i = mg.tensor({-7, 3, 9})
    i:clip_(0, 5)
    assert.are.same({0, 3, 5}, i:totable())
    local n = const({0 / 0, 2.0})
    n:clamp_(0, 1)
    assert.is_true(n[1]:item() ~= n[1]:item())
  end)
end)

describe("in-place ops and recording", function()
  it("a leaf variable cannot be written in place while recording", function()
    local w = mg.tensor({1.0, 2.0})
    for _, name in ipairs({"add_", "sub_", "mul_", "div_", "pow_", "fill_", "copy_"}) do
      raises(function() w[name](w, 2) end,
        name .. ": a leaf variable that requires grad is used in an in-place operation")
    end
    raises(function() w:zero_() end, "zero_: a leaf variable")
    raises(function() w:clamp_(0, 1) end, "clamp_: a leaf variable")
    near({1, 2}, w)
  end)

  it("nor a view of one", function()
    local w = mg.tensor({{1.0, 2.0}, {3.0, 4.0}})
    raises(function() w[1]:mul_(2) end, "mul_: a view of a leaf variable that requires grad")
    raises(function() w.T:zero_() end, "zero_: a view of a leaf variable")
    near({{1, 2}, {3, 4}}, w)
  end)

  it("a descent step through w.data writes in place and records nothing", function()
    local w = mg.tensor(10.0)
    local seen = {}
    for _ = 1, 5 do
      local L = w ^ 2
      L:backward()
      local d = w.data
      assert.are.equal(d, d:sub_(0.3 * w.grad))
      seen[#seen + 1] = tostring(w)
    end
    assert.are.same({"Tensor(4.)", "Tensor(1.6)", "Tensor(0.64)", "Tensor(0.256)", "Tensor(0.1024)"}, seen)
    assert.is_true(w.is_leaf)
    assert.is_nil(w.grad_fn)
  end)

  it("under mg.no_grad a leaf variable is updated in place and stays a leaf", function()
    local w = mg.tensor({1.0, -2.0})
    local c = const({3.0, 1.0})
    for _ = 1, 200 do
      local L = ((w - c) ^ 2):sum()
      L:backward()
      mg.no_grad(function() w:sub_(0.1 * w.grad) end)
    end
    near({3, 1}, w, 1e-6)
    assert.is_true(w.is_leaf)
    assert.is_true(w.requires_grad)
  end)

  it("on a graph tensor the write is recorded and x's handle moves to it", function()
    local x = var({1.0, 2.0, 3.0})
    local a = x * 2
    local same = a
    a:add_(1)
    assert.are.equal(same, a)
    assert.are.equal("AddBackward", a.grad_fn)
    a:mul_(a)
    assert.are.equal("MulBackward", a.grad_fn)
    near({9, 25, 49}, a)
    a:sum():backward()
    near({12, 20, 28}, x.grad) -- d/dx (2x + 1)^2 = 4 (2x + 1)
  end)

  it("a constant written with a variable becomes a graph tensor", function()
    local x = var({1.0, 2.0})
    local c = const({{10.0, 20.0}, {30.0, 40.0}}, "float64")
    c:mul_(x)
    assert.is_true(c.requires_grad)
    assert.are.equal("MulBackward", c.grad_fn)
    c:sum():backward()
    near({40, 60}, x.grad)
  end)

  it("copy_ and fill_ send the gradient to the value; zero_ cuts it", function()
    local src = var({1.0, 2.0})
    local t = const({{0.0, 0.0}, {0.0, 0.0}}, "float64")
    t:copy_(src)
    assert.are.equal("SetitemBackward", t.grad_fn);
    (t * const({{1.0, 2.0}, {3.0, 4.0}}, "float64")):sum():backward()
    near({4, 6}, src.grad)
    local v = var(5.0)
    local u = const({1.0, 2.0, 3.0}, "float64")
    u:fill_(v)
    u:sum():backward()
    near(3, v.grad)
    local x = var({1.0, 2.0})
    local a = x * 3
    a:zero_()
    local s = (a + x):sum()
    s:backward()
    near({1, 1}, x.grad)
    near({0, 0}, a)
  end)

  it("gradchecks of recorded in-place ops (each on a graph tensor)", function()
    mg.random.seed(7)
    local function rnd(shape) return mg.random.randn(shape, {dtype = "float64"}) end
    local function pos(shape)
      return (mg.random.rand(shape, {dtype = "float64", constant = true}) + 0.5):requires_grad_(true)
    end
    check(function(a, b) local t = a * 1; t:add_(b); return t end, {rnd({2, 3}), rnd({3})})
    check(function(a, b) local t = a * 1; t:sub_(b); return t end, {rnd({2, 3}), rnd({2, 1})})
    check(function(a, b) local t = a * 1; t:mul_(b); return t end, {rnd({2, 3}), rnd({2, 3})})
    check(function(a, b) local t = a * 1; t:div_(b); return t end, {rnd({2, 3}), pos({3})})
    check(function(a, b) local t = a * 1; t:pow_(b); return t end, {pos({2, 3}), rnd({3})})
    check(function(a) local t = a * 1; t:pow_(3); return t end, {rnd({4})})
    check(function(a) local t = a * 1; t:mul_(t); return t end, {rnd({4})})
    check(function(a) local t = a:sin(); t:div_(t:sum()); return t end, {rnd({4})})
    check(function(a) local t = a.T * 1; t:mul_(2); return t end, {rnd({3, 2})})
    check(function(a, v) local t = a * 1; t:copy_(v); return t * a end, {rnd({3, 2}), rnd({2})})
    check(function(a, v) local t = a * 1; t:fill_(v); return t * a end, {rnd({3}), rnd({})})
  end)

  it("clamp_: the gradient goes to x inside the bounds and to the bound outside", function()
    local x = var({-2.0, -0.5, 0.5, 2.0})
    local lo, hi = var(-1.0), var({1.0, 1.0, 1.0, 1.5})
    local t = x * 1
    t:clamp_(lo, hi)
    assert.are.equal("ClampBackward", t.grad_fn)
    near({-1, -0.5, 0.5, 1.5}, t)
    t:backward(const({1.0, 2.0, 3.0, 4.0}, "float64"))
    near({0, 2, 3, 0}, x.grad)
    near(1, lo.grad)
    near({0, 0, 0, 4}, hi.grad)
    mg.random.seed(3)
    local xs = mg.random.randn({3, 4}, {dtype = "float64"})
    check(function(a) local c = a * 1; c:clamp_(-0.5, 0.7); return c end, {xs})
    check(function(a, l, h) local c = a * 1; c:clamp_(l, h); return c end,
      {var({-2.0, -0.3, 0.4, 3.0}), var({-1.0, -1.0, -1.0, -1.0}), var(1.0)})
  end)

  it("second order through recorded in-place ops", function()
    mg.random.seed(11)
    local a, b = mg.random.randn({3}, {dtype = "float64"}), mg.random.randn({3}, {dtype = "float64"})
    check2(function(p, q) local t = p * 1; t:mul_(q); t:mul_(p); return t end, {a, b})
    check2(function(p) local t = p:sin(); t:pow_(2); return t end, {a})
  end)

  it("under no_grad nothing is recorded", function()
    local x = var({1.0, 2.0})
    local a = x * 2
    mg.no_grad(function() a:add_(1) end)
    assert.are.equal("MulBackward", a.grad_fn)
    near({3, 5}, a)
  end)
end)

describe("in-place writes never give a wrong gradient", function()
  it("an in-place op on an input saved by multiply: backward names MulBackward", function()
    local x = var({1.0, 2.0})
    local a = x * 1
    local y = a * x
    a:add_(1)
    local err = raises(function() y:sum():backward() end, "MulBackward")
    assert.is_truthy(err:find("modified in place", 1, true))
  end)

  it("an in-place write into a saved output (exp) names ExpBackward", function()
    local x = var({1.0, 2.0})
    local y = x:exp()
    y:add_(1)
    raises(function() y:sum():backward() end, "ExpBackward")
  end)

  it("a setitem on a saved tensor", function()
    local x = var({1.0, 2.0, 3.0})
    local a = x * 1
    local y = a:sin()
    a[2] = 0
    raises(function() y:sum():backward() end, "SinBackward")
  end)

  it("a write through a view bumps the shared storage's version", function()
    local x = var({{1.0, 2.0}, {3.0, 4.0}})
    local y = x * x
    x.data[{{}, 1}]:mul_(2) -- a constant view of x's memory, not recorded
    raises(function() y:sum():backward() end, "MulBackward")
    local a = x * 1
    local z = a:log()
    a.T[1]:fill_(1) -- a recorded write into a view of a
    raises(function() z:sum():backward() end, "LogBackward")
  end)

  it("a view taken before its base was written is caught", function()
    local x = var({{1.0, 2.0}, {3.0, 4.0}})
    local a = x * 2
    local row = a[1]
    a:mul_(3)
    local z = row * 1 -- row's values changed, its graph did not
    local err = raises(function() z:sum():backward() end, "MulBackward")
    assert.is_truthy(err:find("modified in place", 1, true))
  end)

  it("a base written through its view is caught", function()
    local x = var({{1.0, 2.0}, {3.0, 4.0}})
    local a = x * 2
    local row = a[1]
    row:add_(1)
    raises(function() a:sum():backward() end, "MulBackward")
    local b = x * 2
    b[{2, {}}] = 0
    assert.are.equal("SetitemBackward", b.grad_fn)
    b:sum():backward() -- b's handle moved to the written tensor: fine
    near({{2, 2}, {0, 0}}, x.grad)
  end)

  it("so a recorded write into part of a graph tensor goes through setitem, not a view", function()
    local x = var({1.0, 2.0, 3.0})
    local t = x * 1
    t[{{1, 2}}]:copy_(var({5.0, 6.0})) -- t's values change, t's graph does not
    raises(function() (t * x):sum():backward() end, "MulBackward")
    local u = x * 1
    u[{{1, 2}}] = var({5.0, 6.0}) -- u's handle moves to the written tensor
    x:null_grad();
    (u * x):sum():backward()
    near({5, 6, 6}, x.grad)
  end)

  it("writes that no backward reads are fine", function()
    local x = var({1.0, 2.0})
    local a = x * 1
    local y = a + 1
    a:mul_(5)
    y:sum():backward()
    near({1, 1}, x.grad)
    local w = var({{1.0, 2.0}, {3.0, 4.0}})
    local r = w[1] -- a view of a leaf stays valid when the leaf is updated
    mg.no_grad(function() w:mul_(2) end)
    local s = (r * 1):sum()
    near(6, s)
    s:backward()
    near({{1, 1}, {0, 0}}, w.grad)
  end)

  it("a root written through a view or its base is caught too (gradcheck_random_spec)", function()
    -- (these gave x.grad = ones and no z.grad: nothing checked the tensor backward starts from)
    local x, z = var({{1.0, 2.0}, {3.0, 4.0}}), var({{5.0, 6.0}, {7.0, 8.0}})
    local y = x * 1
    y.T:mul_(z)
    raises(function() y:backward() end, "modified in place through a view or its base")
    raises(function() y:backward(mg.ones(2, 2)) end, "MulBackward")
    raises(function() mg.autograd.grad(y, {x, z}) end, "graph no longer describes")
    local a = x * 1
    local row = a[1]
    a:mul_(2)
    raises(function() row:backward() end, "modified in place")
    assert.is_nil(x.grad)
    assert.is_nil(z.grad)
    local b = x * 1
    local t = b.T
    t:mul_(z) -- t's handle moved to the product: backward from it is right
    t:backward()
    near({{5, 7}, {6, 8}}, x.grad)
    near({{1, 3}, {2, 4}}, z.grad)
  end)

  it("the check also runs for mg.autograd.grad", function()
    local x = var({1.0, 2.0})
    local y = x * x
    x.data:add_(1)
    raises(function() mg.autograd.grad(y:sum(), x) end, "MulBackward")
  end)
end)

describe("in-place errors", function()
  it("the argument must broadcast to the target's shape", function()
    local x = const({1.0, 2.0, 3.0})
    raises(function() x:add_(const({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}})) end,
      "add_: the argument's shape {2, 3} does not broadcast to the tensor's shape {3}")
    raises(function() x:mul_(const({1.0, 2.0})) end, "mul_: the argument's shape {2}")
    raises(function() x:copy_(const({1.0, 2.0})) end, "copy_: the argument's shape {2}")
    raises(function() x:clamp_(const({0.0, 1.0})) end, "clamp_: the argument's shape {2}")
    near({1, 2, 3}, x)
  end)

  it("a float result does not go into an integer tensor", function()
    local i = mg.tensor({1, 2})
    raises(function() i:div_(2) end, "div_: the result is float32 and cannot be stored in place in a tensor of dtype int64")
    raises(function() i:add_(0.5) end, "add_: the result is")
    raises(function() mg.tensor({true}):add_(1) end, "add_: the result is int64")
    raises(function() i:copy_(var({1.0, 2.0})) end, "copy_: cannot write a variable into a tensor of dtype int64")
    assert.are.same({1, 2}, i:totable())
  end)

  it("integer corner cases keep their op's error", function()
    raises(function() mg.tensor({2, 3}):pow_(-1) end, "negative integer powers")
  end)

  it("a broadcast view cannot be written", function()
    local b = const({1.0, 2.0}):broadcast_to({3, 2})
    raises(function() b:add_(1) end, "add_: cannot write in place into a broadcast view")
    raises(function() b:fill_(0) end, "fill_: cannot write in place into a broadcast view")
  end)

  it("bad arguments", function()
    raises(function() mg.add_(3, 1) end, "add_: argument #1 must be a tensor")
    raises(function() const({1.0}):fill_() end, "fill_: argument #2 (the value) is missing")
    raises(function() const({1.0}):mul_("two") end, "mul_: argument #2 must be a tensor")
    raises(function() const({1.0}):clamp_() end, "clamp_: at least one of lo and hi")
    raises(function() const({1.0}):clip_(nil, nil) end, "clip_: clamp_: at least one of lo and hi")
  end)

  it("a closed tensor", function()
    local u
    do
      local t <close> = const({1.0})
      u = t
    end
    raises(function() u:add_(1) end, "add_: tensor used after it was closed")
  end)
end)
