-- higher_order_spec.lua — gradients as values: mg.autograd.grad (no .grad
-- touched, head gradients, several outputs and inputs, unused inputs,
-- retained and freed graphs, create_graph), mg.grad and its nesting (second
-- and third derivatives), jacobian and hessian, the public gradcheck /
-- gradgradcheck, and the MXNet chapter (attach_grad, record, pause,
-- is_training, head gradients, control flow).
local mg = require("moongrad")
local H = require("helpers")
local near, raises, var = H.near_within(1e-6), H.raises, H.f64

local function const(v) return mg.tensor(v, {dtype = "float64", constant = true}) end

describe("mg.autograd.grad", function()
  it("returns the gradients as a list and leaves every .grad alone", function()
    local x = var({1.0, 2.0, 3.0})
    local h = x * x
    local y = (h * 2):sum()
    local g = mg.autograd.grad(y, x)
    assert.are.equal(1, #g)
    near({4, 8, 12}, g[1])
    assert.is_true(g[1].constant)
    assert.is_nil(x.grad)
    assert.is_nil(h.grad)
    assert.is_nil(y.grad)
  end)

  it("an existing .grad stays as it was", function()
    local x = var({1.0, 2.0})
    local y = (x * 3):sum()
    y:backward(nil, {retain_graph = true})
    near({3, 3}, x.grad)
    near({3, 3}, mg.autograd.grad(y, x)[1])
    near({3, 3}, x.grad)
  end)

  it("grad_outputs weigh the outputs (a vector-Jacobian product)", function()
    local x = var({1.0, 2.0, 3.0})
    local y = x * x
    near({2, 0, 60}, mg.autograd.grad(y, x, {grad_outputs = const({1.0, 0.0, 10.0})})[1])
    local z = x * 2
    near({6, 6, 6}, mg.autograd.grad(z, x, {grad_outputs = 3})[1])
    local w = x * 1
    near({1, 2, 3}, mg.autograd.grad(w, x, {grad_outputs = {{1.0, 2.0, 3.0}}})[1])
  end)

  it("several outputs add up; several inputs, intermediates among them", function()
    local a, b = var({1.0, 2.0}), var({3.0, 4.0})
    local m = a * b
    local y1, y2 = m:sum(), (a * a):sum()
    local g = mg.autograd.grad({y1, y2}, {a, b, m}, {grad_outputs = {nil, 2}})
    near({3 + 4 * 1, 4 + 4 * 2}, g[1])
    near({1, 2}, g[2])
    near({1, 1}, g[3])
  end)

  it("an unused input is an error, nil with allow_unused, zeros with materialize_grads", function()
    local x, u = var({1.0, 2.0}), var(5.0)
    local y = (x * 2):sum()
    raises(function() mg.autograd.grad(y, {x, u}, {retain_graph = true}) end,
      "autograd.grad: input 2 was not used to compute the outputs")
    local g = mg.autograd.grad(y, {u, x}, {allow_unused = true, retain_graph = true})
    assert.is_nil(g[1])
    near({2, 2}, g[2])
    g = mg.autograd.grad(y, {u, x}, {materialize_grads = true})
    near(0, g[1])
  end)

  it("a constant output adds nothing", function()
    local x = var({1.0, 2.0})
    local g = mg.autograd.grad({const(1.0), (x * 3):sum()}, x)
    near({3, 3}, g[1])
    assert.is_nil(mg.autograd.grad(const(1.0), x, {allow_unused = true})[1])
  end)

  it("frees the graph unless retain_graph (or create_graph)", function()
    local x = var(2.0)
    local y = x ^ 3
    near(12, mg.autograd.grad(y, x, {retain_graph = true})[1])
    near(12, mg.autograd.grad(y, x)[1])
    raises(function() mg.autograd.grad(y, x) end, "retain_graph")
  end)

  it("create_graph records the gradient, so it can be differentiated again", function()
    local x = var({0.5, 1.0, 2.0})
    local y = (x:sin()):sum()
    local g = mg.autograd.grad(y, x, {create_graph = true})[1]
    assert.is_true(g.requires_grad)
    near({math.cos(0.5), math.cos(1), math.cos(2)}, g)
    local gg = mg.autograd.grad(g:sum(), x)[1]
    near({-math.sin(0.5), -math.sin(1), -math.sin(2)}, gg)
    assert.is_nil(x.grad)
  end)

  it("and with backward on the recorded gradient", function()
    local x = var(3.0)
    local g = mg.autograd.grad(x ^ 3, x, {create_graph = true})[1]
    g:backward()
    near(18, x.grad)
  end)

  it("errors name the function", function()
    local x = var({1.0})
    raises(function() mg.autograd.grad(x * 2, const({1.0})) end, "grad: input 1 is a constant")
    raises(function() mg.autograd.grad(x * 2, {}) end, "autograd.grad: inputs must be a tensor or a non-empty list")
    raises(function() mg.autograd.grad({x, 3}, x) end, "autograd.grad: outputs[2] must be a tensor")
    raises(function() mg.autograd.grad(x * 2, x, {grad_outputs = {"one"}}) end,
      "autograd.grad: grad_outputs[1] must be a tensor, a number or a table, got string")
    raises(function() mg.autograd.grad(x * 2, x, {grad_outputs = const({1.0, 2.0})}) end,
      "grad: the gradient's shape {2} does not broadcast to the tensor's shape {1}")
  end)
end)

describe("mg.grad", function()
  it("d/dx and d2/dx2 of sin at several points", function()
    local d1 = mg.grad(mg.sin)
    local d2 = mg.grad(mg.grad(function(x) return x:sin() end))
    for _, p in ipairs({-2.0, -0.5, 0.0, 1.0, 3.0}) do
      near(math.cos(p), d1(var(p)))
      near(-math.sin(p), d2(var(p)))
      near(-math.sin(p), d2(p)) -- numbers work too
    end
  end)

  it("the third derivative of x^4 is 24 x; the fourth 24, the fifth 0", function()
    local f = function(x) return x ^ 4 end
    local d3 = mg.grad(mg.grad(mg.grad(f)))
    for _, p in ipairs({-1.5, 0.5, 2.0}) do near(24 * p, d3(var(p))) end
    near(24, mg.grad(d3)(var(0.7)))
    near(0, mg.grad(mg.grad(d3))(var(0.7)))
  end)

  it("inside jacobian's f it records, so the Jacobian of a gradient is the Hessian", function()
    local f = function(v) return (v ^ 3):sum() + v[1] * v[2] end
    local x = var({1.0, 2.0})
    local H = mg.autograd.jacobian(mg.grad(f), x)
    near({{6, 1}, {1, 12}}, H)
    near(H:totable(), mg.autograd.hessian(f, x))
    local g = mg.grad(f, {create_graph = true})(x)
    assert.is_true(g.requires_grad)
    near({60, 10}, mg.autograd.grad(g[1] * g[1], x)[1]) -- g1 = 3 x1^2 + x2 = 5: d(g1^2) = 2 g1 (6 x1, 1)
  end)

  it("several arguments give several gradients; other arguments give nil", function()
    local df = mg.grad(function(a, b, opts) return a * b * b * opts.k end)
    local ga, gb, go = df(var(2.0), var(3.0), {k = 2})
    near(18, ga)
    near(24, gb)
    assert.is_nil(go)
  end)

  it("differentiates constants too, and leaves .grad alone", function()
    local x = var({1.0, 2.0})
    x:sum():backward()
    local g = mg.grad(function(v) return (v * v):sum() end)(x)
    near({2, 4}, g)
    near({1, 1}, x.grad)
    local c = const({3.0})
    near({6}, mg.grad(function(v) return (v * v):sum() end)(c))
    assert.is_true(c.constant)
  end)

  it("works under no_grad and returns zeros where f does not depend on x", function()
    mg.no_grad(function()
      near(12, mg.grad(function(x) return x ^ 3 end)(var(2.0)))
    end)
    near(0, mg.grad(function(_) return const(1.0) end)(var(2.0)))
  end)

  it("errors", function()
    raises(function() mg.grad(3) end, "grad: f must be a function")
    raises(function() mg.grad(function(x) return x * 2 end)(var({1.0, 2.0})) end,
      "grad: f must return a scalar (one element), got shape {2}")
    raises(function() mg.grad(function() return 1 end)("a") end, "grad: f has no tensor or number argument")
    raises(function() mg.grad(function(x) return x:item() end)(var(1.0)) end, "grad: f must return a tensor")
    raises(function() mg.grad(function(x) error("boom " .. x:item()) end)(var(1.0)) end, "boom 1")
    near(3, mg.grad(function(x) return x * 3 end)(var(1.0))) -- nesting depth recovered after errors
    assert.is_true(mg.grad(function(x) return x * 3 end)(var(1.0)).constant)
  end)
end)

describe("jacobian and hessian", function()
  it("the Hessian of x^T A x is A + A^T", function()
    mg.random.seed(5)
    local A = mg.random.randn({3, 3}, {dtype = "float64", constant = true})
    local x = mg.random.randn({3}, {dtype = "float64"})
    local H = mg.autograd.hessian(function(v) return mg.matmul(v, mg.matmul(A, v)) end, x)
    assert.are.same({3, 3}, H.shape)
    near((A + A.T):totable(), H)
    assert.is_nil(x.grad)
  end)

  it("the Hessian of sum(x^3) over a matrix has shape x.shape .. x.shape", function()
    local x = var({{1.0, 2.0}, {3.0, 4.0}})
    local H = mg.autograd.hessian(function(v) return (v ^ 3):sum() end, x)
    assert.are.same({2, 2, 2, 2}, H.shape)
    local t = H:totable()
    for i = 1, 2 do for j = 1, 2 do for k = 1, 2 do for l = 1, 2 do
      local want = (i == k and j == l) and 6 * x[{i, j}]:item() or 0
      near(want, t[i][j][k][l])
    end end end end
  end)

  it("a linear function has a zero Hessian", function()
    local H = mg.autograd.hessian(function(v) return (v * 2):sum() end, var({1.0, 2.0}))
    near({{0, 0}, {0, 0}}, H)
  end)

  it("the Jacobian of a matrix-vector product is the matrix", function()
    local W = const({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}})
    local J = mg.autograd.jacobian(function(v) return mg.matmul(W, v) end, var({0.1, 0.2, 0.3}))
    assert.are.same({2, 3}, J.shape)
    near(W:totable(), J)
  end)

  it("the Jacobian of X B has shape y.shape .. x.shape and J[i][k][j][l] = [i == j] B[l][k]", function()
    local B = const({{1.0, 2.0, 3.0, 4.0}, {5.0, 6.0, 7.0, 8.0}, {9.0, 10.0, 11.0, 12.0}})
    local X = var({{1.0, -1.0, 2.0}, {0.5, 0.0, 3.0}})
    local J = mg.autograd.jacobian(function(v) return mg.matmul(v, B) end, X)
    assert.are.same({2, 4, 2, 3}, J.shape)
    local t, b = J:totable(), B:totable()
    for i = 1, 2 do for k = 1, 4 do for j = 1, 2 do for l = 1, 3 do
      near(i == j and b[l][k] or 0, t[i][k][j][l])
    end end end end
  end)

  it("of an element-wise function: diagonal; of a scalar: the gradient", function()
    local x = var({1.0, 2.0, 3.0})
    near({{2, 0, 0}, {0, 4, 0}, {0, 0, 6}}, mg.autograd.jacobian(function(v) return v * v end, x))
    local J = mg.autograd.jacobian(function(v) return (v * v):sum() end, x)
    assert.are.same({3}, J.shape)
    near({2, 4, 6}, J)
  end)

  it("create_graph records them", function()
    local x = var({1.0, 2.0})
    local J = mg.autograd.jacobian(function(v) return v ^ 3 end, x, {create_graph = true})
    assert.is_true(J.requires_grad)
    near({6, 12}, mg.autograd.grad(J:sum(), x)[1])
    local H = mg.autograd.hessian(function(v) return (v ^ 4):sum() end, x, {create_graph = true})
    near({24, 48}, mg.autograd.grad(H:sum(), x)[1])
  end)

  it("errors", function()
    raises(function() mg.autograd.hessian(function(v) return v * 2 end, var({1.0, 2.0})) end,
      "hessian: f must return a scalar")
    raises(function() mg.autograd.jacobian(function() return 1 end, var({1.0})) end,
      "jacobian: f must return a tensor")
    raises(function() mg.autograd.jacobian(function(v) return v end, "x") end,
      "jacobian: expected a tensor or a number")
    raises(function() mg.autograd.hessian(function(v) return v:sum() end, mg.tensor({1, 2})) end,
      "hessian: can only differentiate with respect to float tensors")
  end)
end)

describe("mg.autograd.gradcheck", function()
  it("passes for a right gradient and fails with a message for a wrong one", function()
    local x = var({0.3, -1.2, 2.0})
    assert.is_true(mg.autograd.gradcheck(function(a) return a:sin() * a end, {x}))
    local ok, msg = mg.autograd.gradcheck(function(a) return a * a.data end, {x})
    assert.is_false(ok)
    assert.is_truthy(msg:find("gradcheck: input 1, element {1}: analytic", 1, true))
    raises(function() mg.autograd.gradcheck(function(a) return a * a.data end, {x}, {raise = true}) end,
      "gradcheck: input 1")
  end)

  it("second order, with constants among the inputs", function()
    local x, c = var({{0.3, -1.2}, {0.7, 2.0}}), const({1.5, -0.5})
    assert.is_true(mg.autograd.gradgradcheck(function(a, b) return (a * b):tanh() * a end, {x, c}))
    local ok, msg = mg.autograd.gradgradcheck(function(a) return a * a * a.data end, {x})
    assert.is_false(ok)
    assert.is_truthy(msg:find("gradgradcheck: input 1", 1, true))
  end)

  it("leaves the inputs' .grad, graph and values alone", function()
    local x = var({1.0, 2.0})
    local y = x * 1
    x:sum():backward()
    assert.is_true(mg.autograd.gradcheck(function(a) return a ^ 2 end, {y}))
    assert.is_true(mg.autograd.gradgradcheck(function(a) return a ^ 3 end, {y}))
    near({1, 1}, x.grad)
    assert.are.equal("MulBackward", y.grad_fn)
    near({1, 2}, y)
    y:sum():backward()
  end)

  it("errors", function()
    raises(function() mg.autograd.gradcheck(function(a) return a end, {1}) end,
      "gradcheck: input 1 must be a tensor")
  end)
end)

describe("MXNet style (the d2l autograd chapter)", function()
  it("y = 2 x^T x has gradient 4 x", function()
    local x = mg.arange(4.0):reshape(4, 1)
    assert.are.equal(x, x:attach_grad())
    assert.is_true(x.requires_grad)
    assert.is_nil(x.grad)
    local y = mg.autograd.record(function() return 2 * mg.matmul(x.T, x) end)
    near({{28}}, y)
    y:backward()
    -- outside record MXNet records nothing; moongrad records by default, and
    -- using x in a recorded op clears x.grad, so check under pause
    mg.autograd.pause(function()
      assert.are.equal(0, ((x.grad - 4 * x) ^ 2):sum():sqrt():item())
    end)
    near({{0}, {4}, {8}, {12}}, x.grad)
  end)

  it("training and predict modes", function()
    assert.is_false(mg.autograd.is_training())
    assert.is_true(mg.autograd.record(function() return mg.autograd.is_training() end))
    assert.is_false(mg.autograd.is_training())
    assert.is_false(mg.autograd.record(function() return mg.autograd.is_training() end, false))
    assert.is_false(mg.autograd.set_training(true))
    assert.is_true(mg.autograd.is_training())
    assert.is_true(mg.autograd.set_training(false))
    assert.is_true(mg.autograd.train_mode(function() return mg.autograd.is_training() end))
    assert.is_false(mg.autograd.predict_mode(function() return mg.autograd.is_training() end))
  end)

  it("record and pause switch recording; the guard form lasts to the end of a scope", function()
    assert.is_true(mg.autograd.is_recording()) -- moongrad records by default
    local x = var({1.0, 2.0})
    mg.autograd.record(function()
      assert.is_true(mg.autograd.is_recording())
      local p = mg.autograd.pause(function()
        assert.is_false(mg.autograd.is_recording())
        assert.is_false(mg.autograd.is_training())
        return x * 2
      end)
      assert.is_true(p.constant)
      assert.is_true(mg.autograd.is_training())
    end)
    do
      local g <close> = mg.autograd.pause()
      assert.is_false(mg.autograd.is_recording())
      assert.is_true((x * 2).constant)
      do
        local r <close> = mg.autograd.record()
        assert.is_true(mg.autograd.is_recording())
        assert.is_true(mg.autograd.is_training())
      end
      assert.is_false(mg.autograd.is_recording())
      assert.is_false(mg.autograd.is_training())
    end
    assert.is_true(mg.autograd.is_recording())
    assert.is_false(mg.autograd.is_training())
    local a, b = mg.autograd.record(function() return 1, 2 end)
    assert.are.same({1, 2}, {a, b})
    raises(function() mg.autograd.record(function() error("inside record") end) end, "inside record")
    assert.is_false(mg.autograd.is_training())
    assert.is_true(mg.autograd.is_recording())
    assert.are.equal(mg.no_grad, mg.autograd.no_grad)
    assert.is_true(mg.autograd.no_grad(function() return (x * 2).constant end))
  end)

  it("head gradients: z = (x * 2) * x with head [10, 1, .1, .01]", function()
    local x = mg.arange(4.0):reshape(4, 1):attach_grad()
    local z = mg.autograd.record(function()
      local y = x * 2
      return y * x
    end)
    z:backward(mg.tensor({{10}, {1}, {0.1}, {0.01}}))
    near({{0}, {4}, {0.8}, {0.12}}, x.grad)
  end)

  it("control flow: the gradient of f(a) equals f(a) / a", function()
    local function f(a)
      local b = a * 2
      while (b * b):sum():sqrt():item() < 1000 do b = b * 2 end
      local c
      if b:sum():item() > 0 then c = b else c = 100 * b end
      return c
    end
    for _, seed in ipairs({1, 2, 3, 4}) do
      mg.random.seed(seed)
      local a = mg.random.randn(1)
      a:attach_grad()
      local d = mg.autograd.record(function() return f(a) end)
      d:backward()
      near(mg.autograd.pause(function() return d / a end):totable(), a.grad, 1e-5)
    end
    local a = mg.tensor({-0.3}):attach_grad()
    local d = mg.autograd.record(function() return f(a) end)
    d:backward()
    near(mg.autograd.pause(function() return d / a end):totable(), a.grad, 1e-5)
    near({-122880}, d, 1e-5) -- -0.3 * 2 * 2^11 * 100
  end)

  it("attach_grad makes any float tensor a fresh leaf", function()
    local x = var({1.0, 2.0})
    local y = x * 3
    y:sum():backward(nil, {retain_graph = true})
    assert.is_truthy(y.grad)
    assert.are.equal(y, y:attach_grad())
    assert.is_nil(y.grad_fn)
    assert.is_nil(y.grad)
    assert.is_true(y.is_leaf and y.requires_grad)
    local c = const({1.0}):attach_grad()
    assert.is_true(c.requires_grad)
    raises(function() mg.tensor({1, 2}):attach_grad() end, "attach_grad: only float tensors")
  end)
end)
