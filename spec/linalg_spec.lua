-- linalg_spec.lua — linear algebra beyond matmul: einsum (the MyGrad lab's
-- cells with their printed results, implicit and explicit outputs, traces and
-- diagonals, "...", several operands), dot, outer, multi_matmul, diagonal,
-- trace and norm (vector and matrix ords, axes, keepdims, the subgradient at
-- 0); float64 gradchecks of each, second-order checks of einsum and the
-- 2-norm; and the errors, each naming its function.
local mg = require("moongrad")
local gc = require("gradcheck")

local function flat(v, out)
  out = out or {}
  if type(v) ~= "table" then out[#out + 1] = v
  else for _, e in ipairs(v) do flat(e, out) end end
  return out
end

-- Asserts that tensor t holds the values of the (nested) table expected.
local function near(expected, t, tol)
  tol = tol or 1e-5
  local e = flat(expected)
  local a = flat(type(t) == "table" and t or (t.ndim == 0 and t:item() or t:totable()))
  assert.are.equal(#e, #a, "number of elements")
  for i = 1, #e do
    if not (math.abs(e[i] - a[i]) <= tol * (1 + math.abs(e[i]))) then
      error(string.format("element %d: expected %.10g, got %.10g", i, e[i], a[i]), 2)
    end
  end
end

local function same(a, b, tol) near(flat(a:totable()), b, tol) end

local function shape_is(expected, t) assert.are.same(expected, t.shape) end

-- Runs fn, expects it to fail, and checks the message holds every fragment.
local function raises(fn, ...)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error")
  err = tostring(err)
  for _, fragment in ipairs({...}) do
    assert(err:find(fragment, 1, true), "error '" .. err .. "' does not mention '" .. fragment .. "'")
  end
  return err
end

local function randn(...)
  return mg.random.randn({...}, {dtype = "float64"})
end
-- values with |x| >= 0.5 (no kinks of abs or norms nearby)
local function away(...)
  local x = mg.random.randn({...}, {dtype = "float64", constant = true})
  return (x + x:sign() * 0.5):requires_grad_(true)
end
-- a non-contiguous leaf of the given shape (a transposed view)
local function transposed(...)
  local shape, rev = {...}, {}
  for i = #shape, 1, -1 do rev[#rev + 1] = shape[i] end
  return mg.random.randn(rev, {dtype = "float64", constant = true}).T:requires_grad_(true)
end
local function check(f, inputs, opts)
  local ok, msg = gc.gradcheck(f, inputs, opts)
  assert(ok, msg)
end
local function check2(f, inputs, opts)
  local ok, msg = gc.gradgradcheck(f, inputs, opts)
  assert(ok, msg)
end

describe("einsum in the MyGrad lab", function()
  local a = mg.arange(25):reshape(5, 5)
  local b = mg.arange(15):reshape(5, 3)
  local c = -mg.arange(15):reshape(5, 3)

  it("'ii' is the trace", function()
    assert.are.equal("Tensor(60)", tostring(mg.einsum("ii", a)))
  end)

  it("'ii->i' is the diagonal", function()
    assert.are.equal("Tensor([ 0,  6, 12, 18, 24])", tostring(mg.einsum("ii->i", a)))
  end)

  it("'ji' is the transpose", function()
    local t = mg.einsum("ji", b)
    shape_is({3, 5}, t)
    near({{0, 3, 6, 9, 12}, {1, 4, 7, 10, 13}, {2, 5, 8, 11, 14}}, t)
  end)

  it("'ij,jk->ik' is matmul", function()
    local e, m = mg.einsum("ij,jk->ik", a, b), mg.matmul(a, b)
    local expected = {{90, 100, 110}, {240, 275, 310}, {390, 450, 510}, {540, 625, 710},
                      {690, 800, 910}}
    near(expected, e)
    near(expected, m)
    assert.are.equal(tostring(m), tostring(e))
    assert.are.equal("int64", e.dtype)
  end)

  it("'ij,ij->i' is the row-wise dot product", function()
    assert.are.equal("Tensor([  -5,  -50, -149, -302, -509])", tostring(mg.einsum("ij,ij->i", b, c)))
  end)
end)

describe("einsum", function()
  local m = mg.tensor({{1., 2., 3.}, {4., 5., 6.}})       -- {2, 3}
  local n = mg.tensor({{1., 0.}, {0., 1.}, {2., -1.}})    -- {3, 2}

  it("implicit output: letters used once, in ASCII order", function()
    near({{7, -1}, {16, -1}}, mg.einsum("ij,jk", m, n))
    same(m.T, mg.einsum("ba", m))               -- 'ab' order: a transpose
    same(m, mg.einsum("ab", m))
    near(21, mg.einsum("ij", m):sum())
    shape_is({}, mg.einsum("i,i", {1, 2, 3}, {4, 5, 6}))
    near(32, mg.einsum("i,i", {1, 2, 3}, {4, 5, 6}))
    -- upper case sorts before lower case (ASCII), as NumPy
    shape_is({3, 2}, mg.einsum("Bi,ai", mg.ones(3, 4), mg.ones(2, 4)))
  end)

  it("explicit output, sums and permutations", function()
    near({5, 7, 9}, mg.einsum("ij->j", m))
    near({6, 15}, mg.einsum("ij->i", m))
    near(21, mg.einsum("ij->", m))
    same(m.T, mg.einsum("ij->ji", m))
    near({{7, 16}, {-1, -1}}, mg.einsum("ij,jk->ki", m, n))
    near({{1, 2}, {3, 4}}, mg.einsum(" i j -> i j ", {{1, 2}, {3, 4}}))  -- spaces are ignored
  end)

  it("repeated letters take diagonals", function()
    local x = mg.arange(8):reshape(2, 2, 2)   -- x[i][i][j] = 6i + j
    near({6, 8}, mg.einsum("iij->j", x))
    near({0, 7}, mg.einsum("iii->i", x))
    near(7, mg.einsum("iii", x))
    near({{0, 1}, {6, 7}}, mg.einsum("iij->ij", x))
    near({0, 3, 4, 7}, mg.einsum("ijj->ij", x):reshape(4))
    near(12 + 1 * 3, mg.einsum("ii,i", {{1, 2}, {3, 4}}, {12, 0.75}))
  end)

  it("reads non-contiguous inputs", function()
    local x = mg.arange(9.0):reshape(3, 3)
    near(12, mg.einsum("ii", x.T))
    near({{0, 3, 6}, {1, 4, 7}, {2, 5, 8}}, mg.einsum("ij->ij", x.T))
    same(mg.matmul(x.T, x), mg.einsum("ij,jk->ik", x.T, x))
  end)

  it("outer, batched and broadcast products", function()
    near({{3, 4, 5}, {6, 8, 10}}, mg.einsum("i,j->ij", {1., 2.}, {3., 4., 5.}))
    local A, B = mg.random.randn(4, 2, 3), mg.random.randn(4, 3, 5)
    same(mg.matmul(A, B), mg.einsum("bij,bjk->bik", A, B))
    local C, D = mg.random.randn(2, 1, 3, 4), mg.random.randn(5, 4, 2)
    local e = mg.einsum("...ij,...jk->...ik", C, D)
    shape_is({2, 5, 3, 2}, e)
    same(mg.matmul(C, D), e)
    same(mg.matmul(C, D), mg.einsum("...ij,...jk", C, D))      -- implicit: "..." first
    near({{1, 2}, {3, 4}}, mg.einsum("ij,ij->ij", {{1, 1}, {1, 1}}, {{1, 2}, {3, 4}}))
  end)

  it("'...' axes left out of an explicit output are summed", function()
    local x = mg.arange(12.0):reshape(2, 3, 2)
    near({30, 36}, mg.einsum("...i->i", x))
    near({{1, 5, 9}, {13, 17, 21}}, mg.einsum("...i->...", x))
    near({{0, 3}, {4, 7}, {8, 11}, {12, 15}}, mg.einsum("...ii->...i", mg.arange(16.0):reshape(2, 2, 2, 2)):reshape(4, 2))
  end)

  it("three and more operands, in the cheapest order", function()
    local A, B, C, v = mg.random.randn(3, 4), mg.random.randn(4, 5), mg.random.randn(5, 2), mg.random.randn(2)
    same(mg.matmul(mg.matmul(A, B), C), mg.einsum("ij,jk,kl->il", A, B, C))
    same(mg.matmul(mg.matmul(mg.matmul(A, B), C), v), mg.einsum("ij,jk,kl,l->i", A, B, C, v))
    near(mg.matmul(mg.matmul(A, B), C):sum():item(), mg.einsum("ij,jk,kl", A, B, C):sum())
    local x, y, z = mg.tensor({1., 2.}), mg.tensor({3., 4.}), mg.tensor({5., 6.})
    near((1 * 3 * 5 + 2 * 4 * 6), mg.einsum("i,i,i", x, y, z))
    near({{{15, 18}, {20, 24}}, {{30, 36}, {40, 48}}}, mg.einsum("i,j,k->ijk", x, y, z))
  end)

  it("mixes integer and float operands, and takes tables", function()
    local r = mg.einsum("ij,j->i", {{1, 2}, {3, 4}}, mg.tensor({0.5, 1.5}))
    near({3.5, 7.5}, r)
    assert.are.equal("float32", r.dtype)
  end)

  it("is differentiable through every step", function()
    local x = mg.tensor({{1., 2.}, {3., 4.}})
    local y = mg.einsum("ii", x)
    y:backward()
    near({{1, 0}, {0, 1}}, x.grad)
    assert.are.equal(true, y.requires_grad)
    local k = mg.tensor({{1., 2.}, {3., 4.}}, {constant = true})
    assert.are.equal(true, mg.einsum("ij,jk", k, k).constant)
  end)
end)

describe("dot, outer, multi_matmul", function()
  it("dot follows NumPy", function()
    near(-11, mg.dot({1., 2.}, {-3., -4.}))
    shape_is({}, mg.dot({1., 2.}, {-3., -4.}))
    near({{7, -1}, {16, -1}}, mg.dot({{1., 2., 3.}, {4., 5., 6.}}, {{1., 0.}, {0., 1.}, {2., -1.}}))
    near({14, 32}, mg.dot({{1., 2., 3.}, {4., 5., 6.}}, {1., 2., 3.}))
    near({9, 12, 15}, mg.dot({1., 2.}, {{1., 2., 3.}, {4., 5., 6.}}))
    near({{2, 4}, {6, 8}}, mg.dot(2, {{1, 2}, {3, 4}}))
    near({{2, 4}, {6, 8}}, mg.tensor({{1, 2}, {3, 4}}):dot(2))
    -- N-d . M-d: over the last axis of a and the second-to-last of b
    local b = mg.tensor({{{1, 0}, {0, 1}}, {{2, 0}, {0, 2}}})
    local r = mg.dot({{1, 2}, {3, 4}}, b)
    shape_is({2, 2, 2}, r)
    near({{{1, 2}, {2, 4}}, {{3, 4}, {6, 8}}}, r)
    local A, B = mg.random.randn(2, 3, 4), mg.random.randn(5, 4, 6)
    local d = mg.dot(A, B)
    shape_is({2, 3, 5, 6}, d)
    same(mg.einsum("ijk,lkm->ijlm", A, B), d)
    same(mg.matmul(A, B[2]), d[{{}, {}, 2}])
  end)

  it("outer flattens its inputs", function()
    near({{3, 4, 5}, {6, 8, 10}}, mg.outer({1., 2.}, {3., 4., 5.}))
    local o = mg.tensor({{1, 2}, {3, 4}}):outer({1, -1})
    shape_is({4, 2}, o)
    near({{1, -1}, {2, -2}, {3, -3}, {4, -4}}, o)
    assert.are.equal("int64", o.dtype)
  end)

  it("multi_matmul multiplies a chain, 1-d ends included", function()
    local A, B, C, D = mg.random.randn(10, 30), mg.random.randn(30, 5), mg.random.randn(5, 60),
      mg.random.randn(60, 2)
    local chain = mg.matmul(mg.matmul(mg.matmul(A, B), C), D)
    local r = mg.multi_matmul({A, B, C, D})
    shape_is({10, 2}, r)
    same(chain, r, 1e-4)
    same(chain, mg.multi_matmul(A, B, C, D), 1e-4)
    same(mg.matmul(A, B), mg.multi_matmul({A, B}))
    local v = mg.multi_matmul({{1., 2.}, {{1., 2.}, {3., 4.}}, {1., 1.}})
    shape_is({}, v)
    near(17, v)
    near({7, 10}, mg.multi_matmul({{1., 2.}, {{1., 2.}, {3., 4.}}}))
    near({3, 7}, mg.multi_matmul({{{1., 2.}, {3., 4.}}, {1., 1.}}))
  end)
end)

describe("diagonal and trace", function()
  local a = mg.arange(12):reshape(3, 4)
  local x = mg.arange(24):reshape(2, 3, 4)

  it("diagonal with offsets", function()
    near({0, 5, 10}, a:diagonal())
    near({1, 6, 11}, a:diagonal(1))
    near({3}, a:diagonal(3))
    near({4, 9}, mg.diagonal(a, -1))
    near({8}, a:diagonal(-2))
    shape_is({0}, a:diagonal(4))
    shape_is({0}, a:diagonal(-3))
    shape_is({0}, a:diagonal(math.maxinteger))
    shape_is({0}, a:diagonal(math.mininteger))
    near({0, 5, 10}, a:diagonal({offset = 0}))
  end)

  it("diagonal of chosen axes goes last", function()
    local d = x:diagonal(0, 2, 3)
    shape_is({2, 3}, d)
    near({{0, 5, 10}, {12, 17, 22}}, d)
    local e = x:diagonal({axis1 = 1, axis2 = -1})
    shape_is({3, 2}, e)
    near({{0, 13}, {4, 17}, {8, 21}}, e)
    near({{0, 13}, {4, 17}, {8, 21}}, x:diagonal(0, 3, 1))
    local f = x:diagonal(1, 2, 1)   -- x[i + 1][i][k]
    shape_is({4, 1}, f)
    near({12, 13, 14, 15}, f)
  end)

  it("diagonal is a view", function()
    local t = mg.arange(9):reshape(3, 3)
    local d = t:diagonal()
    t[{2, 2}] = 100
    near({0, 100, 8}, d)
    near({0, 100, 8}, t.T:diagonal())
  end)

  it("trace", function()
    near(15, a:trace())
    near(18, mg.trace(a, 1))
    near(13, a:trace(-1))
    near({15, 51}, x:trace({axis1 = 2, axis2 = 3}))
    near({13, 21, 29}, x:trace(0, 1, 3))
    assert.are.equal("int64", a:trace().dtype)
    near(0, a:trace(10))
  end)
end)

describe("norm", function()
  local v = mg.tensor({3., -4.})
  local M = mg.tensor({{1., -2.}, {3., 4.}})

  it("vector norms", function()
    near(5, v:norm())
    near(5, mg.norm(v, 2))
    near(7, v:norm(1))
    near(4, v:norm(math.huge))
    near(4, v:norm(mg.inf))
    near(4, v:norm("inf"))
    near(3, v:norm(-math.huge))
    near(3, v:norm("-inf"))
    near(2, v:norm(0))
    near(1, mg.norm({0., 2., 0.}, 0))
    near(91 ^ (1 / 3), v:norm(3))
    near((math.sqrt(3) + 2) ^ 2, v:norm(0.5))
    near(5, mg.norm({3, 4}))                      -- integers give a float norm
    assert.are.equal("float32", mg.norm({3, 4}).dtype)
    assert.are.equal("float64", mg.tensor({3, 4}, {dtype = "float64"}):norm().dtype)
  end)

  it("matrix norms", function()
    near(math.sqrt(30), M:norm())
    near(math.sqrt(30), M:norm("fro"))
    near(6, M:norm(1))
    near(4, M:norm(-1))
    near(7, M:norm(math.huge))
    near(3, M:norm(-math.huge))
    near(7, M:norm({ord = "inf"}))
    near(6, M.T:norm(math.huge))
  end)

  it("along axes, with keepdims", function()
    near({math.sqrt(10), math.sqrt(20)}, M:norm(2, 1))
    near({math.sqrt(5), 5}, M:norm(nil, 2))
    near({math.sqrt(5), 5}, M:norm({axis = -1}))
    local k = M:norm({axis = 2, keepdims = true})
    shape_is({2, 1}, k)
    near({{math.sqrt(5)}, {5}}, k)
    near({4, 6}, M:norm({ord = 1, axis = 1}))
    near({2, 4}, M:norm({ord = math.huge, axis = 2}))
    shape_is({1, 1}, M:norm({keepdims = true}))
    local x = mg.arange(24.0):reshape(2, 3, 4)
    near(math.sqrt(4324), x:norm())                  -- sum of k^2, k < 24
    local m13 = x:norm({ord = 1, axis = {1, 3}})      -- max over axis 3 of sums over axis 1
    shape_is({3}, m13)
    near({18, 26, 34}, m13)
    shape_is({1, 3, 1}, x:norm({ord = 1, axis = {1, 3}, keepdims = true}))
  end)

  it("the 2-norm of zeros has gradient 0 (a subgradient), not NaN", function()
    local z = mg.zeros(3, {dtype = "float64"})
    z:norm():backward()
    near({0, 0, 0}, z.grad)
    local w = mg.tensor({{0., 0.}, {3., 4.}}, {dtype = "float64"})
    w:norm({axis = 2}):backward()
    near({{0, 0}, {0.6, 0.8}}, w.grad)
    local u = mg.tensor({0., 3., -4.}, {dtype = "float64"})
    u:norm(3):backward()
    assert.are.equal(0, u.grad:totable()[1])
    u:norm(0.5):backward()
    assert.are.equal(0, u.grad:totable()[1])
  end)

  it("ord 0 counts and is not differentiable", function()
    local x = mg.tensor({1., 0., 2.})
    local c = x:norm(0)
    near(2, c)
    assert.are.equal(true, c.constant)
  end)
end)

describe("linalg gradients (float64)", function()
  it("einsum", function()
    check(function(a, b) return mg.einsum("ij,jk->ik", a, b) end, {randn(2, 3), randn(3, 4)})
    check(function(a, b) return mg.einsum("bij,bjk->bik", a, b) end, {randn(2, 2, 3), randn(2, 3, 2)})
    check(function(a) return mg.einsum("ii", a) end, {randn(3, 3)})
    check(function(a) return mg.einsum("ii->i", a) end, {randn(3, 3)})
    check(function(a) return mg.einsum("iij->j", a) end, {randn(2, 2, 3)})
    check(function(a, b) return mg.einsum("i,j->ij", a, b) end, {randn(3), randn(4)})
    check(function(a, b) return mg.einsum("...ij,...jk->...ik", a, b) end,
      {randn(2, 1, 2, 3), randn(3, 3, 2)})
    check(function(a, b, c) return mg.einsum("ij,jk,kl->il", a, b, c) end,
      {randn(2, 3), randn(3, 4), randn(4, 2)})
    check(function(a, b, c) return mg.einsum("i,ij,j", a, b, c) end, {randn(3), randn(3, 4), randn(4)})
    check(function(a, b) return mg.einsum("ij,jk", a, b) end, {transposed(2, 3), randn(3, 2)})
    check(function(a, b) return mg.einsum("ij,ij->i", a, b) end, {randn(3, 2), randn(3, 2)})
    check(function(a) return mg.einsum("...i->i", a) end, {randn(2, 3, 2)})
    check(function(a, b) return mg.einsum("ij,i", a, b) end, {randn(3, 2), randn(3)})
  end)

  it("dot, outer, multi_matmul", function()
    check(function(a, b) return mg.dot(a, b) end, {randn(3), randn(3)})
    check(function(a, b) return mg.dot(a, b) end, {randn(2, 3), transposed(3, 2)})
    check(function(a, b) return mg.dot(a, b) end, {randn(2, 2, 3), randn(3)})
    check(function(a, b) return mg.dot(a, b) end, {randn(2, 3), randn(2, 3, 2)})
    check(function(a, b) return mg.outer(a, b) end, {randn(2, 2), randn(3)})
    check(function(a, b, c, d) return mg.multi_matmul({a, b, c, d}) end,
      {randn(3), randn(3, 4), randn(4, 2), randn(2)})
    check(function(a, b, c) return mg.multi_matmul({a, b, c}) end,
      {randn(2, 5), randn(5, 1), transposed(1, 3)})
  end)

  it("diagonal and trace", function()
    check(function(a) return a:diagonal() end, {randn(3, 4)})
    check(function(a) return a:diagonal(1) end, {randn(3, 4)})
    check(function(a) return a:diagonal(-1, 1, 3) end, {randn(3, 2, 4)})
    check(function(a) return a:diagonal(2) end, {transposed(3, 4)})
    check(function(a) return a:trace() end, {randn(3, 3)})
    check(function(a) return a:trace(-1, 2, 3) end, {randn(2, 3, 3)})
  end)

  it("norm", function()
    check(function(a) return a:norm() end, {away(3, 2)})
    check(function(a) return a:norm(1) end, {away(4)})
    check(function(a) return a:norm(3) end, {away(4)})
    check(function(a) return a:norm(0.5) end, {away(4)})
    check(function(a) return a:norm(math.huge) end, {away(4)})
    check(function(a) return a:norm(-math.huge) end, {away(4)})
    check(function(a) return a:norm(2, 1) end, {away(3, 2)})
    check(function(a) return a:norm({ord = 3, axis = -1, keepdims = true}) end, {away(2, 3)})
    check(function(a) return a:norm("fro") end, {away(3, 2)})
    check(function(a) return a:norm(1) end, {away(3, 3)})
    check(function(a) return a:norm(-1) end, {away(3, 3)})
    check(function(a) return a:norm(math.huge) end, {away(3, 3)})
    check(function(a) return a:norm(-math.huge) end, {away(3, 3)})
    check(function(a) return a:norm({ord = 1, axis = {3, 1}}) end, {away(2, 2, 3)})
    check(function(a) return a:norm() end, {transposed(2, 3)})
  end)

  it("second order: einsum and the 2-norm", function()
    check2(function(a, b) return mg.einsum("ij,jk->ik", a, b) end, {randn(2, 3), randn(3, 2)})
    check2(function(a, b) return mg.einsum("bij,bjk", a, b) end, {randn(2, 2, 3), randn(2, 3, 2)})
    check2(function(a) return mg.einsum("ii", a * a) end, {randn(3, 3)})
    check2(function(a, b) return mg.einsum("ii,ij->j", a, b) end, {randn(2, 2), randn(2, 3)})
    check2(function(a) return a:norm() end, {away(3, 2)})
    check2(function(a) return a:norm({axis = 2}) end, {away(2, 3)})
    check2(function(a) return a:norm(3) end, {away(4)})
  end)
end)

describe("linalg errors", function()
  local a, b = mg.ones(2, 3), mg.ones(3, 4)

  it("einsum quotes the subscripts", function()
    raises(function() return mg.einsum("ij,j$->i", a, b) end, "einsum", "'$'", '"ij,j$->i"')
    raises(function() return mg.einsum("ij,jk->ik", a) end, "einsum", "2 operands", "1 was given")
    raises(function() return mg.einsum("ij", a, b) end, "einsum", '"ij"', "2 were given")
    raises(function() return mg.einsum("ij,kl->ik", a, mg.ones(2)) end, "einsum", "operand 2",
      "1 axis", '"kl"')
    raises(function() return mg.einsum("ijk", a) end, "einsum", "operand 1", '"ijk"')
    raises(function() return mg.einsum("ij,jk->ik", a, mg.ones(4, 4)) end, "einsum", "letter 'j'",
      "size 3", "size 4", '"ij,jk->ik"')
    raises(function() return mg.einsum("ii", a) end, "einsum", "letter 'i'", '"ii"')
    raises(function() return mg.einsum("ij,jk->iz", a, b) end, "einsum", "'z'", "does not appear",
      '"ij,jk->iz"')
    raises(function() return mg.einsum("ij,jk->ii", a, b) end, "einsum", "'i'", "more than once")
    raises(function() return mg.einsum("ij->i->j", a) end, "einsum", '"ij->i->j"')
    raises(function() return mg.einsum("i.j", a) end, "einsum", "'...'")
    raises(function() return mg.einsum("...i...", a) end, "einsum", "'...'")
    raises(function() return mg.einsum("i-j", a) end, "einsum", "'-'")
    raises(function() return mg.einsum("...ij,...jk", mg.ones(2, 2, 3), mg.ones(3, 3, 4)) end,
      "einsum", "'...'", "broadcast")
    raises(function() return mg.einsum(a, b) end, "einsum", "subscripts")
    raises(function() return mg.einsum("ij") end, "einsum", "operand")
    raises(function() return mg.einsum("ij", "x") end, "einsum", "argument #2")
  end)

  it("dot, outer, multi_matmul", function()
    raises(function() return mg.dot(a, a) end, "dot", "{2, 3}", "not aligned")
    raises(function() return mg.dot(mg.ones(2, 3), mg.ones(2, 2, 2)) end, "dot", "{2, 2, 2}")
    raises(function() return mg.outer(a, "x") end, "outer")
    raises(function() return mg.multi_matmul({a}) end, "multi_matmul", "at least 2")
    raises(function() return mg.multi_matmul({}) end, "multi_matmul", "at least 2")
    raises(function() return mg.multi_matmul({a, mg.ones(3), b}) end, "multi_matmul", "tensor 2",
      "2-d")
    raises(function() return mg.multi_matmul({a, mg.ones(4, 4)}) end, "multi_matmul",
      "tensors 1 and 2", "{2, 3}", "{4, 4}")
    raises(function() return mg.multi_matmul({mg.ones(2, 2, 2), mg.ones(2, 2)}) end,
      "multi_matmul", "tensor 1")
    raises(function() return mg.multi_matmul({a, "x"}) end, "multi_matmul")
  end)

  it("diagonal and trace", function()
    raises(function() return mg.ones(3):diagonal() end, "diagonal", "2 axes", "{3}")
    raises(function() return a:diagonal(0, 1, 1) end, "diagonal", "differ")
    raises(function() return a:diagonal(0, 1, 3) end, "diagonal", "axis 3")
    raises(function() return a:diagonal(0.5) end, "diagonal", "offset", "integer")
    raises(function() return a:trace({axis1 = "x"}) end, "trace", "axis1")
    raises(function() return mg.trace(5) end, "trace", "2 axes")
  end)

  it("norm", function()
    raises(function() return a:norm("nuc") end, "norm", "'nuc'", "not supported yet")
    raises(function() return a:norm(2) end, "norm", "ord=2", "not supported yet")
    raises(function() return a:norm(-2) end, "norm", "not supported yet")
    raises(function() return a:norm(3) end, "norm", "ord=3", "not a matrix norm")
    raises(function() return mg.ones(3):norm(-1) end, "norm", "ord=-1", "not a vector norm")
    raises(function() return mg.ones(3):norm("fro") end, "norm", "'fro'", "two axes")
    raises(function() return mg.ones(3):norm("max") end, "norm", '"max"')
    raises(function() return mg.ones(3):norm(true) end, "norm", "ord")
    raises(function() return mg.ones(2, 2, 2):norm(1) end, "norm", "{2, 2, 2}")
    raises(function() return a:norm(nil, 3) end, "norm", "axis 3")
    raises(function() return a:norm(nil, {1, 2, 1}) end, "norm", "one axis", "two")
    raises(function() return a:norm(nil, {1, 1}) end, "norm", "differ")
    raises(function() return mg.ones(2, 0):norm(math.huge, 2) end, "norm", "empty")
    near(0, mg.ones(0):norm())
  end)
end)
