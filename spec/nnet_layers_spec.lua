-- nnet_layers_spec.lua — mg.nnet's functional layers: dense, batchnorm
-- (training and inference, running statistics, 2-d and 4-d), dropout,
-- embedding and gru: values against hand-computed numbers and plain-Lua
-- references, float64 gradchecks of each (gradgradchecks of dense and
-- batchnorm), and the errors.
local mg = require("moongrad")
local gc = require("gradcheck")
local nn = mg.nnet
local H = require("helpers")
local f64, i64, check, check2 = H.f64, H.i64, H.check, H.check2
local raises, flat, assert_close = H.raises, H.flat, H.near_within(1e-10)

-- A float64 variable of the given shape with fixed, well-spread values.
local function var(shape, salt)
  return gc.fixed(shape, salt):detach():clone():requires_grad_(true)
end

describe("dense", function()
  local x = f64({{1, 2}, {3, 4}, {-1, 0}})
  local w = f64({{1, 0, 2}, {-1, 1, 0.5}})
  local b = f64({0.5, -1, 2})

  it("is x @ w + b with w shaped in x out", function()
    assert.are.same({{-0.5, 1, 5}, {-0.5, 3, 10}, {-0.5, -1, 0}}, nn.dense(x, w, b):totable())
    assert.are.same({{-1, 2, 3}, {-1, 4, 8}, {-1, 0, -2}}, nn.dense(x, w):totable())
  end)

  it("works on a 1-d x, batched 3-d x, non-contiguous inputs and tables", function()
    assert.are.same({-0.5, 1, 5}, nn.dense(f64({1, 2}), w, b):totable())
    local x3 = f64({{{1, 2}}, {{3, 4}}})
    assert.are.same({2, 1, 3}, nn.dense(x3, w, b).shape)
    assert.are.same({{-0.5, 3, 10}}, nn.dense(x3, w, b)[2]:totable())
    local wt = f64({{1, -1}, {0, 1}, {2, 0.5}}).T -- non-contiguous, same values as w
    assert.are.same(nn.dense(x, w, b):totable(), nn.dense(x, wt, b):totable())
    assert.are.same({{-0.5, 1, 5}}, nn.dense({{1, 2}}, {{1, 0, 2}, {-1, 1, 0.5}}, {0.5, -1, 2}):totable())
  end)

  it("gradchecks in float64 (first and second order)", function()
    local xv, wv, bv = var({4, 3}, 1), var({3, 2}, 2), var({2}, 3)
    check(nn.dense, {xv, wv, bv})
    check(function(a, c) return nn.dense(a, c) end, {xv, wv})
    check(nn.dense, {xv.T, var({4, 5}, 4), var({1, 5}, 5)})
    check2(function(a, c, d) return nn.dense(a, c, d):tanh() end, {xv, wv, bv})
    check2(function(a, c) return nn.dense(a, c) * nn.dense(a, c) end, {xv, wv})
  end)

  it("raises clear errors on bad shapes", function()
    raises(function() nn.dense(x, f64({1, 2})) end, "dense", "w must be 2-d", "{2}")
    raises(function() nn.dense(x, w.T) end, "dense", "{3, 2}", "in x out")
    raises(function() nn.dense(x, w, f64({1, 2})) end, "dense", "b must have shape {3}", "{2}")
    raises(function() nn.dense(x, "w") end, "dense", "w must be a tensor")
  end)
end)

-- Plain-Lua batch normalisation of a nested table x (N x C x ...), each
-- channel over every other axis; returns y and the per-channel mean and
-- biased variance.
local function bn_reference(xt, eps, gamma, beta)
  local N, Cn = #xt, #xt[1]
  local function items(n, c) return flat(xt[n][c]) end
  local mean, varb = {}, {}
  for c = 1, Cn do
    local s, cnt = 0, 0
    for n = 1, N do for _, v in ipairs(items(n, c)) do s, cnt = s + v, cnt + 1 end end
    mean[c] = s / cnt
    local ss = 0
    for n = 1, N do for _, v in ipairs(items(n, c)) do ss = ss + (v - mean[c]) ^ 2 end end
    varb[c] = ss / cnt
  end
  local y = {}
  for n = 1, N do
    for c = 1, Cn do
      for _, v in ipairs(items(n, c)) do
        local h = (v - mean[c]) / math.sqrt(varb[c] + eps)
        y[#y + 1] = h * (gamma and gamma[c] or 1) + (beta and beta[c] or 0)
      end
    end
  end
  return y, mean, varb
end

describe("batchnorm", function()
  local x = f64({{1, 2}, {3, 4}, {5, 9}})

  it("normalises each column of a 2-d x over the batch (training mode)", function()
    local y = nn.batchnorm(x)
    local s = math.sqrt(8 / 3 + 1e-5)
    local s2 = math.sqrt(26 / 3 + 1e-5)
    assert_close({{-2 / s, -3 / s2}, {0, -1 / s2}, {2 / s, 4 / s2}}, y)
    local z = nn.batchnorm(x, f64({2, -1}), f64({1, 0}), {eps = 0})
    assert_close({{1 - 2 * math.sqrt(1.5), 3 / math.sqrt(26 / 3)}, {1, 1 / math.sqrt(26 / 3)},
                  {1 + 2 * math.sqrt(1.5), -4 / math.sqrt(26 / 3)}}, z)
  end)

  it("normalises N x C x H x W over N, H and W per channel", function()
    local x4 = gc.fixed({3, 2, 2, 3}, 7)
    local g, bt = {1.5, -0.5}, {0.25, 2}
    local want = bn_reference(x4:totable(), 1e-5, g, bt)
    assert_close(want, nn.batchnorm(x4, f64(g), f64(bt)))
    local x3 = gc.fixed({2, 3, 4}, 8) -- N x C x L
    assert_close(bn_reference(x3:totable(), 1e-3), nn.batchnorm(x3, nil, nil, {eps = 1e-3}))
  end)

  it("takes MyGrad's keyword form and tensor-like gamma/beta", function()
    local a = nn.batchnorm(x, {gamma = f64({2, -1}), beta = f64({1, 0}), eps = 0})
    local b = nn.batchnorm(x, {2, -1}, {1, 0}, {eps = 0})
    local c = nn.batchnorm(x, f64({2, -1}), {beta = f64({1, 0}), eps = 0})
    assert_close(a, b)
    assert_close(a, c)
  end)

  it("works on non-contiguous input", function()
    local xt = f64({{1, 3, 5}, {2, 4, 9}}).T
    assert_close(nn.batchnorm(x), nn.batchnorm(xt))
  end)

  it("updates running statistics in place (unbiased variance, momentum as PyTorch)", function()
    local rm, rv = mg.zeros(2, {constant = true}), mg.ones(2, {constant = true})
    local keep_rm = rm
    nn.batchnorm(x, nil, nil, {running_mean = rm, running_var = rv})
    assert.are.equal(keep_rm, rm)
    assert_close({0.3, 0.5}, rm, 1e-6)
    assert_close({0.9 + 0.1 * 4, 0.9 + 0.1 * 13}, rv, 1e-6)
    nn.batchnorm(x, nil, nil, {running_mean = rm, running_var = rv, momentum = 0.5})
    assert_close({0.15 + 1.5, 0.25 + 2.5}, rm, 1e-6)
    assert_close({0.65 + 2, 1.1 + 6.5}, rv, 1e-6)
    -- 4-d: n = N * H * W values per channel
    local x4 = gc.fixed({2, 3, 2, 2}, 9)
    local _, mean, varb = bn_reference(x4:totable(), 0)
    local rm4, rv4 = mg.zeros(3, {dtype = "float64"}), mg.ones(3, {dtype = "float64"})
    nn.batchnorm(x4, nil, nil, {running_mean = rm4, running_var = rv4, momentum = 0.2})
    for c = 1, 3 do
      assert_close({0.2 * mean[c]}, rm4[c])
      assert_close({0.8 + 0.2 * varb[c] * 8 / 7}, rv4[c])
    end
  end)

  it("leaves the running statistics alone in inference, and uses them", function()
    local rm, rv = f64({1, -1}), f64({4, 0.25})
    local y = nn.batchnorm(x, f64({2, 1}), f64({0, 1}),
                           {training = false, running_mean = rm, running_var = rv, eps = 0})
    assert_close({{0, 7}, {2, 11}, {4, 21}}, y)
    assert.are.same({1, -1}, rm:totable())
    assert.are.same({4, 0.25}, rv:totable())
    -- training and inference differ; inference is an affine map of x
    local t = nn.batchnorm(x, nil, nil, {running_mean = rm, running_var = rv})
    assert.are_not.same(t:totable(), y:totable())
  end)

  it("gradchecks in float64 in training mode (2-d and 4-d, with and without gamma/beta)", function()
    local x2, x4 = var({4, 3}, 11), var({2, 3, 2, 2}, 12)
    local g3, b3 = var({3}, 13), var({3}, 14)
    check(function(a, g, b) return nn.batchnorm(a, g, b) end, {x2, g3, b3})
    check(function(a) return nn.batchnorm(a) end, {x2})
    check(function(a, g, b) return nn.batchnorm(a, g, b) end, {x4, g3, b3})
    check(function(a) return nn.batchnorm(a, nil, nil, {eps = 1e-3}) end, {x4})
    check(function(a, g) return nn.batchnorm(a, g) end, {x4, g3})
    check(function(a, b) return nn.batchnorm(a, nil, b) end, {x2, b3})
    -- inference mode: affine in x, gamma and beta
    local rm, rv = f64({0.1, 0.2, 0.3}), f64({1, 2, 3})
    check(function(a, g, b)
      return nn.batchnorm(a, g, b, {training = false, running_mean = rm, running_var = rv})
    end, {x4, g3, b3})
  end)

  it("gradgradchecks in float64 (2-d and 4-d)", function()
    local x2, x4 = var({4, 3}, 21), var({2, 3, 2, 2}, 22)
    local g3, b3 = var({3}, 23), var({3}, 24)
    check2(function(a, g, b) return nn.batchnorm(a, g, b) end, {x2, g3, b3})
    check2(function(a, g, b) return nn.batchnorm(a, g, b) end, {x4, g3, b3})
    check2(function(a) return nn.batchnorm(a) end, {x4})
  end)

  it("raises clear errors", function()
    raises(function() nn.batchnorm(f64({1, 2, 3})) end, "batchnorm", "at least 2 axes", "{3}")
    raises(function() nn.batchnorm(f64({{1, 2, 3}})) end, "batchnorm", "more than 1 value per channel")
    raises(function() nn.batchnorm(x, f64({1, 2, 3})) end, "batchnorm", "gamma must have 2 elements")
    raises(function() nn.batchnorm(x, nil, f64({1})) end, "batchnorm", "beta must have 2 elements")
    raises(function() nn.batchnorm(x, nil, nil, {training = false}) end, "batchnorm",
           "needs running_mean and running_var")
    raises(function() nn.batchnorm(x, nil, nil, {running_mean = mg.zeros(2)}) end, "batchnorm",
           "running_var")
    raises(function() nn.batchnorm(x, nil, nil, {running_mean = mg.zeros(3), running_var = mg.ones(3)}) end,
           "batchnorm", "running_mean must have 2 elements")
    raises(function() nn.batchnorm(x, nil, nil, {running_mean = {0, 0}, running_var = {1, 1}}) end,
           "batchnorm", "updated in place")
    raises(function() nn.batchnorm(x, nil, nil, {eps = "small"}) end, "batchnorm", "eps")
  end)
end)

describe("dropout", function()
  it("zeroes elements and scales the rest by 1 / (1 - p), reproducibly", function()
    mg.random.seed(42)
    local x = mg.ones(40, 50)
    local y = nn.dropout(x, 0.25)
    local kept, total = 0, 0
    for _, v in ipairs(flat(y)) do
      total = total + 1
      if v ~= 0 then
        kept = kept + 1
        assert(math.abs(v - 1 / 0.75) < 1e-6, "kept value " .. v)
      end
    end
    assert.is_true(math.abs(kept / total - 0.75) < 0.03, "kept fraction " .. kept / total)
    mg.random.seed(42)
    assert.are.same(y:totable(), nn.dropout(x, 0.25):totable())
    assert.are_not.same(y:totable(), nn.dropout(x, 0.25):totable())
  end)

  it("keeps the mask's pattern across values and scales them", function()
    mg.random.seed(5)
    local x = f64({{1, -2, 3}, {4, 5, -6}})
    local y = nn.dropout(x, 0.5):totable()
    for i = 1, 2 do
      for j = 1, 3 do
        local v = y[i][j]
        assert(v == 0 or v == 2 * x:totable()[i][j], "element " .. v)
      end
    end
    assert.are.equal("float64", nn.dropout(x, 0.5).dtype)
  end)

  it("is the identity when not training or p == 0", function()
    local x = mg.tensor({1.0, 2, 3})
    assert.are.equal(x, nn.dropout(x, 0.5, false))
    assert.are.equal(x, nn.dropout(x, 0))
    assert.are.equal(x, nn.dropout(x, {p = 0.9, training = false}))
    mg.random.seed(1)
    local a = nn.dropout(x, {p = 0.5})
    mg.random.seed(1)
    assert.are.same(a:totable(), nn.dropout(x, 0.5, true):totable())
  end)

  it("gradchecks in float64 with a fixed seed (the gradient is the scaled mask)", function()
    local xv = var({3, 4}, 31)
    check(function(a)
      mg.random.seed(7)
      return nn.dropout(a, 0.4)
    end, {xv})
    mg.random.seed(7)
    local y = nn.dropout(xv, 0.4)
    y:backward()
    local g, v = flat(xv.grad), flat(y)
    for k = 1, #g do
      assert(v[k] == 0 and g[k] == 0 or math.abs(g[k] - 1 / 0.6) < 1e-12, "grad " .. g[k])
    end
  end)

  it("raises clear errors for p outside [0, 1)", function()
    raises(function() nn.dropout(mg.ones(2), 1) end, "dropout", "[0, 1)", "1")
    raises(function() nn.dropout(mg.ones(2), -0.1) end, "dropout", "-0.1")
    raises(function() nn.dropout(mg.ones(2), 0 / 0) end, "dropout", "[0, 1)")
    raises(function() nn.dropout(mg.ones(2), "half") end, "dropout", "half")
    raises(function() nn.dropout(mg.ones(2), 1.5, false) end, "dropout", "1.5")
  end)
end)

describe("embedding", function()
  local tbl = f64({{0, 1}, {10, 11}, {20, 21}, {30, 31}})

  it("gathers rows at 1-based indices of any shape", function()
    assert.are.same({{20, 21}, {0, 1}}, nn.embedding(i64({3, 1}), tbl):totable())
    local e = nn.embedding(i64({{1, 4, 4}, {2, 3, 1}}), tbl)
    assert.are.same({2, 3, 2}, e.shape)
    assert.are.same({{{0, 1}, {30, 31}, {30, 31}}, {{10, 11}, {20, 21}, {0, 1}}}, e:totable())
    assert.are.same({10, 11}, nn.embedding(i64(2), tbl):totable())
    assert.are.same({{30, 31}}, nn.embedding({4}, tbl):totable()) -- a Lua list of integers
    assert.are.same({0, 2}, nn.embedding(mg.zeros({0}, {dtype = "int64"}), tbl).shape)
  end)

  it("works with non-contiguous indices and tables", function()
    local idx = i64({{1, 2}, {3, 4}}).T
    assert.are.same({{{0, 1}, {20, 21}}, {{10, 11}, {30, 31}}}, nn.embedding(idx, tbl):totable())
    local t2 = f64({{0, 10, 20, 30}, {1, 11, 21, 31}}).T
    assert.are.same({{20, 21}}, nn.embedding(i64({3}), t2):totable())
  end)

  it("scatter-adds the gradient of repeated indices", function()
    local t = f64({{0, 1}, {10, 11}, {20, 21}}, {requires_grad = true})
    local e = nn.embedding(i64({{1, 3}, {1, 1}}), t)
    e:backward(f64({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}))
    assert.are.same({{13, 16}, {0, 0}, {3, 4}}, t.grad:totable())
  end)

  it("gradchecks in float64", function()
    local t = var({5, 3}, 41)
    check(function(w) return nn.embedding(i64({{2, 5, 2}, {1, 2, 2}}), w) end, {t})
    local tt = gc.fixed({3, 5}, 42).T:requires_grad_(true) -- a non-contiguous leaf
    check(function(w) return nn.embedding(i64({{4, 4}, {4, 1}}), w) end, {tt})
  end)

  it("raises clear errors naming the index and V", function()
    raises(function() nn.embedding(i64({1, 5}), tbl) end, "embedding", "index 5", "V = 4")
    raises(function() nn.embedding(i64({0}), tbl) end, "embedding", "index 0", "1..4")
    raises(function() nn.embedding(i64({-1}), tbl) end, "embedding", "index -1", "V = 4")
    raises(function() nn.embedding(f64({1, 2}), tbl) end, "embedding", "int64", "float64")
    raises(function() nn.embedding(i64({1}), f64({1, 2})) end, "embedding", "2-d", "{2}")
    raises(function() nn.embedding(i64({1}), "table") end, "embedding")
  end)
end)

-- Plain-Lua GRU with PyTorch's equations; all arguments nested tables.
local function gru_reference(x, h0, wih, whh, bih, bhh)
  local T, N, H = #x, #x[1], #whh[1]
  local function sig(v) return 1 / (1 + math.exp(-v)) end
  local function row(w, b, k, v) -- (v . w[k]) + b[k]
    local s = b and b[k] or 0
    for j = 1, #v do s = s + w[k][j] * v[j] end
    return s
  end
  local h, out = {}, {}
  for n = 1, N do h[n] = {} for k = 1, H do h[n][k] = h0 and h0[n][k] or 0 end end
  for t = 1, T do
    local nh = {}
    for n = 1, N do
      nh[n] = {}
      for k = 1, H do
        local r = sig(row(wih, bih, k, x[t][n]) + row(whh, bhh, k, h[n]))
        local z = sig(row(wih, bih, H + k, x[t][n]) + row(whh, bhh, H + k, h[n]))
        local c = math.tanh(row(wih, bih, 2 * H + k, x[t][n]) + r * row(whh, bhh, 2 * H + k, h[n]))
        nh[n][k] = (1 - z) * c + z * h[n][k]
      end
    end
    h = nh
    out[t] = h
  end
  return out, h
end

describe("gru", function()
  local T, N, I, H = 4, 2, 3, 2
  local x, h0 = gc.fixed({T, N, I}, 51), gc.fixed({N, H}, 52) * 0.5
  local wih, whh = gc.fixed({3 * H, I}, 53) * 0.6, gc.fixed({3 * H, H}, 54) * 0.6
  local bih, bhh = gc.fixed({3 * H}, 55) * 0.3, gc.fixed({3 * H}, 56) * 0.3

  it("follows PyTorch's equations (against a plain-Lua reference)", function()
    local hs, hT = nn.gru(x, h0, wih, whh, bih, bhh)
    assert.are.same({T, N, H}, hs.shape)
    assert.are.same({N, H}, hT.shape)
    local want, wantT = gru_reference(x:totable(), h0:totable(), wih:totable(), whh:totable(),
                                      bih:totable(), bhh:totable())
    assert_close(want, hs, 1e-12)
    assert_close(wantT, hT, 1e-12)
    assert_close(hs[T], hT, 0)
  end)

  it("takes h0 = nil as zeros and biases as optional", function()
    local a = nn.gru(x, nil, wih, whh, bih, bhh)
    local b = nn.gru(x, mg.zeros({N, H}, {dtype = "float64"}), wih, whh, bih, bhh)
    assert_close(a, b, 0)
    local want = gru_reference(x:totable(), nil, wih:totable(), whh:totable())
    assert_close(want, nn.gru(x, nil, wih, whh), 1e-12)
    local half = gru_reference(x:totable(), h0:totable(), wih:totable(), whh:totable(), nil,
                               bhh:totable())
    assert_close(half, nn.gru(x, h0, wih, whh, nil, bhh), 1e-12)
  end)

  it("handles unbatched T x I input, batch_first and h0 of shape 1 x N x H", function()
    local hs, hT = nn.gru(x[{{}, 2}], h0[2], wih, whh, bih, bhh)
    assert.are.same({T, H}, hs.shape)
    assert.are.same({H}, hT.shape)
    local full = nn.gru(x, h0, wih, whh, bih, bhh)
    assert_close(full[{{}, 2}], hs, 1e-12)
    local bf, bfT = nn.gru(x:transpose(1, 2), h0, wih, whh, bih, bhh, {batch_first = true})
    assert.are.same({N, T, H}, bf.shape)
    assert_close(full:transpose(1, 2), bf, 1e-12)
    assert_close(full[T], bfT, 1e-12)
    assert_close(full, nn.gru(x, h0:reshape(1, N, H), wih, whh, bih, bhh), 0)
    local nb = nn.gru(x:transpose(1, 2), h0, wih, whh, {batch_first = true})
    assert_close(nn.gru(x, h0, wih, whh):transpose(1, 2), nb, 1e-12)
  end)

  it("runs in float32 with float32 weights", function()
    local hs, hT = nn.gru(x:float(), nil, wih:float(), whh:float(), bih:float(), bhh:float())
    assert.are.equal("float32", hs.dtype)
    assert.are.equal("float32", hT.dtype)
    assert_close(nn.gru(x, nil, wih, whh, bih, bhh), hs, 1e-5)
  end)

  it("gives T = 0 an empty sequence and h0 back", function()
    local hs, hT = nn.gru(mg.zeros({0, N, I}, {dtype = "float64"}), h0, wih, whh)
    assert.are.same({0, N, H}, hs.shape)
    assert_close(h0, hT, 0)
  end)

  it("backpropagates through time exactly (float64 gradcheck of every input)", function()
    local xv, hv = var({3, 2, 3}, 61), var({2, 2}, 62)
    local wi, wh = var({6, 3}, 63), var({6, 2}, 64)
    local bi, bh = var({6}, 65), var({6}, 66)
    check(function(...) local hs = nn.gru(...) return hs end, {xv, hv, wi, wh, bi, bh})
    check(function(...) local _, hT = nn.gru(...) return hT end, {xv, hv, wi, wh, bi, bh})
    check(function(a, c, d) local hs = nn.gru(a, nil, c, d) return hs end, {xv, wi, wh})
  end)

  it("raises clear errors on bad shapes", function()
    raises(function() nn.gru(x[1][1], h0, wih, whh) end, "gru", "T x N x I")
    raises(function() nn.gru(x, h0, wih, whh:reshape(3, 4)) end, "gru", "w_hh must be 3H x H")
    raises(function() nn.gru(x, h0, wih[{{1, 3}}], whh) end, "gru", "w_ih must be 3H x I = {6, 3}")
    raises(function() nn.gru(x, h0, wih, whh, f64({1, 2})) end, "gru", "b_ih must have 3H = 6")
    raises(function() nn.gru(x, h0, wih, whh, nil, f64({1})) end, "gru", "b_hh")
    raises(function() nn.gru(x, f64({1, 2, 3}), wih, whh) end, "gru", "h0 must be N x H = {2, 2}")
    raises(function() nn.gru(x, h0, wih, whh, nil, nil, "fast") end, "gru", "option table")
  end)
end)

describe("nnet layers and closed tensors", function()
  it("name the layer and the argument (found by the fuzzer)", function()
    local x
    do
      local y <close> = mg.ones(2, 3)
      x = y
    end
    local ok, err = pcall(nn.batchnorm, x)
    assert.is_false(ok)
    assert.are.equal("batchnorm: x: tensor used after it was closed", err)
    ok, err = pcall(nn.dense, mg.ones(2, 3), x)
    assert.is_false(ok)
    assert.are.equal("dense: w: tensor used after it was closed", err)
    ok, err = pcall(nn.gru, x, nil, x, x)
    assert.are.equal("gru: x: tensor used after it was closed", err)
  end)
end)
