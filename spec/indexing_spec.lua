-- indexing_spec.lua — indexing with tensors (NumPy's advanced indexing, 1-based):
-- bool masks, int64 index tensors (gather), several index tensors broadcast
-- together, mixtures with integers and slices and where the indexed axes go;
-- writes through masks and index tensors (in place, and recorded in a graph);
-- float64 gradchecks of every read and write; edge cases (empty, negative,
-- out of range) and the errors.
local mg = require("moongrad")
local gc = require("gradcheck")
local H = require("helpers")
local i64, f64, check, check2, raises = H.i64, H.f64, H.check, H.check2, H.raises

local function mask(v) return mg.tensor(v, {dtype = "bool"}) end

describe("reading with a bool mask", function()
  local x
  before_each(function() x = mg.arange(12):reshape(3, 4) end)

  it("of x's shape gives the selected elements, row-major, as a 1-d copy", function()
    local m = mask({{true, false, false, true}, {false, false, false, false}, {false, true, true, false}})
    local r = x[m]
    assert.are.same({4}, r.shape)
    assert.are.same({0, 3, 9, 10}, r:totable())
    x[{1, 1}] = 100
    assert.are.same({0, 3, 9, 10}, r:totable()) -- a copy, not a view
  end)

  it("of x's leading axes selects whole rows", function()
    assert.are.same({{0, 1, 2, 3}, {8, 9, 10, 11}}, x[mask({true, false, true})]:totable())
    local y = mg.arange(24):reshape(2, 3, 4)
    local r = y[mask({{true, false, false}, {false, false, true}})]
    assert.are.same({2, 4}, r.shape)
    assert.are.same({{0, 1, 2, 3}, {20, 21, 22, 23}}, r:totable())
  end)

  it("after a slice, on a later axis", function()
    assert.are.same({{1, 3}, {5, 7}, {9, 11}}, x[{{}, mask({false, true, false, true})}]:totable())
    assert.are.same({{5, 7}}, x[{{2, 2}, mask({false, true, false, true})}]:totable())
  end)

  it("that is all false gives an empty result of the right shape", function()
    local r = x[mask({false, false, false})]
    assert.are.same({0, 4}, r.shape)
    local e = x[mask({{false, false, false, false}, {false, false, false, false},
                     {false, false, false, false}})]
    assert.are.same({0}, e.shape)
  end)

  it("of a non-contiguous tensor, with a non-contiguous mask", function()
    local m = mask({{true, false, true}, {false, false, false}, {false, false, false}, {true, true, false}})
    assert.are.same({0, 8, 3, 7}, x.T[m]:totable())
    assert.are.same({0, 8, 3, 7}, x.T[m.T.T]:totable())
    local mt = mask({{true, false, false, true}, {false, false, false, true}, {true, false, false, false}}).T
    assert.are.same({0, 8, 3, 7}, x.T[mt]:totable())
  end)

  it("works on int64, bool and float tensors alike", function()
    local b = mask({true, false, true})
    assert.are.same({true, true}, b[b]:totable())
    assert.are.equal("int64", x[b].dtype)
    assert.are.equal("float64", f64({1, 2, 3})[b].dtype)
  end)
end)

describe("reading with an int64 index tensor", function()
  local x
  before_each(function() x = mg.arange(12):reshape(3, 4) end)

  it("gathers along axis 1 (1-based, negative from the end)", function()
    assert.are.same({{8, 9, 10, 11}, {0, 1, 2, 3}}, x[i64({3, 1})]:totable())
    assert.are.same({{8, 9, 10, 11}, {4, 5, 6, 7}}, x[i64({-1, -2})]:totable())
    assert.are.same({10, 20, 10}, i64({10, 20, 30})[i64({1, 2, 1})]:totable())
  end)

  it("of any shape: the result has the index's shape in place of the axis", function()
    local r = x[i64({{1, 2}, {3, 3}})]
    assert.are.same({2, 2, 4}, r.shape)
    assert.are.same({{{0, 1, 2, 3}, {4, 5, 6, 7}}, {{8, 9, 10, 11}, {8, 9, 10, 11}}}, r:totable())
    local s = mg.tensor({5, 6, 7})[i64(2)] -- a 0-d index drops the axis
    assert.are.equal(0, s.ndim)
    assert.are.equal(6, s:item())
  end)

  it("repeats rows for repeated indices; the result is a copy", function()
    local r = x[i64({2, 2})]
    assert.are.same({{4, 5, 6, 7}, {4, 5, 6, 7}}, r:totable())
    r[{1, 1}] = -1
    assert.are.equal(4, x[{2, 1}]:item())
  end)

  it("with an empty index tensor gives an empty result", function()
    local r = x[i64({})]
    assert.are.same({0, 4}, r.shape)
    assert.are.same({3, 0}, x[{{}, mg.zeros({0}, {dtype = "int64"})}].shape)
  end)

  it("of a non-contiguous tensor and with a non-contiguous index", function()
    assert.are.same({{3, 7, 11}, {0, 4, 8}}, x.T[i64({4, 1})]:totable())
    local idx = i64({{1, 3}, {2, 1}}).T -- {{1, 2}, {3, 1}}
    assert.are.same({{{0, 1, 2, 3}, {4, 5, 6, 7}}, {{8, 9, 10, 11}, {0, 1, 2, 3}}}, x[idx]:totable())
    assert.are.same({{2, 0}, {6, 4}, {10, 8}}, x[{{}, i64({3, 1})}]:totable())
  end)

  it("Lua tables in a key stay slices (index arrays come only as int64 tensors)", function()
    assert.are.same({{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}}, x[{{1, 3}}]:totable())
    assert.are.same({{0, 1, 2, 3}, {8, 9, 10, 11}}, x[{i64({1, 3})}]:totable())
  end)
end)

describe("several index tensors and mixtures (NumPy's rules)", function()
  local x, y
  before_each(function()
    x = mg.arange(12):reshape(3, 4)
    y = mg.arange(24):reshape(2, 3, 4)
  end)

  it("index tensors pick elements pairwise", function()
    assert.are.same({1, 11, 4}, x[{i64({1, 3, 2}), i64({2, 4, 1})}]:totable())
  end)

  it("index tensors broadcast together", function()
    local r = x[{i64({{1}, {3}}), i64({1, 4})}]
    assert.are.same({{0, 3}, {8, 11}}, r:totable())
    assert.are.same({9, 10}, x[{i64(3), i64({2, 3})}]:totable())
  end)

  it("a slice before an index tensor keeps its axis in front", function()
    local r = x[{{}, i64({{1, 2}, {4, 4}})}]
    assert.are.same({3, 2, 2}, r.shape)
    assert.are.same({{0, 1}, {3, 3}}, r[1]:totable())
    assert.are.same({{8, 9}, {11, 11}}, r[3]:totable())
  end)

  it("a slice after an index tensor", function()
    assert.are.same({{9, 10, 11}, {1, 2, 3}}, x[{i64({3, 1}), {2, -1}}]:totable())
    assert.are.same({{11, 9}, {3, 1}}, x[{i64({3, 1}), {-1, 1, -2}}]:totable())
  end)

  it("adjacent index tensors keep their place", function()
    local r = y[{{}, i64({1, 3}), i64({2, 4})}]
    assert.are.same({2, 2}, r.shape)
    assert.are.same({{1, 11}, {13, 23}}, r:totable())
    local s = y[{i64({2, 1}), i64({3, 1})}]
    assert.are.same({{20, 21, 22, 23}, {0, 1, 2, 3}}, s:totable())
  end)

  it("index tensors separated by a slice put their axes first", function()
    local r = y[{i64({1, 2, 2}), {}, i64({4, 1, 2})}]
    assert.are.same({3, 3}, r.shape)
    assert.are.same({{3, 7, 11}, {12, 16, 20}, {13, 17, 21}}, r:totable())
  end)

  it("integers count as index tensors once a tensor is present", function()
    -- adjacent: y[{{}, 2, idx}] keeps the place
    assert.are.same({{4, 7}, {16, 19}}, y[{{}, 2, i64({1, 4})}]:totable())
    -- separated by a slice: the index axes go first (NumPy: y[0, :, [0, 1]] has shape (2, 3))
    local r = y[{1, {}, i64({1, 2})}]
    assert.are.same({2, 3}, r.shape)
    assert.are.same({{0, 4, 8}, {1, 5, 9}}, r:totable())
  end)

  it("a mask and an index tensor together", function()
    -- the mask's true positions (1 and 3) pair with the index
    assert.are.same({1, 11}, x[{mask({true, false, true}), i64({2, 4})}]:totable())
    assert.are.same({{1, 2}, {13, 14}}, y[{{}, mask({true, false, false}), i64({2, 3})}]:totable())
  end)
end)

describe("gradients of reads", function()
  it("a gather scatter-adds: repeated indices accumulate", function()
    local x = mg.tensor({1.0, 2.0, 3.0, 4.0})
    local s = x[i64({1, 1, 2})]
    assert.are.equal("IndexBackward", s.grad_fn)
    s:sum():backward()
    assert.are.same({2, 1, 0, 0}, x.grad:totable())
  end)

  it("a mask read sends the gradient back to the selected elements", function()
    local x = mg.tensor({{1.0, 2.0}, {3.0, 4.0}})
    local s = x[mask({{true, false}, {false, true}})] * mg.tensor({10.0, 20.0})
    s:sum():backward()
    assert.are.same({{10, 0}, {0, 20}}, x.grad:totable())
  end)

  it("gradcheck: mask read (full and leading axes)", function()
    local m = mask({{true, false, true}, {false, true, true}})
    check(function(x) return x[m] end, {f64({{1, 2, 3}, {4, 5, 6}})})
    check(function(x) return x[mask({false, true})] end, {gc.fixed({2, 3}, 3):requires_grad_(true)})
    check(function(x) return x[{{}, mask({true, false, true})}] end,
      {gc.fixed({2, 3}, 4):requires_grad_(true)})
  end)

  it("gradcheck: gather with a 1-d index, repeated indices", function()
    check(function(x) return x[i64({3, 1, 1, -1})] end, {gc.fixed({4}, 5):requires_grad_(true)})
    check(function(x) return x[i64({2, 2, 1})] end, {gc.fixed({3, 2}, 6):requires_grad_(true)})
  end)

  it("gradcheck: gather with a 2-d index, non-contiguous input", function()
    check(function(x) return x[i64({{1, 3}, {3, 3}})] end, {gc.fixed({3, 2}, 7):requires_grad_(true)})
    local xt = gc.fixed({2, 3}, 8).T:requires_grad_(true)
    check(function(x) return x[i64({{2, 1}, {1, 1}})] end, {xt})
  end)

  it("gradcheck: several index tensors", function()
    check(function(x) return x[{i64({{1}, {3}}), i64({2, 2, 1})}] end,
      {gc.fixed({3, 2}, 9):requires_grad_(true)})
    check(function(x) return x[{i64({1, 2, 1}), {}, i64({3, 1, 3})}] end,
      {gc.fixed({2, 2, 3}, 10):requires_grad_(true)})
  end)

  it("gradcheck: mixed slices, integers and an index tensor", function()
    local x = gc.fixed({3, 4}, 11):requires_grad_(true)
    check(function(t) return t[{{}, i64({4, 1, 4})}] end, {x})
    check(function(t) return t[{i64({3, 1}), {2, -1}}] end, {x})
    local y = gc.fixed({2, 3, 4}, 12):requires_grad_(true)
    check(function(t) return t[{2, {1, 2}, i64({1, 1})}] end, {y})
  end)

  it("gradgradcheck: gather and mask reads", function()
    check2(function(x) return x[i64({2, 2, 1})] * x[i64({1, 2, 2})] end,
      {gc.fixed({3, 2}, 13):requires_grad_(true)})
    check2(function(x) return x[mask({true, false, true})] ^ 2 end,
      {gc.fixed({3}, 14):requires_grad_(true)})
  end)
end)

describe("writing through a mask or an index tensor", function()
  it("x[mask] = number and x[idx] = number write in place", function()
    local x = mg.arange(6)
    local view = x[{{2, 4}}]
    x[mask({true, false, true, false, false, true})] = -1
    assert.are.same({-1, 1, -1, 3, 4, -1}, x:totable())
    x[i64({2, -2})] = 9
    assert.are.same({-1, 9, -1, 3, 9, -1}, x:totable())
    assert.are.same({9, -1, 3}, view:totable()) -- views see the writes
  end)

  it("a broadcastable tensor value", function()
    local x = mg.zeros({3, 2}, {constant = true})
    x[i64({3, 1})] = mg.tensor({{1, 2}, {3, 4}})
    assert.are.same({{3, 4}, {0, 0}, {1, 2}}, x:totable())
    x[mask({false, true, false})] = mg.tensor({7, 8})
    assert.are.same({{3, 4}, {7, 8}, {1, 2}}, x:totable())
    x[{{}, i64({2})}] = mg.tensor({{5}, {6}, {7}})
    assert.are.same({{3, 5}, {7, 6}, {1, 7}}, x:totable())
    x[{i64({1, 3}), i64({1, 2})}] = 0
    assert.are.same({{0, 5}, {7, 6}, {1, 0}}, x:totable())
  end)

  it("with repeated indices the last write wins", function()
    local x = mg.zeros(3, {constant = true})
    x[i64({2, 2, 1, 2})] = mg.tensor({1, 2, 3, 4})
    assert.are.same({3, 4, 0}, x:totable())
  end)

  it("an empty index or mask writes nothing", function()
    local x = mg.arange(3)
    x[i64({})] = 5
    x[mask({false, false, false})] = 5
    assert.are.same({0, 1, 2}, x:totable())
  end)

  it("a value that overlaps the destination is read before the write", function()
    local x = mg.arange(5)
    x[i64({2, 3, 4})] = x[{{1, 3}}]
    assert.are.same({0, 0, 1, 2, 4}, x:totable())
  end)

  it("casts the value to the tensor's dtype", function()
    local x = mg.zeros(3, {dtype = "int64"})
    x[i64({1})] = 4
    assert.are.same({4, 0, 0}, x:totable())
    local b = mask({false, false})
    b[i64({2})] = true
    assert.are.same({false, true}, b:totable())
  end)

  it("into a variable records the write and moves the handle", function()
    local x = mg.tensor({1.0, 2.0, 3.0})
    local v = mg.tensor({10.0, 20.0})
    local row = x.data
    x[i64({3, 1})] = v
    assert.are.equal("IndexPutBackward", x.grad_fn)
    assert.are.same({20, 2, 10}, x:totable())
    assert.are.same({20, 2, 10}, row:totable()) -- the storage holds the new values
    local s = (x * mg.tensor({1.0, 2.0, 3.0})):sum()
    s:backward()
    assert.are.same({3, 1}, v.grad:totable())
  end)

  it("sends the gradient to the surviving old contents and to the value", function()
    local a = mg.tensor({1.0, 2.0, 3.0, 4.0})
    local v = mg.tensor(10.0)
    local b = a * 1
    b[mask({false, true, false, true})] = v
    assert.are.same({1, 10, 3, 10}, b:totable())
    local s = (b * mg.tensor({1.0, 2.0, 3.0, 4.0})):sum()
    s:backward()
    assert.are.same({1, 0, 3, 0}, a.grad:totable())
    assert.are.equal(6, v.grad:item())
  end)

  it("only the last write of a repeated index gets the value's gradient", function()
    local a = mg.tensor({1.0, 2.0, 3.0})
    local v = mg.tensor({1.0, 2.0, 3.0})
    local b = a * 1
    b[i64({2, 1, 2})] = v
    local s = (b * mg.tensor({1.0, 10.0, 100.0})):sum()
    s:backward()
    assert.are.same({0, 1, 10}, v.grad:totable())
    assert.are.same({0, 0, 100}, a.grad:totable())
  end)

  it("gradcheck: mask write (old contents and value)", function()
    local m = mask({{true, false, true}, {false, false, true}})
    check(function(a, v)
      local b = a * 1
      b[m] = v
      return b
    end, {gc.fixed({2, 3}, 20):requires_grad_(true), gc.fixed({3}, 21):requires_grad_(true)})
    check(function(a, v) -- leading-axes mask, broadcast value
      local b = a * 1
      b[mask({false, true})] = v
      return b
    end, {gc.fixed({2, 3}, 22):requires_grad_(true), gc.fixed({3}, 23):requires_grad_(true)})
  end)

  it("gradcheck: index write, repeated indices, broadcast value", function()
    check(function(a, v)
      local b = a * 1
      b[i64({3, 1, 3})] = v
      return b
    end, {gc.fixed({3, 2}, 24):requires_grad_(true), gc.fixed({3, 2}, 25):requires_grad_(true)})
    check(function(a, v)
      local b = a * 1
      b[{i64({1, 2}), i64({3, 1})}] = v
      return b
    end, {gc.fixed({2, 3}, 26):requires_grad_(true), gc.fixed({1}, 27):requires_grad_(true)})
  end)

  it("gradcheck: mixed slice and index write", function()
    check(function(a, v)
      local b = a * 1
      b[{{2, 3}, i64({4, 1})}] = v
      return b
    end, {gc.fixed({3, 4}, 28):requires_grad_(true), gc.fixed({2, 2}, 29):requires_grad_(true)})
    check(function(a, v)
      local b = a * 1
      b[{i64({2}), {1, -1, 2}}] = v
      return b
    end, {gc.fixed({3, 4}, 30):requires_grad_(true), gc.fixed({2}, 31):requires_grad_(true)})
  end)

  it("gradcheck: index write on a later axis, into a non-contiguous tensor", function()
    check(function(a, v)
      local b = a * 1
      b[{{}, i64({3, 1})}] = v
      return b
    end, {gc.fixed({2, 3}, 34):requires_grad_(true), gc.fixed({2, 1}, 35):requires_grad_(true)})
    check(function(a, v)
      local b = (a * 1).T
      b[i64({-1})] = v
      return b
    end, {gc.fixed({2, 3}, 36):requires_grad_(true), gc.fixed({2}, 37):requires_grad_(true)})
  end)

  it("gradgradcheck: index write", function()
    check2(function(a, v)
      local b = a * a
      b[i64({2, 2})] = v * v
      return b
    end, {gc.fixed({3}, 32):requires_grad_(true), gc.fixed({2}, 33):requires_grad_(true)})
  end)

  it("under no_grad a write into a variable is a plain in-place write", function()
    local x = mg.tensor({1.0, 2.0})
    mg.no_grad(function() x[i64({2})] = 5 end)
    assert.is_nil(x.grad_fn)
    assert.are.same({1, 5}, x:totable())
  end)
end)

describe("indexing errors", function()
  local x
  before_each(function() x = mg.arange(12):reshape(3, 4) end)

  it("float index tensors", function()
    raises(function() return x[mg.tensor({1.0})] end, "index", "int64 or bool, got float32")
    raises(function() x[mg.tensor({1.0})] = 1 end, "index", "int64 or bool, got float32")
    raises(function() return x[{{}, f64({1})}] end, "int64 or bool, got float64")
  end)

  it("out of range, naming the index and the axis size", function()
    raises(function() return x[i64({1, 4})] end, "index", "index 4", "axis 1 of size 3")
    raises(function() return x[{{}, i64({-5})}] end, "index", "index -5", "axis 2 of size 4")
    raises(function() x[i64({7})] = 0 end, "setitem", "index 7", "size 3")
    raises(function() return mg.zeros({0, 2})[i64({1})] end, "index", "axis 1 of size 0")
    raises(function() return x[i64({math.mininteger})] end, "index", "out of range")
    raises(function() return x[i64({math.maxinteger})] end, "index", "out of range")
  end)

  it("index 0 (indices are 1-based)", function()
    raises(function() return x[i64({0})] end, "index", "0", "1-based")
  end)

  it("a mask of the wrong shape, or 0-d", function()
    raises(function() return x[mask({true, false})] end, "index", "{2}", "{3}")
    raises(function() return x[mask({{true}, {false}, {true}})] end, "index", "{3, 1}", "{3, 4}")
    raises(function() return x[mask(true)] end, "index", "0-d")
  end)

  it("too many indices", function()
    raises(function() return x[{i64({1}), i64({1}), i64({1})}] end, "index", "too many indices")
    local m = mask({{true, true, true, true}, {true, true, true, true}, {true, true, true, true}})
    raises(function() return x[{m, 1}] end, "index", "too many indices")
  end)

  it("index tensors that do not broadcast", function()
    raises(function() return x[{i64({1, 2}), i64({1, 2, 3})}] end, "index", "{2}", "{3}", "broadcast")
  end)

  it("a value of the wrong shape", function()
    raises(function() x[i64({1, 2})] = mg.tensor({1, 2, 3}) end, "setitem", "{3}", "{2, 4}")
    raises(function() x[mask({true, false, true})] = mg.ones(3, 4) end, "setitem", "{3, 4}", "{2, 4}")
  end)

  it("a variable written into an integer tensor", function()
    raises(function() x[i64({1})] = mg.tensor(1.5) end, "setitem", "int64")
  end)

  it("other values as entries", function()
    raises(function() return x[{i64({1}), true}] end, "index")
  end)
end)
