-- nnet_init_spec.lua — mg.nnet's initializers: shapes (table and varargs),
-- dtype and variable/constant options, reproducibility from
-- mg.random.seed, the statistics of large draws against the target
-- distributions (PyTorch's formulas), fan computation for dense and conv
-- weights, calculate_gain, orthogonal (Q^T Q = I, the sign fix), dirac's
-- values, and the errors.
local mg = require("moongrad")
local nn = mg.nnet
local H = require("helpers")
local raises, flat = H.raises, H.flat

-- mean, standard deviation (population), min and max of a tensor's values
local function stats(t)
  local v = flat(t)
  local s, mn, mx = 0, math.huge, -math.huge
  for _, e in ipairs(v) do
    s = s + e
    mn, mx = math.min(mn, e), math.max(mx, e)
  end
  local mean = s / #v
  local ss = 0
  for _, e in ipairs(v) do ss = ss + (e - mean) ^ 2 end
  return mean, math.sqrt(ss / #v), mn, mx
end

local function near(a, b, tol, what)
  assert(math.abs(a - b) <= tol, string.format("%s: %.6g is not within %.3g of %.6g",
                                               what or "value", a, tol, b))
end

local names = {"uniform", "normal", "constant", "glorot_uniform", "glorot_normal", "he_uniform",
               "he_normal", "xavier_uniform", "xavier_normal", "kaiming_uniform",
               "kaiming_normal", "orthogonal", "dirac"}

describe("initializers", function()
  it("are in mg.nnet.initializers and directly in mg.nnet", function()
    for _, name in ipairs(names) do
      assert.is_function(nn.initializers[name], name)
      assert.are.equal(nn.initializers[name], nn[name], name)
    end
    assert.are.equal(nn.glorot_uniform, nn.xavier_uniform)
    assert.are.equal(nn.he_normal, nn.kaiming_normal)
  end)

  it("take the shape as a table or as integers and return variables of the default dtype", function()
    for _, name in ipairs(names) do
      local a, b = nn[name]({4, 3, 3}), nn[name](4, 3, 3)
      assert.are.same({4, 3, 3}, a.shape, name)
      assert.are.same({4, 3, 3}, b.shape, name)
      assert.are.equal("float32", a.dtype, name)
      assert.is_true(a.requires_grad, name)
      assert.is_nil(a.grad_fn, name) -- a leaf
    end
  end)

  it("take dtype, constant and requires_grad options", function()
    for _, name in ipairs(names) do
      local a = nn[name]({3, 2, 1}, {dtype = "float64", constant = true})
      assert.are.equal("float64", a.dtype, name)
      assert.is_false(a.requires_grad, name)
      local b = nn[name](3, 2, 1, {requires_grad = false})
      assert.is_true(b.constant, name)
    end
  end)

  it("follow the default dtype", function()
    mg.set_default_dtype("float64")
    local ok, err = pcall(function()
      assert.are.equal("float64", nn.he_normal(3, 3).dtype)
      assert.are.equal("float64", nn.orthogonal(3, 3).dtype)
    end)
    mg.set_default_dtype("float32")
    assert(ok, err)
  end)

  it("are reproducible from mg.random.seed", function()
    for _, name in ipairs(names) do
      mg.random.seed(1234)
      local a = nn[name](5, 4, 3)
      local a2 = nn[name](5, 4, 3)
      mg.random.seed(1234)
      local b = nn[name](5, 4, 3)
      assert.are.same(a:totable(), b:totable(), name)
      if name ~= "constant" and name ~= "dirac" then
        assert.are_not.same(a:totable(), a2:totable(), name)
      end
    end
  end)

  it("make empty tensors for shapes with a zero", function()
    for _, name in ipairs(names) do
      local t = nn[name](0, 3, 2)
      assert.are.same({0, 3, 2}, t.shape, name)
    end
  end)
end)

describe("uniform, normal and constant", function()
  it("uniform draws from [lower, upper)", function()
    mg.random.seed(1)
    local t = nn.uniform({200, 100}, {lower = -2, upper = 3, dtype = "float64"})
    local mean, std, mn, mx = stats(t)
    near(mean, 0.5, 0.03, "mean")
    near(std, 5 / math.sqrt(12), 0.02, "std")
    assert.is_true(mn >= -2 and mx < 3)
    local d = nn.uniform({10000})
    local m2, _, mn2, mx2 = stats(d)
    near(m2, 0.5, 0.02, "default mean")
    assert.is_true(mn2 >= 0 and mx2 < 1)
  end)

  it("uniform takes positional bounds, MyGrad's option names and a gain", function()
    mg.random.seed(2)
    local a = nn.uniform({3, 3}, -1, 1, {dtype = "float64"})
    mg.random.seed(2)
    local b = nn.uniform(3, 3, {lower_bound = -1, upper_bound = 1, dtype = "float64"})
    assert.are.same(a:totable(), b:totable())
    mg.random.seed(2)
    local c = nn.uniform(3, 3, {lower = -1, upper = 1, gain = 2, dtype = "float64"})
    local fa, fc = flat(a), flat(c)
    for k = 1, #fa do near(fc[k], 2 * fa[k], 1e-12) end
  end)

  it("normal has the given mean and std", function()
    mg.random.seed(3)
    local t = nn.normal({20000}, {mean = 1.5, std = 0.25, dtype = "float64"})
    local mean, std = stats(t)
    near(mean, 1.5, 0.01, "mean")
    near(std, 0.25, 0.006, "std")
    mg.random.seed(4)
    local a = nn.normal({4}, 2, 3, {dtype = "float64"})
    mg.random.seed(4)
    local z = mg.random.randn({4}, {dtype = "float64"})
    local fa, fz = flat(a), flat(z)
    for k = 1, 4 do near(fa[k], 2 + 3 * fz[k], 1e-12) end
  end)

  it("constant fills with the value (times gain)", function()
    assert.are.same({{2.5, 2.5}, {2.5, 2.5}}, nn.constant({2, 2}, 2.5):totable())
    assert.are.same({0, 0, 0}, nn.constant(3):totable())
    assert.are.same({{-3, -3}}, nn.constant(1, 2, {value = 1.5, gain = -2}):totable())
    assert.are.same({7}, nn.constant({1}, 7, {dtype = "float64"}):totable())
  end)
end)

describe("fans and gains", function()
  it("calculate_fan_in_and_fan_out follows PyTorch (receptive field for conv weights)", function()
    local fi, fo = nn.calculate_fan_in_and_fan_out({3, 5})
    assert.are.same({5, 3}, {fi, fo})
    fi, fo = nn.initializers.calculate_fan_in_and_fan_out({16, 8, 3, 3})
    assert.are.same({72, 144}, {fi, fo})
    fi, fo = nn.calculate_fan_in_and_fan_out(mg.zeros(4, 2, 5))
    assert.are.same({10, 20}, {fi, fo})
  end)

  it("calculate_gain gives PyTorch's values", function()
    assert.are.equal(1, nn.calculate_gain("linear"))
    assert.are.equal(1, nn.calculate_gain("conv2d"))
    assert.are.equal(1, nn.calculate_gain("sigmoid"))
    near(nn.calculate_gain("tanh"), 5 / 3, 1e-15)
    near(nn.calculate_gain("relu"), math.sqrt(2), 1e-15)
    near(nn.calculate_gain("leaky_relu"), math.sqrt(2 / (1 + 0.01 ^ 2)), 1e-15)
    near(nn.calculate_gain("leaky_relu", 0.2), math.sqrt(2 / 1.04), 1e-15)
    near(nn.calculate_gain("selu"), 0.75, 1e-15)
    raises(function() nn.calculate_gain("swish") end, "calculate_gain", "swish")
    raises(function() nn.calculate_gain("leaky_relu", "x") end, "calculate_gain")
  end)
end)

describe("glorot and he", function()
  it("glorot_uniform is U[-b, b], b = gain sqrt(6 / (fan_in + fan_out))", function()
    mg.random.seed(5)
    local t = nn.glorot_uniform({100, 50, 3}, {dtype = "float64"}) -- fans 150, 300
    local b = math.sqrt(6 / 450)
    local mean, std, mn, mx = stats(t)
    near(mean, 0, 0.003, "mean")
    near(std, b / math.sqrt(3), 0.002, "std")
    assert.is_true(mn >= -b and mx <= b)
    assert.is_true(mx > 0.99 * b and mn < -0.99 * b)
    local g = nn.xavier_uniform({100, 50, 3}, {gain = 2, dtype = "float64"})
    local _, _, gmn, gmx = stats(g)
    assert.is_true(gmn >= -2 * b and gmx <= 2 * b and gmx > 1.9 * b)
  end)

  it("glorot_normal has std gain sqrt(2 / (fan_in + fan_out))", function()
    mg.random.seed(6)
    local t = nn.glorot_normal({200, 100}, {gain = 3, dtype = "float64"})
    local mean, std = stats(t)
    near(mean, 0, 0.005, "mean")
    near(std, 3 * math.sqrt(2 / 300), 0.003, "std")
  end)

  it("he_normal: std sqrt(2 / fan_in) by default (leaky_relu with a = 0, as PyTorch)", function()
    mg.random.seed(7)
    local t = nn.he_normal({100, 200}, {dtype = "float64"}) -- fan_in 200, fan_out 100
    local mean, std = stats(t)
    near(mean, 0, 0.003, "mean")
    near(std, math.sqrt(2 / 200), 0.002, "std")
    local _, s2 = stats(nn.kaiming_normal({100, 200}, {mode = "fan_out", dtype = "float64"}))
    near(s2, math.sqrt(2 / 100), 0.003, "fan_out std")
    local _, s3 = stats(nn.he_normal({100, 200}, {nonlinearity = "tanh", dtype = "float64"}))
    near(s3, (5 / 3) / math.sqrt(200), 0.003, "tanh std")
    local _, s4 = stats(nn.he_normal({100, 200}, {a = 1, dtype = "float64"}))
    near(s4, 1 / math.sqrt(200), 0.002, "leaky slope 1 std")
    local _, s5 = stats(nn.he_normal({100, 200}, {gain = 1, dtype = "float64"}))
    near(s5, 1 / math.sqrt(200), 0.002, "gain 1 (MyGrad's formula) std")
  end)

  it("he_uniform: U[-b, b], b = gain sqrt(3 / fan)", function()
    mg.random.seed(8)
    local t = nn.he_uniform({50, 20, 2, 2}, {dtype = "float64"}) -- fan_in 80, fan_out 200
    local b = math.sqrt(2) * math.sqrt(3 / 80)
    local mean, std, mn, mx = stats(t)
    near(mean, 0, 0.005, "mean")
    near(std, b / math.sqrt(3), 0.003, "std")
    assert.is_true(mn >= -b and mx <= b and mx > 0.98 * b)
    local u = nn.kaiming_uniform({50, 20, 2, 2}, {mode = "fan_out", nonlinearity = "relu",
                                                  dtype = "float64"})
    local bu = math.sqrt(2) * math.sqrt(3 / 200)
    local _, _, umn, umx = stats(u)
    assert.is_true(umn >= -bu and umx <= bu and umx > 0.98 * bu)
    local l = nn.he_uniform({50, 20}, {nonlinearity = "leaky_relu", slope = 0.5, dtype = "float64"})
    local bl = math.sqrt(2 / 1.25) * math.sqrt(3 / 20)
    local _, _, lmn, lmx = stats(l)
    assert.is_true(lmn >= -bl and lmx <= bl and lmx > 0.97 * bl)
  end)
end)

describe("orthogonal", function()
  local function gram(q, left)
    local q64 = q:double()
    return left and mg.matmul(q64.T, q64) or mg.matmul(q64, q64.T)
  end
  local function assert_identity(m, tol)
    local v = m:totable()
    for i = 1, #v do
      for j = 1, #v do near(v[i][j], i == j and 1 or 0, tol, "entry " .. i .. "," .. j) end
    end
  end

  it("gives Q^T Q = I for tall and square shapes, Q Q^T = I for wide ones", function()
    mg.random.seed(9)
    assert_identity(gram(nn.orthogonal(6, 4, {dtype = "float64"}), true), 1e-12)
    assert_identity(gram(nn.orthogonal(5, 5, {dtype = "float64"}), true), 1e-12)
    assert_identity(gram(nn.orthogonal(5, 5, {dtype = "float64"}), false), 1e-12)
    assert_identity(gram(nn.orthogonal(3, 7, {dtype = "float64"}), false), 1e-12)
    assert_identity(gram(nn.orthogonal(4, 6), false), 1e-5) -- float32
  end)

  it("reads conv weights as shape[1] x the rest, and scales by gain", function()
    mg.random.seed(10)
    local w = nn.orthogonal({4, 2, 3, 3}, {gain = 2, dtype = "float64"})
    assert.are.same({4, 2, 3, 3}, w.shape)
    local m = mg.matmul(w:reshape(4, 18), w:reshape(4, 18).T) / 4
    assert_identity(m, 1e-12)
  end)

  it("is the Q of a normal draw with R's diagonal made positive (so Haar-distributed)", function()
    -- the first column of such a Q is the first column of the draw, normalised
    mg.random.seed(11)
    local g = flat(mg.random.randn({4, 3}, {dtype = "float64"}))
    mg.random.seed(11)
    local q = nn.orthogonal(4, 3, {dtype = "float64"}):totable()
    local norm = math.sqrt(g[1] ^ 2 + g[4] ^ 2 + g[7] ^ 2 + g[10] ^ 2)
    for i = 1, 4 do near(q[i][1], g[(i - 1) * 3 + 1] / norm, 1e-12, "row " .. i) end
    -- a wide shape works on the transpose: the first row is the draw's, normalised
    mg.random.seed(12)
    local h = flat(mg.random.randn({2, 5}, {dtype = "float64"}))
    mg.random.seed(12)
    local p = nn.orthogonal(2, 5, {dtype = "float64"}):totable()
    local hn = 0
    for j = 1, 5 do hn = hn + h[j] ^ 2 end
    for j = 1, 5 do near(p[1][j], h[j] / math.sqrt(hn), 1e-12, "column " .. j) end
  end)

  it("has no sign bias on the diagonal", function()
    mg.random.seed(13)
    local s, pos = 0, 0
    for _ = 1, 200 do
      local q = nn.orthogonal(2, 2, {dtype = "float64"}):totable()
      s = s + q[1][1] + q[2][2]
      if q[1][1] > 0 then pos = pos + 1 end
    end
    assert.is_true(math.abs(s / 400) < 0.1, "mean diagonal " .. s / 400)
    assert.is_true(pos > 60 and pos < 140, "positive Q[1][1] in " .. pos .. " of 200")
  end)
end)

describe("dirac", function()
  it("puts a 1 at the kernel centre of matching channels (3-d)", function()
    assert.are.same({{{0, 1, 0}, {0, 0, 0}},
                     {{0, 0, 0}, {0, 1, 0}},
                     {{0, 0, 0}, {0, 0, 0}}}, nn.dirac(3, 2, 3):totable())
  end)

  it("is an identity-like matrix for 2-d shapes (as MyGrad)", function()
    assert.are.same({{1, 0, 0}, {0, 1, 0}}, nn.dirac(2, 3):totable())
    assert.are.same({{1, 0}, {0, 1}, {0, 0}}, nn.dirac({3, 2}):totable())
  end)

  it("4-d with an even kernel, and more inputs than outputs", function()
    local w = nn.dirac({2, 3, 2, 4}):totable()
    for o = 1, 2 do
      for i = 1, 3 do
        for a = 1, 2 do
          for b = 1, 4 do
            local want = (o == i and a == 2 and b == 3) and 1 or 0
            assert.are.equal(want, w[o][i][a][b], string.format("[%d][%d][%d][%d]", o, i, a, b))
          end
        end
      end
    end
  end)

  it("5-d, with groups and gain (as PyTorch's dirac_)", function()
    local w = nn.dirac({4, 2, 1, 3, 3}, {groups = 2, gain = 0.5}):totable()
    local ones = 0
    for o = 1, 4 do
      for i = 1, 2 do
        for a = 1, 3 do
          for b = 1, 3 do
            local v = w[o][i][1][a][b]
            local want = ((o - 1) % 2 + 1 == i and a == 2 and b == 2) and 0.5 or 0
            assert.are.equal(want, v)
            if v ~= 0 then ones = ones + 1 end
          end
        end
      end
    end
    assert.are.equal(4, ones)
  end)

  it("copies the input when used as a convolution (checked as a sum over the kernel)", function()
    -- y[n, o, l] = sum_{i, k} w[o, i, k] x[n, i, l + k - centre]: with dirac,
    -- y[:, o] = x[:, o] for o < min(out, in).
    local w = nn.dirac({2, 2, 3}, {dtype = "float64"}):totable()
    local x = {{1, 2, 3, 4}, {5, 6, 7, 8}}
    for o = 1, 2 do
      for l = 1, 4 do
        local y = 0
        for i = 1, 2 do
          for k = 1, 3 do
            local src = l + k - 2
            if src >= 1 and src <= 4 then y = y + w[o][i][k] * x[i][src] end
          end
        end
        assert.are.equal(x[o][l], y)
      end
    end
  end)
end)

describe("initializer errors", function()
  it("fan-based initializers need at least 2 dimensions (as PyTorch)", function()
    for _, name in ipairs({"glorot_uniform", "glorot_normal", "he_uniform", "he_normal"}) do
      raises(function() nn[name](5) end, name, "fewer than 2 dimensions", "{5}")
      raises(function() nn[name]({}) end, name, "fewer than 2 dimensions")
    end
    raises(function() nn.calculate_fan_in_and_fan_out({3}) end, "calculate_fan_in_and_fan_out")
    raises(function() nn.orthogonal(4) end, "orthogonal", "2 or more dimensions", "{4}")
    raises(function() nn.dirac({3}) end, "dirac", "2 or more dimensions")
  end)

  it("bad options", function()
    raises(function() nn.uniform({2}, {lower = 1, upper = 1}) end, "uniform", "less than upper")
    raises(function() nn.uniform({2}, 3, 1) end, "uniform", "lower (3)")
    raises(function() nn.normal({2}, {std = -1}) end, "normal", "std must be >= 0")
    raises(function() nn.normal({2}, {mean = "a"}) end, "normal", "option mean must be a number")
    raises(function() nn.he_normal({2, 2}, {mode = "fan_avg"}) end, "he_normal", "fan_avg")
    raises(function() nn.he_uniform({2, 2}, {nonlinearity = "swish"}) end, "he_uniform", "swish")
    raises(function() nn.dirac({4, 2, 3}, {groups = 3}) end, "dirac", "divisible by groups")
    raises(function() nn.dirac({4, 2, 3}, {groups = 0}) end, "dirac", "groups")
    raises(function() nn.dirac({4, 2, 3}, {groups = 1.5}) end, "dirac", "groups must be an integer")
    raises(function() nn.orthogonal({4, 2}, {gain = "big"}) end, "orthogonal", "gain")
  end)

  it("bad shapes and dtypes (aliases report the MyGrad name)", function()
    local canonical = {xavier_uniform = "glorot_uniform", xavier_normal = "glorot_normal",
                       kaiming_uniform = "he_uniform", kaiming_normal = "he_normal"}
    for _, alias in ipairs(names) do
      local name = canonical[alias] or alias
      raises(function() nn[alias]({2, -1}) end, name, ">= 0")
      raises(function() nn[alias]({2, 1.5}) end, name, "integers")
      raises(function() nn[alias]({2, 2}, {dtype = "int64"}) end, name, "int64", "float")
      raises(function() nn[alias]({2, 2}, "x") end, name)
    end
  end)
end)
