-- shape_spec.lua — the shape functions of ops_join.c: squeeze, unsqueeze /
-- expand_dims, flatten, ravel, moveaxis, concatenate / cat, stack, split,
-- chunk, repeat, tile, flip and pad.  Values against hand-computed numbers
-- (negative axes, non-contiguous inputs, views sharing memory, dtype
-- promotion), a float64 gradcheck of each (concatenate of 10 tensors, split
-- and chunk outputs used together, per-element repeat counts), second-order
-- checks of a few, and the errors for bad axes, shapes, lists and counts.
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
  tol = tol or 1e-9
  local e, a = flat(expected), flat(type(t) == "table" and t or t:totable())
  assert.are.equal(#e, #a, "number of elements")
  for i = 1, #e do
    if not (math.abs(e[i] - a[i]) <= tol * (1 + math.abs(e[i]))) then
      error(string.format("element %d: expected %.10g, got %.10g", i, e[i], a[i]), 2)
    end
  end
end

local function shape_is(expected, t)
  assert.are.same(expected, t.shape)
end

local function raises(fn, ...)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error")
  err = tostring(err)
  for _, fragment in ipairs({...}) do
    assert(err:find(fragment, 1, true), "error '" .. err .. "' does not mention '" .. fragment .. "'")
  end
  return err
end

local function randn(shape)
  return mg.random.randn(shape, {dtype = "float64"})
end
-- a non-contiguous float64 leaf of the given shape (a transposed view)
local function transposed(shape)
  local rev = {}
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

-- a constant float64 tensor 0, 1, 2, ... of the given shape
local function iota(shape)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  return mg.arange(0, n, 1, {dtype = "float64", constant = true}):reshape(shape)
end

describe("squeeze and unsqueeze", function()
  local x = iota({1, 3, 1})

  it("squeeze removes axes of size 1", function()
    shape_is({3}, x:squeeze())
    shape_is({3, 1}, x:squeeze(1))
    shape_is({1, 3}, mg.squeeze(x, -1))
    shape_is({3}, x:squeeze({1, 3}))
    shape_is({1, 3}, x:squeeze({axis = 3}))
    near({0, 1, 2}, x:squeeze())
    shape_is({}, mg.ones(1, 1):squeeze())
    shape_is({2, 3}, mg.ones(2, 3):squeeze())
  end)

  it("unsqueeze / expand_dims insert axes (positions in the result)", function()
    local y = iota({2, 3})
    shape_is({1, 2, 3}, y:unsqueeze(1))
    shape_is({2, 1, 3}, y:unsqueeze(2))
    shape_is({2, 3, 1}, y:unsqueeze(3))
    shape_is({2, 3, 1}, y:unsqueeze(-1))
    shape_is({1, 2, 3}, y:unsqueeze(-3))
    shape_is({1, 2, 3, 1}, mg.expand_dims(y, {1, -1}))
    shape_is({2, 1, 1, 3}, y:expand_dims({2, 3}))
    shape_is({2, 1, 3}, y:unsqueeze({axis = 2}))
    shape_is({1}, mg.tensor(5.0):unsqueeze(1))
    near({0, 1, 2, 3, 4, 5}, y:unsqueeze(2))
  end)

  it("are views, also of non-contiguous tensors", function()
    local c = mg.zeros({1, 3}, {constant = true})
    local s = c:squeeze()
    s[2] = 7
    near({0, 7, 0}, c)
    local t = iota({2, 3}).T
    local u = t:unsqueeze(2)
    shape_is({3, 1, 2}, u)
    near({0, 3, 1, 4, 2, 5}, u)
    u[{1, 1, 2}] = 9
    near({{0, 1, 2}, {9, 4, 5}}, t.T)
    near({0, 9, 1, 4, 2, 5}, t:unsqueeze(1):squeeze(1))
  end)

  it("record SqueezeBackward and UnsqueezeBackward", function()
    local v = randn({1, 2})
    assert.are.equal("SqueezeBackward", v:squeeze().grad_fn)
    assert.are.equal("UnsqueezeBackward", v:unsqueeze(1).grad_fn)
  end)
end)

describe("flatten, ravel and moveaxis", function()
  it("flatten merges a range of axes", function()
    local x = iota({2, 3, 4})
    shape_is({24}, x:flatten())
    shape_is({2, 12}, x:flatten(2))
    shape_is({6, 4}, x:flatten(1, 2))
    shape_is({2, 12}, mg.flatten(x, -2, -1))
    shape_is({2, 3, 4}, x:flatten(2, 2))
    shape_is({1}, mg.tensor(3.0):flatten())
    near({0, 1, 2, 3, 4, 5}, iota({2, 3}):flatten())
  end)

  it("flatten and ravel read non-contiguous tensors in logical order", function()
    local t = iota({2, 3}).T
    near({0, 3, 1, 4, 2, 5}, t:flatten())
    near({0, 3, 1, 4, 2, 5}, mg.ravel(t))
    shape_is({6}, t:ravel())
    -- mergeable axes of a view stay a view
    local c = iota({2, 3, 4})
    local v = c[{{}, {}, {1, 2}}]:flatten(1, 2)
    shape_is({6, 2}, v)
    v[{2, 1}] = 100
    near(100, c[{1, 2, 1}])
  end)

  it("moveaxis", function()
    local z = mg.zeros(2, 3, 4)
    shape_is({3, 4, 2}, mg.moveaxis(z, 1, -1))
    shape_is({4, 2, 3}, z:moveaxis(-1, 1))
    shape_is({4, 3, 2}, z:moveaxis({1, 2}, {-1, -2}))
    shape_is({3, 2, 4}, z:moveaxis({1}, {2}))
    local x = iota({2, 3})
    near({{0, 3}, {1, 4}, {2, 5}}, x:moveaxis(1, 2))
  end)
end)

describe("concatenate and stack", function()
  local a = mg.tensor({{1, 2}, {3, 4}})
  local b = mg.tensor({{5, 6}})

  it("joins along axis 1 by default, or another axis", function()
    near({{1, 2}, {3, 4}, {5, 6}}, mg.concatenate({a, b}))
    near({{1, 2}, {3, 4}, {5, 6}}, mg.cat({a, b}, 1))
    near({{1, 2, 1, 2}, {3, 4, 3, 4}}, mg.cat({a, a}, 2))
    near({{1, 2, 1, 2}, {3, 4, 3, 4}}, mg.cat({a, a}, -1))
    near({{1, 2, 1, 2}, {3, 4, 3, 4}}, mg.cat({a, a}, {axis = 2}))
    near({1, 2, 3}, mg.cat({{1, 2}, {3}}))
    shape_is({0, 2}, mg.cat({mg.zeros(0, 2), mg.zeros(0, 2)}))
  end)

  it("takes tensors as arguments and as a method", function()
    near({{1, 2}, {3, 4}, {5, 6}}, mg.cat(a, b))
    near({{1, 2}, {3, 4}, {5, 6}}, a:cat(b))
    near({{1, 2, 1, 2}, {3, 4, 3, 4}}, a:cat(a, 2))
    near({{1, 2}, {3, 4}, {5, 6}, {5, 6}}, a:concatenate(b, b))
  end)

  it("promotes dtypes", function()
    local i = mg.tensor({1, 2})
    local f = mg.tensor({0.5}, {dtype = "float64"})
    local r = mg.cat({i, f})
    assert.are.equal("float64", r.dtype)
    near({1, 2, 0.5}, r)
    assert.are.equal("int64", mg.cat({i, mg.tensor({true})}).dtype)
    assert.are.equal("bool", mg.cat({mg.tensor({true}), mg.tensor({false})}).dtype)
  end)

  it("joins more tensors than an op has inputs", function()
    local list, expected = {}, {}
    for k = 1, 20 do
      list[k] = mg.tensor({{k, -k}})
      expected[k] = {k, -k}
    end
    near(expected, mg.cat(list))
    shape_is({20, 2}, mg.cat(list))
    shape_is({1, 40}, mg.cat(list, 2))
    shape_is({20, 1, 2}, mg.stack(list))
    near(expected, mg.stack(list, 2):squeeze(1))
  end)

  it("stack adds an axis", function()
    local x, y = mg.tensor({1, 2, 3}), mg.tensor({4, 5, 6})
    near({{1, 2, 3}, {4, 5, 6}}, mg.stack({x, y}))
    near({{1, 4}, {2, 5}, {3, 6}}, mg.stack({x, y}, 2))
    near({{1, 4}, {2, 5}, {3, 6}}, mg.stack({x, y}, -1))
    near({{1, 4}, {2, 5}, {3, 6}}, x:stack(y, {axis = -1}))
    near({7, 8}, mg.stack({mg.tensor(7), mg.tensor(8)}))
    shape_is({2, 3, 2}, mg.stack({iota({2, 3}), iota({3, 2}).T}, -1))
    near({{0, 0}, {1, 2}, {2, 4}, {3, 1}, {4, 3}, {5, 5}},
      mg.stack({iota({2, 3}), iota({3, 2}).T}, -1):reshape(6, 2))
  end)

  it("records CatBackward", function()
    assert.are.equal("CatBackward", mg.cat({randn({2}), randn({3})}).grad_fn)
    assert.is_nil(mg.cat({a, b}).grad_fn)
  end)
end)

describe("split and chunk", function()
  local x = iota({7})

  local function sizes(list, axis)
    local s = {}
    for k, t in ipairs(list) do s[k] = t.shape[axis or 1] end
    return s
  end

  it("split by a piece size (the last smaller) or by a table of sizes", function()
    local p = x:split(3)
    assert.are.same({3, 3, 1}, sizes(p))
    near({3, 4, 5}, p[2])
    near({6}, p[3])
    assert.are.same({7}, sizes(x:split(7)))
    assert.are.same({7}, sizes(x:split(10)))
    local q = mg.split(x, {2, 0, 5})
    assert.are.same({2, 0, 5}, sizes(q))
    near({2, 3, 4, 5, 6}, q[3])
    local y = iota({2, 5})
    local r = y:split({1, 4}, 2)
    assert.are.same({1, 4}, sizes(r, 2))
    near({{1, 2, 3, 4}, {6, 7, 8, 9}}, r[2])
    assert.are.same({2, 2, 1}, sizes(y:split(2, {axis = -1}), 2))
    assert.are.same({0}, sizes(mg.zeros(0):split(3)))
  end)

  it("chunk makes at most n pieces of ceil(len / n), as PyTorch", function()
    assert.are.same({3, 3, 1}, sizes(x:chunk(3)))
    assert.are.same({2, 2, 2}, sizes(iota({6}):chunk(4)))
    assert.are.same({1, 1, 1, 1, 1, 1, 1}, sizes(x:chunk(10)))
    assert.are.same({1, 1}, sizes(iota({3, 2}):chunk(2, 2), 2))
    assert.are.same({0, 0, 0}, sizes(mg.zeros(0):chunk(3)))
    near({{0}, {2}, {4}}, mg.chunk(iota({3, 2}), 2, -1)[1])
  end)

  it("the pieces are views", function()
    local c = mg.zeros({4}, {constant = true})
    local p = c:split(2)
    p[2][1] = 5
    near({0, 0, 5, 0}, c)
  end)
end)

describe("repeat, tile, flip and pad", function()
  local rep = mg["repeat"]

  it("repeat repeats each element (NumPy)", function()
    local x = mg.tensor({1, 2, 3})
    near({1, 1, 2, 2, 3, 3}, rep(x, 2))
    near({1, 3, 3}, rep(x, {1, 0, 2}))
    near({1, 3, 3}, x:repeat_interleave(mg.tensor({1, 0, 2})))
    local m = mg.tensor({{1, 2}, {3, 4}})
    near({1, 1, 2, 2, 3, 3, 4, 4}, rep(m, 2))
    near({{1, 2}, {3, 4}, {3, 4}}, rep(m, {1, 2}, 1))
    near({{1, 1, 1, 2}, {3, 3, 3, 4}}, rep(m, {3, 1}, 2))
    near({{1, 1, 2, 2}, {3, 3, 4, 4}}, m:repeat_interleave(2, {axis = -1}))
    near({{1, 1, 3, 3}, {2, 2, 4, 4}}, m.T:repeat_interleave(2, 2))
    shape_is({0}, rep(x, 0))
    assert.are.equal("int64", rep(x, 2).dtype)
  end)

  it("tile repeats the whole tensor (NumPy)", function()
    local x = mg.tensor({0, 1, 2})
    near({0, 1, 2, 0, 1, 2}, x:tile(2))
    near({{0, 1, 2, 0, 1, 2}, {0, 1, 2, 0, 1, 2}}, mg.tile(x, {2, 2}))
    shape_is({2, 1, 3}, x:tile({2, 1, 1}))
    local m = mg.tensor({{1, 2}, {3, 4}})
    near({{1, 2, 1, 2}, {3, 4, 3, 4}}, m:tile(2))
    near({{1, 2}, {3, 4}, {1, 2}, {3, 4}}, m:tile({2, 1}))
    near({{1, 3, 1, 3}, {2, 4, 2, 4}}, m.T:tile(2))
    shape_is({2, 0}, m:tile({1, 0}))
    near({{1, 2}, {3, 4}}, m:tile(1))
  end)

  it("flip reverses all axes or the given ones", function()
    local m = iota({2, 3})
    near({5, 4, 3, 2, 1, 0}, m:flip())
    near({{3, 4, 5}, {0, 1, 2}}, m:flip(1))
    near({{2, 1, 0}, {5, 4, 3}}, mg.flip(m, -1))
    near({{5, 4, 3}, {2, 1, 0}}, m:flip({1, 2}))
    near({{2, 5}, {1, 4}, {0, 3}}, m.T:flip(1))
    near({3}, mg.tensor({3}):flip())
    shape_is({0}, mg.zeros(0):flip())
  end)

  it("pad with NumPy's pad_width forms", function()
    local x = mg.tensor({1., 2.})
    near({0, 1, 2, 0}, mg.pad(x, 1))
    near({0, 1, 2, 0, 0}, x:pad({1, 2}))
    near({9, 1, 2, 9}, x:pad(1, {value = 9}))
    near({9, 1, 2, 9}, x:pad(1, {constant_values = 9}))
    near({7, 1, 2}, x:pad({{1, 0}}, 7))
    local m = mg.tensor({{1, 2}, {3, 4}})
    near({{0, 0, 0, 0}, {1, 2, 0, 0}, {3, 4, 0, 0}}, m:pad({{1, 0}, {0, 2}}))
    near({{-1, -1, -1}, {1, 2, -1}, {3, 4, -1}, {-1, -1, -1}}, m:pad({{1, 1}, {0, 1}}, {value = -1}))
    near({{1, 3, 0}, {2, 4, 0}}, m.T:pad({{0, 0}, {0, 1}}))
    assert.are.equal("int64", m:pad(1).dtype)
    shape_is({2, 2}, m:pad(0))
  end)
end)

describe("gradients (float64 gradcheck)", function()
  it("squeeze, unsqueeze, expand_dims", function()
    check(function(a) return a:squeeze() end, {randn({1, 3, 1})})
    check(function(a) return a:squeeze(2) end, {randn({2, 1, 3})})
    check(function(a) return a:unsqueeze(2) end, {randn({2, 3})})
    check(function(a) return a:expand_dims({1, -1}) end, {transposed({2, 3})})
  end)

  it("flatten and ravel, contiguous and not", function()
    check(function(a) return a:flatten() end, {randn({2, 3, 2})})
    check(function(a) return a:flatten(2) end, {randn({2, 3, 2})})
    check(function(a) return a:flatten() end, {transposed({3, 4})})
    check(function(a) return a:ravel() end, {transposed({2, 3})})
  end)

  it("moveaxis", function()
    check(function(a) return a:moveaxis(1, -1) end, {randn({2, 3, 4})})
    check(function(a) return a:moveaxis({1, 2}, {3, 1}) end, {randn({2, 3, 2})})
  end)

  it("concatenate of 10 tensors (gradient to every input)", function()
    local inputs = {}
    for k = 1, 10 do inputs[k] = randn({1 + k % 3, 2}) end
    inputs[4] = transposed({3, 2})
    check(function(...) return mg.cat({...}) end, inputs)
    check(function(...) return mg.cat({...}, 1) * 2 end, inputs)
  end)

  it("concatenate along an inner axis, with a repeated input and a constant", function()
    local a, b = randn({2, 3}), transposed({2, 2})
    local c = mg.ones({2, 1}, {dtype = "float64", constant = true})
    check(function(x, y) return mg.cat({x, y, c, x}, 2) end, {a, b})
    check(function(x) return mg.cat({x, mg.tensor({{1}, {2}})}, -1) end, {a})
  end)

  it("stack", function()
    check(function(x, y, z) return mg.stack({x, y, z}) end, {randn({2, 3}), transposed({2, 3}), randn({2, 3})})
    check(function(x, y) return mg.stack({x, y}, -1) end, {randn({3}), randn({3})})
    local inputs = {}
    for k = 1, 10 do inputs[k] = randn({2}) end
    check(function(...) return mg.stack({...}, 2) end, inputs)
  end)

  it("split and chunk outputs used together", function()
    check(function(x)
      local p = x:split({1, 2, 1}, 2)
      return mg.cat({p[3] * p[1], p[2], p[1]}, 2)
    end, {randn({3, 4})})
    check(function(x)
      local p = x:split(2)
      return p[1] * p[2] + p[3]:sum()
    end, {transposed({5, 3})})
    check(function(x)
      local c = x:chunk(3, 2)
      return c[1] * c[2] - c[3]
    end, {randn({2, 6})})
  end)

  it("repeat with one count and with per-element counts", function()
    local rep = mg["repeat"]
    check(function(x) return rep(x, 2) end, {randn({2, 3})})
    check(function(x) return rep(x, {2, 0, 3}, 2) end, {randn({2, 3})})
    check(function(x) return x:repeat_interleave({1, 3}, 1) end, {transposed({2, 3})})
  end)

  it("tile", function()
    check(function(x) return x:tile({2, 3}) end, {randn({2, 2})})
    check(function(x) return x:tile({2, 1, 2}) end, {transposed({2, 3})})
  end)

  it("flip", function()
    check(function(x) return x:flip() end, {randn({2, 3})})
    check(function(x) return x:flip(2) end, {transposed({3, 2})})
  end)

  it("pad", function()
    check(function(x) return x:pad({{1, 2}, {0, 1}}, {value = 3}) end, {randn({2, 3})})
    check(function(x) return mg.pad(x, 1) end, {transposed({2, 3})})
  end)

  it("concatenate of float32 and float64 variables casts each gradient back", function()
    local a = mg.random.randn({2})
    local b = mg.random.randn({3}, {dtype = "float64"})
    local y = mg.cat({a, b})
    assert.are.equal("float64", y.dtype)
    local s = (y * mg.arange(1.0, 6.0)):sum()
    s:backward()
    assert.are.equal("float32", a.grad.dtype)
    assert.are.equal("float64", b.grad.dtype)
    near({1, 2}, a.grad)
    near({3, 4, 5}, b.grad)
  end)

  it("records a grad_fn for each", function()
    local v = randn({2, 2})
    assert.are.equal("FlattenBackward", v:flatten().grad_fn)
    assert.are.equal("PadBackward", v:pad(1).grad_fn)
    assert.are.equal("RepeatBackward", v:repeat_interleave(2).grad_fn)
    assert.are.equal("TileBackward", v:tile(2).grad_fn)
    assert.are.equal("PermuteBackward", v:moveaxis(1, 2).grad_fn)
    assert.are.equal("IndexBackward", v:flip().grad_fn)
    assert.are.equal("IndexBackward", v:split(1)[1].grad_fn)
  end)

  it("second order through cat, repeat, tile, pad, flip and squeeze", function()
    check2(function(x) return mg.cat({x, x * x}) end, {randn({3})})
    check2(function(x) return mg["repeat"](x * x, {1, 2, 0}) end, {randn({3})})
    check2(function(x) return (x * x):tile(2) end, {randn({2})})
    check2(function(x) return (x * x):pad(1) end, {randn({2, 2})})
    check2(function(x) return (x * x):unsqueeze(1):flip():squeeze() end, {randn({3})})
  end)
end)

describe("errors", function()
  local x = mg.zeros(2, 3)

  it("squeeze, unsqueeze, flatten, moveaxis", function()
    raises(function() return x:squeeze(2) end, "squeeze", "size 3", "{2, 3}")
    raises(function() return x:squeeze(3) end, "squeeze", "out of range")
    raises(function() return x:unsqueeze(4) end, "unsqueeze", "out of range")
    raises(function() return x:unsqueeze() end, "unsqueeze", "expected an axis")
    raises(function() return x:expand_dims({1, 1}) end, "expand_dims", "repeated")
    raises(function() return mg.zeros({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}):unsqueeze(1) end,
      "unsqueeze", "at most 16")
    raises(function() return x:flatten(2, 1) end, "flatten", "start_axis 2 comes after end_axis 1")
    raises(function() return x:flatten(3) end, "flatten", "out of range")
    raises(function() return x:moveaxis({1, 2}, 1) end, "moveaxis", "source has 2 axes")
    raises(function() return x:moveaxis({1, 1}, {1, 2}) end, "moveaxis", "repeated")
    raises(function() return x:moveaxis(1, 3) end, "moveaxis", "out of range")
  end)

  it("concatenate and stack", function()
    raises(function() return mg.cat({}) end, "concatenate", "non-empty")
    raises(function() return mg.stack({}) end, "stack", "non-empty")
    raises(function() return mg.cat("x") end, "concatenate", "list of tensors")
    raises(function() return mg.cat({x, mg.zeros(2, 4)}) end, "concatenate", "{2, 4}", "{2, 3}")
    raises(function() return mg.cat({x, mg.zeros(3)}) end, "concatenate", "{3}", "{2, 3}")
    raises(function() return mg.cat({x, x}, 3) end, "concatenate", "out of range")
    raises(function() return mg.cat({mg.tensor(1), mg.tensor(2)}) end, "concatenate", "0-d")
    raises(function() return mg.cat({x, "a"}) end, "concatenate", "element 2")
    raises(function() return mg.stack({x, mg.zeros(3, 2)}) end, "stack", "{3, 2}", "{2, 3}")
    raises(function() return mg.stack({x, x}, 4) end, "stack", "out of range")
  end)

  it("split and chunk", function()
    raises(function() return x:split({1, 2}) end, "split", "add up to 3", "length 2")
    raises(function() return x:split({3, -1}) end, "split", ">= 0")
    raises(function() return x:split(0) end, "split", "positive")
    raises(function() return x:split(1.5) end, "split", "integer")
    raises(function() return x:split(1, 3) end, "split", "out of range")
    raises(function() return x:chunk(0) end, "chunk", "positive")
    raises(function() return mg.tensor(1):split(1) end, "split", "0-d")
  end)

  it("repeat, tile, flip, pad", function()
    local rep = mg["repeat"]
    raises(function() return rep(x, -1) end, "repeat", "repeats must be >= 0", "-1")
    raises(function() return rep(x, {1, -2}, 1) end, "repeat", ">= 0")
    raises(function() return rep(x, {1, 2}, 2) end, "repeat", "2 counts", "length 3")
    raises(function() return rep(x, 2, 3) end, "repeat", "out of range")
    raises(function() return rep(x, mg.tensor({1.5})) end, "repeat", "integer")
    raises(function() return x:tile(-1) end, "tile", ">= 0")
    raises(function() return x:flip(3) end, "flip", "out of range")
    raises(function() return x:flip({1, 1}) end, "flip", "repeated")
    raises(function() return x:pad(-1) end, "pad", ">= 0")
    raises(function() return x:pad({{1, 1}, {1, 1}, {1, 1}}) end, "pad", "3 pairs", "2 axes")
    raises(function() return x:pad({1, 2, 3}) end, "pad", "{before, after}")
    raises(function() return x:pad(1, {mode = "reflect"}) end, "pad", "constant")
    raises(function() return x:pad() end, "pad", "pad_width")
    raises(function() return mg.tensor({1, 2}):pad(1, {value = 0 / 0}) end, "pad", "int64")
  end)
end)
