-- speed_paths_spec.lua — the fast paths added for bench/ give the same
-- results as the general ones: float32 exp (vectorised polynomial) against
-- float64 exp, sums in partial sums, tiled copies of transposed matrices,
-- merged axes in strided walks, the cached 0-d operands of arithmetic with
-- numbers, and contiguous gathers.
local mg = require("moongrad")

local function f32(v) return mg.tensor(v, {dtype = "float32"}) end

-- |a - b| in units in the last place of float32 at b's magnitude
local function ulps(a, b)
  if a == b then return 0 end
  local m, e = math.frexp(math.abs(b))
  if m == 0 then return math.huge end
  local ulp = 2.0 ^ (math.max(e, -125) - 24)
  return math.abs(a - b) / ulp
end

describe("float32 exp", function()
  it("is within 1 ulp of the correctly rounded value over [-87, 87]", function()
    local xs = {}
    for i = 0, 4000 do xs[#xs + 1] = -87 + 174 * i / 4000 end
    for _, v in ipairs({0, -0.0, 1e-8, -1e-8, 0.5, 1, 2, 10, -10, 86.9, -86.9}) do xs[#xs + 1] = v end
    local y = mg.exp(f32(xs)):totable()
    local x32 = f32(xs):totable()
    local worst = 0
    for i, x in ipairs(x32) do
      local want = f32(math.exp(x)):item() -- exp in double, rounded to float32
      worst = math.max(worst, ulps(y[i], want))
    end
    assert.is_true(worst <= 1, "worst error " .. worst .. " ulp")
  end)

  it("keeps exp(0) = 1 exactly and handles the ends of the range", function()
    local y = mg.exp(f32({0, 88.7, 89, 1000, -88, -100, -104, -1000, math.huge, -math.huge})):totable()
    assert.are.equal(1, y[1])
    assert.is_true(y[2] > 3e38 and y[2] < math.huge)          -- just below FLT_MAX
    assert.are.equal(math.huge, y[3])
    assert.are.equal(math.huge, y[4])
    assert.is_true(y[5] > 0 and y[5] < 1.2e-38)                -- subnormal
    assert.is_true(y[6] > 0 and y[6] < 1e-43)
    assert.are.equal(0, y[7] < 1e-44 and 0 or y[7])
    assert.are.equal(0, y[8])
    assert.are.equal(math.huge, y[9])
    assert.are.equal(0, y[10])
    local n = mg.exp(f32({0 / 0})):item()
    assert.is_true(n ~= n)
  end)

  it("gives the same values on strided and contiguous inputs", function()
    local x = mg.random.randn(40, 30) * 5
    local a = mg.exp(x.T):totable()
    local b = mg.exp(x.T:contiguous()):totable()
    assert.are.same(b, a)
  end)
end)

describe("sums", function()
  it("add 10^6 float32 ones exactly and match a plain loop", function()
    assert.are.equal(1000000, mg.ones(1000000):sum():item())
    local v = {}
    for i = 1, 1037 do v[i] = (i % 17) * 0.25 - 1.5 end
    local want = 0
    for i = 1, #v do want = want + v[i] end
    assert.are.equal(want, f32(v):sum():item())
    assert.are.equal(want, mg.tensor(v, {dtype = "float64"}):sum():item())
  end)

  it("over leading and trailing axes (merged runs) match per-element sums", function()
    local x = mg.arange(2 * 3 * 4 * 5):reshape(2, 3, 4, 5):float()
    local s = x:sum({1, 3, 4}):totable()
    for c = 1, 3 do
      local want = 0
      for a = 1, 2 do for b = 1, 4 do for d = 1, 5 do
        want = want + ((a - 1) * 60 + (c - 1) * 20 + (b - 1) * 5 + (d - 1))
      end end end
      assert.are.equal(want, s[c])
    end
    local t = x:transpose():sum({1, 2}):totable() -- non-contiguous input
    assert.are.equal(3, #t)
  end)
end)

describe("copies of transposed matrices", function()
  it("match element by element for float32, float64 and int64", function()
    for _, sh in ipairs({{33, 70}, {64, 64}, {100, 37}, {1, 40, 50}, {2, 40, 50}, {31, 300}}) do
      for _, dt in ipairs({"float32", "float64", "int64"}) do
        local n = 1
        for _, d in ipairs(sh) do n = n * d end
        local x = mg.arange(n):astype(dt):reshape(sh)
        local t = x:swapaxes(-1, -2)
        local c = t:clone()
        assert.is_true(c:eq(t):all():item(), dt .. " " .. table.concat(sh, "x"))
        local r, q = sh[#sh - 1], sh[#sh]
        local idx = {}
        for k = 1, #sh - 2 do idx[k] = 1 end
        idx[#sh - 1], idx[#sh] = q, r -- last element of the transposed view
        local want = {}
        for k = 1, #sh - 2 do want[k] = 1 end
        want[#sh - 1], want[#sh] = r, q
        assert.are.equal(x[want]:item(), c[idx]:item())
      end
    end
  end)

  it("give a weight's gradient through x @ w.T", function()
    local w = mg.random.randn(40, 50)
    local x = mg.random.randn(8, 50, {constant = true})
    mg.matmul(x, w.T):sum():backward()
    local want = mg.ones(8, 40).T:matmul(x) -- d/dw sum(x w^T) = 1^T x
    assert.is_true(mg.all(mg.less(mg.abs(w.grad - want), 1e-4)):item())
  end)
end)

describe("arithmetic with Lua numbers", function()
  it("reuses no value written in place", function()
    local x = mg.tensor({1, 2, 3})
    local a = x * 0.5
    a:add_(10)
    local b = x * 0.5
    assert.are.same({0.5, 1, 1.5}, b:totable())
    assert.are.same({10.5, 11, 11.5}, a:totable())
  end)

  it("keeps graphs that share an operand apart", function()
    local x = mg.tensor({1.0, 2.0, 3.0})
    local y1 = (x * 0.5):sum()
    y1:backward()
    assert.are.same({0.5, 0.5, 0.5}, x.grad:totable())
    local y2 = (x * 0.5 + x * 0.25):sum() -- (a new op clears x.grad)
    y2:backward()
    assert.are.same({0.75, 0.75, 0.75}, x.grad:totable())
    assert.are.equal("float64", (mg.tensor({1}, {dtype = "float64"}) * 0.5).dtype)
    assert.are.equal("float32", (x * 0.5).dtype)
  end)

  it("tells 0 from -0 and float32 from float64 values", function()
    local x = mg.tensor({1}, {dtype = "float64"})
    assert.are.equal(-math.huge, (x / -0.0):item())
    assert.are.equal(math.huge, (x / 0.0):item())
    local a = (x * 0.1):item()
    local b = (mg.tensor({1}) * 0.1):item()
    assert.are.equal(0.1, a)
    assert.are_not.equal(a, b) -- float32 0.1 differs
  end)

  it("x^2 has the gradient 2x, also to second order", function()
    local x = mg.tensor({-1.5, 0, 2}, {dtype = "float64"})
    local g = mg.autograd.grad(x ^ 2, x, {create_graph = true, grad_outputs = mg.ones(3, {dtype = "float64"})})
    assert.are.same({-3, 0, 4}, (g[1] or g):totable())
  end)
end)

describe("contiguous gathers", function()
  it("take whole rows and put them back", function()
    local x = mg.arange(5 * 4):reshape(5, 4):float()
    local rows = x[mg.tensor({5, 1, 3}, {dtype = "int64"})]
    assert.are.same({{16, 17, 18, 19}, {0, 1, 2, 3}, {8, 9, 10, 11}}, rows:totable())
    local y = mg.zeros(5, 4)
    y[mg.tensor({2, 4}, {dtype = "int64"})] = mg.ones(2, 4)
    assert.are.same({0, 4, 0, 4, 0}, y:sum(2):totable())
  end)
end)
