-- ops_spec.lua — the values of element-wise arithmetic (numbers on either
-- side, broadcasting, dtype promotion, floor division and mod signs), math
-- functions, sum/mean with axes, reshape, transpose/permute, matmul and
-- indexing (views, slices, writes); then a float64 gradcheck of every
-- differentiable op (broadcast and non-contiguous inputs included) and
-- second-order checks of the element-wise family, sum/mean and matmul.
local mg = require("moongrad")
local gc = require("gradcheck")
local H = require("helpers")
local near, randn, var = H.near, H.randn, H.f64
local transposed, check, check2 = H.transposed, H.check, H.check2

local function positive(shape) -- in [0.5, 1.5)
  return (mg.random.rand(shape, {dtype = "float64", constant = true}) + 0.5):requires_grad_(true)
end

describe("element-wise arithmetic", function()
  local x = mg.tensor({1., 2., 4.})
  local y = mg.tensor({2., 4., 8.})

  it("between tensors", function()
    near({3, 6, 12}, x + y)
    near({-1, -2, -4}, x - y)
    near({2, 8, 32}, x * y)
    near({0.5, 0.5, 0.5}, x / y)
    near({1, 16, 65536}, x ^ y)
    near({0, 0, 0}, x // y)
    near({1, 2, 4}, x % y)
    near({-1, -2, -4}, -x)
  end)

  it("with a number on either side", function()
    near({3, 4, 6}, x + 2)
    near({3, 4, 6}, 2 + x)
    near({-1, 0, 2}, x - 2)
    near({1, 0, -2}, 2 - x)
    near({2, 4, 8}, x * 2)
    near({2, 4, 8}, 2 * x)
    near({0.5, 1, 2}, x / 2)
    near({2, 1, 0.5}, 2 / x)
    near({1, 4, 16}, x ^ 2)
    near({2, 4, 16}, 2 ^ x)
    near({0, 1, 2}, x // 2)
    near({5, 2, 1}, 5 // x)
    near({1, 2, 1}, x % 3)
    near({0, 1, 1}, 5 % x)
  end)

  it("the function and method forms agree with the operators", function()
    near((x + y):totable(), mg.add(x, y))
    near((x - y):totable(), x:sub(y))
    near((x * y):totable(), mg.multiply(x, y))
    near((x / y):totable(), x:divide(y))
    near((x ^ 2):totable(), mg.power(x, 2))
    near((-x):totable(), mg.negative(x))
    near(x:totable(), mg.positive(x))
    near((x % 3):totable(), mg.mod(x, 3))
    near((x // 3):totable(), mg.floor_divide(x, 3))
  end)

  it("broadcasts {3,1} with {1,4}", function()
    local r = mg.tensor({{1}, {2}, {3}}) + mg.tensor({{10, 20, 30, 40}})
    assert.are.same({3, 4}, r.shape)
    assert.are.same({{11, 21, 31, 41}, {12, 22, 32, 42}, {13, 23, 33, 43}}, r:totable())
  end)

  it("broadcasts {2,3} with {3} and with a 0-d tensor", function()
    local r = mg.tensor({{1, 2, 3}, {4, 5, 6}}) + mg.tensor({10, 20, 30})
    assert.are.same({{11, 22, 33}, {14, 25, 36}}, r:totable())
    local s = mg.tensor({{1., 2.}, {3., 4.}}) * mg.tensor(10.)
    assert.are.same({{10, 20}, {30, 40}}, s:totable())
  end)

  it("broadcasts leading axes", function()
    local r = mg.ones(2, 1, 3) + mg.ones(4, 1)
    assert.are.same({2, 4, 3}, r.shape)
  end)
end)

describe("dtype promotion", function()
  it("int with float gives float", function()
    assert.are.equal("float32", (mg.tensor({1, 2}) + mg.tensor({0.5, 1.5})).dtype)
    assert.are.equal("float32", (mg.tensor({1, 2}) + 1.5).dtype)
    near({2.5, 3.5}, mg.tensor({1, 2}) + 1.5)
    assert.are.equal("float64", (mg.tensor({1, 2}) * mg.tensor({1, 2}, {dtype = "float64"})).dtype)
  end)

  it("int with int stays int64 (and constant)", function()
    local r = mg.tensor({1, 2}) * 3
    assert.are.equal("int64", r.dtype)
    assert.are.same({3, 6}, r:totable())
    assert.is_true(r.constant)
    assert.are.equal("int64", (mg.tensor({2, 3}) ^ 2).dtype)
    assert.are.same({4, 9}, (mg.tensor({2, 3}) ^ 2):totable())
  end)

  it("int / int is a float division", function()
    local r = mg.tensor({7, -7}) / mg.tensor({2, 2})
    assert.are.equal("float32", r.dtype)
    assert.are.same({3.5, -3.5}, r:totable())
  end)

  it("int // int stays int64", function()
    local r = mg.tensor({7, -7}) // 2
    assert.are.equal("int64", r.dtype)
    assert.are.same({3, -4}, r:totable())
  end)

  it("float32 with float64 gives float64; a Lua number keeps the tensor's float dtype", function()
    assert.are.equal("float64", (mg.tensor({1.}) + mg.tensor({1.}, {dtype = "float64"})).dtype)
    assert.are.equal("float32", (mg.tensor({1.}) + 2.5).dtype)
    assert.are.equal("float64", (mg.tensor({1.}, {dtype = "float64"}) * 2).dtype)
  end)

  it("bool counts as an integer", function()
    local r = mg.tensor({true, false}) + mg.tensor({true, true})
    assert.are.equal("int64", r.dtype)
    assert.are.same({2, 1}, r:totable())
  end)

  it("floor division and mod take the sign of the divisor, as Lua does", function()
    local a = {7, -7, 7, -7, 0, 6}
    local b = {2, 2, -2, -2, 3, -3}
    local fd, md = {}, {}
    for i = 1, #a do fd[i], md[i] = a[i] // b[i], a[i] % b[i] end
    assert.are.same(fd, (mg.tensor(a) // mg.tensor(b)):totable())
    assert.are.same(md, (mg.tensor(a) % mg.tensor(b)):totable())
    local af, bf = {7.5, -7.5, 7.5, -7.5}, {2., 2., -2., -2.}
    local ffd, fmd = {}, {}
    for i = 1, #af do ffd[i], fmd[i] = af[i] // bf[i], af[i] % bf[i] end
    assert.are.same(ffd, (mg.tensor(af) // mg.tensor(bf)):totable())
    assert.are.same(fmd, (mg.tensor(af) % mg.tensor(bf)):totable())
  end)

  it("floor division has no gradient: its result is a constant", function()
    assert.is_true((mg.tensor({7.5}) // 2).constant)
    assert.is_false((mg.tensor({7.5}) % 2).constant)
  end)
end)

describe("math functions", function()
  it("give NumPy's values", function()
    local v = {0.5, 1.0, 2.0}
    local function map(f) local r = {} for i, e in ipairs(v) do r[i] = f(e) end return r end
    local x = mg.tensor(v, {dtype = "float64"})
    near(map(math.exp), mg.exp(x), 1e-12)
    near(map(math.log), x:log(), 1e-12)
    near(map(math.sqrt), mg.sqrt(x), 1e-12)
    near(map(math.sin), x:sin(), 1e-12)
    near(map(math.cos), mg.cos(x), 1e-12)
    near(map(function(e) return (math.exp(2 * e) - 1) / (math.exp(2 * e) + 1) end), x:tanh(), 1e-12)
    near({1.5, 0, 2}, mg.abs(mg.tensor({-1.5, 0., 2.})))
    near({2.25, 0, 4}, mg.tensor({-1.5, 0., 2.}):square())
    near({-1, 0, 1}, mg.sign(mg.tensor({-1.5, 0., 2.})))
  end)

  it("on integers: exp/log/sqrt give floats; abs/square stay int64", function()
    assert.are.equal("float32", mg.exp(mg.tensor({0, 1})).dtype)
    near({1, 2, 3}, mg.sqrt(mg.tensor({1, 4, 9})))
    local a = mg.abs(mg.tensor({-3, 2}))
    assert.are.equal("int64", a.dtype)
    assert.are.same({3, 2}, a:totable())
    assert.are.same({9, 4}, mg.square(mg.tensor({-3, 2})):totable())
  end)

  it("accept numbers and tables", function()
    near({1}, mg.exp(0))
    near({1, 2}, mg.sqrt({1., 4.}))
  end)
end)

describe("sum and mean", function()
  local x = mg.arange(24):reshape(2, 3, 4)

  it("over all axes", function()
    assert.are.equal(276, x:sum():item())
    assert.are.same({}, x:sum().shape)
    assert.are.equal(11.5, x:mean():item())
    assert.are.equal("int64", x:sum().dtype)
    assert.are.equal("float32", x:mean().dtype)
  end)

  it("over one axis, 1-based and negative", function()
    assert.are.same({{12, 14, 16, 18}, {20, 22, 24, 26}, {28, 30, 32, 34}}, x:sum(1):totable())
    assert.are.same({{6, 22, 38}, {54, 70, 86}}, x:sum(-1):totable())
    assert.are.same(x:sum(3):totable(), x:sum(-1):totable())
    assert.are.same({{4, 5, 6, 7}, {16, 17, 18, 19}}, x:mean(2):totable())
  end)

  it("over a table of axes", function()
    assert.are.same({60, 92, 124}, x:sum({1, 3}):totable())
    assert.are.same({60, 66, 72, 78}, mg.sum(x, {axis = {1, 2}}):totable())
    near({7.5, 11.5, 15.5}, x:mean({1, 3}))
  end)

  it("keeps reduced axes with keepdims", function()
    assert.are.same({2, 1, 4}, x:sum(2, true).shape)
    assert.are.same({2, 1, 4}, x:sum({axis = 2, keepdims = true}).shape)
    assert.are.same({1, 1, 1}, x:mean({keepdims = true}).shape)
    assert.are.same({2, 3, 1}, mg.mean(x, {axis = -1, keepdims = true}).shape)
    assert.are.same({{{6}, {22}, {38}}, {{54}, {70}, {86}}}, x:sum(-1, true):totable())
  end)

  it("of floats", function()
    near({2.5, 6.5}, mg.tensor({{1., 2., 3., 4.}, {5., 6., 7., 8.}}):mean(2))
    near({6, 8, 10, 12}, mg.tensor({{1., 2., 3., 4.}, {5., 6., 7., 8.}}):sum(1))
  end)
end)

describe("shape ops", function()
  it("reshape, with one -1", function()
    local x = mg.arange(12)
    assert.are.same({3, 4}, x:reshape(3, 4).shape)
    assert.are.same({2, 6}, x:reshape({2, -1}).shape)
    assert.are.same({2, 2, 3}, x:reshape(-1, 2, 3).shape)
    assert.are.same({{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}}, x:reshape(3, 4):totable())
    assert.are.same({12}, x:reshape(3, 4):reshape(-1).shape)
    assert.are.same({}, mg.tensor({5}):reshape({}).shape)
    assert.are.same({2, 3}, mg.reshape(mg.arange(6), {2, 3}).shape)
    assert.are.same({6, 2}, x:view(6, 2).shape)
  end)

  it("reshape of a transposed view copies in logical order", function()
    local t = mg.arange(6):reshape(2, 3).T
    assert.are.same({0, 3, 1, 4, 2, 5}, t:reshape(-1):totable())
  end)

  it("reshape of a contiguous tensor is a view", function()
    local x = mg.arange(6):reshape(2, 3)
    local r = x:reshape(-1)
    x[{1, 2}] = 100
    assert.are.equal(100, r[2]:item())
  end)

  it("transpose, T and permute", function()
    local m = mg.arange(6):reshape(2, 3)
    assert.are.same({{0, 3}, {1, 4}, {2, 5}}, m.T:totable())
    assert.are.same({{0, 3}, {1, 4}, {2, 5}}, m:transpose():totable())
    assert.are.same({{0, 3}, {1, 4}, {2, 5}}, mg.transpose(m):totable())
    local x = mg.arange(24):reshape(2, 3, 4)
    assert.are.same({4, 3, 2}, x.T.shape)
    assert.are.same({4, 2, 3}, x:permute(3, 1, 2).shape)
    assert.are.same({4, 2, 3}, x:permute({3, 1, 2}).shape)
    assert.are.same({4, 3, 2}, x:permute(-1, -2, -3).shape)
    assert.are.equal(x[{2, 3, 4}]:item(), x:permute(3, 1, 2)[{4, 2, 3}]:item())
    assert.are.equal(x[{1, 2, 3}]:item(), x.T[{3, 2, 1}]:item())
  end)

  it("transpose with two axes swaps them (a 2-d tensor takes them as a permutation)", function()
    local x = mg.arange(24):reshape(2, 3, 4)
    assert.are.same({4, 3, 2}, x:transpose(1, 3).shape)
    assert.are.same({2, 4, 3}, x:swapaxes(2, 3).shape)
    local m = mg.arange(6):reshape(2, 3)
    assert.are.same({3, 2}, m:transpose(2, 1).shape)
    assert.are.same({3, 2}, m:transpose(1, 2).shape) -- two axes swap, as Torch7
    assert.are.same({2, 3}, m:transpose({1, 2}).shape) -- a table is a permutation
  end)

  it("transposed views share memory", function()
    local m = mg.arange(6):reshape(2, 3)
    local t = m.T
    m[{1, 3}] = 50
    assert.are.equal(50, t[{3, 1}]:item())
  end)

  it("broadcast_to / expand", function()
    local b = mg.tensor({1, 2, 3}):broadcast_to(2, 3)
    assert.are.same({{1, 2, 3}, {1, 2, 3}}, b:totable())
    assert.are.same({4, 3, 1}, mg.tensor({{1}, {2}, {3}}):expand({4, 3, 1}).shape)
  end)
end)

describe("matmul", function()
  local v = mg.tensor({1., 2., 3.})
  local m = mg.arange(6.0):reshape(2, 3)   -- {{0,1,2},{3,4,5}}

  it("1-d . 1-d is a 0-d dot product", function()
    local r = mg.matmul(v, v)
    assert.are.equal(0, r.ndim)
    assert.are.equal(14, r:item())
  end)

  it("2-d . 1-d and 1-d . 2-d drop the added axis", function()
    local r = mg.matmul(m, v)
    assert.are.same({2}, r.shape)
    near({8, 26}, r)
    local l = mg.matmul(mg.tensor({1., 2.}), m)
    assert.are.same({3}, l.shape)
    near({6, 9, 12}, l)
  end)

  it("2-d . 2-d, also as a method and with a transposed operand", function()
    near({{5, 14}, {14, 50}}, m:matmul(m.T))
    near({{9, 12, 15}, {12, 17, 22}, {15, 22, 29}}, mg.matmul(m.T, m))
    assert.are.same({{1, 2}, {3, 4}}, mg.matmul(mg.tensor({{1, 2}, {3, 4}}), mg.eye(2, {dtype = "int64"})):totable())
  end)

  it("integers stay int64", function()
    local r = mg.matmul(mg.tensor({{1, 2}, {3, 4}}), mg.tensor({{5, 6}, {7, 8}}))
    assert.are.equal("int64", r.dtype)
    assert.are.same({{19, 22}, {43, 50}}, r:totable())
  end)

  it("batched {2,3,4} . {4,5}", function()
    local a = mg.arange(24.0):reshape(2, 3, 4)
    local b = mg.ones(4, 5)
    local r = mg.matmul(a, b)
    assert.are.same({2, 3, 5}, r.shape)
    near({{6, 6, 6, 6, 6}, {22, 22, 22, 22, 22}, {38, 38, 38, 38, 38}}, r[1])
    near({86, 86, 86, 86, 86}, r[{2, 3}])
  end)

  it("broadcast batch {2,1,3,4} . {5,4,2}", function()
    local a = mg.arange(24.0):reshape(2, 1, 3, 4)
    local b = mg.arange(40.0):reshape(5, 4, 2)
    local r = mg.matmul(a, b)
    assert.are.same({2, 5, 3, 2}, r.shape)
    for i = 1, 2 do
      for j = 1, 5 do
        near(mg.matmul(a[{i, 1}], b[j]):totable(), r[{i, j}])
      end
    end
    near({{28, 34}, {76, 98}, {124, 162}}, r[{1, 1}])
  end)
end)

describe("indexing", function()
  local x
  before_each(function() x = mg.arange(12):reshape(3, 4) end)

  it("x[i] takes a row; negative counts from the end", function()
    assert.are.same({0, 1, 2, 3}, x[1]:totable())
    assert.are.same({8, 9, 10, 11}, x[-1]:totable())
    assert.are.equal(0, mg.tensor({1., 2.})[1].ndim)
  end)

  it("x[{i, j}] is a 0-d tensor", function()
    local e = x[{2, 3}]
    assert.are.equal(0, e.ndim)
    assert.are.equal(6, e:item())
    assert.are.equal(11, x[{-1, -1}]:item())
  end)

  it("slices {a, b} are inclusive", function()
    assert.are.same({1, 2, 3}, x[{1, {2, -1}}]:totable())
    assert.are.same({{4, 5, 6, 7}, {8, 9, 10, 11}}, x[{{2, 3}}]:totable())
    assert.are.same({{4, 5, 6, 7}}, x[{{2}}]:totable())
    assert.are.same({{5, 6}, {9, 10}}, x[{{2, 3}, {2, 3}}]:totable())
  end)

  it("{} and \":\" take a whole axis", function()
    assert.are.same({1, 5, 9}, x[{{}, 2}]:totable())
    assert.are.same({1, 5, 9}, x[{":", 2}]:totable())
    assert.are.same(x:totable(), x[":"]:totable())
    assert.are.same(x:totable(), x[{}]:totable())
  end)

  it("{a, b, step}, also with a negative step", function()
    assert.are.same({{0, 2}, {4, 6}, {8, 10}}, x[{{}, {1, -1, 2}}]:totable())
    assert.are.same({{8, 9, 10, 11}, {4, 5, 6, 7}, {0, 1, 2, 3}}, x[{{-1, 1, -1}}]:totable())
    assert.are.same({7, 5}, x[{2, {-1, 1, -2}}]:totable())
    assert.are.same({3, 2, 1, 0}, x[{1, {-1, 1, -1}}]:totable())
    assert.are.same({11, 8}, x[{3, {-1, 1, -3}}]:totable())
  end)

  it("reads are views that see later writes", function()
    local row = x[2]
    local col = x[{{}, 1}]
    x[{2, 1}] = 100
    assert.are.same({100, 5, 6, 7}, row:totable())
    assert.are.same({0, 100, 8}, col:totable())
  end)

  it("writing through a view changes the base", function()
    local row = x[3]
    row[2] = -1
    assert.are.equal(-1, x[{3, 2}]:item())
  end)

  it("writes a number into an element, a row or a slice", function()
    x[{1, 1}] = 50
    x[2] = 7
    x[{3, {2, 3}}] = -2
    assert.are.same({{50, 1, 2, 3}, {7, 7, 7, 7}, {8, -2, -2, 11}}, x:totable())
    x[":"] = 0
    assert.are.same({{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}}, x:totable())
  end)

  it("writes a broadcastable tensor", function()
    x[{{}, {1, 2}}] = mg.tensor({{-1, -2}})
    assert.are.same({{-1, -2, 2, 3}, {-1, -2, 6, 7}, {-1, -2, 10, 11}}, x:totable())
    x[{{1, -1, 2}, 4}] = mg.tensor({30, 40})
    assert.are.same({-1, -2, 2, 30}, x[1]:totable())
    assert.are.same({-1, -2, 10, 40}, x[3]:totable())
  end)

  it("writes into a variable are seen by views taken before", function()
    local f = mg.tensor({{1., 2.}, {3., 4.}})
    local row = f[1]
    local col = f[{{}, 2}]
    f[{1, 2}] = 20
    assert.are.same({1, 20}, row:totable())
    assert.are.same({20, 4}, col:totable())
    assert.are.same({{1, 20}, {3, 4}}, f:totable())
  end)

  it("writes a value that overlaps the destination as if copied first", function()
    x[1] = x[2]
    assert.are.same({{4, 5, 6, 7}, {4, 5, 6, 7}, {8, 9, 10, 11}}, x:totable())
    local r = mg.arange(5)
    r[{}] = r[{{-1, 1, -1}}]
    assert.are.same({4, 3, 2, 1, 0}, r:totable())
    local s = mg.arange(5.0)
    s[{{2, 5}}] = s[{{1, 4}}]
    assert.are.same({0, 0, 1, 2, 3}, s:totable())
  end)

  it("writes into a float tensor cast the value", function()
    local f = mg.zeros(3, {constant = true})
    f[2] = 7
    f[{{3}}] = mg.tensor({2})
    assert.are.same({0, 7, 2}, f:totable())
  end)
end)

describe("gradcheck", function()
  before_each(function() mg.random.seed(1234) end)

  it("itself catches a wrong gradient", function()
    local ok, msg = gc.gradcheck(function(a) return a * a.data end, {var({1., 2.})})
    assert.is_false(ok)
    assert.is_truthy(msg:find("input 1, element {1}", 1, true))
    assert.is_truthy(msg:find("analytic", 1, true))
    assert.is_truthy(msg:find("numeric", 1, true))
  end)

  describe("binary ops, both operands", function()
    it("add", function()
      check(function(a, b) return a + b end, {randn({2, 3}), randn({2, 3})})
      check(function(a, b) return mg.add(a, b) end, {randn({3, 1}), randn({1, 4})})
      check(function(a) return 2 + a end, {randn({3})})
    end)
    it("subtract", function()
      check(function(a, b) return a - b end, {randn({2, 3}), randn({3})})
      check(function(a) return 1 - a end, {randn({3})})
    end)
    it("multiply", function()
      check(function(a, b) return a * b end, {randn({2, 3}), randn({2, 3})})
      check(function(a, b) return a * b end, {randn({4, 1}), randn({3})})
      check(function(a) return a * a end, {randn({3})})
    end)
    it("divide", function()
      check(function(a, b) return a / b end, {randn({2, 3}), positive({2, 3})})
      check(function(a, b) return a / b end, {randn({2, 3}), positive({1, 3})})
      check(function(b) return 3 / b end, {positive({4})})
    end)
    it("power", function()
      check(function(a, b) return a ^ b end, {positive({2, 3}), randn({2, 3})})
      check(function(a, b) return a ^ b end, {positive({2, 3}), randn({3})})
      check(function(a) return a ^ 3 end, {randn({4})})
      check(function(b) return 2 ^ b end, {randn({4})})
    end)
    it("mod", function()
      local a = var({5.3, -5.3, 7.7, -2.2})
      local b = var({2.1, 2.1, -3.0, -1.5})
      check(function(p, q) return p % q end, {a, b})
      check(function(p, q) return p % q end, {var({{5.3, -4.1}, {7.7, 0.4}}), var(2.5)})
      check(function(q) return 7.7 % q end, {var({2.1, -3.0})})
    end)
  end)

  describe("unary ops", function()
    it("negative", function()
      check(function(a) return -a end, {randn({2, 3})})
      check(function(a) return mg.negative(a) end, {randn({3})})
    end)
    it("exp", function() check(function(a) return a:exp() end, {randn({2, 3})}) end)
    it("log", function() check(function(a) return mg.log(a) end, {positive({2, 3})}) end)
    it("sqrt", function() check(function(a) return a:sqrt() end, {positive({2, 3})}) end)
    it("sin", function() check(function(a) return mg.sin(a) end, {randn({2, 3})}) end)
    it("cos", function() check(function(a) return a:cos() end, {randn({2, 3})}) end)
    it("tanh", function() check(function(a) return mg.tanh(a) end, {randn({2, 3})}) end)
    it("abs, away from 0", function()
      check(function(a) return a:abs() end, {var({{-1.3, 0.7, 2.1}, {-0.4, 1.1, -2.5}})})
    end)
    it("square", function() check(function(a) return mg.square(a) end, {randn({2, 3})}) end)
    it("a composition", function()
      check(function(a) return mg.sin(2 * a) * mg.cos(a) * mg.exp(-a / 3) end, {randn({5})})
    end)
  end)

  describe("reductions", function()
    it("sum over all, one, negative and several axes, keepdims", function()
      local x = randn({2, 3, 4})
      check(function(a) return a:sum() end, {x})
      check(function(a) return a:sum(2) end, {x})
      check(function(a) return a:sum(-1) end, {x})
      check(function(a) return a:sum({1, 3}) end, {x})
      check(function(a) return a:sum({axis = 2, keepdims = true}) end, {x})
      check(function(a) return a:sum(1, true) * a end, {x})
    end)
    it("mean over all, one and several axes, keepdims", function()
      local x = randn({2, 3, 4})
      check(function(a) return a:mean() end, {x})
      check(function(a) return a:mean(3) end, {x})
      check(function(a) return mg.mean(a, {axis = {1, 2}}) end, {x})
      check(function(a) return a - a:mean({axis = -1, keepdims = true}) end, {x})
    end)
    it("sum with the head gradient of y:sum()", function()
      check(function(a) return a * a end, {randn({3})}, {head = "sum"})
    end)
  end)

  describe("shape ops", function()
    it("reshape, also of a non-contiguous input", function()
      check(function(a) return a:reshape(3, 2) * a:reshape(-1, 2) end, {randn({2, 3})})
      check(function(a) return a:reshape(-1) end, {transposed({3, 4})})
      check(function(a) return a.T:reshape(2, 6) end, {randn({3, 4})})
    end)
    it("permute, transpose, T, swapaxes", function()
      local x = randn({2, 3, 4})
      check(function(a) return a:permute(3, 1, 2) end, {x})
      check(function(a) return a:transpose(1, 3) * 2 end, {x})
      check(function(a) return a:swapaxes(1, 2) end, {x})
      check(function(a) return a.T end, {randn({3, 4})})
      check(function(a) return a.T * a.T end, {randn({3, 4})})
    end)
    it("broadcast_to", function()
      check(function(a) return a:broadcast_to(4, 3) end, {randn({3})})
      check(function(a) return a:broadcast_to({2, 3, 4}) end, {randn({3, 1})})
    end)
  end)

  describe("indexing (get)", function()
    local x
    before_each(function() x = randn({3, 4}) end)
    it("an integer, negative integers, a single element", function()
      check(function(a) return a[2] end, {x})
      check(function(a) return a[-1] * a[1] end, {x})
      check(function(a) return a[{2, 3}] end, {x})
    end)
    it("slices, steps, negative steps and whole axes", function()
      check(function(a) return a[{1, {2, -1}}] end, {x})
      check(function(a) return a[{{}, {1, -1, 2}}] end, {x})
      check(function(a) return a[{{-1, 1, -1}, ":"}] end, {x})
      check(function(a) return a[{{1, 2}}] + a[{{2, 3}}] end, {x})
    end)
    it("of a non-contiguous input", function()
      check(function(a) return a[{{}, 2}] end, {transposed({3, 4})})
    end)
  end)

  describe("setitem", function()
    it("flows to the surviving old contents and to the written value", function()
      check(function(a, v)
        local b = a * 1
        b[{{}, 2}] = v
        return b
      end, {randn({3, 4}), randn({3})})
    end)
    it("with a broadcast value", function()
      check(function(a, v)
        local b = a:clone()
        b[{{1, 2}}] = v
        return b
      end, {randn({3, 4}), randn({1, 4})})
    end)
    it("of a number, and into a non-contiguous tensor", function()
      check(function(a)
        local b = a * 2
        b[{2, {1, -1, 2}}] = 5
        return b
      end, {randn({3, 4})})
      check(function(a, v)
        local b = (a * 1).T
        b[{{1, 2}, 3}] = v
        return b * b
      end, {randn({3, 4}), randn({2})})
    end)
    it("of an overlapping slice of the same tensor", function()
      check(function(a)
        local b = a * 1
        b[{{2, 3}}] = b[{{1, 2}}]
        return b
      end, {randn({3, 2})})
    end)
    it("of a value computed from the same tensor", function()
      check(function(a)
        local b = a * 1
        b[1] = a[2] * a[3]
        return b
      end, {randn({3, 2})})
    end)
  end)

  describe("matmul", function()
    it("1-d . 1-d", function() check(mg.matmul, {randn({4}), randn({4})}) end)
    it("2-d . 1-d", function() check(mg.matmul, {randn({3, 4}), randn({4})}) end)
    it("1-d . 2-d", function() check(mg.matmul, {randn({3}), randn({3, 4})}) end)
    it("2-d . 2-d", function() check(mg.matmul, {randn({2, 3}), randn({3, 4})}) end)
    it("batched {2,3,4} . {4,5}", function() check(mg.matmul, {randn({2, 3, 4}), randn({4, 5})}) end)
    it("broadcast batch {2,1,3,4} . {5,4,2}", function()
      check(mg.matmul, {randn({2, 1, 3, 4}), randn({5, 4, 2})})
    end)
    it("1-d . batched", function() check(mg.matmul, {randn({3}), randn({2, 3, 4})}) end)
    it("transposed (non-contiguous) operands", function()
      check(mg.matmul, {transposed({2, 3}), transposed({3, 4})})
      check(function(a, b) return mg.matmul(a.T, b) end, {randn({3, 2}), randn({3, 4})})
      check(function(a) return mg.matmul(a, a.T) end, {randn({3, 4})})
    end)
  end)

  describe("conversions", function()
    it("astype between floats (the gradient comes back in the input's dtype)", function()
      check(function(a) return a:astype("float32") * 3 end, {randn({2, 3})},
        {eps = 1e-2, atol = 1e-3, rtol = 1e-3})
      check(function(a) return a:float():double() * a end, {randn({3})},
        {eps = 1e-3, atol = 1e-3, rtol = 1e-3})
      local x = randn({3})
      x:float():sum():backward()
      assert.are.equal("float64", x.grad.dtype)
      local y = mg.tensor({1., 2.})
      y:double():sum():backward()
      assert.are.equal("float32", y.grad.dtype)
      assert.are.same({1, 1}, y.grad:totable())
    end)
    it("clone", function()
      check(function(a) return a:clone() * a end, {randn({2, 3})})
      check(function(a) return a:contiguous() end, {transposed({2, 3})})
    end)
  end)
end)

describe("gradgradcheck (second order)", function()
  before_each(function() mg.random.seed(99) end)

  it("add, subtract, multiply, divide", function()
    check2(function(a, b) return a + b * b end, {randn({2, 3}), randn({3})})
    check2(function(a, b) return a * a - b * a end, {randn({2, 3}), randn({2, 3})})
    check2(function(a, b) return a * b end, {randn({2, 3}), randn({2, 1})})
    check2(function(a, b) return a / b end, {randn({2, 3}), positive({2, 3})})
  end)

  it("power, both operands", function()
    check2(function(a, b) return a ^ b end, {positive({2, 3}), randn({2, 3})})
    check2(function(a) return a ^ 3 end, {randn({4})})
  end)

  it("mod and negative", function()
    check2(function(a, b) return (a % b) * a end, {var({5.3, -5.3, 7.7}), var({2.1, 2.1, -3.0})})
    check2(function(a) return -(a * a) end, {randn({3})})
  end)

  it("exp, log, sqrt", function()
    check2(function(a) return a:exp() end, {randn({2, 3})})
    check2(function(a) return a:log() end, {positive({2, 3})})
    check2(function(a) return a:sqrt() end, {positive({2, 3})})
  end)

  it("sin, cos, tanh", function()
    check2(function(a) return a:sin() end, {randn({2, 3})})
    check2(function(a) return a:cos() end, {randn({2, 3})})
    check2(function(a) return a:tanh() end, {randn({2, 3})})
  end)

  it("abs, square and compositions through intermediates", function()
    check2(function(a) return a:abs() * a end, {var({-1.3, 0.7, 2.1})})
    check2(function(a) return a:square() end, {randn({3})})
    check2(function(a) return mg.sin(a:exp()) * a * a end, {randn({4})})
  end)

  it("sum and mean", function()
    check2(function(a) return a:sum(2) * a:sum(2) end, {randn({2, 3})})
    check2(function(a) return (a * a):sum() end, {randn({2, 3})})
    check2(function(a) return (a * a):mean({axis = 1, keepdims = true}) * a end, {randn({2, 3})})
    check2(function(a) return a:mean() * a:exp() end, {randn({4})})
  end)

  it("matmul", function()
    check2(mg.matmul, {randn({2, 3}), randn({3, 4})})
    check2(function(a, b) return mg.matmul(a, b):tanh() end, {randn({2, 3}), randn({3, 4})})
    check2(function(a, b) return mg.matmul(a, b) ^ 2 end, {randn({2, 1, 3, 4}), randn({5, 4, 2})})
    check2(function(a, b) return mg.matmul(a, b) * a:sum() end, {randn({3}), randn({3, 2})})
  end)
end)
