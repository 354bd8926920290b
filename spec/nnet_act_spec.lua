-- nnet_act_spec.lua — the activations of mg.nnet (src/nn_act.c): values
-- against hand-computed numbers (plain Lua math) and PyTorch's published
-- ones, extreme inputs (no overflow, no NaN), axes (negative, non-last),
-- non-contiguous inputs, dtypes, the option forms, the tensor methods, a
-- float64 gradcheck of every activation, gradgradcheck of the op-table
-- ones (and the composites), and the errors bad input raises.
local mg = require("moongrad")
local gc = require("gradcheck")
local nn = mg.nnet
local H = require("helpers")
local flat, near, map, all_finite, f64 = H.flat, H.near, H.map, H.all_finite, H.f64
local var, check, check2, raises = H.fixed_var, H.check, H.check2, H.raises

local nan, inf = 0 / 0, math.huge

-- plain-Lua references
local function sigmoid(v) return 1 / (1 + math.exp(-v)) end
local function erf(v) -- Abramowitz-Stegun 7.1.26 is too coarse; use the series / continued fraction
  local s = v < 0 and -1 or 1
  v = math.abs(v)
  if v < 3 then
    local sum, term, k = v, v, 0
    repeat
      k = k + 1
      term = term * -v * v / k
      sum = sum + term / (2 * k + 1)
    until math.abs(term) < 1e-17
    return s * 2 / math.sqrt(math.pi) * sum
  end
  return s * 1 -- within 2e-5 of erf for |v| >= 3, enough for the values used here
end
local function gelu(v) return 0.5 * v * (1 + erf(v / math.sqrt(2))) end
local function gelu_tanh(v)
  return 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ^ 3)))
end
local SELU_ALPHA, SELU_SCALE = 1.6732632423543772848, 1.0507009873554804934

local xs = {-2.5, -1, -0.25, 0, 0.5, 1, 3}
local x = f64(xs)

describe("mg.nnet activations: values", function()
  it("relu, leaky_relu, elu, selu", function()
    near(map(xs, function(v) return math.max(v, 0) end), nn.relu(x))
    near(map(xs, function(v) return v > 0 and v or 0.01 * v end), nn.leaky_relu(x))
    near(map(xs, function(v) return v > 0 and v or 0.2 * v end), nn.leaky_relu(x, 0.2))
    near(map(xs, function(v) return v > 0 and v or 0.3 * v end), nn.leaky_relu(x, {slope = 0.3}))
    near(map(xs, function(v) return v > 0 and v or 0.3 * v end),
      nn.leaky_relu(x, {negative_slope = 0.3}))
    near(map(xs, function(v) return v > 0 and v or math.exp(v) - 1 end), nn.elu(x))
    near(map(xs, function(v) return v > 0 and v or 0.5 * (math.exp(v) - 1) end), nn.elu(x, 0.5))
    near(map(xs, function(v) return v > 0 and v or 2 * (math.exp(v) - 1) end), nn.elu(x, {alpha = 2}))
    near(map(xs, function(v) return SELU_SCALE * (v > 0 and v or SELU_ALPHA * (math.exp(v) - 1)) end),
      nn.selu(x))
    -- PyTorch: torch.selu(torch.tensor([-1., 1.])) = [-1.1113, 1.0507]
    near({-1.1113307378125625, 1.0507009873554805}, nn.selu(f64({-1, 1})), 1e-12)
  end)

  it("relu keeps NaN and integers", function()
    near({nan, 0, 2}, nn.relu(f64({nan, -1, 2})))
    local r = nn.relu(mg.tensor({-3, 0, 4}))
    assert.are.equal("int64", r.dtype)
    assert.are.same({0, 0, 4}, r:totable())
  end)

  it("sigmoid and tanh", function()
    near(map(xs, sigmoid), nn.sigmoid(x), 1e-12)
    near(map(xs, math.tanh), nn.tanh(x), 1e-12)
  end)

  it("gelu: exact (erf) form by default, PyTorch's tanh form on request", function()
    near(map(xs, gelu), nn.gelu(x), 1e-9)
    -- PyTorch: F.gelu(torch.tensor([-1., 0., 1.])) = [-0.1587, 0.0000, 0.8413]
    near({-0.15865525393145707, 0, 0.8413447460685429}, nn.gelu(f64({-1, 0, 1})), 1e-12)
    near(map(xs, gelu_tanh), nn.gelu(x, "tanh"), 1e-12)
    near(map(xs, gelu_tanh), nn.gelu(x, {approximate = "tanh"}), 1e-12)
    near(map(xs, gelu), nn.gelu(x, {approximate = "none"}), 1e-9)
    -- the tanh form differs from the exact one by < 1e-3
    local d = flat((nn.gelu(x) - nn.gelu(x, "tanh")):abs():totable())
    local most = math.max(table.unpack(d))
    assert(most < 1e-3 and most > 0)
  end)

  it("hard_tanh, soft_sign, softplus", function()
    near(map(xs, function(v) return math.min(math.max(v, -1), 1) end), nn.hard_tanh(x))
    near(map(xs, function(v) return math.min(math.max(v, -0.5), 2) end), nn.hard_tanh(x, -0.5, 2))
    near(map(xs, function(v) return math.min(math.max(v, 0), 0.5) end),
      nn.hard_tanh(x, {min_val = 0, max_val = 0.5}))
    near(map(xs, function(v) return math.min(math.max(v, -2), 2) end),
      nn.hard_tanh(x, {lower_bound = -2, upper_bound = 2}))
    near(map(xs, function(v) return v / (1 + math.abs(v)) end), nn.soft_sign(x), 1e-12)
    near(map(xs, function(v) return math.log(1 + math.exp(v)) end), nn.softplus(x), 1e-12)
    near(map(xs, function(v) return math.log(1 + math.exp(2 * v)) / 2 end), nn.softplus(x, 2), 1e-12)
    -- above the threshold softplus is x itself (as PyTorch)
    near(map(xs, function(v) return 2 * v > 1 and v or math.log(1 + math.exp(2 * v)) / 2 end),
      nn.softplus(x, {beta = 2, threshold = 1}), 1e-12)
    near({math.log(2)}, nn.softplus(f64({0})), 1e-12)
  end)

  it("softmax and logsoftmax over the last axis by default", function()
    local m = f64({{1, 2, 3}, {-1, 0, 5}})
    local function ref(row)
      local s = 0
      for _, v in ipairs(row) do s = s + math.exp(v) end
      return map(row, function(v) return math.exp(v) / s end), math.log(s)
    end
    local p1, l1 = ref({1, 2, 3})
    local p2, l2 = ref({-1, 0, 5})
    near({p1, p2}, nn.softmax(m), 1e-12)
    near({p1, p2}, nn.softmax(m, -1), 1e-12)
    near({p1, p2}, nn.softmax(m, {axis = 2}), 1e-12)
    near({map({1, 2, 3}, function(v) return v - l1 end), map({-1, 0, 5}, function(v) return v - l2 end)},
      nn.logsoftmax(m), 1e-12)
    near(nn.logsoftmax(m):totable(), nn.log_softmax(m), 1e-15)
    -- the rows sum to 1
    near({1, 1}, nn.softmax(m):sum(2), 1e-12)
  end)

  it("softmax over another axis, negative axes and transposed inputs", function()
    local m = f64({{1, 2, 3}, {-1, 0, 5}})
    local cols = nn.softmax(m, 1)
    near({1, 1, 1}, cols:sum(1), 1e-12)
    near({sigmoid(2), sigmoid(2), sigmoid(-2)}, cols[1], 1e-12)
    near(nn.softmax(m, -2):totable(), cols, 1e-15)
    near(nn.softmax(m.T, 2):totable(), cols.T, 1e-15)
    near(nn.logsoftmax(m.T, 1):totable(), nn.logsoftmax(m, 2).T, 1e-15)
    -- a 3-d tensor along its middle axis
    local t = gc.fixed({2, 3, 4}, 5)
    local s = nn.softmax(t, 2)
    near(mg.ones({2, 4}):totable(), s:sum(2), 1e-12)
    near(nn.softmax(t:permute({1, 3, 2}), 3):permute({1, 3, 2}):totable(), s, 1e-15)
  end)

  it("softmax of a 0-d tensor is 1; glu splits an axis in halves", function()
    near(1, nn.softmax(f64(3.5)))
    near(0, nn.logsoftmax(f64(3.5)))
    local g = f64({{1, 2, 3, 4}, {-1, 0, 0.5, -2}})
    near({{1 * sigmoid(3), 2 * sigmoid(4)}, {-1 * sigmoid(0.5), 0}}, nn.glu(g), 1e-12)
    near({{1 * sigmoid(-1), 2 * sigmoid(0), 3 * sigmoid(0.5), 4 * sigmoid(-2)}}, nn.glu(g, 1), 1e-12)
    near({{1 * sigmoid(-1), 2 * sigmoid(0), 3 * sigmoid(0.5), 4 * sigmoid(-2)}}, nn.glu(g, {axis = -2}),
      1e-12)
    assert.are.same({2, 3}, nn.glu(gc.fixed({2, 6}, 1)).shape)
  end)

  it("integers compute in the default float dtype; float32 stays float32", function()
    local i = mg.tensor({-1, 0, 2})
    for _, name in ipairs({"leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_tanh", "soft_sign",
                           "softplus", "softmax", "logsoftmax"}) do
      assert.are.equal("float32", nn[name](i).dtype, name)
      assert.are.equal("float32", nn[name](mg.tensor({0.5, -0.5})).dtype, name)
      assert.are.equal("float64", nn[name](f64({0.5, -0.5})).dtype, name)
    end
    near({0.26894142, 0.73105858}, nn.softmax({1000, 1001}))
  end)

  it("take numbers and tables and are tensor methods", function()
    near({0.5}, nn.sigmoid({0}))
    near(0.5, nn.sigmoid(0))
    local t = f64({-1, 2})
    near({0, 2}, t:relu())
    near(map({-1, 2}, sigmoid), t:sigmoid(), 1e-12)
    near(nn.softmax(t):totable(), t:softmax())
    near(nn.logsoftmax(t):totable(), t:logsoftmax(-1))
    assert.are.equal(mg.nnet.softmax, mg.methods.softmax)
  end)
end)

describe("mg.nnet activations: extreme inputs", function()
  it("softmax of {1000, 1001} and logsoftmax of huge logits are finite and right", function()
    near({0.2689414213699951, 0.7310585786300049}, nn.softmax(f64({1000, 1001})), 1e-12)
    near({-1.3132616875182228, -0.3132616875182228}, nn.logsoftmax(f64({1000, 1001})), 1e-12)
    near({0, -1e30}, nn.logsoftmax(f64({1e30, 0})))
    near({-2e30, 0}, nn.logsoftmax(mg.tensor({-1e30, 1e30})))
    near({1, 0}, nn.softmax(mg.tensor({1e30, -1e30})))
    near({0.5, 0.5}, nn.softmax(f64({-1e4, -1e4})))
    near({0, -inf}, nn.logsoftmax(f64({0, -inf})))
    near({1, 0}, nn.softmax(f64({0, -inf})))
  end)

  it("softmax's gradient at huge logits is finite", function()
    local z = f64({1000, 1001, -1000})
    local s = nn.softmax(z)
    s:backward(f64({1, 0, 0}))
    assert(all_finite(z.grad))
    local p = sigmoid(-1)
    near({p * (1 - p), -p * (1 - p), 0}, z.grad, 1e-12)
    local z2 = f64({1e4, 0})
    nn.logsoftmax(z2):sum():backward()
    near({-1, 1}, z2.grad, 1e-12)
  end)

  it("sigmoid of +-1000 gives 0 and 1 with gradient 0, no NaN", function()
    local z = f64({-1000, 1000, -50})
    local s = nn.sigmoid(z)
    near({0, 1, math.exp(-50)}, s, 1e-12)
    s:sum():backward()
    near({0, 0, math.exp(-50)}, z.grad, 1e-9)
    near({0, 1}, nn.sigmoid(mg.tensor({-1000, 1000})))
  end)

  it("elu, selu, softplus, gelu and soft_sign stay finite at huge inputs (values and gradients)", function()
    for _, f in ipairs({nn.elu, nn.selu, nn.softplus, nn.gelu, nn.soft_sign,
                        function(v) return nn.gelu(v, "tanh") end, nn.leaky_relu}) do
      local z = f64({-1e4, -800, 800, 1e4})
      local y = f(z)
      assert(all_finite(y))
      y:sum():backward()
      assert(all_finite(z.grad))
    end
    near({-1, 1e4}, nn.elu(f64({-1e4, 1e4})))
    near({0, 800, 1e4}, nn.softplus(f64({-1e4, 800, 1e4})))
    near({0, 800}, nn.gelu(f64({-800, 800})))
  end)

  it("gradients at 0 follow PyTorch: relu 0, leaky_relu slope, elu alpha", function()
    local z = f64({0})
    nn.relu(z):backward()
    near({0}, z.grad)
    nn.leaky_relu(z, 0.2):backward()
    near({0.2}, z.grad)
    nn.elu(z, 0.7):backward()
    near({0.7}, z.grad)
    nn.gelu(z):backward()
    near({0.5}, z.grad)
  end)
end)

describe("mg.nnet activations: gradients", function()
  local function with_shape(f)
    check(f, {var({3, 4}, 1)})
    check(f, {var({5}, 2)})
  end

  it("gradcheck (float64) of every activation", function()
    with_shape(nn.relu)
    with_shape(function(v) return nn.leaky_relu(v, 0.2) end)
    with_shape(nn.elu)
    with_shape(function(v) return nn.elu(v, 0.4) end)
    with_shape(nn.selu)
    with_shape(nn.gelu)
    with_shape(function(v) return nn.gelu(v, "tanh") end)
    with_shape(nn.sigmoid)
    with_shape(nn.tanh)
    with_shape(function(v) return nn.hard_tanh(v, -0.7, 0.9) end)
    with_shape(nn.soft_sign)
    with_shape(nn.softplus)
    with_shape(function(v) return nn.softplus(v, {beta = 3, threshold = 2}) end)
    with_shape(nn.softmax)
    with_shape(nn.logsoftmax)
    check(function(v) return nn.softmax(v, 1) end, {var({3, 4}, 3)})
    check(function(v) return nn.logsoftmax(v, -2) end, {var({3, 4}, 3)})
    check(function(v) return nn.glu(v) end, {var({3, 4}, 4)})
    check(function(v) return nn.glu(v, 1) end, {var({4, 3}, 4)})
  end)

  it("gradcheck on non-contiguous inputs and other axes", function()
    check(function(v) return nn.softmax(v.T, 1) end, {var({3, 4}, 6)})
    check(function(v) return nn.logsoftmax(v:permute({3, 1, 2}), 2) end, {var({2, 3, 4}, 7)})
    check(function(v) return nn.gelu(v.T) end, {var({3, 4}, 8)})
    check(function(v) return nn.sigmoid(v.T) end, {var({3, 4}, 8)})
    check(function(v) return nn.glu(v.T, 1) end, {var({3, 4}, 9)})
  end)

  it("gradgradcheck of softmax, logsoftmax, sigmoid, gelu (both forms) and relu", function()
    check2(nn.softmax, {var({3, 4}, 1)})
    check2(function(v) return nn.softmax(v, 1) end, {var({3, 4}, 2)})
    check2(nn.logsoftmax, {var({3, 4}, 3)})
    check2(function(v) return nn.logsoftmax(v.T, 1) end, {var({3, 4}, 4)})
    check2(nn.sigmoid, {var({3, 4}, 5)})
    check2(nn.gelu, {var({3, 4}, 6)})
    check2(function(v) return nn.gelu(v, "tanh") end, {var({3, 4}, 7)})
    check2(nn.relu, {var({3, 4}, 8)})
    -- products, so the second derivative is not just the op's own
    check2(function(v) return nn.softmax(v) * v end, {var({2, 3}, 9)})
    check2(function(v) return nn.sigmoid(v) * nn.gelu(v) end, {var({5}, 10)})
    check2(function(v) return nn.relu(v) * v end, {var({2, 3}, 11)})
    check2(function(v) return nn.logsoftmax(v, 1) * v end, {var({3, 2}, 12)})
    check2(function(v) return nn.gelu(v, "tanh") * v end, {var({5}, 13)})
  end)

  it("gradgradcheck of the composites", function()
    for _, f in ipairs({nn.elu, nn.selu, nn.soft_sign, nn.softplus, nn.glu,
                        function(v) return nn.leaky_relu(v) * v end}) do
      check2(f, {var({2, 4}, 11)})
    end
  end)

  it("third derivative of sigmoid through the recorded backward", function()
    -- s''' = s(1-s)(1 - 6s + 6s^2)
    local z = f64({0.3})
    local y = nn.sigmoid(z)
    y:backward(nil, {create_graph = true})
    local g1 = z.grad
    z:null_grad()
    g1:backward(nil, {create_graph = true})
    local g2 = z.grad
    z:null_grad()
    g2:backward()
    local s = sigmoid(0.3)
    near({s * (1 - s) * (1 - 6 * s + 6 * s * s)}, z.grad, 1e-9)
  end)

  it("third derivative of gelu (both forms) through the recorded backward", function()
    local function third(f, x0)
      local z = f64({x0})
      f(z):sum():backward(nil, {create_graph = true})
      local g1 = z.grad
      z:null_grad()
      g1:sum():backward(nil, {create_graph = true})
      local g2 = z.grad
      z:null_grad()
      g2:sum():backward()
      return z.grad:totable()[1]
    end
    -- against central differences of the second derivative, in plain Lua
    local function d2(v) return math.exp(-v * v / 2) / math.sqrt(2 * math.pi) * (2 - v * v) end
    local h = 1e-5
    near({(d2(0.7 + h) - d2(0.7 - h)) / (2 * h)}, {third(nn.gelu, 0.7)}, 1e-6)
    local function d1t(v) -- derivative of the tanh form
      local k, c = math.sqrt(2 / math.pi), 0.044715
      local t = math.tanh(k * (v + c * v ^ 3))
      return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * c * v * v)
    end
    local function d2t(v) return (d1t(v + h) - d1t(v - h)) / (2 * h) end
    near({(d2t(-0.4 + 1e-3) - d2t(-0.4 - 1e-3)) / 2e-3},
      {third(function(z) return nn.gelu(z, "tanh") end, -0.4)}, 1e-4)
  end)

  it("record their ops", function()
    local v = var({2, 3}, 1)
    assert.are.equal("ReluBackward", nn.relu(v).grad_fn)
    assert.are.equal("SigmoidBackward", nn.sigmoid(v).grad_fn)
    assert.are.equal("GeluBackward", nn.gelu(v).grad_fn)
    assert.are.equal("SoftmaxBackward", nn.softmax(v).grad_fn)
    assert.are.equal("LogSoftmaxBackward", nn.logsoftmax(v).grad_fn)
    assert.is_true(nn.softmax(f64({1, 2}):detach()).constant)
  end)
end)

describe("mg.nnet activations: errors", function()
  it("axes out of range name the function", function()
    raises(function() nn.softmax(f64({1, 2}), 2) end, "softmax", "axis 2")
    raises(function() nn.logsoftmax(f64({{1, 2}}), -3) end, "logsoftmax", "axis -3")
    raises(function() nn.softmax(f64({1, 2}), 1.5) end, "softmax", "integer")
    raises(function() nn.softmax(f64({1, 2}), "x") end, "softmax", "axis")
    raises(function() nn.glu(f64({{1, 2, 3}})) end, "glu", "even", "3")
    raises(function() nn.glu(f64(1)) end, "glu", "0-d")
    raises(function() nn.glu(f64({1, 2}), 3) end, "glu", "axis 3")
  end)

  it("bad options and arguments", function()
    raises(function() nn.gelu(f64({1}), "fast") end, "gelu", "tanh", "fast")
    raises(function() nn.gelu(f64({1}), {approximate = true}) end, "gelu", "approximate")
    raises(function() nn.leaky_relu(f64({1}), {slop = 0.1}) end, "leaky_relu", "unknown option 'slop'")
    raises(function() nn.elu(f64({1}), "big") end, "elu", "number")
    raises(function() nn.hard_tanh(f64({1}), 1, -1) end, "hard_tanh", "min_val")
    raises(function() nn.softplus(f64({1}), 0) end, "softplus", "beta")
    raises(function() nn.softplus(f64({1}), {beta = "x"}) end, "softplus", "beta", "number")
    raises(function() nn.relu("x") end, "relu", "argument #1")
    raises(function() nn.sigmoid(nil) end, "sigmoid")
  end)
end)
