-- nnet_loss_spec.lua — the losses of mg.nnet (src/nn_loss.c): values
-- against hand-computed numbers (plain Lua math) and PyTorch's published
-- ones, every reduction, class weights and label smoothing, {N, C, d}
-- scores, non-contiguous inputs, extreme inputs (huge logits, zero
-- probabilities: finite), the empty batch, label checks, float64
-- gradchecks of every loss (all reductions, weights, smoothing),
-- gradgradchecks, and the errors bad input raises.
local mg = require("moongrad")
local gc = require("gradcheck")
local nn = mg.nnet
local H = require("helpers")
local flat, near, all_finite, f64, i64 = H.flat, H.near, H.all_finite, H.f64, H.i64
local var, check, check2, raises = H.fixed_var, H.check, H.check2, H.raises

local function sum(list)
  local s = 0
  for _, v in ipairs(list) do s = s + v end
  return s
end
local function mean(list) return sum(list) / #list end

-- a float64 leaf with values in [lo, hi), fixed (no generator)
local function between(shape, lo, hi, salt)
  local f = gc.fixed(shape, salt) -- in [-1.5, 1.5]
  return ((f + 1.5) / 3 * (hi - lo) + lo):detach():requires_grad_(true)
end

local nan = 0 / 0
local REDUCTIONS = {"mean", "sum", "none"}

-- plain-Lua cross entropy of one row (1-based label y), with class weights
-- w (nil = 1) and label smoothing eps, as PyTorch defines them
local function ce_row(row, y, w, eps)
  eps = eps or 0
  local m = math.max(table.unpack(row))
  local s = 0
  for _, v in ipairs(row) do s = s + math.exp(v - m) end
  local lse = m + math.log(s)
  local wt = function(c) return w and w[c] or 1 end
  local loss = wt(y) * (lse - row[y])
  if eps > 0 then
    local sm = 0
    for c, v in ipairs(row) do sm = sm + wt(c) * (lse - v) end
    loss = (1 - eps) * loss + eps / #row * sm
  end
  return loss
end

local function sigmoid(v) return 1 / (1 + math.exp(-v)) end

describe("mse, l1, huber", function()
  local p = f64({{1, 2}, {3, -4}})
  local t = f64({{1.5, 0}, {3, 0}})
  local d = {-0.5, 2, 0, -4}

  it("values with every reduction", function()
    local sq = {0.25, 4, 0, 16}
    near(mean(sq), nn.mse(p, t), 1e-12)
    near(sum(sq), nn.mse(p, t, "sum"), 1e-12)
    near({{0.25, 4}, {0, 16}}, nn.mse(p, t, {reduction = "none"}), 1e-12)
    near(mean({0.5, 2, 0, 4}), nn.l1(p, t), 1e-12)
    near(sum({0.5, 2, 0, 4}), nn.l1(p, t, "sum"), 1e-12)
    near({{0.5, 2}, {0, 4}}, nn.l1(p, t, "none"), 1e-12)
    local function hub(v, delta)
      return math.abs(v) < delta and 0.5 * v * v or delta * (math.abs(v) - 0.5 * delta)
    end
    local h1, h2 = {}, {}
    for i, v in ipairs(d) do h1[i], h2[i] = hub(v, 1), hub(v, 2.5) end
    near(mean(h1), nn.huber(p, t), 1e-12)
    near(sum(h2), nn.huber(p, t, 2.5, "sum"), 1e-12)
    near({{h2[1], h2[2]}, {h2[3], h2[4]}}, nn.huber(p, t, {delta = 2.5, reduction = "none"}), 1e-12)
    -- PyTorch: F.huber_loss([0., 3.], [0.5, 0.], reduction='none') = [0.125, 2.5]
    near({0.125, 2.5}, nn.huber({0., 3.}, {0.5, 0.}, "none"))
  end)

  it("the target broadcasts to the prediction; non-contiguous inputs", function()
    near(mean({1, 4, 9, 25}), nn.mse(f64({{1, 2}, {3, 5}}), 0), 1e-12)
    near(mean({0, 0, 4, 9}), nn.mse(f64({{1, 2}, {3, 5}}), f64({{1, 2}})), 1e-12)
    near(nn.mse(p, t, "none"):totable(), nn.mse(p.T, t.T, "none").T, 1e-15)
    near(nn.l1(p, t):item(), nn.l1(p.T, t.T), 1e-15)
  end)

  it("integers compute in the default float dtype; float32 stays float32", function()
    local r = nn.mse(mg.tensor({1, 2}), mg.tensor({2, 4}))
    assert.are.equal("float32", r.dtype)
    near(2.5, r)
    assert.are.equal("float32", nn.l1(mg.tensor({1., 2.}), mg.tensor({2., 4.})).dtype)
  end)

  it("the mean of an empty batch is NaN (as PyTorch); the sum 0", function()
    near(nan, nn.mse(mg.zeros({0, 3}), mg.zeros({0, 3})))
    near(0, nn.mse(mg.zeros({0, 3}), mg.zeros({0, 3}), "sum"))
    assert.are.same({0, 3}, nn.l1(mg.zeros({0, 3}), 0, "none").shape)
  end)

  it("gradcheck with every reduction, both inputs", function()
    for _, red in ipairs(REDUCTIONS) do
      check(function(a, b) return nn.mse(a, b, red) end, {var({3, 4}, 1), var({3, 4}, 2)})
      check(function(a, b) return nn.l1(a, b, red) end, {var({3, 4}, 1), var({3, 4}, 2)})
      check(function(a, b) return nn.huber(a, b, {delta = 0.8, reduction = red}) end,
        {var({3, 4}, 1), var({3, 4}, 2)})
      check(function(a, b) return nn.mse(a.T, b, red) end, {var({4, 3}, 3), var({4}, 4)})
    end
  end)

  it("gradgradcheck of mse (and huber)", function()
    for _, red in ipairs(REDUCTIONS) do
      check2(function(a, b) return nn.mse(a, b, red) end, {var({3, 4}, 1), var({3, 4}, 2)})
    end
    check2(function(a, b) return nn.mse(a, b) * a:sum() end, {var({2, 3}, 5), var({2, 3}, 6)})
    check2(function(a, b) return nn.huber(a, b, 0.5, "none") end, {var({2, 3}, 7), var({2, 3}, 8)})
  end)
end)

describe("binary crossentropy", function()
  local function bce(pv, tv)
    local function clog(v) return math.max(v > 0 and math.log(v) or -math.huge, -100) end
    return -(tv * clog(pv) + (1 - tv) * clog(1 - pv))
  end

  it("values with every reduction", function()
    local ps, ts = {0.1, 0.6, 0.95, 0.5}, {0, 1, 1, 0.3}
    local want = {}
    for i = 1, 4 do want[i] = bce(ps[i], ts[i]) end
    near(want, nn.binary_crossentropy(f64(ps), f64(ts), "none"), 1e-12)
    near(mean(want), nn.binary_crossentropy(f64(ps), f64(ts)), 1e-12)
    near(sum(want), nn.binary_crossentropy(f64(ps), f64(ts), {reduction = "sum"}), 1e-12)
  end)

  it("clamps each log at -100 (as PyTorch): probabilities 0 and 1 stay finite", function()
    -- PyTorch: F.binary_cross_entropy(tensor([0.]), tensor([1.])) = 100
    local p = f64({0, 1, 0, 1, 1e-50})
    local l = nn.binary_crossentropy(p, f64({1, 0, 0, 1, 1}), "none")
    near({100, 100, 0, 0, 100}, l, 1e-12)
    l:sum():backward()
    assert(all_finite(p.grad))
    near({0, 0, 1, -1, 0}, p.grad, 1e-12)
    near(100, nn.binary_crossentropy(mg.tensor({0.}), mg.tensor({1.})))
  end)

  it("with logits: stable at +-1000 and equal to bce(sigmoid(x)) elsewhere", function()
    local xs, ts = {-3, -0.5, 0, 2, 4}, {0, 1, 0.5, 1, 0}
    local want = {}
    for i = 1, #xs do want[i] = bce(sigmoid(xs[i]), ts[i]) end
    near(want, nn.binary_crossentropy_with_logits(f64(xs), f64(ts), "none"), 1e-12)
    near(mean(want), nn.binary_crossentropy_with_logits(f64(xs), f64(ts)), 1e-12)
    local x = f64({-1000, 1000, -1000, 1000})
    local l = nn.binary_crossentropy_with_logits(x, f64({1, 0, 0, 1}), "none")
    near({1000, 1000, 0, 0}, l, 1e-12)
    l:sum():backward()
    near({-1, 1, 0, 0}, x.grad, 1e-12)
    near({1000, 0}, nn.binary_crossentropy_with_logits(mg.tensor({-1000., 1000.}),
      mg.tensor({1., 1.}), "none"))
  end)

  it("with logits and pos_weight (PyTorch's formula)", function()
    local xs, ts, pw = {{-1, 0.5}, {2, -3}}, {{1, 0}, {0.5, 1}}, {3, 0.5}
    local want = {}
    for i = 1, 2 do
      for j = 1, 2 do
        local x, t = xs[i][j], ts[i][j]
        local lw = 1 + (pw[j] - 1) * t
        want[#want + 1] = (1 - t) * x + lw * math.log(1 + math.exp(-x))
      end
    end
    near(want, nn.binary_crossentropy_with_logits(f64(xs), f64(ts),
      {pos_weight = f64(pw), reduction = "none"}), 1e-12)
    near(mean(want), nn.binary_crossentropy_with_logits(f64(xs), f64(ts), {pos_weight = pw}), 1e-12)
  end)

  it("gradcheck with every reduction (probabilities, targets, logits, pos_weight)", function()
    for _, red in ipairs(REDUCTIONS) do
      check(function(p, t) return nn.binary_crossentropy(p, t, red) end,
        {between({3, 4}, 0.05, 0.95, 1), between({3, 4}, 0, 1, 2)})
      check(function(x, t) return nn.binary_crossentropy_with_logits(x, t, red) end,
        {var({3, 4}, 3), between({3, 4}, 0, 1, 4)})
      check(function(x, t, w)
        return nn.binary_crossentropy_with_logits(x, t, {pos_weight = w, reduction = red})
      end, {var({3, 4}, 5), between({3, 4}, 0, 1, 6), between({4}, 0.5, 2, 7)})
    end
  end)

  it("gradgradcheck", function()
    check2(function(p, t) return nn.binary_crossentropy(p, t) end,
      {between({2, 3}, 0.1, 0.9, 1), between({2, 3}, 0, 1, 2)})
    check2(function(x, t) return nn.binary_crossentropy_with_logits(x, t, "none") end,
      {var({2, 3}, 3), between({2, 3}, 0, 1, 4)})
  end)
end)

describe("softmax_crossentropy", function()
  local rows = {{1, 2, 3}, {-1, 0.5, 0}, {2, 2, -4}, {0.3, -0.2, 1.1}}
  local labels = {3, 1, 2, 2}
  local x = f64(rows)
  local y = i64(labels)

  local function losses(w, eps)
    local out = {}
    for i, row in ipairs(rows) do out[i] = ce_row(row, labels[i], w, eps) end
    return out
  end

  it("matches the hand-computed values with every reduction (1-based labels)", function()
    -- PyTorch: F.cross_entropy(tensor([[1., 2., 3.]]), tensor([2])) = 0.4076
    near(0.40760596444438, nn.softmax_crossentropy(f64({{1, 2, 3}}), i64({3})), 1e-12)
    local l = losses()
    near(mean(l), nn.softmax_crossentropy(x, y), 1e-12)
    near(sum(l), nn.softmax_crossentropy(x, y, "sum"), 1e-12)
    near(l, nn.softmax_crossentropy(x, y, {reduction = "none"}), 1e-12)
    near(l, nn.negative_log_likelihood(nn.logsoftmax(x), y, "none"), 1e-12)
    -- labels from a Lua table
    near(mean(l), nn.softmax_crossentropy(x, labels), 1e-12)
  end)

  it("class weights: the mean divides by the labels' weight sum (as PyTorch)", function()
    local w = {0.5, 2, 1.5}
    local l = losses(w)
    local wsum = 0
    for _, c in ipairs(labels) do wsum = wsum + w[c] end
    near(sum(l) / wsum, nn.softmax_crossentropy(x, y, {weights = f64(w)}), 1e-12)
    near(sum(l) / wsum, nn.softmax_crossentropy(x, y, f64(w)), 1e-12)
    near(sum(l) / wsum, nn.softmax_crossentropy(x, y, w, "mean"), 1e-12)
    near(sum(l) / wsum, nn.softmax_crossentropy(x, y, {weight = w}), 1e-12)
    near(sum(l), nn.softmax_crossentropy(x, y, {weights = w, reduction = "sum"}), 1e-12)
    near(l, nn.softmax_crossentropy(x, y, {weights = w, reduction = "none"}), 1e-12)
  end)

  it("label smoothing, alone and with weights (PyTorch's definition)", function()
    local l = losses(nil, 0.2)
    near(mean(l), nn.softmax_crossentropy(x, y, {label_smoothing = 0.2}), 1e-12)
    near(l, nn.softmax_crossentropy(x, y, {label_smoothing = 0.2, reduction = "none"}), 1e-12)
    local w = {0.5, 2, 1.5}
    local lw = losses(w, 0.1)
    local wsum = 0
    for _, c in ipairs(labels) do wsum = wsum + w[c] end
    near(sum(lw) / wsum, nn.softmax_crossentropy(x, y, {weights = w, label_smoothing = 0.1}), 1e-12)
    -- smoothing 1: the cross entropy with the uniform distribution
    local u = 0
    for _, row in ipairs(rows) do
      for c = 1, 3 do u = u + ce_row(row, c) / 3 end
    end
    near(u / 4, nn.softmax_crossentropy(x, y, {label_smoothing = 1}), 1e-12)
  end)

  it("{N, C, d} scores with {N, d} labels, {C} scores with a 0-d label", function()
    -- x3[n][c][j]: class axis 2
    local x3 = f64({{{1, 0}, {2, 0.5}, {3, -1}}, {{-1, 2}, {0, 2}, {1, 2}}})
    local y3 = i64({{3, 1}, {1, 2}})
    local want = {}
    for n = 1, 2 do
      want[n] = {}
      for j = 1, 2 do
        local row = {}
        for c = 1, 3 do row[c] = x3:totable()[n][c][j] end
        want[n][j] = ce_row(row, y3:totable()[n][j])
      end
    end
    near(want, nn.softmax_crossentropy(x3, y3, "none"), 1e-12)
    near(mean(flat(want)), nn.softmax_crossentropy(x3, y3), 1e-12)
    near(ce_row({1, 2, 3}, 2), nn.softmax_crossentropy(f64({1, 2, 3}), i64(2)), 1e-12)
    assert.are.same({}, nn.softmax_crossentropy(f64({1, 2, 3}), i64(2), "none").shape)
  end)

  it("non-contiguous logits and float32", function()
    local xt = f64({{1, -1, 2, 0.3}, {2, 0.5, 2, -0.2}, {3, 0, -4, 1.1}})
    near(nn.softmax_crossentropy(x, y, "none"):totable(), nn.softmax_crossentropy(xt.T, y, "none"), 1e-12)
    local r = nn.softmax_crossentropy(mg.tensor(rows), y)
    assert.are.equal("float32", r.dtype)
    near(mean(losses()), r)
    assert.are.equal("float32", nn.softmax_crossentropy(mg.tensor({{1, 2}}), i64({1})).dtype)
  end)

  it("huge logits give finite, correct losses and gradients", function()
    local big = f64({{1e4, 0, -1e4}, {1000, 1001, 999}})
    local l = nn.softmax_crossentropy(big, i64({2, 2}), "none")
    near({1e4, ce_row({1000, 1001, 999}, 2)}, l, 1e-12)
    l:sum():backward()
    assert(all_finite(big.grad))
    near({1, -1, 0}, big.grad[1], 1e-12)
    local f32 = mg.tensor({{1e30, -1e30}, {3e38, 0}})
    local lf = nn.softmax_crossentropy(f32, i64({1, 2}), "none")
    assert(all_finite(lf))
    near({0, 3e38}, lf)
    local ls = nn.softmax_crossentropy(big, i64({1, 1}), {label_smoothing = 0.1})
    assert(all_finite(ls))
  end)

  it("an empty batch: mean NaN (as PyTorch), sum 0, none empty; no crash", function()
    local e = mg.zeros({0, 4}, {dtype = "float64"}):requires_grad_(true)
    local none = i64({})
    near(nan, nn.softmax_crossentropy(e, none))
    near(0, nn.softmax_crossentropy(e, none, "sum"))
    assert.are.same({0}, nn.softmax_crossentropy(e, none, "none").shape)
    nn.softmax_crossentropy(e, none, "sum"):backward()
    assert.are.same({0, 4}, e.grad.shape)
    near(nan, nn.negative_log_likelihood(e, none))
  end)

  it("records one fused op; weights get no gradient", function()
    local v = var({4, 3}, 1)
    local w = f64({1, 2, 3})
    assert.are.equal("SoftmaxCrossEntropyBackward", nn.softmax_crossentropy(v, y, "none").grad_fn)
    assert.are.equal("NllLossBackward", nn.negative_log_likelihood(v, y, "none").grad_fn)
    nn.softmax_crossentropy(v, y, {weights = w}):backward()
    assert.is_nil(w.grad)
    assert.is_not_nil(v.grad)
  end)

  it("gradcheck: every reduction, class weights, label smoothing, {N, C, d}, 1-d, transposed", function()
    local w = f64({0.5, 2, 1.5})
    for _, red in ipairs(REDUCTIONS) do
      check(function(v) return nn.softmax_crossentropy(v, y, red) end, {var({4, 3}, 1)})
      check(function(v) return nn.softmax_crossentropy(v, y, {weights = w, reduction = red}) end,
        {var({4, 3}, 2)})
      check(function(v) return nn.softmax_crossentropy(v, y, {label_smoothing = 0.3, reduction = red}) end,
        {var({4, 3}, 3)})
      check(function(v)
        return nn.softmax_crossentropy(v, y, {weights = w, label_smoothing = 0.15, reduction = red})
      end, {var({4, 3}, 4)})
    end
    local y3 = i64({{3, 1}, {1, 2}})
    check(function(v) return nn.softmax_crossentropy(v, y3, {weights = w, label_smoothing = 0.1}) end,
      {var({2, 3, 2}, 5)})
    check(function(v) return nn.softmax_crossentropy(v, i64(2)) end, {var({3}, 6)})
    check(function(v) return nn.softmax_crossentropy(v.T, y, "none") end, {var({3, 4}, 7)})
  end)

  it("gradgradcheck: the recorded backward (both its inputs) is differentiable", function()
    local w = f64({0.5, 2, 1.5})
    for _, red in ipairs(REDUCTIONS) do
      check2(function(v) return nn.softmax_crossentropy(v, y, red) end, {var({4, 3}, 1)})
      check2(function(v)
        return nn.softmax_crossentropy(v, y, {weights = w, label_smoothing = 0.2, reduction = red})
      end, {var({4, 3}, 2)})
    end
    -- the upstream gradient depends on x: exercises d/dg of the backward op
    check2(function(v) return nn.softmax_crossentropy(v, y, {weights = w, label_smoothing = 0.3,
      reduction = "none"}) ^ 2 end, {var({4, 3}, 3)})
    check2(function(v) return nn.softmax_crossentropy(v, i64({{3, 1}, {1, 2}})) * v:sum() end,
      {var({2, 3, 2}, 4)})
  end)
end)

describe("negative_log_likelihood", function()
  local lp = f64({{-0.5, -1.2, -2}, {-3, -0.1, -1}, {-0.7, -0.7, -2.5}})
  local y = i64({2, 1, 3})

  it("values with every reduction, weights (positional or option), mean over the weights", function()
    local l = {1.2, 3, 2.5}
    near(mean(l), nn.negative_log_likelihood(lp, y), 1e-12)
    near(sum(l), nn.negative_log_likelihood(lp, y, "sum"), 1e-12)
    near(l, nn.negative_log_likelihood(lp, y, "none"), 1e-12)
    local w = {2, 0.5, 4}
    local wl = {0.5 * 1.2, 2 * 3, 4 * 2.5}
    near(sum(wl) / (0.5 + 2 + 4), nn.negative_log_likelihood(lp, y, f64(w)), 1e-12)
    near(sum(wl) / (0.5 + 2 + 4), nn.negative_log_likelihood(lp, y, {weights = w}), 1e-12)
    near(wl, nn.negative_log_likelihood(lp, y, w, "none"), 1e-12)
    near(sum(wl), nn.negative_log_likelihood(lp, y, {weights = w, reduction = "sum"}), 1e-12)
    near(nn.negative_log_likelihood(lp, y, "none"):totable(),
      nn.negative_log_likelihood(lp.T.T, y, "none"))
    near({3, 1.2, 2.5}, nn.negative_log_likelihood(lp.T, y, "none"), 1e-12)
  end)

  it("gradcheck and gradgradcheck (every reduction, weights, {N, C, d})", function()
    local w = f64({2, 0.5, 4})
    for _, red in ipairs(REDUCTIONS) do
      check(function(v) return nn.negative_log_likelihood(v, y, red) end, {var({3, 3}, 1)})
      check(function(v) return nn.negative_log_likelihood(v, y, {weights = w, reduction = red}) end,
        {var({3, 3}, 2)})
      check2(function(v) return nn.negative_log_likelihood(v, y, {weights = w, reduction = red}) ^ 2 end,
        {var({3, 3}, 3)})
    end
    check(function(v) return nn.negative_log_likelihood(v, i64({{3, 1}, {1, 2}}), w) end,
      {var({2, 3, 2}, 4)})
    check2(function(v) return nn.negative_log_likelihood(nn.logsoftmax(v, 2), i64({{3, 1}, {1, 2}}), w) end,
      {var({2, 3, 2}, 5)})
  end)
end)

describe("multiclass_hinge (MyGrad's definition)", function()
  local s = f64({{1, 2, 3}, {1, 2, 3}, {0.5, -1, 0.4}})
  local y = i64({1, 3, 1})
  -- row 1: (2-1+1) + (3-1+1) = 5; row 2: max(0, 1-3+1) + max(0, 2-3+1) = 0;
  -- row 3: max(0, -1-0.5+1) + (0.4-0.5+1) = 0.9

  it("values with every reduction and another margin", function()
    near(5.9 / 3, nn.multiclass_hinge(s, y), 1e-12)
    near(5.9, nn.multiclass_hinge(s, y, "sum"), 1e-12)
    near({5, 0, 0.9}, nn.multiclass_hinge(s, y, {reduction = "none"}), 1e-12)
    -- margin 2: row 1: 3 + 4; row 2: 0 + 1; row 3: 0.5 + 1.9
    near({7, 1, 2.4}, nn.multiclass_hinge(s, y, 2, "none"), 1e-12)
    near({7, 1, 2.4}, nn.multiclass_hinge(s, y, {hinge = 2, reduction = "none"}), 1e-12)
    near({5, 0, 0.9}, nn.multiclass_hinge(s.T.T, y, "none"), 1e-12)
  end)

  it("gradcheck with every reduction", function()
    for _, red in ipairs(REDUCTIONS) do
      check(function(v) return nn.multiclass_hinge(v, y, {margin = 0.7, reduction = red}) end,
        {var({3, 3}, 1)})
    end
    check(function(v) return nn.multiclass_hinge(v.T, y) end, {var({3, 3}, 2)})
  end)
end)

describe("margin_ranking_loss", function()
  it("values: y a number, one per element, or one per row", function()
    local a, b = f64({1, 2, 0.5}), f64({2, 1, 0.5})
    near({1.5, 0, 0.5}, nn.margin_ranking_loss(a, b, i64({1, 1, -1}), 0.5, "none"), 1e-12)
    near(2 / 3, nn.margin_ranking_loss(a, b, i64({1, 1, -1}), {margin = 0.5}), 1e-12)
    near({1, 0, 0}, nn.margin_ranking_loss(a, b, 1, "none"), 1e-12)
    near(1, nn.margin_ranking_loss(a, b, 1, "sum"), 1e-12)
    local a2, b2 = f64({{1, 2}, {3, 0}}), f64({{0, 0}, {0, 0}})
    -- y per row: row 2 wants b2 > a2
    near({{0, 0}, {3, 0}}, nn.margin_ranking_loss(a2, b2, i64({1, -1}), "none"), 1e-12)
  end)

  it("gradcheck with every reduction", function()
    for _, red in ipairs(REDUCTIONS) do
      check(function(p, q)
        return nn.margin_ranking_loss(p, q, i64({1, -1, 1, -1}), {margin = 0.2, reduction = red})
      end, {var({4}, 1), var({4}, 2)})
    end
    check(function(p, q) return nn.margin_ranking_loss(p, q, i64({1, -1}), 0.1) end,
      {var({2, 3}, 3), var({2, 3}, 4)})
  end)
end)

describe("focal losses", function()
  it("focal_loss (binary, on probabilities): alpha_t (1 - p_t)^gamma bce", function()
    local ps, ts = {0.9, 0.2, 0.6, 0.3}, {1, 0, 0, 1}
    local function fl(p, t, alpha, gamma)
      local pt = p * t + (1 - p) * (1 - t)
      local at = alpha and (alpha * t + (1 - alpha) * (1 - t)) or 1
      return -at * (1 - pt) ^ gamma * math.log(pt)
    end
    local want, want2 = {}, {}
    for i = 1, 4 do
      want[i] = fl(ps[i], ts[i], nil, 2)
      want2[i] = fl(ps[i], ts[i], 0.25, 1.5)
    end
    near(want, nn.focal_loss(f64(ps), f64(ts), "none"), 1e-12)
    near(mean(want), nn.focal_loss(f64(ps), f64(ts)), 1e-12)
    near(sum(want2), nn.focal_loss(f64(ps), f64(ts), {alpha = 0.25, gamma = 1.5, reduction = "sum"}), 1e-12)
    -- gamma 0 without alpha is the binary crossentropy
    near(nn.binary_crossentropy(f64(ps), f64(ts)):item(), nn.focal_loss(f64(ps), f64(ts), {gamma = 0}), 1e-12)
    -- zero probabilities stay finite
    local p = f64({0, 1, 1, 0})
    local l = nn.focal_loss(p, f64({1, 0, 1, 0}), {gamma = 0.5}, "none")
    near({100, 100, 0, 0}, l, 1e-12)
    l:sum():backward()
    assert(all_finite(p.grad))
  end)

  it("softmax_focal_loss (MyGrad's): -alpha (1 - p_y)^gamma log p_y", function()
    local rows = {{1, 2, 3}, {-1, 0.5, 0}}
    local labels = {3, 1}
    local want = {}
    for i, row in ipairs(rows) do
      local ce = ce_row(row, labels[i])
      want[i] = 0.5 * (1 - math.exp(-ce)) ^ 2 * ce
    end
    near(want, nn.softmax_focal_loss(f64(rows), i64(labels), {alpha = 0.5, reduction = "none"}), 1e-12)
    near(mean(want), nn.softmax_focal_loss(f64(rows), i64(labels), {alpha = 0.5}), 1e-12)
    -- gamma 0, alpha 1: the softmax crossentropy
    near(nn.softmax_crossentropy(f64(rows), i64(labels)):item(),
      nn.softmax_focal_loss(f64(rows), i64(labels), {gamma = 0}), 1e-12)
    -- huge logits stay finite
    local big = f64({{1e4, 0}, {0, 1e4}})
    local l = nn.softmax_focal_loss(big, i64({1, 1}), "none")
    near({0, 1e4}, l, 1e-12)
    l:sum():backward()
    assert(all_finite(big.grad))
  end)

  it("gradcheck with every reduction; gradgradcheck", function()
    local y = i64({3, 1, 2})
    for _, red in ipairs(REDUCTIONS) do
      check(function(p, t) return nn.focal_loss(p, t, {alpha = 0.3, reduction = red}) end,
        {between({3, 2}, 0.05, 0.95, 1), between({3, 2}, 0, 1, 2)})
      check(function(p, t) return nn.focal_loss(p, t, {gamma = 0.5, reduction = red}) end,
        {between({3, 2}, 0.05, 0.95, 3), between({3, 2}, 0, 1, 4)})
      check(function(v) return nn.softmax_focal_loss(v, y, {alpha = 0.25, reduction = red}) end,
        {var({3, 3}, 5)})
      check(function(v) return nn.softmax_focal_loss(v, y, {gamma = 1.5, reduction = red}) end,
        {var({3, 3}, 6)})
    end
    check2(function(v) return nn.softmax_focal_loss(v, y) end, {var({3, 3}, 7)})
    check2(function(p, t) return nn.focal_loss(p, t) end,
      {between({3, 2}, 0.05, 0.95, 8), between({3, 2}, 0, 1, 9)})
  end)
end)

describe("training with the losses", function()
  it("gradient descent on softmax regression lowers the crossentropy", function()
    mg.random.seed(7)
    local xs = mg.random.randn({20, 3}, {dtype = "float64", constant = true})
    local w_true = f64({{2, -1, 0}, {0, 1, -2}, {1, 1, 1}}):detach()
    local scores = mg.matmul(xs, w_true):totable()
    local labels = {}
    for i, row in ipairs(scores) do
      local best = 1
      for c = 2, 3 do if row[c] > row[best] then best = c end end
      labels[i] = best
    end
    local y = i64(labels)
    local w = mg.zeros({3, 3}, {dtype = "float64"}):requires_grad_(true)
    local first, last
    for step = 1, 30 do
      local loss = nn.softmax_crossentropy(mg.matmul(xs, w), y)
      if step == 1 then first = loss:item() end
      last = loss:item()
      loss:backward()
      w = (w - w.grad * 0.5):detach():requires_grad_(true)
    end
    near(math.log(3), {first}, 1e-12)
    assert(last < 0.5 * first, string.format("loss went from %g to %g", first, last))
  end)
end)

describe("loss errors", function()
  local x = f64({{1, 2, 3}, {4, 5, 6}})

  it("labels must be int64 class numbers in 1..C", function()
    raises(function() nn.softmax_crossentropy(x, f64({1, 2})) end,
      "softmax_crossentropy", "labels must be an int64 tensor", "float64")
    raises(function() nn.softmax_crossentropy(x, mg.tensor({1., 2.})) end, "int64", "float32")
    local ten = mg.zeros({2, 10})
    raises(function() nn.softmax_crossentropy(ten, i64({3, 11})) end,
      "softmax_crossentropy: label 11 is out of range for 10 classes")
    raises(function() nn.softmax_crossentropy(x, i64({0, 1})) end, "label 0 is out of range for 3 classes",
      "1..3")
    raises(function() nn.negative_log_likelihood(x, i64({-1, 1})) end,
      "negative_log_likelihood", "label -1 is out of range")
    raises(function() nn.multiclass_hinge(x, i64({1, 4})) end, "multiclass_hinge", "label 4")
    raises(function() nn.softmax_focal_loss(x, i64({1, 4})) end, "softmax_focal_loss", "label 4")
    raises(function() nn.softmax_crossentropy(x, i64({1, math.mininteger})) end, "out of range")
  end)

  it("labels must match the scores' shape", function()
    raises(function() nn.softmax_crossentropy(x, i64({1, 2, 3})) end,
      "softmax_crossentropy", "labels of shape {3}", "scores of shape {2, 3}",
      "expected labels of shape {2}")
    raises(function() nn.softmax_crossentropy(x, i64({{1, 2}})) end, "labels of shape {1, 2}")
    raises(function() nn.negative_log_likelihood(f64(1), i64(1)) end, "negative_log_likelihood", "0-d")
    raises(function() nn.softmax_crossentropy(mg.zeros({2, 3, 4}), i64({1, 2})) end,
      "expected labels of shape {2, 4}")
  end)

  it("class weights must have one entry per class; label_smoothing in [0, 1]", function()
    raises(function() nn.softmax_crossentropy(x, i64({1, 2}), f64({1, 2})) end,
      "softmax_crossentropy", "weights", "{3}", "{2}")
    raises(function() nn.negative_log_likelihood(x, i64({1, 2}), {weights = {{1, 2, 3}}}) end,
      "negative_log_likelihood", "weights")
    raises(function() nn.softmax_crossentropy(x, i64({1, 2}), {label_smoothing = 1.5}) end,
      "softmax_crossentropy", "label_smoothing", "1.5")
  end)

  it("bad reductions and options", function()
    raises(function() nn.mse(x, x, "avg") end, "mse", "reduction", "avg")
    raises(function() nn.softmax_crossentropy(x, i64({1, 2}), {reduction = "avg"}) end,
      "softmax_crossentropy", "avg")
    raises(function() nn.softmax_crossentropy(x, i64({1, 2}), {weigths = {1, 1, 1}}) end,
      "softmax_crossentropy", "unknown option 'weigths'")
    raises(function() nn.mse(x, x, {reduction = 1}) end, "mse", "reduction")
    raises(function() nn.huber(x, x, 0) end, "huber", "delta")
    raises(function() nn.huber(x, x, {delta = -1}) end, "huber", "delta")
    raises(function() nn.focal_loss(f64({0.5}), f64({1}), {alpha = 2}) end, "focal_loss", "alpha")
    raises(function() nn.focal_loss(f64({0.5}), f64({1}), {gamma = -1}) end, "focal_loss", "gamma")
    raises(function() nn.softmax_focal_loss(x, i64({1, 2}), {gamma = -1}) end, "softmax_focal_loss", "gamma")
  end)

  it("shapes: the target must fit the prediction", function()
    raises(function() nn.mse(mg.zeros({4, 1}), mg.zeros({4})) end, "mse", "target of shape {4}",
      "pred of shape {4, 1}")
    raises(function() nn.l1(mg.zeros({3}), mg.zeros({4})) end, "l1", "{3}", "{4}")
    raises(function() nn.binary_crossentropy(mg.zeros({2}), mg.zeros({3})) end, "binary_crossentropy")
    raises(function()
      nn.binary_crossentropy_with_logits(mg.zeros({2}), mg.zeros({2}), {pos_weight = {1, 2, 3}})
    end,
      "binary_crossentropy_with_logits", "pos_weight")
    raises(function() nn.margin_ranking_loss(mg.zeros({2, 3}), mg.zeros({2, 3}), mg.zeros({3})) end,
      "margin_ranking_loss", "y of shape {3}")
    raises(function() nn.margin_ranking_loss(mg.zeros({2}), mg.zeros({3}), 1) end, "margin_ranking_loss")
  end)

  it("probabilities outside [0, 1] or NaN", function()
    raises(function() nn.binary_crossentropy(f64({0.5, 1.5}), f64({1, 0})) end,
      "binary_crossentropy", "probabilities must be in [0, 1]", "1.5")
    raises(function() nn.binary_crossentropy(f64({nan}), f64({1})) end, "binary_crossentropy", "nan")
    raises(function() nn.focal_loss(f64({-0.1}), f64({1})) end, "focal_loss", "-0.1")
  end)

  it("missing or wrong arguments", function()
    raises(function() nn.mse(x) end, "mse", "argument #2")
    raises(function() nn.softmax_crossentropy(x) end, "softmax_crossentropy", "argument #2")
    raises(function() nn.softmax_crossentropy("x", i64({1})) end, "softmax_crossentropy", "argument #1")
  end)
end)
