-- nnet_conv_spec.lua — mg.nnet.conv_nd (conv1d/2d/3d) and max_pool/avg_pool:
-- values worked by hand (a tiny convolution, identity kernels, all-ones,
-- padding, dilation, groups, bias), a naive Lua convolution as a reference
-- for stride/padding/dilation/groups combinations and their shapes,
-- non-contiguous inputs, float64 gradchecks of conv 1-d/2-d/3-d and of both
-- poolings, second order (create_graph) through conv and pooling, and the
-- errors.
local mg = require("moongrad")
local nn = mg.nnet
local H = require("helpers")
local flat, near, raises = H.flat, H.near, H.raises
local check, check2, randn = H.check, H.check2, H.randn

local function const(shape) return mg.random.randn(shape, {dtype = "float64", constant = true}) end

describe("conv_nd values", function()
  it("a tiny 2-d convolution worked by hand (cross-correlation, not flipped)", function()
    local x = mg.tensor({{{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}}}, {dtype = "float64"})
    local w = mg.tensor({{{{1, 2}, {3, 4}}}}, {dtype = "float64"})
    -- y[1][1] = 1*1 + 2*2 + 4*3 + 5*4 = 37, and so on
    near({{{{37, 47}, {67, 77}}}}, nn.conv_nd(x, w))
    near({{{{38, 48}, {68, 78}}}}, nn.conv_nd(x, w, {1}))
    near({{{{38, 48}, {68, 78}}}}, nn.conv2d(x, w, mg.tensor({1.0}), {}))
    near({{{{38, 48}, {68, 78}}}}, nn.conv2d(x, w, {bias = {1.0}}))
    -- padding 1: the corners see one tap each (x[1][1] * w[2][2] = 4, x[1][3] * w[2][1] = 9)
    local y = nn.conv_nd(x, w, {padding = 1})
    assert.are.same({1, 1, 4, 4}, y.shape)
    near({{{{4, 11, 18, 9}, {18, 37, 47, 21}, {36, 67, 77, 33}, {14, 23, 26, 9}}}}, y)
    -- stride 2 with padding 1
    near({{{{4, 18}, {36, 77}}}}, nn.conv_nd(x, w, {padding = 1, stride = 2}))
  end)

  it("1-d: differences, dilation and stride", function()
    local x = mg.tensor({{{1., 2., 4., 7., 11.}}})
    local w = mg.tensor({{{1., -1.}}})
    near({{{-1, -2, -3, -4}}}, nn.conv1d(x, w))
    near({{{-3, -5, -7}}}, nn.conv1d(x, w, {dilation = 2}))  -- x[i] - x[i+2]
    near({{{-1, -3}}}, nn.conv1d(x, w, {stride = 2}))
    near({{{-1, -1, -2, -3, -4, 11}}}, nn.conv1d(x, w, {padding = 1}))
  end)

  it("identity kernels give the input back", function()
    local x = mg.random.randn({2, 3, 5, 4})
    local w = mg.zeros({1, 1, 3, 3})
    w[{1, 1, 2, 2}] = 1
    local xs = x:reshape(6, 1, 5, 4)
    near(xs:totable(), nn.conv2d(xs, w, {padding = 1}))
    -- 1x1 filters that pick channel c for filter c
    local eye = mg.zeros({3, 3, 1, 1})
    for c = 1, 3 do eye[{c, c, 1, 1}] = 1 end
    near(x:totable(), nn.conv2d(x, eye))
    -- and 3-d, a 1x1x1 kernel of 2 doubles
    local x3 = mg.random.randn({1, 2, 3, 2, 2})
    near((x3 * 2):totable(), nn.conv3d(x3, mg.full({2, 1, 1, 1, 1}, 2.0), {groups = 2}))
  end)

  it("all-ones: each output counts the taps that land on the input", function()
    local x, w = mg.ones({1, 2, 4, 4}), mg.ones({3, 2, 3, 3})
    local y = nn.conv2d(x, w)
    assert.are.same({1, 3, 2, 2}, y.shape)
    near({{{{18, 18}, {18, 18}}, {{18, 18}, {18, 18}}, {{18, 18}, {18, 18}}}}, y)
    local p = nn.conv2d(x, w, {padding = 1})[{1, 1}]
    near({{8, 12, 12, 8}, {12, 18, 18, 12}, {12, 18, 18, 12}, {8, 12, 12, 8}}, p)
    local y3 = nn.conv3d(mg.ones({1, 1, 3, 3, 3}), mg.ones({1, 1, 2, 2, 2}))
    assert.are.same({1, 1, 2, 2, 2}, y3.shape)
    near({8, 8, 8, 8, 8, 8, 8, 8}, y3)
  end)

  it("groups split the channels", function()
    local x = mg.tensor({{{1., 2., 3.}, {10., 20., 30.}}})
    local w = mg.tensor({{{1.}}, {{2.}}})
    near({{{1, 2, 3}, {20, 40, 60}}}, nn.conv1d(x, w, {groups = 2}))
    -- 4 filters over 2 groups: filters 1-2 see channel 1, filters 3-4 channel 2
    local w4 = mg.tensor({{{1.}}, {{-1.}}, {{0.5}}, {{3.}}})
    near({{{1, 2, 3}, {-1, -2, -3}, {5, 10, 15}, {30, 60, 90}}}, nn.conv1d(x, w4, {groups = 2}))
  end)

  it("matches a naive convolution for stride/padding/dilation/groups combinations", function()
    local cases = {
      {x = {2, 4, 9, 7}, w = {6, 2, 3, 2}, stride = {2, 1}, padding = {1, 0}, dilation = {1, 2}, groups = 2},
      {x = {1, 3, 6, 6}, w = {2, 3, 2, 2}, stride = {1, 1}, padding = {0, 0}, dilation = {1, 1}, groups = 1},
      {x = {2, 2, 5, 8}, w = {4, 1, 3, 3}, stride = {3, 2}, padding = {2, 1}, dilation = {2, 1}, groups = 2},
      {x = {1, 6, 4, 5}, w = {3, 2, 1, 1}, stride = {1, 2}, padding = {0, 0}, dilation = {1, 1}, groups = 3},
      {x = {1, 2, 1, 9}, w = {2, 2, 1, 3}, stride = {1, 2}, padding = {0, 3}, dilation = {1, 3}, groups = 1},
    }
    for _, c in ipairs(cases) do
      local x, w = const(c.x), const(c.w)
      local b = const({c.w[1]})
      local o = {stride = c.stride, padding = c.padding, dilation = c.dilation, groups = c.groups,
                 bias = flat(b:totable())}
      local ref, shape = H.naive_conv2d(flat(x:totable()), c.x, flat(w:totable()), c.w, o)
      local y = nn.conv_nd(x, w, b, {stride = c.stride, padding = c.padding,
                                     dilation = c.dilation, groups = c.groups})
      assert.are.same(shape, y.shape)
      near(ref, y, 1e-10)
      -- the same as 1-d when H = 1
      if c.x[3] == 1 and c.w[3] == 1 then
        local y1 = nn.conv1d(x:reshape(c.x[1], c.x[2], c.x[4]), w:reshape(c.w[1], c.w[2], c.w[4]), b,
                             {stride = c.stride[2], padding = c.padding[2],
                              dilation = c.dilation[2], groups = c.groups})
        near(ref, y1, 1e-10)
      end
    end
  end)

  it("batches of samples share a GEMM: a batch gives what its samples give one by one", function()
    -- 4 samples of 20x20 outputs go 3 to a GEMM, then 1; the gradients too
    local x, w, b = randn({4, 2, 22, 22}), randn({3, 2, 3, 3}), randn({3})
    local head = const({4, 3, 20, 20})
    nn.conv2d(x, w, b):backward(head)
    local gx, gw, gb = x.grad, w.grad, b.grad
    local y = nn.conv2d(x, w, b)
    local gw_sum = mg.zeros_like(w, {constant = true})
    for n = 1, 4 do
      local xn = x.data[{{n}}]:requires_grad_(true)
      w:null_grad()
      local yn = nn.conv2d(xn, w, b)
      near(yn:totable(), y[{{n}}], 1e-12)
      yn:backward(head[{{n}}])
      near(xn.grad:totable(), gx[{{n}}], 1e-12)
      gw_sum = gw_sum + w.grad
    end
    near(gw_sum:totable(), gw, 1e-10)
    near(head:sum({1, 3, 4}):totable(), gb, 1e-10)
    -- and one sample against the naive convolution
    local ref = H.naive_conv2d(flat(x.data[{{1}}]:totable()), {1, 2, 22, 22}, flat(w:totable()), {3, 2, 3, 3},
      {stride = {1, 1}, padding = {0, 0}, dilation = {1, 1}, groups = 1, bias = flat(b:totable())})
    near(ref, y[{{1}}], 1e-10)
  end)

  it("output shapes", function()
    local function shape(xs, ws, o) return nn.conv_nd(mg.zeros(xs), mg.zeros(ws), o).shape end
    assert.are.same({2, 8, 14, 14}, shape({2, 3, 28, 28}, {8, 3, 5, 5}, {padding = 2, stride = 2}))
    assert.are.same({1, 4, 24, 24}, shape({1, 2, 28, 28}, {4, 1, 3, 3}, {dilation = 2, groups = 2}))
    assert.are.same({3, 5, 4}, shape({3, 2, 10}, {5, 2, 4}, {stride = 2}))
    assert.are.same({1, 2, 3, 4, 5}, shape({1, 4, 3, 4, 5}, {2, 2, 3, 3, 3}, {padding = 1, groups = 2}))
    assert.are.same({1, 1, 2, 3, 2}, shape({1, 1, 5, 5, 5}, {1, 1, 1, 2, 3},
                                           {stride = {3, 2, 3}, padding = {0, 1, 1}, dilation = {1, 2, 1}}))
    assert.are.same({0, 4, 3, 3}, shape({0, 2, 5, 5}, {4, 2, 3, 3}))
  end)

  it("reads non-contiguous inputs", function()
    local xt = mg.random.randn({5, 6, 2, 1}, {dtype = "float64", constant = true}).T  -- {1, 2, 6, 5}
    local w = const({3, 2, 2, 2})
    near(nn.conv2d(xt:clone(), w):totable(), nn.conv2d(xt, w), 1e-12)
    local wt = w:permute(1, 2, 4, 3)
    near(nn.conv2d(xt:clone(), wt:clone()):totable(), nn.conv2d(xt, wt), 1e-12)
  end)

  it("float32 by default, float64 when an input is", function()
    local y = nn.conv2d(mg.ones({1, 1, 3, 3}), mg.ones({1, 1, 2, 2}))
    assert.are.equal("float32", y.dtype)
    local z = nn.conv2d(mg.ones({1, 1, 3, 3}), mg.ones({1, 1, 2, 2}, {dtype = "float64"}))
    assert.are.equal("float64", z.dtype)
    assert.are.equal("ConvolutionBackward", nn.conv2d(mg.ones({1, 1, 3, 3}), mg.ones({1, 1, 2, 2})).grad_fn)
  end)
end)

describe("conv_nd gradients", function()
  it("1-d with stride, padding, dilation, groups and bias (float64 gradcheck)", function()
    local x, w, b = randn({2, 4, 7}), randn({4, 2, 3}), randn({4})
    check(function(x_, w_, b_)
      return nn.conv1d(x_, w_, b_, {stride = 2, padding = 1, dilation = 2, groups = 2})
    end, {x, w, b})
  end)

  it("2-d with stride, padding, dilation, groups and bias", function()
    local x, w, b = randn({2, 2, 5, 4}), randn({4, 1, 3, 2}), randn({4})
    check(function(x_, w_, b_)
      return nn.conv2d(x_, w_, b_, {stride = {2, 1}, padding = {1, 1}, dilation = {1, 2}, groups = 2})
    end, {x, w, b})
    local x2, w2 = randn({1, 3, 4, 4}), randn({2, 3, 2, 2})
    check(function(x_, w_) return nn.conv2d(x_, w_, {padding = 1}) end, {x2, w2})
  end)

  it("3-d with stride, padding and dilation", function()
    local x, w, b = randn({1, 2, 4, 3, 3}), randn({2, 2, 2, 2, 2}), randn({2})
    check(function(x_, w_, b_)
      return nn.conv3d(x_, w_, b_, {stride = {2, 1, 1}, padding = {1, 0, 1}, dilation = {1, 2, 1}})
    end, {x, w, b})
    local x2, w2 = randn({1, 4, 3, 3, 3}), randn({2, 2, 1, 2, 1})
    check(function(x_, w_) return nn.conv3d(x_, w_, {groups = 2, stride = 2}) end, {x2, w2})
  end)

  it("a non-contiguous input and a loss that is not a plain sum", function()
    local x = mg.random.randn({4, 5, 2, 1}, {dtype = "float64", constant = true}).T:requires_grad_(true)
    local w = randn({3, 2, 2, 3})
    check(function(x_, w_) return (nn.conv2d(x_, w_, {padding = {0, 1}}) ^ 2):tanh() end, {x, w})
  end)

  it("gradients only where asked (constant filters, constant input)", function()
    local x, w = randn({1, 1, 3, 3}), mg.ones({1, 1, 2, 2}, {dtype = "float64", constant = true})
    nn.conv2d(x, w):sum():backward()
    near({{{{1, 2, 1}, {2, 4, 2}, {1, 2, 1}}}}, x.grad)
    assert.is_nil(w.grad)
    local xc, wv = mg.ones({1, 1, 3, 3}, {constant = true}), mg.ones({1, 1, 2, 2})
    nn.conv2d(xc, wv):sum():backward()
    near({{{{4, 4}, {4, 4}}}}, wv.grad)
  end)

  it("second order through conv (create_graph): gradgradcheck", function()
    local x, w = randn({2, 2, 4, 3}), randn({2, 1, 2, 2})
    check2(function(x_, w_)
      return nn.conv2d(x_, w_, {stride = {2, 1}, padding = 1, dilation = {1, 2}, groups = 2})
    end, {x, w})
    local x1, w1, b1 = randn({1, 2, 6}), randn({3, 2, 3}), randn({3})
    check2(function(x_, w_, b_)
      return nn.conv1d(x_, w_, b_, {padding = 1, stride = 2}) ^ 2
    end, {x1, w1, b1})
    local x3, w3 = randn({1, 1, 3, 3, 2}), randn({2, 1, 2, 2, 1})
    check2(function(x_, w_) return nn.conv3d(x_, w_, {padding = {1, 0, 0}}) end, {x3, w3})
  end)

  it("third order: the backward ops differentiate into each other", function()
    -- y = a * x (a 1-tap filter), L = sum(y^3): dL/da = 3 a^2 sum(x^3), then 6 a sum(x^3),
    -- then 6 sum(x^3); dL/dx = 3 a^3 x^2, then 6 a^3 x, then 6 a^3
    local x = mg.tensor({{{1, 2, 3}}}, {dtype = "float64"})
    local w = mg.tensor({{{2}}}, {dtype = "float64"})
    local L = (nn.conv1d(x, w) ^ 3):sum()
    L:backward(nil, {create_graph = true})
    local gw1, gx1 = w.grad, x.grad
    near({{{432}}}, gw1, 1e-12)
    near({{{24, 96, 216}}}, gx1, 1e-12)
    local function fresh() x:null_grad(); w:null_grad() end  -- backward adds into .grad
    fresh()
    gw1:sum():backward(nil, {create_graph = true})
    local gw2 = w.grad
    near({{{432}}}, gw2, 1e-12)
    fresh()
    gw2:sum():backward(nil, {retain_graph = true})  -- gx1 below shares this graph
    near({{{216}}}, w.grad, 1e-12)
    fresh()
    gx1:sum():backward(nil, {create_graph = true})
    local gx2 = x.grad
    near({{{48, 96, 144}}}, gx2, 1e-12)
    fresh()
    gx2:sum():backward()
    near({{{48, 48, 48}}}, x.grad, 1e-12)
  end)
end)

describe("max_pool and avg_pool", function()
  local x44 = mg.arange(16.0):reshape(1, 1, 4, 4)

  it("max_pool values, strides and padding", function()
    near({{{{5, 7}, {13, 15}}}}, nn.max_pool(x44, 2))
    near({{{{5, 7}, {13, 15}}}}, nn.max_pool(x44, {2, 2}, {2, 2}))
    near({{{{5, 6, 7}, {9, 10, 11}, {13, 14, 15}}}}, nn.max_pool(x44, 2, 1))
    near({{{{10, 11}, {14, 15}}}}, nn.max_pool(x44, 3, 1))
    -- padding never wins, even against negatives
    near({{{-1, -2}}}, nn.max_pool(mg.tensor({{{-1., -2., -3.}}}), 2, 2, {padding = 1}))
    near({{{-1, -2}}}, nn.max_pool(mg.tensor({{{-1., -2., -3.}}}), {2}, {padding = 1}))
    -- 3-d
    local x3 = mg.arange(27.0):reshape(1, 1, 3, 3, 3)
    near({{{{{13, 14}, {16, 17}}, {{22, 23}, {25, 26}}}}}, nn.max_pool(x3, 2, 1))
    -- a table window pools the trailing axes of any leading shape
    near({{1, 3}, {5, 7}, {9, 11}, {13, 15}}, nn.max_pool(mg.arange(16.0):reshape(4, 4), {2}))
  end)

  it("avg_pool values; zero padding counts in the mean (count_include_pad)", function()
    near({{{{2.5, 4.5}, {10.5, 12.5}}}}, nn.avg_pool(x44, 2))
    near({{{{5, 6}, {9, 10}}}}, nn.avg_pool(x44, 3, 1))
    near({{{0.5, 2.5}}}, nn.avg_pool(mg.tensor({{{1., 2., 3.}}}), 2, 2, {padding = 1}))
    local p = nn.avg_pool(mg.ones({1, 1, 2, 2}), 2, 1, {padding = 1})
    near({{{{0.25, 0.5, 0.25}, {0.5, 1, 0.5}, {0.25, 0.5, 0.25}}}}, p)
    near({{{13}}}, nn.avg_pool(mg.arange(27.0):reshape(1, 1, 27), 27))
  end)

  it("max_pool's gradient goes to the first maximum of each window", function()
    local x = mg.ones({1, 1, 4, 4})
    nn.max_pool(x, 2):sum():backward()
    near({{{{1, 0, 1, 0}, {0, 0, 0, 0}, {1, 0, 1, 0}, {0, 0, 0, 0}}}}, x.grad)
    -- overlapping windows add up at their shared maximum
    local y = mg.arange(16.0):reshape(1, 1, 4, 4)
    nn.max_pool(y, 2, 1):sum():backward()
    near({{{{0, 0, 0, 0}, {0, 1, 1, 1}, {0, 1, 1, 1}, {0, 1, 1, 1}}}}, y.grad)
    assert.are.equal("MaxPoolBackward", nn.max_pool(y, 2).grad_fn)
  end)

  it("max_pool: NaN wins its window (as PyTorch), -inf is still a maximum", function()
    local x = mg.tensor({{{1., 0 / 0, 3., 2., -math.huge, -math.huge}}})
    local y = nn.max_pool(x, 2)
    local v = y:totable()[1][1]
    assert.is_true(v[1] ~= v[1])
    assert.are.same({3, -math.huge}, {v[2], v[3]})
    y:sum():backward()
    assert.are.same({{{0, 1, 1, 0, 1, 0}}}, x.grad:totable())
  end)

  it("max_pool gradcheck, 1-d/2-d/3-d, with stride and padding", function()
    check(function(x_) return nn.max_pool(x_, 2) end, {randn({2, 2, 6})})
    check(function(x_) return nn.max_pool(x_, {3, 2}, {2, 1}, {padding = {1, 0}}) end, {randn({2, 2, 5, 4})})
    check(function(x_) return nn.max_pool(x_, 2, 1, {padding = 1}) end, {randn({1, 2, 3, 3, 2})})
  end)

  it("avg_pool gradcheck, 1-d/2-d/3-d, with stride and padding", function()
    check(function(x_) return nn.avg_pool(x_, 3, 2, {padding = 1}) end, {randn({2, 2, 6})})
    check(function(x_) return nn.avg_pool(x_, {3, 2}, {2, 1}, {padding = {1, 1}}) end, {randn({2, 2, 5, 4})})
    check(function(x_) return nn.avg_pool(x_, 2) end, {randn({1, 2, 4, 2, 2})})
  end)

  it("second order through pooling (create_graph)", function()
    check2(function(x_) return nn.max_pool(x_, 2, 1) ^ 2 end, {randn({1, 2, 4, 3})})
    check2(function(x_) return nn.avg_pool(x_, 2, 1, {padding = 1}) ^ 2 end, {randn({1, 2, 3, 3})})
  end)

  it("a small CNN: conv -> max_pool -> avg_pool, gradcheck end to end", function()
    local x, w = randn({2, 1, 6, 6}), randn({2, 1, 3, 3})
    check(function(x_, w_)
      return nn.avg_pool(nn.max_pool(nn.conv2d(x_, w_, {padding = 1}):tanh(), 2), 3)
    end, {x, w})
  end)
end)

describe("conv and pooling errors", function()
  it("channel mismatch", function()
    raises(function() return nn.conv2d(mg.ones({1, 3, 5, 5}), mg.ones({2, 2, 3, 3})) end,
      "conv2d", "3 channels", "{2, 2, 3, 3}")
  end)

  it("kernel larger than the padded input", function()
    raises(function() return nn.conv2d(mg.ones({1, 1, 2, 2}), mg.ones({1, 1, 3, 3})) end,
      "conv2d", "larger than the padded input")
    raises(function() return nn.conv1d(mg.ones({1, 1, 4}), mg.ones({1, 1, 2}), {dilation = 4}) end,
      "larger than the padded input")
    assert.are.same({1, 1, 2, 2}, nn.conv2d(mg.ones({1, 1, 2, 2}), mg.ones({1, 1, 3, 3}), {padding = 1}).shape)
  end)

  it("groups that do not divide the channels", function()
    raises(function() return nn.conv2d(mg.ones({1, 3, 5, 5}), mg.ones({2, 1, 3, 3}), {groups = 2}) end,
      "groups = 2 must divide")
    raises(function() return nn.conv2d(mg.ones({1, 4, 5, 5}), mg.ones({3, 2, 3, 3}), {groups = 2}) end,
      "must divide", "filters (3)")
    raises(function() return nn.conv2d(mg.ones({1, 4, 5, 5}), mg.ones({2, 2, 3, 3}), {groups = 0}) end,
      "groups must be a positive integer")
  end)

  it("wrong number of axes", function()
    raises(function() return nn.conv_nd(mg.ones({1, 5, 5}), mg.ones({1, 1, 3, 3})) end,
      "conv_nd", "x must have 4 axes")
    raises(function() return nn.conv2d(mg.ones({1, 1, 5}), mg.ones({1, 1, 3})) end,
      "conv2d", "4 axes")
    raises(function() return nn.conv_nd(mg.ones({1, 5}), mg.ones({1, 5})) end, "3, 4 or 5 axes")
    raises(function() return nn.max_pool(mg.ones({5, 5}), 2) end, "max_pool", "3, 4 or 5 axes")
    raises(function() return nn.avg_pool(mg.ones({5}), {2, 2}) end, "avg_pool", "at least 3 axes")
  end)

  it("non-float dtypes", function()
    raises(function() return nn.conv2d(mg.ones({1, 1, 3, 3}, {dtype = "int64"}), mg.ones({1, 1, 2, 2})) end,
      "conv2d", "float", "int64")
    raises(function() return nn.conv2d(mg.ones({1, 1, 3, 3}), mg.ones({1, 1, 2, 2}, {dtype = "bool"})) end,
      "float", "bool")
    raises(function() return nn.max_pool(mg.ones({1, 1, 4, 4}, {dtype = "int64"}), 2) end,
      "max_pool", "float", "int64")
    raises(function() return nn.avg_pool(mg.ones({1, 1, 4, 4}, {dtype = "int64"}), 2) end,
      "avg_pool", "float")
  end)

  it("bad options and bias", function()
    local x, w = mg.ones({1, 1, 5, 5}), mg.ones({2, 1, 3, 3})
    raises(function() return nn.conv2d(x, w, {stride = 0}) end, "stride must be >= 1", "got 0")
    raises(function() return nn.conv2d(x, w, {stride = math.maxinteger}) end, "stride must be >= 1")
    raises(function() return nn.conv2d(x, w, {dilation = {1, 0}}) end, "spatial axis 2: dilation")
    raises(function() return nn.conv2d(x, w, {bias = "b"}) end, "bias must be a tensor")
    raises(function() return nn.conv2d(x, w, {padding = -1}) end, "padding")
    raises(function() return nn.conv2d(x, w, {stride = {1, 2, 3}}) end, "stride has 3 entries, expected 2")
    raises(function() return nn.conv2d(x, w, {dilation = 1.5}) end, "dilation", "integer")
    raises(function() return nn.conv2d(x, w, mg.ones(3)) end, "bias must have shape {2}", "{3}")
    raises(function() return nn.conv2d(x, w, nil, "same") end, "argument #4")
    raises(function() return nn.conv2d(x, "w") end, "conv2d", "argument #2")
  end)

  it("bad pooling windows", function()
    local x = mg.ones({1, 1, 4, 4})
    raises(function() return nn.max_pool(x, 5) end, "max_pool", "larger than the padded input")
    raises(function() return nn.max_pool(x, 2, 0) end, "stride must be positive", "got 0")
    raises(function() return nn.max_pool(x, {2, -1}) end, "pooled axis 2: the window must be positive")
    raises(function() return nn.avg_pool(x, 2, 2, {padding = 2}) end, "avg_pool", "half the window")
    raises(function() return nn.max_pool(x, {2, 2, 2, 2}) end, "1, 2 or 3 entries")
    raises(function() return nn.max_pool(x, {2, 2}, {1}) end, "stride has 1 entries, expected 2")
    raises(function() return nn.max_pool(x, 1.5) end, "non-integer")
    raises(function() return nn.max_pool(mg.ones({1, 1, 0, 4}), 1) end, "empty")
  end)
end)
