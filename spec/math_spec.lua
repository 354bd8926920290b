-- math_spec.lua — the element-wise math of ops_math.c: values of tan ...
-- cbrt, reciprocal, floor/ceil/round (half to even), arctan2, maximum/minimum
-- (NaN, ties), logaddexp (no overflow), clip, where, comparisons, isnan/
-- isinf/isfinite, logical ops and any/all (axes, keepdims, non-contiguous
-- inputs); integer inputs, domain errors (NaN, as NumPy), numbers on either
-- side and broadcasting; a float64 gradcheck of every differentiable op,
-- second-order checks, and the errors bad input raises.
local mg = require("moongrad")
local gc = require("gradcheck")

local function flat(v, out)
  out = out or {}
  if type(v) ~= "table" then out[#out + 1] = v
  else for _, e in ipairs(v) do flat(e, out) end end
  return out
end

-- Asserts that tensor t holds the values of the (nested) table expected;
-- NaN matches NaN, infinities match exactly.
local function near(expected, t, tol)
  tol = tol or 1e-5
  local e, a = flat(expected), flat(type(t) == "table" and t or t:totable())
  assert.are.equal(#e, #a, "number of elements")
  for i = 1, #e do
    local ok
    if e[i] ~= e[i] then ok = a[i] ~= a[i]
    elseif math.abs(e[i]) == math.huge then ok = a[i] == e[i]
    else ok = math.abs(e[i] - a[i]) <= tol * (1 + math.abs(e[i])) end
    if not ok then
      error(string.format("element %d: expected %.10g, got %.10g", i, e[i], a[i]), 2)
    end
  end
end

-- Applies f to each number of a flat list.
local function map(list, f)
  local out = {}
  for i, v in ipairs(list) do out[i] = f(v) end
  return out
end

local function var(values) return mg.tensor(values, {dtype = "float64"}) end
local function randn(shape) return mg.random.randn(shape, {dtype = "float64"}) end
-- a leaf with values in [lo, hi)
local function uniform(shape, lo, hi)
  local r = mg.random.rand(shape, {dtype = "float64", constant = true})
  return (r * (hi - lo) + lo):requires_grad_(true)
end
-- a non-contiguous leaf (a transposed view) with values in [lo, hi)
local function transposed(shape, lo, hi)
  local rev = {}
  for i = #shape, 1, -1 do rev[#rev + 1] = shape[i] end
  local r = mg.random.rand(rev, {dtype = "float64", constant = true}) * (hi - lo) + lo
  return r.T:requires_grad_(true)
end

local function check(f, inputs, opts)
  local ok, msg = gc.gradcheck(f, inputs, opts)
  assert(ok, msg)
end
local function check2(f, inputs, opts)
  local ok, msg = gc.gradgradcheck(f, inputs, opts)
  assert(ok, msg)
end

-- Runs fn, expects it to fail, and checks the message holds every fragment.
local function raises(fn, ...)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error")
  err = tostring(err)
  for _, fragment in ipairs({...}) do
    assert(err:find(fragment, 1, true), "error '" .. err .. "' does not mention '" .. fragment .. "'")
  end
end

local nan, inf = 0 / 0, math.huge

mg.random.seed(20260)

describe("unary math", function()
  local xs = {-0.9, -0.3, 0.2, 0.7}
  local x = mg.tensor(xs, {dtype = "float64"})

  local function sinh(v) return (math.exp(v) - math.exp(-v)) / 2 end
  local function cosh(v) return (math.exp(v) + math.exp(-v)) / 2 end

  it("trigonometric and hyperbolic functions", function()
    near(map(xs, math.tan), x:tan())
    near(map(xs, math.asin), mg.arcsin(x))
    near(map(xs, math.acos), x:arccos())
    near(map(xs, math.atan), mg.arctan(x))
    near(map(xs, sinh), x:sinh())
    near(map(xs, cosh), mg.cosh(x))
    near(map(xs, function(v) return math.log(v + math.sqrt(v * v + 1)) end), x:arcsinh())
    near(map(xs, function(v) return 0.5 * math.log((1 + v) / (1 - v)) end), mg.arctanh(x))
    near({0, math.log(2 + math.sqrt(3))}, mg.arccosh(mg.tensor({1., 2.})))
  end)

  it("exponentials, logarithms, cbrt and reciprocal", function()
    local p = mg.tensor({0.5, 1., 8., 1000.}, {dtype = "float64"})
    near({math.sqrt(2) / 2, 2, 256}, mg.exp2(mg.tensor({-0.5, 1., 8.})))
    near({-1, 0, 3, math.log(1000, 2)}, p:log2())
    near({math.log(0.5, 10), 0, math.log(8, 10), 3}, mg.log10(p))
    near({-8, 8, 1000}, mg.reciprocal(mg.tensor({-0.125, 0.125, 0.001}, {dtype = "float64"})))
    near({-2, 0, 0.5, 10}, mg.cbrt(mg.tensor({-8., 0., 0.125, 1000.})))
  end)

  it("expm1 and log1p keep their precision near 0", function()
    local t = mg.tensor({1e-10, -1e-12, 1.}, {dtype = "float64"})
    near({1e-10 + 5e-21, -1e-12, math.exp(1) - 1}, t:expm1(), 1e-12)
    near({1e-10 - 5e-21, -1e-12 - 5e-25, math.log(2)}, mg.log1p(t), 1e-12)
    assert.are_not.equal(0, t:expm1():totable()[1])
  end)

  it("are methods and functions, and take numbers and tables", function()
    near({math.tan(0.5)}, mg.tan({0.5}))
    near(math.atan(2), mg.atan(2))
    near({math.asin(0.5)}, mg.tensor({0.5}):asin())
    assert.are.equal("float32", mg.sinh({1., 2.}).dtype)
  end)

  it("on integers compute in the default float dtype", function()
    local i = mg.tensor({1, 2, 4})
    assert.are.equal("int64", i.dtype)
    for _, name in ipairs({"tan", "arctan", "sinh", "cosh", "arcsinh", "exp2", "expm1", "log2",
                           "log10", "log1p", "cbrt", "reciprocal", "arccosh"}) do
      assert.are.equal("float32", mg[name](i).dtype, name)
    end
    near({0, 1, 2}, i:log2())
    near({1, 0.5, 0.25}, i:reciprocal())
    mg.set_default_dtype("float64")
    local ok, r = pcall(mg.exp2, i)
    mg.set_default_dtype("float32")
    assert(ok, r)
    assert.are.equal("float64", r.dtype)
  end)

  it("keep float32 as float32", function()
    local f = mg.tensor({0.25, 0.5})
    assert.are.equal("float32", f:arcsin().dtype)
    assert.are.equal("float32", f:cbrt().dtype)
  end)

  it("give NaN (not an error) outside their domain, as NumPy", function()
    near({nan, nan}, mg.arcsin(mg.tensor({2., -1.5})))
    near({nan}, mg.arccos({3.}))
    near({nan, 0}, mg.arccosh(mg.tensor({0.5, 1.})))
    near({nan, inf, -inf}, mg.arctanh(mg.tensor({2., 1., -1.})))
    near({nan, -inf}, mg.log2(mg.tensor({-1., 0.})))
    near({nan, -inf}, mg.log10(mg.tensor({-1., 0.})))
    near({nan, -inf}, mg.log1p(mg.tensor({-2., -1.})))
    near({inf, -inf}, mg.reciprocal(mg.tensor({0., -0.})))
    near({inf, -1}, mg.expm1(mg.tensor({1000., -1000.})))
  end)

  it("work on non-contiguous inputs", function()
    local m = mg.tensor({{1., 2., 3.}, {4., 5., 6.}}, {dtype = "float64"})
    near({{0, 2}, {1, math.log(5, 2)}, {math.log(3, 2), math.log(6, 2)}}, m.T:log2())
  end)
end)

describe("floor, ceil and round", function()
  local x = mg.tensor({-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.6, -2.6})

  it("floor and ceil", function()
    near({-3, -2, -1, 0, 1, 2, 2, -3}, x:floor())
    near({-2, -1, -0, 1, 2, 3, 3, -2}, mg.ceil(x))
  end)

  it("round goes half to even, as NumPy", function()
    near({-2, -2, -0, 0, 2, 2, 3, -3}, x:round())
    near({-2, -2, -0, 0, 2, 2, 3, -3}, mg.round(x))
  end)

  it("round with decimals", function()
    local y = mg.tensor({1.234, 2.675, -0.125, 12.5}, {dtype = "float64"})
    -- NumPy's algorithm: 2.675 * 100 is 267.5 in float64, which goes to the even 268
    near({1.23, 2.68, -0.12, 12.5}, y:round(2))
    near({1.2, 2.7, -0.1, 12.5}, mg.round(y, {decimals = 1}))
    near({0, 0, -0, 10}, y:round(-1))
    assert.are.equal("float64", y:round(2).dtype)
    assert.are.equal("float32", mg.tensor({1.25}):round(1).dtype)
    near({1.2}, mg.tensor({1.25}):round(1))
  end)

  it("keep integers as int64 (round with negative decimals rounds to tens)", function()
    local i = mg.tensor({-7, 3, 15, 25})
    for _, name in ipairs({"floor", "ceil", "round"}) do
      local r = mg[name](i)
      assert.are.equal("int64", r.dtype, name)
      assert.are.same({-7, 3, 15, 25}, r:totable())
    end
    assert.are.same({-7, 3, 15, 25}, i:round(2):totable())
    local t = i:round(-1)
    assert.are.equal("int64", t.dtype)
    assert.are.same({-10, 0, 20, 20}, t:totable())
  end)

  it("give constants: they have no gradient", function()
    local v = var({0.3, 1.7})
    for _, name in ipairs({"floor", "ceil", "round"}) do
      local r = v[name](v)
      assert.is_true(r.constant, name)
      assert.is_nil(r.grad_fn, name)
    end
    assert.is_true(v:round(1).constant)
    -- a constant result does not clear the variable's gradient
    local y = (v * 2):sum()
    y:backward()
    local _ = v:floor()
    near({2, 2}, v.grad)
  end)
end)

describe("binary math", function()
  it("arctan2 takes the quadrant from both signs", function()
    local y = mg.tensor({1., 1., -1., -1., 0.}, {dtype = "float64"})
    local x = mg.tensor({1., -1., -1., 1., -1.}, {dtype = "float64"})
    near({math.pi / 4, 3 * math.pi / 4, -3 * math.pi / 4, -math.pi / 4, math.pi}, mg.arctan2(y, x))
    near({math.atan(1, 2), math.atan(-1, 2)}, mg.tensor({1., -1.}):arctan2(2))
    near({math.atan(2, 1), math.atan(2, -1)}, mg.atan2(2, mg.tensor({1., -1.})))
    assert.are.equal("float32", mg.arctan2(mg.tensor({1, 2}), mg.tensor({3, 4})).dtype)
  end)

  it("maximum and minimum, with broadcasting and numbers on either side", function()
    local a = mg.tensor({{1., 5.}, {-3., 2.}})
    local b = mg.tensor({0., 4.})
    near({{1, 5}, {0, 4}}, mg.maximum(a, b))
    near({{0, 4}, {-3, 2}}, a:minimum(b))
    near({{2, 5}, {2, 2}}, a:maximum(2))
    near({{1, 2}, {-3, 2}}, mg.minimum(2, a))
    near({3, 5}, mg.maximum({1, 5}, {3, 2}))
  end)

  it("maximum and minimum propagate NaN, as NumPy", function()
    local a = mg.tensor({nan, 1., nan})
    local b = mg.tensor({1., nan, nan})
    near({nan, nan, nan}, mg.maximum(a, b))
    near({nan, nan, nan}, mg.minimum(a, b))
  end)

  it("maximum and minimum of integers stay int64", function()
    local r = mg.maximum(mg.tensor({1, 7}), 3)
    assert.are.equal("int64", r.dtype)
    assert.are.same({3, 7}, r:totable())
    assert.are.same({1, 3}, mg.tensor({1, 7}):minimum(3):totable())
    assert.are.equal("float32", mg.maximum(mg.tensor({1, 7}), 2.5).dtype)
  end)

  it("logaddexp is exact where exp would overflow or underflow", function()
    local a = mg.tensor({0., 1000., -1000., 1., -inf, inf}, {dtype = "float64"})
    local b = mg.tensor({0., 1000., -1000., 2., -inf, 5.}, {dtype = "float64"})
    near({math.log(2), 1000 + math.log(2), -1000 + math.log(2),
          math.log(math.exp(1) + math.exp(2)), -inf, inf}, mg.logaddexp(a, b))
    near({1000 + math.log(1 + math.exp(-999))}, mg.tensor({1000.}):logaddexp(1), 1e-7)
    assert.are.equal("float32", mg.logaddexp(mg.tensor({1}), 2).dtype)
  end)
end)

describe("clip", function()
  local x = mg.tensor({-2., -0.5, 0.5, 1., 3.})

  it("with both bounds, one bound, or an options table", function()
    near({-1, -0.5, 0.5, 1, 1}, x:clip(-1, 1))
    near({0, 0, 0.5, 1, 3}, mg.clip(x, 0))
    near({0, 0, 0.5, 1, 3}, x:clip(0, nil))
    near({-2, -0.5, 0, 0, 0}, x:clip(nil, 0))
    near({-1, -0.5, 0.5, 1, 1}, x:clip({min = -1, max = 1}))
    near({-2, -0.5, 0.5, 0.75, 0.75}, x:clip({max = 0.75}))
    near({-1, -0.5, 0.5, 1, 1}, x:clamp(-1, 1))
  end)

  it("with tensor bounds that broadcast", function()
    local m = mg.tensor({{1., 5.}, {-3., 2.}})
    near({{1, 3}, {0, 2}}, m:clip(mg.tensor({0., 0.}), mg.tensor({{3.}, {2.}})))
    near({{1, 5}, {-1, 2}}, mg.clip(m, {-1, 1}))
  end)

  it("lo above hi gives hi everywhere (as NumPy)", function()
    near({1, 1, 1, 1, 1}, x:clip(2, 1))
  end)

  it("keeps dtypes: int64 with integer bounds, float with float bounds", function()
    local i = mg.tensor({-5, 0, 5})
    assert.are.equal("int64", i:clip(-2, 2).dtype)
    assert.are.same({-2, 0, 2}, i:clip(-2, 2):totable())
    assert.are.equal("float32", i:clip(-2.5, 2).dtype)
    near({-2.5, 0, 2}, i:clip(-2.5, 2))
    assert.are.equal("float64", var({1.}):clip(0, 0.5).dtype)
  end)

  it("leaves NaN as NaN", function()
    near({nan, 1}, mg.tensor({nan, 3.}):clip(0, 1))
  end)
end)

describe("where", function()
  it("picks from a where the condition holds, from b elsewhere", function()
    local c = mg.tensor({true, false, true})
    near({1, 20, 3}, mg.where(c, mg.tensor({1., 2., 3.}), mg.tensor({10., 20., 30.})))
  end)

  it("broadcasts all three and takes numbers", function()
    local c = mg.tensor({{true}, {false}})
    local r = mg.where(c, mg.tensor({1., 2., 3.}), 0)
    assert.are.same({2, 3}, r.shape)
    near({{1, 2, 3}, {0, 0, 0}}, r)
    local x = mg.tensor({-1., 2., -3.})
    near({0, 2, 0}, mg.where(x:gt(0), x, 0))
    near({-1, 7, -3}, mg.where(x:gt(0), 7, x))
    assert.are.equal("float32", mg.where(x:gt(0), 7, x).dtype)
  end)

  it("reads a non-bool condition as non-zero = true, and accepts tables", function()
    near({5, 0, 5}, mg.where({1, 0, -2}, 5., 0.))
    near({5, 0}, mg.where(mg.tensor({0.5, 0.}), 5., 0.))
  end)

  it("gives the promoted dtype; bool with bool stays bool", function()
    local c = mg.tensor({true, false})
    assert.are.equal("int64", mg.where(c, 1, 0).dtype)
    assert.are.same({1, 0}, mg.where(c, 1, 0):totable())
    assert.are.equal("float64", mg.where(c, mg.tensor({1}), var({2.})).dtype)
    local b = mg.where(c, mg.tensor({false, false}), mg.tensor({true, true}))
    assert.are.equal("bool", b.dtype)
    assert.are.same({false, true}, b:totable())
  end)

  it("works on a non-contiguous condition", function()
    local c = mg.tensor({{true, true}, {false, false}}).T
    near({{1, 0}, {2, 0}}, mg.where(c, mg.tensor({{1., 1.}, {2., 2.}}), 0.))
  end)
end)

describe("comparisons", function()
  local x = mg.tensor({1., 2., 3.})
  local y = mg.tensor({3., 2., 1.})

  it("return bool tensors, as functions and methods", function()
    assert.are.same({false, true, false}, mg.equal(x, y):totable())
    assert.are.same({true, false, true}, mg.not_equal(x, y):totable())
    assert.are.same({true, false, false}, mg.less(x, y):totable())
    assert.are.same({true, true, false}, mg.less_equal(x, y):totable())
    assert.are.same({false, false, true}, mg.greater(x, y):totable())
    assert.are.same({false, true, true}, mg.greater_equal(x, y):totable())
    assert.are.same({false, true, false}, x:eq(y):totable())
    assert.are.same({true, false, true}, x:ne(y):totable())
    assert.are.same({true, false, false}, x:lt(y):totable())
    assert.are.same({true, true, false}, x:le(y):totable())
    assert.are.same({false, false, true}, x:gt(y):totable())
    assert.are.same({false, true, true}, x:ge(y):totable())
    local r = x:lt(y)
    assert.are.equal("bool", r.dtype)
    assert.is_true(r.constant)
  end)

  it("take numbers on either side and broadcast", function()
    assert.are.same({false, false, true}, x:gt(2):totable())
    assert.are.same({true, false, false}, mg.greater(2, x):totable())
    assert.are.same({false, true, false}, mg.equal(2, x):totable())
    assert.are.same({true, true, false}, x:le(2.5):totable())
    local m = mg.tensor({{1}, {2}}):lt(mg.tensor({1, 2, 3}))
    assert.are.same({{false, true, true}, {false, false, true}}, m:totable())
  end)

  it("compare across dtypes (int with float, bool with numbers)", function()
    assert.are.same({false, true}, mg.tensor({1, 2}):gt(1.5):totable())
    assert.are.same({true, false}, mg.tensor({1, 2}):eq(mg.tensor({1., 2.5})):totable())
    assert.are.same({true, false}, mg.tensor({true, false}):eq(1):totable())
    assert.are.same({false, true}, mg.tensor({true, false}):eq(false):totable())
  end)

  it("follow IEEE for NaN (never equal, always not_equal)", function()
    local n = mg.tensor({nan, 1.})
    assert.are.same({false, true}, n:eq(n):totable())
    assert.are.same({true, false}, n:ne(n):totable())
    assert.are.same({false, true}, n:lt(inf):totable())
  end)

  it("of a variable are constant and leave its gradient alone", function()
    local v = var({1., 2.})
    local y2 = (v * v):sum()
    y2:backward()
    local c = v:gt(1)
    assert.is_true(c.constant)
    near({2, 4}, v.grad)
  end)

  it("leave Lua's == as identity", function()
    local a = mg.tensor({1.})
    local b = mg.tensor({1.})
    assert.is_false(a == b)
    assert.is_true(a == a)
  end)
end)

describe("isnan, isinf, isfinite and logical ops", function()
  local x = mg.tensor({nan, inf, -inf, 0., 1.})

  it("classify floats", function()
    assert.are.same({true, false, false, false, false}, mg.isnan(x):totable())
    assert.are.same({false, true, true, false, false}, x:isinf():totable())
    assert.are.same({false, false, false, true, true}, x:isfinite():totable())
    assert.are.equal("bool", mg.isnan(x).dtype)
  end)

  it("integers are finite, never NaN or infinite", function()
    local i = mg.tensor({1, -2})
    assert.are.same({false, false}, mg.isnan(i):totable())
    assert.are.same({false, false}, mg.isinf(i):totable())
    assert.are.same({true, true}, mg.isfinite(i):totable())
  end)

  it("logical ops read any dtype, non-zero = true", function()
    local a = mg.tensor({true, true, false, false})
    local b = mg.tensor({true, false, true, false})
    assert.are.same({true, false, false, false}, mg.logical_and(a, b):totable())
    assert.are.same({true, true, true, false}, a:logical_or(b):totable())
    assert.are.same({false, true, true, false}, mg.logical_xor(a, b):totable())
    assert.are.same({false, false, true, true}, a:logical_not():totable())
    assert.are.same({true, false, true}, mg.logical_not(mg.tensor({0., 2., 0.})):totable())
    assert.are.same({false, true, false}, mg.logical_not(mg.tensor({0., 2., 0.})):logical_not()
      :totable())
    assert.are.same({false, true}, mg.logical_and(mg.tensor({0, 3}), 1.5):totable())
    assert.are.same({true, true}, mg.logical_or(mg.tensor({nan, 0.}), {{1}}):totable()[1])
  end)
end)

describe("any and all", function()
  local m = mg.tensor({{0, 1, 0}, {0, 0, 0}})

  it("over all axes", function()
    assert.is_true(m:any():item())
    assert.is_false(mg.all(m):item())
    assert.are.equal("bool", m:any().dtype)
    assert.are.same({}, m:any().shape)
    assert.is_true(mg.all({{1., 2.}, {-1., 0.5}}):item())
  end)

  it("over one axis, 1-based and negative, and over a table of axes", function()
    assert.are.same({false, true, false}, m:any(1):totable())
    assert.are.same({true, false}, m:any(-1):totable())
    assert.are.same({false, false}, m:all(2):totable())
    assert.are.same({true, false}, mg.tensor({{1, 2}, {0, 3}}):all(2):totable())
    assert.is_true(m:any({1, 2}):item())
    local t = mg.tensor({{{1, 1}, {1, 0}}, {{1, 1}, {1, 1}}})
    assert.are.same({false, true}, t:all({-1, 2}):totable())
  end)

  it("keepdims, positional and in an options table", function()
    local r = m:any(2, true)
    assert.are.same({2, 1}, r.shape)
    assert.are.same({{true}, {false}}, r:totable())
    assert.are.same({1, 3}, m:all({axis = 1, keepdims = true}).shape)
    assert.are.same({1, 1}, m:any({keepdims = true}).shape)
  end)

  it("read floats and bools (NaN counts as true)", function()
    assert.is_true(mg.tensor({0., nan}):any():item())
    assert.is_true(mg.tensor({true, true}):all():item())
    assert.is_false(mg.tensor({true, false}):all():item())
  end)

  it("of an empty tensor: any is false, all is true", function()
    local e = mg.zeros(0, 3)
    assert.is_false(e:any():item())
    assert.is_true(e:all():item())
    assert.are.same({false, false, false}, e:any(1):totable())
  end)

  it("work on non-contiguous inputs", function()
    assert.are.same({true, false}, m.T:any(1):totable())
    assert.are.same({false, true, false}, m.T:any(2):totable())
  end)
end)

describe("gradcheck", function()
  it("trigonometric functions", function()
    check(function(a) return a:tan() end, {uniform({2, 3}, -1.2, 1.2)})
    check(function(a) return mg.arcsin(a) end, {uniform({2, 3}, -0.9, 0.9)})
    check(function(a) return a:arccos() end, {transposed({2, 3}, -0.9, 0.9)})
    check(function(a) return a:arctan() end, {randn({2, 3})})
  end)

  it("hyperbolic functions", function()
    check(function(a) return a:sinh() end, {randn({2, 3})})
    check(function(a) return mg.cosh(a) end, {randn({3})})
    check(function(a) return a:arcsinh() end, {randn({2, 3})})
    check(function(a) return a:arccosh() end, {uniform({2, 3}, 1.2, 3)})
    check(function(a) return a:arctanh() end, {transposed({3, 2}, -0.9, 0.9)})
  end)

  it("exponentials, logarithms, cbrt, reciprocal", function()
    check(function(a) return a:exp2() end, {randn({2, 3})})
    check(function(a) return a:expm1() end, {randn({2, 3})})
    check(function(a) return a:log2() end, {uniform({2, 3}, 0.5, 2)})
    check(function(a) return mg.log10(a) end, {uniform({3}, 0.5, 2)})
    check(function(a) return a:log1p() end, {uniform({2, 3}, -0.5, 2)})
    check(function(a) return a:cbrt() end, {uniform({2, 3}, 0.5, 2)})
    check(function(a) return a:cbrt() end, {var({-1.5, -0.7})})
    check(function(a) return a:reciprocal() end, {uniform({2, 3}, 0.5, 2)})
  end)

  it("arctan2, with broadcasting", function()
    check(function(y, x) return mg.arctan2(y, x) end, {randn({2, 3}), randn({2, 3})})
    check(function(y, x) return mg.arctan2(y, x) end, {randn({2, 1}), transposed({2, 3}, 0.5, 2)})
    check(function(x) return mg.arctan2(1, x) end, {randn({3})})
  end)

  it("maximum and minimum", function()
    local a = var({{0.3, -1.2, 2.0}, {1.1, 0.4, -0.6}})
    local b = var({0.1, 0.5, -0.2})
    check(function(p, q) return mg.maximum(p, q) end, {a, b})
    check(function(p, q) return p:minimum(q) end, {a, b})
    check(function(p) return p:maximum(0) end, {var({-1.5, 0.5, 2.})})
  end)

  it("maximum and minimum split the gradient evenly on ties", function()
    local a, b = var({1., 2., 3.}), var({1., 5., 0.})
    mg.maximum(a, b):backward()
    near({0.5, 0, 1}, a.grad)
    near({0.5, 1, 0}, b.grad)
    local c, d = var({2., 2.}), var({2., 1.})
    mg.minimum(c, d):backward()
    near({0.5, 0}, c.grad)
    near({0.5, 1}, d.grad)
  end)

  it("logaddexp", function()
    check(function(p, q) return mg.logaddexp(p, q) end, {randn({2, 3}), randn({3})})
    check(function(p) return p:logaddexp(1) end, {randn({4})})
    local a, b = var({1000., -1000.}), var({1000., -999.})
    mg.logaddexp(a, b):backward()
    near({0.5, 1 / (1 + math.exp(1))}, a.grad)
    near({0.5, 1 / (1 + math.exp(-1))}, b.grad)
  end)

  it("clip: 1 inside the interval (bounds included), 0 outside", function()
    local x = var({-2., -1., -0.5, 0.5, 1., 3.})
    x:clip(-1, 1):backward()
    near({0, 1, 1, 1, 1, 0}, x.grad)
    x:clip(nil, 0.7):backward()
    near({1, 1, 1, 1, 0, 0}, x.grad)
    x:clip(0):backward()
    near({0, 0, 0, 1, 1, 1}, x.grad)
    check(function(a) return a:clip(-0.5, 0.5) end, {var({{-2.1, -0.3, 0.2}, {0.9, 0.45, -0.7}})})
  end)

  it("clip with tensor bounds sends the gradient to the bound that was taken", function()
    local x = var({-2., 0.2, 3., 0.5})
    local lo = var({-1., -1., -1., -1.})
    local hi = var(1.)
    check(function(a, l, h) return mg.clip(a, l, h) end, {x, lo, hi})
    mg.clip(x, lo, hi):backward()
    near({1, 0, 0, 0}, lo.grad)
    near({1}, hi.grad)
    near({0, 1, 0, 1}, x.grad)
    check(function(a, l) return a:clip(l) end, {transposed({3, 2}, -1, 1), var({0.03, -0.07})})
  end)

  it("where, to a where the condition holds and to b elsewhere", function()
    local c = mg.tensor({{true, false, true}, {false, false, true}})
    check(function(a, b) return mg.where(c, a, b) end, {randn({2, 3}), randn({2, 3})})
    check(function(a, b) return mg.where(c, a, b) end, {randn({3}), randn({2, 1})})
    check(function(a) return mg.where(c, 0, a) end, {transposed({2, 3}, -1, 1)})
    local a, b = var({1., 2.}), var({3., 4.})
    mg.where(mg.tensor({true, false}), a, b):backward()
    near({1, 0}, a.grad)
    near({0, 1}, b.grad)
    assert.are.equal("WhereBackward", mg.where(mg.tensor({true, false}), a, b).grad_fn)
  end)

  it("names the ops in grad_fn", function()
    local v = var({0.5})
    assert.are.equal("TanBackward", v:tan().grad_fn)
    assert.are.equal("Log1pBackward", v:log1p().grad_fn)
    assert.are.equal("MaximumBackward", v:maximum(0).grad_fn)
    assert.are.equal("ClipBackward", v:clip(0, 1).grad_fn)
    assert.are.equal("LogaddexpBackward", v:logaddexp(0).grad_fn)
    assert.are.equal("Arctan2Backward", v:arctan2(1).grad_fn)
  end)

  it("float32 gradients stay float32", function()
    local v = mg.tensor({0.5, 0.25})
    v:arcsin():sum():backward()
    assert.are.equal("float32", v.grad.dtype)
    near({1 / math.sqrt(0.75), 1 / math.sqrt(1 - 0.0625)}, v.grad)
  end)
end)

describe("gradgradcheck", function()
  it("tan, arctan, sinh", function()
    check2(function(a) return a:tan() end, {uniform({2, 3}, -1, 1)})
    check2(function(a) return a:arctan() end, {randn({2, 3})})
    check2(function(a) return a:sinh() end, {transposed({2, 3}, -1, 1)})
  end)

  it("log1p, expm1, reciprocal", function()
    check2(function(a) return a:log1p() end, {uniform({2, 3}, -0.5, 2)})
    check2(function(a) return a:expm1() end, {randn({2, 3})})
    check2(function(a) return a:reciprocal() end, {uniform({2, 3}, 0.5, 2)})
  end)

  it("maximum, logaddexp, arctan2", function()
    local a = var({{0.3, -1.2, 2.0}, {1.1, 0.4, -0.6}})
    local b = var({0.1, 0.5, -0.2})
    check2(function(p, q) return mg.maximum(p, q) * p end, {a, b})
    check2(function(p, q) return mg.logaddexp(p, q) end, {randn({2, 3}), randn({3})})
    check2(function(y, x) return mg.arctan2(y, x) end, {randn({2, 3}), uniform({3}, 0.5, 2)})
  end)

  it("clip", function()
    local x = var({{-2.1, -0.3, 0.2}, {0.9, 0.45, -0.7}})
    check2(function(a) return a:clip(-0.5, 0.5) * a end, {x})
    check2(function(a, h) return mg.clip(a * a, nil, h) end, {x, var({0.3, 0.5, 1.5})})
  end)
end)

describe("errors", function()
  it("shapes that do not broadcast name both shapes", function()
    raises(function() return mg.maximum(mg.ones(2, 3), mg.ones(4)) end, "maximum", "{2, 3}", "{4}")
    raises(function() return mg.ones(3):lt(mg.ones(2)) end, "less", "{3}", "{2}")
    raises(function() return mg.arctan2(mg.ones(3), mg.ones(2)) end, "arctan2")
    raises(function() return mg.logical_and(mg.ones(3), mg.ones(2)) end, "logical_and")
  end)

  it("where names all three shapes", function()
    raises(function() return mg.where(mg.ones(2):gt(0), mg.ones(3), 0) end,
      "where", "{2}", "{3}", "broadcast")
    raises(function() return mg.where(mg.ones(2, 1):gt(0), mg.ones(3), mg.ones(4)) end,
      "where", "{2, 1}", "{3}", "{4}")
  end)

  it("clip needs a bound, and its bounds must broadcast", function()
    raises(function() return mg.ones(3):clip() end, "clip", "at least one")
    raises(function() return mg.ones(3):clip(nil, nil) end, "clip", "at least one")
    raises(function() return mg.ones(3):clip({}) end, "clip", "at least one")
    raises(function() return mg.ones(3):clip(mg.zeros(2)) end, "clip", "{3}", "{2}")
    raises(function() return mg.ones(3):clip("a") end, "clip", "string")
  end)

  it("round needs integer decimals in range", function()
    raises(function() return mg.ones(3):round(1.5) end, "round", "decimals", "integer")
    raises(function() return mg.ones(3):round("x") end, "round", "decimals")
    raises(function() return mg.ones(3):round(400) end, "round", "decimals", "308")
    raises(function() return mg.ones(3):round(math.mininteger) end, "round", "decimals")
  end)

  it("any/all reject bad axes", function()
    raises(function() return mg.ones(2, 3):any(3) end, "any", "axis 3", "2 axes")
    raises(function() return mg.ones(2, 3):all(-3) end, "all", "axis")
    raises(function() return mg.ones(2, 3):any({1, 1}) end, "any", "repeated")
    raises(function() return mg.ones(2, 3):all("x") end, "all", "axis")
  end)

  it("non-tensor arguments name the function", function()
    raises(function() return mg.tan("x") end, "tan", "string")
    raises(function() return mg.maximum(mg.ones(2), "x") end, "maximum", "string")
    raises(function() return mg.equal(nil, mg.ones(2)) end, "equal", "nil")
    raises(function() return mg.where(mg.ones(2), "a", 1) end, "where", "string")
    raises(function() return mg.isnan() end, "isnan")
  end)
end)
