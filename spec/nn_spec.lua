-- nn_spec.lua — mg.nn: the Module base (registration, parameters,
-- named_parameters, children, train/evaluate, state_dict and
-- load_state_dict, zero_grad, functional_call, tostring), custom modules,
-- each layer's parameters (counts as PyTorch's), initialisation, forward
-- shapes and values, training/evaluation behaviour, a toy training loop,
-- float64 gradchecks through whole models, and the errors.
local mg = require("moongrad")
local gc = require("gradcheck")
local nn = mg.nn
local H = require("helpers")
local raises, flat, assert_close = H.raises, H.flat, H.near_within(1e-10)

local F64 = {dtype = "float64"}

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  return out
end

local function count(m)
  local n = 0
  for _, p in ipairs(m:parameters()) do n = n + p.size end
  return n
end

-- The README's example of a custom module.
local MLP = nn.Module:extend("MLP")
function MLP:init(n_in, n_hidden, n_out, opts)
  self.fc1 = nn.Linear(n_in, n_hidden, opts)
  self.fc2 = nn.Linear(n_hidden, n_out, opts)
end
function MLP:forward(x)
  return self.fc2(mg.maximum(self.fc1(x), 0))
end

-- The demo CNN for 1 x 28 x 28 images.
local function demo_cnn()
  return nn.Sequential{
    nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(64 * 5 * 5, 128), nn.ReLU(),
    nn.Linear(128, 10),
  }
end

describe("nn.Module", function()
  it("a custom module is a few lines: init assigns layers, forward uses them", function()
    local m = MLP(4, 8, 3)
    assert.is_true(nn.is_module(m))
    assert.are.equal("MLP", getmetatable(m).__name)
    local y = m(mg.random.randn(5, 4))
    assert.are.same({5, 3}, y.shape)
    assert.are.same(y.shape, m:forward(mg.random.randn(5, 4)).shape)
    assert.are.equal(4 * 8 + 8 + 8 * 3 + 3, m:num_parameters())
    assert.are.same({"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"},
                    keys(m:named_parameters()))
    local ps = m:parameters()
    assert.are.equal(4, #ps)
    assert.are.equal(m.fc1.weight, ps[1])
    assert.are.equal(m.fc2.bias, ps[4])
    assert.are.same({m.fc1, m.fc2}, m:children())
    assert.are.same({"fc1", "fc2"}, keys(m:named_children()))
    assert.are.same({"", "fc1", "fc2"}, keys(m:named_modules()))
  end)

  it("registers variables as parameters, constants as plain fields, buffers explicitly", function()
    local Scale = nn.Module:extend("Scale")
    function Scale:init(n)
      self.gain = mg.ones(n)                              -- a variable: a parameter
      self.offset = mg.zeros({n}, {constant = true})      -- a constant: a plain field
      self:register_buffer("calls", mg.tensor(0, {dtype = "int64"}))
      self.name = "scale"
    end
    function Scale:forward(x)
      self.calls.data:add_(1)
      return x * self.gain + self.offset
    end
    local s = Scale(3)
    assert.are.same({"gain"}, keys(s:named_parameters()))
    assert.are.same({"calls"}, keys(s:named_buffers()))
    assert.are.same({"gain", "calls"}, keys(s:state_dict()))
    assert.are.equal("scale", s.name)
    s(mg.ones(3))
    s(mg.ones(3))
    assert.are.equal(2, s.calls:item())
    -- replacing and removing
    s.gain = mg.full({3}, 2.0)
    assert.are.equal(s.gain, s:parameters()[1])
    s.gain = nil
    assert.are.equal(0, #s:parameters())
    assert.is_nil(s.gain)
    s:register_parameter("w", mg.zeros({2}, {constant = true}))
    assert.is_true(s.w.requires_grad)
    assert.are.same({"w"}, keys(s:named_parameters()))
  end)

  it("a computed variable in init is a parameter (a leaf); one computed in forward a plain field", function()
    local Small = nn.Module:extend("Small")
    function Small:init() self.w = mg.random.randn(2, 2) * 0.01 end
    function Small:forward(x)
      self.last = mg.matmul(x, self.w)
      return self.last
    end
    local m = Small()
    assert.are.equal(1, #m:parameters())
    assert.is_nil(m.w.grad_fn)
    assert.is_true(m.w.requires_grad)
    local y = m(mg.ones(1, 2))
    assert.are.equal(y, m.last)
    assert.are.same({"w"}, keys(m:named_parameters()))
    y:sum():backward()
    assert.is_not_nil(m.w.grad)
  end)

  it("lists a shared parameter or module once", function()
    local Tied = nn.Module:extend("Tied")
    function Tied:init()
      self.a = nn.Linear(3, 3)
      self.b = self.a
    end
    local t = Tied()
    assert.are.equal(2, #t:parameters())
    assert.are.same({"a.weight", "a.bias"}, keys(t:named_parameters()))
    assert.are.same({"a.weight", "a.bias", "b.weight", "b.bias"}, keys(t:state_dict()))
    local seq = nn.Sequential{t.a, nn.ReLU(), t.a}
    assert.are.equal(2, #seq:parameters())
  end)

  it("orders own parameters before the children's, as PyTorch", function()
    local M = nn.Module:extend("M")
    function M:init()
      self.fc = nn.Linear(2, 2)
      self.scale = mg.ones(2)
    end
    assert.are.same({"scale", "fc.weight", "fc.bias"}, keys(M():named_parameters()))
  end)

  it("train / evaluate / eval set .training recursively and return the module", function()
    local m = nn.Sequential{nn.Linear(2, 2), nn.Sequential{nn.Dropout(0.5)}}
    assert.is_true(m.training and m[2][1].training)
    assert.are.equal(m, m:evaluate())
    assert.is_false(m.training)
    assert.is_false(m[1].training)
    assert.is_false(m[2][1].training)
    assert.are.equal(m, m:train())
    assert.is_true(m[2][1].training)
    m[2]:eval()
    assert.is_true(m.training)
    assert.is_false(m[2][1].training)
    m:train(false)
    assert.is_false(m[1].training)
  end)

  it("zero_grad clears every parameter's gradient", function()
    local m = MLP(2, 3, 1)
    m(mg.ones(4, 2)):sum():backward()
    for _, p in ipairs(m:parameters()) do assert.is_not_nil(p.grad) end
    assert.are.equal(m, m:zero_grad())
    for _, p in ipairs(m:parameters()) do assert.is_nil(p.grad) end
  end)

  it("requires_grad_(false) freezes parameters (counted as not trainable)", function()
    local m = nn.Sequential{nn.Linear(3, 2), nn.Linear(2, 1)}
    m[1]:requires_grad_(false)
    assert.is_true(m[1].weight.constant)
    assert.are.equal(11, m:num_parameters())
    assert.are.equal(3, m:num_parameters({trainable = true}))
    assert.truthy(tostring(m):find("Total: 11 parameters (3 trainable)", 1, true))
  end)

  it("to / double / float convert the parameters and buffers", function()
    local m = nn.Sequential{nn.Linear(2, 2), nn.BatchNorm1d(2)}
    m:double()
    for _, p in ipairs(m:parameters()) do
      assert.are.equal("float64", p.dtype)
      assert.is_true(p.requires_grad)
    end
    assert.are.equal("float64", m[2].running_mean.dtype)
    assert.are.equal("int64", m[2].num_batches_tracked.dtype)
    assert.are.equal("float64", m(mg.ones({3, 2}, F64)).dtype)
    m:float()
    assert.are.equal("float32", m[1].weight.dtype)
  end)

  it("apply visits every module, children first", function()
    local m = nn.Sequential{nn.Linear(2, 2), nn.ReLU()}
    local seen = {}
    m:apply(function(mod) seen[#seen + 1] = getmetatable(mod).__name end)
    assert.are.same({"Linear", "ReLU", "Sequential"}, seen)
  end)

  it("subclasses inherit forward and metamethods; super reaches the parent", function()
    local Wide = nn.Linear:extend("Wide")
    function Wide:init(n) Wide.super.init(self, n, 2 * n) end
    local w = Wide(3)
    assert.are.equal(Wide.super, nn.Linear)
    assert.are.same({4, 6}, w(mg.ones(4, 3)).shape)
    assert.are.equal(3 * 6 + 6, w:num_parameters())
    assert.truthy(tostring(w):find("^Wide%(in_features=3, out_features=6"))
    assert.are.equal("mg.nn.Linear (class)", tostring(nn.Linear))
  end)

  it("functional_call runs the model with other tensors and puts the originals back", function()
    local m = nn.Linear(2, 1)
    local w0 = m.weight
    local y = nn.functional_call(m, {weight = mg.tensor({{1.0, 2.0}}), bias = mg.tensor({0.5})},
                                 mg.tensor({{1.0, 1.0}}))
    assert_close({{3.5}}, y, 1e-6)
    assert.are.equal(w0, m.weight)
    local s = nn.Sequential{nn.Linear(2, 1)}
    assert_close({{1.0}}, nn.functional_call(s, {["1.weight"] = mg.zeros(1, 2), ["1.bias"] = mg.ones(1)},
                                             mg.ones(1, 2)))
    raises(function() nn.functional_call(s, {["1.nope"] = mg.zeros(1)}, mg.ones(1, 2)) end,
           "functional_call", "1.nope")
    raises(function()
      nn.functional_call(s, {["1.weight"] = mg.zeros(1, 3)}, mg.ones(1, 2))
    end)
    assert.are.same({1, 2}, s[1].weight.shape)
  end)
end)

describe("nn.Sequential and ModuleList", function()
  it("index with m[i] (negative from the end), #m, add, ipairs", function()
    local a, b = nn.Linear(2, 3), nn.ReLU()
    local m = nn.Sequential{a, b}
    assert.are.equal(2, #m)
    assert.are.equal(a, m[1])
    assert.are.equal(b, m[-1])
    assert.is_nil(m[3])
    local c = nn.Linear(3, 1)
    assert.are.equal(m, m:add(c))
    assert.are.equal(3, #m)
    assert.are.equal(c, m[3])
    local seen = 0
    for i, layer in ipairs(m) do
      seen = seen + 1
      assert.are.equal(m[i], layer)
    end
    assert.are.equal(3, seen)
    assert.are.same({4, 1}, m(mg.ones(4, 2)).shape)
    assert.are.same({"1.weight", "1.bias", "3.weight", "3.bias"}, keys(m:named_parameters()))
    -- replacing a layer keeps its place
    m[2] = nn.Tanh()
    assert.are.equal("Tanh", getmetatable(m[2]).__name)
    assert.are.equal(3, #m)
  end)

  it("takes arguments as well as a list, and plain functions as Lambda layers", function()
    local m = nn.Sequential(nn.Linear(2, 2), function(x) return x * 2 end)
    assert.are.equal(2, #m)
    assert.are.equal("Lambda", getmetatable(m[2]).__name)
    local x = mg.ones(1, 2)
    assert_close(m[1](x) * 2, m(x), 1e-6)
    assert.are.equal(0, #nn.Sequential{})
  end)

  it("ModuleList registers its modules", function()
    local l = nn.ModuleList{nn.Linear(2, 2), nn.Linear(2, 2)}
    l:append(nn.Linear(2, 1))
    assert.are.equal(3, #l)
    assert.are.equal(15, l:num_parameters())
    raises(function() l(mg.ones(2)) end, "ModuleList: forward is not defined")
  end)
end)

describe("nn layers: parameters as PyTorch's", function()
  it("counts", function()
    assert.are.equal(200960, count(nn.Linear(784, 256)))
    assert.are.equal(200704, count(nn.Linear(784, 256, {bias = false})))
    assert.are.equal(320, count(nn.Conv2d(1, 32, 3)))
    assert.are.equal(18496, count(nn.Conv2d(32, 64, 3)))
    assert.are.equal(16 * 33 * 3 + 33, count(nn.Conv1d(16, 33, 3)))
    assert.are.equal(8 * 2 * 3 * 5 + 8, count(nn.Conv2d(4, 8, {3, 5}, {groups = 2})))
    assert.are.equal(4 * 2 * 27, count(nn.Conv3d(2, 4, 3, {bias = false})))
    assert.are.equal(128, count(nn.BatchNorm2d(64)))
    assert.are.equal(0, count(nn.BatchNorm1d(10, {affine = false})))
    assert.are.equal(30, count(nn.Embedding(10, 3)))
    assert.are.equal(1920, count(nn.GRU(10, 20)))
    assert.are.equal(4440, count(nn.GRU(10, 20, {num_layers = 2})))
    assert.are.equal(1800, count(nn.GRU(10, 20, {bias = false})))
    for _, m in ipairs({nn.ReLU(), nn.GELU(), nn.Tanh(), nn.Sigmoid(), nn.Softmax(2), nn.LogSoftmax(),
                        nn.Identity(), nn.Flatten(), nn.Dropout(), nn.MaxPool2d(2), nn.AvgPool2d(2)}) do
      assert.are.equal(0, count(m))
    end
    local cnn = demo_cnn()
    assert.are.equal(225034, count(cnn))
    assert.are.equal(225034, cnn:num_parameters())
    assert.are.equal(8, #cnn:parameters())
  end)

  it("names and shapes", function()
    local function shapes(m)
      local out = {}
      for name, p in pairs(m:named_parameters()) do out[#out + 1] = {name, p.shape} end
      return out
    end
    assert.are.same({{"weight", {256, 784}}, {"bias", {256}}}, shapes(nn.Linear(784, 256)))
    assert.are.same({{"weight", {32, 1, 3, 3}}, {"bias", {32}}}, shapes(nn.Conv2d(1, 32, 3)))
    assert.are.same({{"weight", {8, 2, 3, 5}}, {"bias", {8}}},
                    shapes(nn.Conv2d(4, 8, {3, 5}, {groups = 2})))
    assert.are.same({{"weight", {33, 16, 3}}, {"bias", {33}}}, shapes(nn.Conv1d(16, 33, 3)))
    assert.are.same({{"weight", {10, 3}}}, shapes(nn.Embedding(10, 3)))
    assert.are.same({{"weight_ih_l0", {60, 10}}, {"weight_hh_l0", {60, 20}},
                     {"bias_ih_l0", {60}}, {"bias_hh_l0", {60}}}, shapes(nn.GRU(10, 20)))
    local bn = nn.BatchNorm2d(5)
    assert.are.same({{"weight", {5}}, {"bias", {5}}}, shapes(bn))
    assert.are.same({"weight", "bias", "running_mean", "running_var", "num_batches_tracked"},
                    keys(bn:state_dict()))
    assert_close({1, 1, 1, 1, 1}, bn.weight)
    assert_close({0, 0, 0, 0, 0}, bn.bias)
    assert_close({0, 0, 0, 0, 0}, bn.running_mean)
    assert_close({1, 1, 1, 1, 1}, bn.running_var)
  end)

  it("initialises Linear and Conv as PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in))", function()
    mg.random.seed(1)
    local function within(t, bound)
      local v = flat(t)
      local lo, hi, sq = math.huge, -math.huge, 0
      for _, e in ipairs(v) do
        lo, hi, sq = math.min(lo, e), math.max(hi, e), sq + e * e
      end
      assert(lo >= -bound and hi <= bound, "values outside the bound")
      return lo, hi, math.sqrt(sq / #v)
    end
    local l = nn.Linear(400, 300)
    local b = 1 / math.sqrt(400)
    local lo, hi, rms = within(l.weight, b)
    assert(lo < -0.95 * b and hi > 0.95 * b, "the weights should fill the range")
    assert(math.abs(rms - b / math.sqrt(3)) < 0.02 * b, "uniform spread")
    within(l.bias, b)
    local c = nn.Conv2d(8, 16, 3)
    within(c.weight, 1 / math.sqrt(72))
    within(c.bias, 1 / math.sqrt(72))
    local g = nn.GRU(5, 16)
    within(g.weight_ih_l0, 0.25)
    within(g.bias_hh_l0, 0.25)
    assert.are.equal("float32", l.weight.dtype)
    assert.are.equal("float64", nn.Linear(2, 2, F64).weight.dtype)
    assert.is_true(l.weight.requires_grad and l.weight.grad_fn == nil)
  end)

  it("parameters are reproducible from mg.random.seed", function()
    mg.random.seed(7)
    local a = demo_cnn()
    mg.random.seed(7)
    local b = demo_cnn()
    assert_close(a[1].weight, b[1].weight, 0)
    assert_close(a[10].bias, b[10].bias, 0)
  end)
end)

describe("nn layers: forward", function()
  it("Linear computes x W^T + b, batched or 1-d", function()
    local l = nn.Linear(2, 3)
    l.weight.data:copy_(mg.tensor({{1, 2}, {3, 4}, {5, 6}}))
    l.bias.data:copy_(mg.tensor({0.5, -1, 0}))
    assert_close({{5.5, 10, 17}}, l(mg.tensor({{1.0, 2.0}})), 1e-6)
    assert_close({5.5, 10, 17}, l(mg.tensor({1.0, 2.0})), 1e-6)
    assert_close({5.5, 10, 17}, l({1, 2}), 1e-6)
    assert.are.same({4, 5, 3}, l(mg.ones(4, 5, 2)).shape)
    local nb = nn.Linear(2, 1, {bias = false})
    assert.is_nil(nb.bias)
    nb.weight.data:copy_(mg.tensor({{2, 3}}))
    assert_close({{5}}, nb(mg.ones(1, 2)), 1e-6)
  end)

  it("the demo CNN maps {N, 1, 28, 28} to {N, 10}", function()
    local m = demo_cnn()
    assert.are.same({2, 10}, m(mg.random.randn(2, 1, 28, 28)).shape)
  end)

  it("Conv shapes: stride, padding, dilation, same, unbatched; Conv agrees with nnet.conv_nd", function()
    local x = mg.random.randn(2, 3, 9, 8)
    assert.are.same({2, 4, 7, 6}, nn.Conv2d(3, 4, 3)(x).shape)
    assert.are.same({2, 4, 5, 4}, nn.Conv2d(3, 4, 3, {stride = 2, padding = 1})(x).shape)
    assert.are.same({2, 4, 5, 4}, nn.Conv2d(3, 4, 3, {dilation = 2})(x).shape)
    assert.are.same({2, 4, 9, 8}, nn.Conv2d(3, 4, {3, 4}, {padding = "same"})(x).shape)
    assert.are.same({2, 4, 9, 8}, nn.Conv2d(3, 4, 2, {padding = "same", dilation = 3})(x).shape)
    assert.are.same({2, 4, 7, 6}, nn.Conv2d(3, 4, 3, {padding = "valid"})(x).shape)
    assert.are.same({4, 7, 6}, nn.Conv2d(3, 4, 3)(x[1]).shape)
    assert.are.same({2, 6, 7}, nn.Conv1d(3, 6, 3, {groups = 3})(mg.random.randn(2, 3, 9)).shape)
    assert.are.same({1, 2, 3, 3, 3}, nn.Conv3d(1, 2, 2)(mg.random.randn(1, 1, 4, 4, 4)).shape)
    local c = nn.Conv2d(3, 4, 3, {padding = 1})
    assert_close(mg.nnet.conv2d(x, c.weight, c.bias, {padding = 1}), c(x), 1e-6)
    -- "same" with an even kernel pads the extra element after, as PyTorch
    local s = nn.Conv1d(1, 1, 2, {padding = "same", bias = false})
    s.weight.data:copy_(mg.tensor({{{1, 10}}}))
    assert_close({{{21, 32, 3}}}, s(mg.tensor({{{1.0, 2.0, 3.0}}})), 1e-6)
  end)

  it("pools over the last axes", function()
    local x = mg.arange(16.0):reshape(1, 1, 4, 4)
    assert_close({{{{5, 7}, {13, 15}}}}, nn.MaxPool2d(2)(x))
    assert_close({{{{2.5, 4.5}, {10.5, 12.5}}}}, nn.AvgPool2d(2)(x), 1e-6)
    assert.are.same({1, 1, 3, 3}, nn.MaxPool2d(2, 1)(x).shape)
    assert.are.same({1, 1, 3, 3}, nn.MaxPool2d(2, {padding = 1})(x).shape)
    assert.are.same({1, 2, 2}, nn.MaxPool2d(2)(x[1]).shape)
    assert_close({{{1, 3}}}, nn.MaxPool1d(2)(mg.tensor({{{0.0, 1.0, 3.0, 2.0}}})))
    assert_close({{{0.5, 2.5}}}, nn.AvgPool1d(2)(mg.tensor({{{0.0, 1.0, 3.0, 2.0}}})), 1e-6)
    assert.are.same({1, 1, 1, 2, 2}, nn.MaxPool3d(2)(mg.ones(1, 1, 2, 4, 4)).shape)
  end)

  it("activations", function()
    local x = mg.tensor({-2.0, 0.0, 1.5})
    assert_close({0, 0, 1.5}, nn.ReLU()(x))
    assert_close({-0.02, 0, 1.5}, nn.LeakyReLU()(x), 1e-6)
    assert_close({-0.4, 0, 1.5}, nn.LeakyReLU(0.2)(x), 1e-6)
    assert_close({math.tanh(-2), 0, math.tanh(1.5)}, nn.Tanh()(x), 1e-6)
    assert_close({1 / (1 + math.exp(2)), 0.5, 1 / (1 + math.exp(-1.5))}, nn.Sigmoid()(x), 1e-6)
    assert_close(flat(x), nn.Identity()(x))
    assert.are.equal(x, nn.Identity()(x))
    -- GELU: 0.5 x (1 + erf(x / sqrt 2)); the tanh form within 1e-3 of it
    local exact = {-0.0455003, 0, 1.3995715}
    assert_close(exact, nn.GELU()(x), 2e-3)
    local c = math.sqrt(2 / math.pi)
    local function gt(v) return 0.5 * v * (1 + math.tanh(c * (v + 0.044715 * v ^ 3))) end
    assert_close({gt(-2), 0, gt(1.5)}, nn.GELU({approximate = "tanh"})(x), 1e-6)
    -- softmax over an axis
    local z = mg.tensor({{1.0, 2.0, 3.0}, {0.0, 0.0, 0.0}})
    local e = {math.exp(1), math.exp(2), math.exp(3)}
    local s = e[1] + e[2] + e[3]
    assert_close({{e[1] / s, e[2] / s, e[3] / s}, {1 / 3, 1 / 3, 1 / 3}}, nn.Softmax()(z), 1e-6)
    assert_close({{e[1] / s, e[2] / s, e[3] / s}, {1 / 3, 1 / 3, 1 / 3}}, nn.Softmax(2)(z), 1e-6)
    assert_close({{0.7311, 0.8808, 0.9526}, {0.2689, 0.1192, 0.0474}}, nn.Softmax(1)(z), 1e-4)
    assert_close({{math.log(e[1] / s), math.log(e[2] / s), math.log(e[3] / s)},
                  {-math.log(3), -math.log(3), -math.log(3)}}, nn.LogSoftmax(-1)(z), 1e-6)
  end)

  it("Flatten keeps the batch axis by default", function()
    local x = mg.ones(2, 3, 4, 5)
    assert.are.same({2, 60}, nn.Flatten()(x).shape)
    assert.are.same({120}, nn.Flatten(1)(x).shape)
    assert.are.same({2, 12, 5}, nn.Flatten({start_axis = 2, end_axis = 3})(x).shape)
  end)

  it("Embedding looks up rows at 1-based indices", function()
    local e = nn.Embedding(4, 2)
    e.weight.data:copy_(mg.tensor({{1, 1}, {2, 2}, {3, 3}, {4, 4}}))
    assert_close({{4, 4}, {1, 1}}, e(mg.tensor({4, 1}, {dtype = "int64"})))
    assert.are.same({2, 3, 2}, e({{1, 2, 3}, {4, 4, 4}}).shape)
    e({{1, 2}, {2, 2}}):sum():backward()
    assert_close({{1, 1}, {3, 3}, {0, 0}, {0, 0}}, e.weight.grad)
  end)

  it("GRU returns every output and the last hidden state, {layers, N, H}", function()
    local g = nn.GRU(3, 5)
    local out, h = g(mg.random.randn(7, 2, 3))
    assert.are.same({7, 2, 5}, out.shape)
    assert.are.same({1, 2, 5}, h.shape)
    assert_close(out[7], h[1], 1e-6)
    local gb = nn.GRU(3, 5, {batch_first = true, num_layers = 2})
    local o2, h2 = gb(mg.random.randn(2, 7, 3), mg.zeros(2, 2, 5))
    assert.are.same({2, 7, 5}, o2.shape)
    assert.are.same({2, 2, 5}, h2.shape)
    assert_close(o2[{{}, 7}], h2[2], 1e-6)
    local ou, hu = g(mg.random.randn(4, 3))
    assert.are.same({4, 5}, ou.shape)
    assert.are.same({1, 5}, hu.shape)
    -- agrees with the functional gru
    local x = mg.random.randn(4, 2, 3)
    local ref = mg.nnet.gru(x, nil, g.weight_ih_l0, g.weight_hh_l0, g.bias_ih_l0, g.bias_hh_l0)
    assert_close(ref, g(x), 1e-6)
  end)
end)

describe("nn training and evaluation modes", function()
  it("Dropout drops in training and is the identity in evaluation", function()
    mg.random.seed(3)
    local d = nn.Dropout(0.5)
    local x = mg.ones(1000)
    local y = flat(d(x))
    local zeros, twos = 0, 0
    for _, v in ipairs(y) do
      if v == 0 then zeros = zeros + 1 elseif math.abs(v - 2) < 1e-6 then twos = twos + 1 end
    end
    assert.are.equal(1000, zeros + twos)
    assert(zeros > 400 and zeros < 600, "about half dropped, got " .. zeros)
    d:evaluate()
    assert_close(flat(x), d(x))
    assert.are.equal(1, #flat(nn.Dropout(0)(mg.ones(1))))
  end)

  it("BatchNorm uses batch statistics and updates the running ones in training", function()
    local bn = nn.BatchNorm1d(2, F64)
    local x = mg.tensor({{1, 10}, {3, 20}, {5, 60}}, F64)
    local y = bn(x)
    -- column means 3 and 30, biased variances 8/3 and 1400/3
    assert_close({{-2 / math.sqrt(8 / 3 + 1e-5), -20 / math.sqrt(1400 / 3 + 1e-5)},
                  {0, -10 / math.sqrt(1400 / 3 + 1e-5)},
                  {2 / math.sqrt(8 / 3 + 1e-5), 30 / math.sqrt(1400 / 3 + 1e-5)}}, y, 1e-9)
    -- running statistics: momentum 0.1, unbiased variance (4 and 700)
    assert_close({0.3, 3}, bn.running_mean, 1e-12)
    assert_close({0.9 + 0.4, 0.9 + 70}, bn.running_var, 1e-12)
    assert.are.equal(1, bn.num_batches_tracked:item())
    bn(x)
    assert_close({0.57, 5.7}, bn.running_mean, 1e-12)
    assert.are.equal(2, bn.num_batches_tracked:item())
    -- evaluation: the running statistics, nothing updated
    bn:evaluate()
    local z = bn(mg.tensor({{1, 10}}, F64))
    local rv = flat(bn.running_var)
    assert_close({{(1 - 0.57) / math.sqrt(rv[1] + 1e-5), (10 - 5.7) / math.sqrt(rv[2] + 1e-5)}}, z, 1e-9)
    assert_close({0.57, 5.7}, bn.running_mean, 1e-12)
    assert.are.equal(2, bn.num_batches_tracked:item())
    -- a single sample is fine in evaluation mode
    assert.are.same({1, 2}, z.shape)
  end)

  it("BatchNorm2d normalises each channel over N, H, W; momentum = false averages", function()
    local bn = nn.BatchNorm2d(3, {momentum = false})
    local x = mg.random.randn(4, 3, 5, 5) * 3 + 2
    local y = bn(x)
    assert_close({0, 0, 0}, y:mean({1, 3, 4}), 1e-5)
    assert_close({1, 1, 1}, y:var({1, 3, 4}), 1e-3)
    -- cumulative average: after one batch the running mean is that batch's mean
    assert_close(x:mean({1, 3, 4}), bn.running_mean, 1e-5)
    local bn2 = nn.BatchNorm2d(3, {affine = false, track_running_stats = false})
    assert.are.same({}, keys(bn2:state_dict()))
    bn2:evaluate()
    assert_close({0, 0, 0}, bn2(x):mean({1, 3, 4}), 1e-5) -- batch statistics still
  end)
end)

describe("nn state_dict / load_state_dict", function()
  local function model()
    return nn.Sequential{nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.3), nn.Linear(4 * 3 * 3, 5)}
  end

  it("lists parameters and buffers under dotted names, as constants sharing memory", function()
    local m = model()
    local sd = m:state_dict()
    assert.are.same({"1.weight", "1.bias", "2.weight", "2.bias", "2.running_mean", "2.running_var",
                     "2.num_batches_tracked", "7.weight", "7.bias"}, keys(sd))
    assert.is_true(sd["1.weight"].constant)
    m[1].weight.data:fill_(0.25)
    assert_close(m[1].weight, sd["1.weight"])
    assert.are.equal(m[1].weight, m:state_dict({keep_vars = true})["1.weight"])
    -- pairs walks the names in order, then keys added afterwards
    sd["1.bias"] = nil
    sd.extra = mg.ones(1)
    local ks = keys(sd)
    assert.are.equal("1.weight", ks[1])
    assert.are.equal("2.weight", ks[2])
    assert.are.equal("extra", ks[#ks])
    assert.are.equal(9, #ks)
  end)

  it("a round trip into a fresh model gives identical outputs", function()
    mg.random.seed(11)
    local a = model()
    a(mg.random.randn(6, 1, 8, 8)) -- moves the running statistics
    a:evaluate()
    mg.random.seed(12)
    local b = model():evaluate()
    local x = mg.random.randn(3, 1, 8, 8)
    local before = flat(b(x))
    local w = b[7].weight
    local missing, unexpected = b:load_state_dict(a:state_dict())
    assert.are.same({}, missing)
    assert.are.same({}, unexpected)
    assert.are.equal(w, b[7].weight) -- copied in place
    assert.is_true(w.requires_grad)
    assert_close(a(x), b(x), 0)
    assert.are_not.same(before, flat(b(x)))
    assert_close(a[2].running_var, b[2].running_var, 0)
    assert.are.equal(1, b[2].num_batches_tracked:item())
    -- from a copy (what mg.save / mg.load give back), across dtypes
    local sd = {}
    for k, v in pairs(a:state_dict()) do sd[k] = v:clone() end
    local c = model():double():evaluate()
    c:load_state_dict(sd)
    assert_close(a(x), c(x:double()), 1e-5)
  end)

  it("raises on a shape mismatch, a missing key or an unexpected key, copying nothing", function()
    local a = nn.Sequential{nn.Linear(3, 4), nn.Linear(4, 2)}
    local b = nn.Sequential{nn.Linear(3, 4), nn.Linear(4, 3)}
    local w0 = flat(b[1].weight)
    raises(function() b:load_state_dict(a:state_dict()) end, "load_state_dict",
           "size mismatch for 2.weight", "{2, 4}", "{3, 4}")
    assert.are.same(w0, flat(b[1].weight))
    local sd = a:state_dict()
    sd["2.bias"] = nil
    raises(function() a:load_state_dict(sd) end, "load_state_dict", "missing keys: 2.bias")
    sd["2.bias"] = mg.zeros(2)
    sd["3.weight"] = mg.zeros(1)
    raises(function() a:load_state_dict(sd) end, "unexpected keys: 3.weight")
    -- not strict: the lists come back
    sd["2.bias"] = nil
    local missing, unexpected = a:load_state_dict(sd, {strict = false})
    assert.are.same({"2.bias"}, missing)
    assert.are.same({"3.weight"}, unexpected)
    assert_close(flat(sd["1.weight"]), a[1].weight, 0)
    -- shape mismatches raise even when not strict
    sd["1.weight"] = mg.zeros(4, 4)
    raises(function() a:load_state_dict(sd, {strict = false}) end, "size mismatch for 1.weight")
    raises(function() a:load_state_dict({["1.weight"] = 3}, {strict = false}) end,
           "1.weight is a number, not a tensor")
    raises(function() a:load_state_dict(mg.ones(2)) end, "load_state_dict", "a tensor")
  end)
end)

describe("nn training", function()
  it("a tiny MLP trained with plain SGD in Lua lowers the loss", function()
    mg.random.seed(5)
    local x = mg.random.rand({64, 2}, {constant = true}) * 2 - 1
    local y = (x[{{}, {1, 1}}] * x[{{}, {2, 2}}]):detach() -- a product: needs the hidden layer
    local m = nn.Sequential{nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1)}
    local lr = 0.1
    local first, last
    for step = 1, 300 do
      local loss = ((m(x) - y) ^ 2):mean()
      if step == 1 then first = loss:item() end
      last = loss:item()
      m:zero_grad()
      loss:backward()
      for _, w in ipairs(m:parameters()) do w.data:sub_(lr * w.grad) end
    end
    assert(last < 0.5 * first, string.format("loss %g -> %g", first, last))
  end)

  it("a CNN with batchnorm and dropout takes a training step", function()
    mg.random.seed(6)
    local m = nn.Sequential{nn.Conv2d(1, 4, 3, {padding = 1}), nn.BatchNorm2d(4), nn.ReLU(),
                            nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * 4 * 4, 3),
                            nn.LogSoftmax()}
    local x = mg.random.randn(8, 1, 8, 8)
    local labels = {}
    for i = 1, 8 do labels[i] = (i % 3) + 1 end
    local onehot = mg.zeros({8, 3}, {constant = true})
    for i, l in ipairs(labels) do onehot[{i, l}] = 1 end
    local function loss() return -(m(x) * onehot):sum() / 8 end
    m:train()
    local l0 = loss()
    l0:backward()
    for _, p in ipairs(m:parameters()) do
      assert.is_not_nil(p.grad)
      p.data:sub_(0.05 * p.grad)
    end
    m:evaluate()
    local e1 = loss():item()
    assert(e1 == e1 and e1 < math.huge, "finite loss")
  end)
end)

describe("nn gradients", function()
  local function model_check(m, x, opts)
    local named = m:named_parameters()
    local names, inputs = {}, {x}
    for k, p in pairs(named) do
      names[#names + 1] = k
      inputs[#inputs + 1] = p
    end
    local ok, msg = gc.gradcheck(function(xx, ...)
      local params = {}
      for i, t in ipairs({...}) do params[names[i]] = t end
      return nn.functional_call(m, params, xx)
    end, inputs, opts)
    assert(ok, msg)
  end

  it("gradcheck of a small Sequential in float64 (dtype option)", function()
    mg.random.seed(21)
    local m = nn.Sequential{nn.Linear(3, 4, F64), nn.Tanh(), nn.Linear(4, 2, F64), nn.Sigmoid()}
    model_check(m, mg.random.randn({5, 3}, F64))
  end)

  it("gradcheck of conv, batchnorm, pooling, softmax under the float64 default dtype", function()
    local prev = mg.get_default_dtype()
    mg.set_default_dtype("float64")
    local ok, err = pcall(function()
      mg.random.seed(22)
      local m = nn.Sequential{nn.Conv1d(2, 3, 2, {padding = 1}), nn.BatchNorm1d(3), nn.GELU("tanh"),
                              nn.AvgPool1d(2), nn.Flatten(), nn.Linear(6, 3), nn.LogSoftmax()}
      assert.are.equal("float64", m[1].weight.dtype)
      model_check(m, mg.random.randn(4, 2, 4))
      local g = nn.GRU(2, 3)
      model_check(nn.Sequential{g, function(o) return o:sum(1) end}, mg.random.randn(3, 2, 2))
      local e = nn.Sequential{nn.Embedding(5, 2), nn.Flatten(), nn.Linear(4, 1)}
      model_check(e, mg.tensor({{1, 5}, {2, 2}}, {dtype = "int64"}))
    end)
    mg.set_default_dtype(prev)
    if not ok then error(err, 0) end
  end)
end)

describe("nn tostring", function()
  it("lists the layers with their parameters' shapes and counts, and a total", function()
    local m = nn.Sequential{nn.Conv2d(1, 8, 3, {padding = 1}), nn.ReLU(), nn.MaxPool2d(2),
                           nn.Flatten(), nn.Linear(8 * 14 * 14, 10, {bias = false})}
    local want = table.concat({
      "Sequential(",
      "  (1): Conv2d(1, 8, kernel_size={3, 3}, stride={1, 1}, padding={1, 1})  -- 80 params: weight {8, 1, 3, 3}, bias {8}",
      "  (2): ReLU()",
      "  (3): MaxPool2d(kernel_size={2, 2}, stride={2, 2}, padding={0, 0})",
      "  (4): Flatten(start_axis=2, end_axis=-1)",
      "  (5): Linear(in_features=1568, out_features=10, bias=false)            -- 15680 params: weight {10, 1568}",
      ")",
      "Total: 15760 parameters (15760 trainable)",
    }, "\n")
    assert.are.equal(want, tostring(m))
    assert.are.equal("ReLU()", tostring(nn.ReLU()))
    assert.are.equal("Linear(in_features=784, out_features=256, bias=true)  -- 200960 params: "
                     .. "weight {256, 784}, bias {256}", tostring(nn.Linear(784, 256)))
    assert.are.equal("BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)"
                     .. "  -- 8 params: weight {4}, bias {4}", tostring(nn.BatchNorm2d(4)))
    assert.are.equal("Dropout(p=0.25)", tostring(nn.Dropout(0.25)))
    assert.are.equal("Softmax(axis=-1)", tostring(nn.Softmax()))
    assert.are.equal("GRU(3, 4, batch_first=true)  -- 108 params: weight_ih_l0 {12, 3}, "
                     .. "weight_hh_l0 {12, 4}, bias_ih_l0 {12}, bias_hh_l0 {12}",
                     tostring(nn.GRU(3, 4, {batch_first = true})))
  end)

  it("nests containers and custom modules", function()
    local s = tostring(MLP(2, 3, 1))
    assert.are.equal(table.concat({
      "MLP(",
      "  (fc1): Linear(in_features=2, out_features=3, bias=true)  -- 9 params: weight {3, 2}, bias {3}",
      "  (fc2): Linear(in_features=3, out_features=1, bias=true)  -- 4 params: weight {1, 3}, bias {1}",
      ")",
      "Total: 13 parameters (13 trainable)",
    }, "\n"), s)
    local n = tostring(nn.Sequential{nn.Sequential{nn.ReLU()}, nn.Tanh()})
    assert.are.equal("Sequential(\n  (1): Sequential(\n    (1): ReLU()\n  )\n  (2): Tanh()\n)", n)
  end)
end)

describe("nn errors", function()
  it("bad constructor arguments name the layer", function()
    raises(function() nn.Linear(0, 3) end, "Linear", "in_features must be a positive integer")
    raises(function() nn.Linear(2, 3.5) end, "Linear", "out_features")
    raises(function() nn.Linear(2, 3, {dtype = "int64"}) end, "Linear", "dtype")
    raises(function() nn.Linear(2, 3, {bias = 1}) end, "Linear", "bias must be true or false")
    raises(function() nn.Linear(2, 3, 4) end, "Linear", "option table")
    raises(function() nn.Conv2d(3, 4, {3}) end, "Conv2d", "kernel_size")
    raises(function() nn.Conv2d(3, 4, 3, {groups = 2}) end, "Conv2d", "divisible by groups")
    raises(function() nn.Conv2d(3, 4, 3, {stride = 2, padding = "same"}) end, "Conv2d", "stride 1")
    raises(function() nn.Conv2d(3, 4, 3, {padding = -1}) end, "Conv2d", "padding")
    raises(function() nn.MaxPool2d(2, {padding = 2}) end, "MaxPool2d", "half of the kernel")
    raises(function() nn.Dropout(1) end, "Dropout", "[0, 1)")
    raises(function() nn.Softmax(0) end, "Softmax", "axis")
    raises(function() nn.GELU("fast") end, "GELU", "approximate")
    raises(function() nn.Sequential{nn.ReLU(), 3} end, "Sequential", "entry 2", "expected a module")
    raises(function() nn.Sequential{nn.ReLU()}:add(mg.ones(2)) end, "Sequential:add", "a tensor")
    raises(function() nn.Module:extend(3) end, "Module:extend")
  end)

  it("bad inputs name the layer and the shapes", function()
    raises(function() nn.Linear(4, 2)(mg.zeros(3, 5)) end, "Linear", "4 features", "{3, 5}")
    raises(function() nn.Linear(4, 2)("x") end, "Linear", "expected a tensor input")
    raises(function() nn.Conv2d(4, 2, 3)(mg.zeros(1, 3, 5, 5)) end, "Conv2d", "{1, 3, 5, 5}")
    raises(function() nn.Conv2d(1, 2, 3)(mg.zeros(5, 5)) end, "Conv2d", "{5, 5}")
    raises(function() nn.MaxPool2d(2)(mg.zeros(5)) end, "MaxPool2d", "{5}")
    raises(function() nn.BatchNorm2d(3)(mg.zeros(2, 3)) end, "BatchNorm2d", "{N, C, H, W}", "{2, 3}")
    raises(function() nn.BatchNorm1d(3)(mg.zeros(2, 4)) end, "BatchNorm1d", "C = 3")
    raises(function() nn.GRU(3, 4)(mg.zeros(2, 2, 5)) end, "GRU", "{2, 2, 5}")
    raises(function() nn.GRU(3, 4)(mg.zeros(2, 2, 3), mg.zeros(1, 3, 4)) end, "GRU", "h0", "{1, 2, 4}")
    raises(function() nn.Embedding(3, 2)({1, 4}) end, "embedding", "out of range")
  end)

  it("module misuse", function()
    local Empty = nn.Module:extend("Empty")
    raises(function() Empty()(1) end, "Empty: forward is not defined")
    local m = nn.Linear(2, 2)
    raises(function() m.weight = 3 end, "Linear", "parameter 'weight'")
    local s = nn.Sequential{nn.ReLU()}
    raises(function() s["1"] = mg.ones(1) end, "child module '1'")
    raises(function() m:register_buffer("a.b", mg.ones(1)) end, "register_buffer", "without dots")
    raises(function() m:register_parameter("p", 3) end, "register_parameter", "tensor")
    raises(function() m:add_module("c", 3) end, "add_module", "must be a module")
    raises(function() nn.functional_call(3, {}) end, "functional_call", "expected a module")
    raises(function() m:to("int64") end, "to", "dtype")
  end)
end)
