-- creation_spec.lua — making tensors and reading them back: mg.tensor (dtype
-- inference, options), zeros/ones/full/empty and *_like, arange, linspace,
-- logspace, eye/identity, mg.random, the properties (shape, ndim, size, dtype,
-- constant), #x, totable, item, conversions, clone, contiguous, tostring and
-- set_default_dtype.
local mg = require("moongrad")

local function close_list(expected, actual, tol)
  tol = tol or 1e-6
  assert.are.equal(#expected, #actual)
  for i = 1, #expected do
    if math.abs(expected[i] - actual[i]) > tol then
      error(string.format("element %d: expected %s, got %s", i, expected[i], actual[i]), 2)
    end
  end
end

describe("mg.tensor", function()
  it("makes a 0-d tensor from a number", function()
    local x = mg.tensor(2.5)
    assert.are.same({}, x.shape)
    assert.are.equal(0, x.ndim)
    assert.are.equal(1, x.size)
    assert.are.equal(2.5, x:item())
  end)

  it("infers int64 for Lua integers, and makes them constants", function()
    local x = mg.tensor({1, 2, 3})
    assert.are.equal("int64", x.dtype)
    assert.is_true(x.constant)
    assert.is_false(x.requires_grad)
    assert.are.equal("int64", mg.tensor(3).dtype)
  end)

  it("infers float32 variables as soon as one element is a float", function()
    local x = mg.tensor({1, 2.5})
    assert.are.equal("float32", x.dtype)
    assert.is_false(x.constant)
    assert.is_true(x.requires_grad)
    assert.are.same({1, 2.5}, x:totable())
    assert.are.equal("float32", mg.tensor(2.0).dtype)
  end)

  it("infers bool for booleans", function()
    local x = mg.tensor({true, false})
    assert.are.equal("bool", x.dtype)
    assert.is_true(x.constant)
    assert.are.same({true, false}, x:totable())
  end)

  it("reads nested tables row-major", function()
    local x = mg.tensor({{1., 2., 3.}, {4., 5., 6.}})
    assert.are.same({2, 3}, x.shape)
    assert.are.equal(2, x.ndim)
    assert.are.equal(6, x.size)
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, x:totable())
    local y = mg.tensor({{{1}, {2}}, {{3}, {4}}})
    assert.are.same({2, 2, 1}, y.shape)
  end)

  it("takes a dtype option", function()
    local x = mg.tensor({1, 2}, {dtype = "float64"})
    assert.are.equal("float64", x.dtype)
    assert.is_true(x.requires_grad)
    assert.are.equal("int64", mg.tensor({1.0, 2.0}, {dtype = "int64"}).dtype)
    assert.are.equal("float32", mg.tensor({1, 2}, {dtype = "float32"}).dtype)
    assert.are.equal("float64", mg.tensor({1.5}, "float64").dtype)
  end)

  it("takes constant and requires_grad options", function()
    assert.is_true(mg.tensor({1., 2.}, {constant = true}).constant)
    assert.is_true(mg.tensor({1., 2.}, {requires_grad = false}).constant)
    assert.is_true(mg.tensor({1., 2.}, {requires_grad = true}).requires_grad)
    assert.is_false(mg.tensor({1., 2.}, {constant = false}).constant)
  end)

  it("copies another tensor", function()
    local x = mg.tensor({1., 2., 3.})
    local y = mg.tensor(x)
    assert.are.same(x:totable(), y:totable())
    y[1] = 10
    assert.are.equal(1, x[1]:item())
    assert.are.equal("float64", mg.tensor(x, {dtype = "float64"}).dtype)
  end)

  it("tells tensors from other values", function()
    assert.is_true(mg.is_tensor(mg.tensor(1)))
    assert.is_false(mg.is_tensor(1))
    assert.is_false(mg.is_tensor({1}))
  end)
end)

describe("filled tensors", function()
  it("zeros, ones, empty take a shape table or varargs", function()
    local z = mg.zeros(2, 3)
    assert.are.same({2, 3}, z.shape)
    assert.are.equal("float32", z.dtype)
    assert.are.same({{0, 0, 0}, {0, 0, 0}}, z:totable())
    assert.are.same({{1, 1}, {1, 1}}, mg.ones({2, 2}):totable())
    assert.are.same({4}, mg.empty(4).shape)
    assert.are.same({2, 1, 3}, mg.empty({2, 1, 3}).shape)
    assert.are.same({}, mg.zeros({}).shape)
  end)

  it("take a dtype and are variables unless constant", function()
    assert.are.equal("int64", mg.zeros(2, {dtype = "int64"}).dtype)
    assert.are.equal("float64", mg.ones(2, "float64").dtype)
    assert.is_false(mg.zeros(2).constant)
    assert.is_true(mg.zeros(2, {constant = true}).constant)
  end)

  it("full fills with a value, int64 for an integer value", function()
    local f = mg.full({2, 2}, 7)
    assert.are.equal("int64", f.dtype)
    assert.are.same({{7, 7}, {7, 7}}, f:totable())
    local g = mg.full({3}, 2.5)
    assert.are.equal("float32", g.dtype)
    assert.are.same({2.5, 2.5, 2.5}, g:totable())
    assert.are.equal("float64", mg.full({1}, 1, {dtype = "float64"}).dtype)
  end)

  it("*_like copy shape and dtype", function()
    local x = mg.tensor({{1, 2, 3}, {4, 5, 6}})
    local z = mg.zeros_like(x)
    assert.are.same({2, 3}, z.shape)
    assert.are.equal("int64", z.dtype)
    assert.are.same({{0, 0, 0}, {0, 0, 0}}, z:totable())
    local o = mg.ones_like(mg.tensor({1., 2.}))
    assert.are.equal("float32", o.dtype)
    assert.are.same({1, 1}, o:totable())
    assert.are.same({3, 3}, mg.full_like(mg.tensor({1., 2.}), 3):totable())
    assert.are.same({2, 3}, mg.empty_like(x).shape)
    assert.are.equal("float64", mg.zeros_like(x, {dtype = "float64"}).dtype)
  end)
end)

describe("ranges", function()
  it("arange(9.0) gives floats 0..8", function()
    local x = mg.arange(9.0)
    assert.are.equal("float32", x.dtype)
    assert.are.same({0, 1, 2, 3, 4, 5, 6, 7, 8}, x:totable())
  end)

  it("arange with integers gives int64, stop excluded", function()
    local x = mg.arange(1, 10, 2)
    assert.are.equal("int64", x.dtype)
    assert.are.same({1, 3, 5, 7, 9}, x:totable())
    assert.are.same({0, 1, 2, 3, 4}, mg.arange(5):totable())
    assert.are.same({5, 3, 1}, mg.arange(5, 0, -2):totable())
    assert.are.same({}, mg.arange(3, 3):totable())
  end)

  it("arange with a float step", function()
    close_list({0, 0.25, 0.5, 0.75}, mg.arange(0, 1, 0.25):totable())
  end)

  it("linspace includes both ends", function()
    local x = mg.linspace(0, 1, 5)
    assert.are.equal("float32", x.dtype)
    close_list({0, 0.25, 0.5, 0.75, 1}, x:totable())
    assert.are.equal(50, mg.linspace(-5, 5).size)
    assert.are.equal(5, mg.linspace(-5, 5, 20):totable()[20])
  end)

  it("logspace gives powers of 10 (or of base)", function()
    close_list({1, 10, 100}, mg.logspace(0, 2, 3):totable(), 1e-4)
    close_list({1, 2, 4, 8}, mg.logspace(0, 3, 4, {base = 2}):totable())
  end)

  it("eye and identity", function()
    assert.are.same({{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, mg.eye(3):totable())
    assert.are.same({{1, 0, 0}, {0, 1, 0}}, mg.eye(2, 3):totable())
    assert.are.same({{1, 0}, {0, 1}}, mg.identity(2):totable())
    assert.are.equal("float32", mg.eye(2).dtype)
  end)
end)

describe("mg.random", function()
  it("the same seed gives the same values", function()
    mg.random.seed(42)
    local a = mg.random.rand(5):totable()
    local b = mg.random.randn(2, 3):totable()
    local c = mg.random.randint(0, 100, {4}):totable()
    mg.random.seed(42)
    assert.are.same(a, mg.random.rand(5):totable())
    assert.are.same(b, mg.random.randn(2, 3):totable())
    assert.are.same(c, mg.random.randint(0, 100, {4}):totable())
    mg.random.seed(43)
    assert.are_not.same(a, mg.random.rand(5):totable())
  end)

  it("rand is uniform in [0, 1)", function()
    mg.random.seed(1)
    local x = mg.random.rand({1000})
    assert.are.equal("float32", x.dtype)
    assert.is_false(x.constant)
    local sum = 0
    for _, v in ipairs(x:totable()) do
      assert.is_true(v >= 0 and v < 1)
      sum = sum + v
    end
    assert.is_true(math.abs(sum / 1000 - 0.5) < 0.05)
  end)

  it("randn has mean 0 and standard deviation 1", function()
    mg.random.seed(2)
    local v = mg.random.randn({4000}, {dtype = "float64"}):totable()
    local s, s2 = 0, 0
    for _, e in ipairs(v) do s, s2 = s + e, s2 + e * e end
    local mean = s / #v
    assert.is_true(math.abs(mean) < 0.1)
    assert.is_true(math.abs(math.sqrt(s2 / #v - mean * mean) - 1) < 0.1)
  end)

  it("randint gives int64 in [lo, hi)", function()
    mg.random.seed(3)
    local x = mg.random.randint(-2, 3, {500})
    assert.are.equal("int64", x.dtype)
    local seen = {}
    for _, v in ipairs(x:totable()) do
      assert.are.equal("integer", math.type(v))
      assert.is_true(v >= -2 and v < 3)
      seen[v] = true
    end
    for v = -2, 2 do assert.is_true(seen[v]) end
    assert.are.same({2, 3}, mg.random.randint(0, 10, 2, 3).shape)
  end)
end)

describe("properties and conversions", function()
  local x
  before_each(function() x = mg.tensor({{1., 2., 3.}, {4., 5., 6.}}) end)

  it("shape, ndim, size, dtype, #x", function()
    assert.are.same({2, 3}, x.shape)
    assert.are.equal(2, x.ndim)
    assert.are.equal(6, x.size)
    assert.are.equal("float32", x.dtype)
    assert.are.equal(2, #x)
    assert.are.equal(3, #x[1])
  end)

  it("the shape table is a copy", function()
    local s = x.shape
    s[1] = 99
    assert.are.same({2, 3}, x.shape)
  end)

  it("totable and item", function()
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, x:totable())
    assert.are.equal(6, x[{2, 3}]:item())
    assert.are.equal(3.5, mg.tensor({3.5}):item())
    local i = mg.tensor(3):item()
    assert.are.equal(3, i)
    assert.are.equal("integer", math.type(i))
    assert.are.equal("float", math.type(mg.tensor(3.0):item()))
    assert.are.equal(true, mg.tensor(true):item())
    assert.are.equal(7, mg.tensor(7):totable())
  end)

  it("float, double, long, astype", function()
    assert.are.equal("float32", mg.tensor({1, 2}):float().dtype)
    assert.are.equal("float64", x:double().dtype)
    local l = mg.tensor({1.7, -1.7, 2.0}):long()
    assert.are.equal("int64", l.dtype)
    assert.are.same({1, -1, 2}, l:totable())
    assert.are.equal("bool", x:astype("bool").dtype)
    assert.are.same({true, false}, mg.tensor({2.0, 0.0}):astype("bool"):totable())
    assert.are.equal("float64", x:astype("float64").dtype)
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, x:astype("float64"):totable())
  end)

  it("clone copies the memory", function()
    local c = x:clone()
    assert.are.same(x:totable(), c:totable())
    c[{1, 1}] = 100
    assert.are.equal(1, x[{1, 1}]:item())
    x[{2, 2}] = -1
    assert.are.equal(5, c[{2, 2}]:item())
  end)

  it("contiguous copies a transposed view, and returns contiguous tensors as they are", function()
    local t = x.T
    local c = t:contiguous()
    assert.are.same({{1, 4}, {2, 5}, {3, 6}}, c:totable())
    c[{1, 1}] = 100
    assert.are.equal(1, x[{1, 1}]:item())
    local k = mg.tensor({1., 2.}, {constant = true})
    local same = k:contiguous()
    same[1] = 9
    assert.are.equal(9, k[1]:item())
  end)
end)

describe("tostring", function()
  it("prints 1-d floats like NumPy", function()
    assert.are.equal("Tensor([1., 2.])", tostring(mg.tensor({1., 2.})))
    assert.are.equal("Tensor([0.50, 0.25])", tostring(mg.tensor({0.5, 0.25})))
    assert.are.equal("Tensor([4.0000, 5.3333])", tostring(mg.tensor({4, 16 / 3}, {dtype = "float64"})
      :float()))
  end)

  it("prints 0-d tensors as a value", function()
    assert.are.equal("Tensor(3.)", tostring(mg.tensor(3.0)))
    assert.are.equal("Tensor(1.6)", tostring(mg.tensor(1.6)))
    assert.are.equal("Tensor(3)", tostring(mg.tensor(3)))
  end)

  it("adds constant=true for float constants", function()
    assert.are.equal("Tensor([1., 2.], constant=true)",
      tostring(mg.tensor({1., 2.}, {constant = true})))
    assert.are.equal("Tensor([1, 2])", tostring(mg.tensor({1, 2})))
  end)

  it("adds the dtype where it is not the default", function()
    assert.are.equal("Tensor([1., 2.], dtype=float64)", tostring(mg.tensor({1, 2}, {dtype = "float64"})))
    assert.are.equal("Tensor([ True, False])", tostring(mg.tensor({true, false})))
  end)

  it("lays out 2-d tensors on lines, indented under the first row", function()
    assert.are.equal("Tensor([[1., 2.],\n        [3., 4.]])", tostring(mg.tensor({{1., 2.}, {3., 4.}})))
    assert.are.equal("Tensor([[1, 2],\n        [3, 4]])", tostring(mg.tensor({{1, 2}, {3, 4}})))
  end)

  it("separates 3-d blocks by a blank line", function()
    assert.are.equal("Tensor([[[1, 2]],\n\n        [[3, 4]]])",
      tostring(mg.tensor({{{1, 2}}, {{3, 4}}})))
  end)

  it("prints large and special values", function()
    assert.are.equal("Tensor([1.0000e+10, 1.0000e+00])", tostring(mg.tensor({1e10, 1})))
    assert.are.equal("Tensor([ inf, -inf,  nan])", tostring(mg.tensor({mg.inf, -mg.inf, mg.nan})))
  end)
end)

describe("set_default_dtype", function()
  after_each(function() mg.set_default_dtype("float32") end)

  it("changes the dtype of new float tensors", function()
    mg.set_default_dtype("float64")
    assert.are.equal("float64", mg.get_default_dtype())
    assert.are.equal("float64", mg.tensor({1.5}).dtype)
    assert.are.equal("float64", mg.zeros(2).dtype)
    assert.are.equal("float64", mg.arange(3.0).dtype)
    assert.are.equal("float64", (mg.tensor({1, 2}) / 2).dtype)
    assert.are.equal("int64", mg.tensor({1, 2}).dtype)
    assert.are.equal("Tensor([1.5])", tostring(mg.tensor({1.5})))
    mg.set_default_dtype("float32")
    assert.are.equal("float32", mg.tensor({1.5}).dtype)
  end)

  it("accepts only float dtypes", function()
    local ok, err = pcall(mg.set_default_dtype, "int64")
    assert.is_false(ok)
    assert.is_truthy(err:find("set_default_dtype", 1, true))
  end)
end)
