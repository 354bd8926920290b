-- parsers_spec.lua — the parsers the libFuzzer harnesses in fuzz/ exercise,
-- seen from Lua: slices {start, stop, step} and integer indices (parsed by
-- mg_slice_normalize / mg_int_index_normalize in src/slice.c) checked
-- against a reference over a grid of values up to math.mininteger and
-- math.maxinteger, for reads and writes, with the exact error messages; and
-- einsum's subscripts, the cases of fuzz/corpus/einsum, with the planner
-- bugs fuzz_einsum found (valid subscripts refused).
local mg = require("moongrad")

local function raises(fn, ...)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error")
  assert(type(err) == "string", "the error is a " .. type(err) .. ", not a message")
  for _, fragment in ipairs({...}) do
    assert(err:find(fragment, 1, true), "error '" .. err .. "' does not mention '" .. fragment .. "'")
  end
  return err
end

-- err ends with msg (luaL_error puts the caller's position in front)
local function ends_with(msg, err)
  assert(err:sub(-#msg) == msg, "error '" .. err .. "' is not '" .. msg .. "'")
end

local MIN, MAX = math.mininteger, math.maxinteger

-- The 0-based positions x[{{a, b, s}}] takes on an axis of length len
-- (1-based, b inclusive, negatives from the end, a and b clamped to the
-- axis; nil: not given), or nil for an error.  No step of the walk can
-- overflow: it compares s with the distance left.
local function positions(a, b, s, len)
  s = s or 1
  if s == 0 or a == 0 or b == 0 then return nil end
  local function resolve(i) return i > 0 and i - 1 or len + i end
  local lo = a and resolve(a) or (s > 0 and 0 or len - 1)
  local hi = b and resolve(b) or (s > 0 and len - 1 or 0)
  local out = {}
  if s > 0 then
    if lo < 0 then lo = 0 end
    if hi > len - 1 then hi = len - 1 end
    local p = lo
    while p <= hi do
      out[#out + 1] = p
      if s > hi - p then break end
      p = p + s
    end
  else
    if lo > len - 1 then lo = len - 1 end
    if hi < 0 then hi = 0 end
    local p = lo
    while p >= hi do
      out[#out + 1] = p
      if s < hi - p then break end
      p = p + s
    end
  end
  return out
end

local VALUES = {MIN, MIN + 1, -6, -5, -2, -1, 1, 2, 5, MAX - 1, MAX}

describe("slices from Lua (mg_slice_normalize)", function()
  it("agree with the reference for every start, stop and step of a grid", function()
    local n = 0
    for len = 0, 4 do
      local x = mg.arange(len * 1.0)
      for _, a in ipairs({false, table.unpack(VALUES)}) do
        for _, b in ipairs({false, table.unpack(VALUES)}) do
          for _, s in ipairs({false, 0, table.unpack(VALUES)}) do
            local key = {a or nil, b or nil, s or nil}
            if not a then key = {nil, b or nil, s or nil} end
            local want = positions(a or nil, b or nil, s or nil, len)
            if a and not b and not s then want = positions(a, a, nil, len) end -- {a}: a..a
            local ok, got = pcall(function() return x[{key}] end)
            if want then
              assert(ok, ("x[{%s, %s, %s}] on length %d: %s"):format(a, b, s, len, got))
              local vals = got:totable()
              assert.are.equal(#want, #vals)
              for i = 1, #want do assert.are.equal(want[i], vals[i]) end
            else
              assert(not ok, ("x[{%s, %s, %s}] on length %d should fail"):format(a, b, s, len))
            end
            n = n + 1
          end
        end
      end
    end
    assert(n > 3000)
  end)

  it("writes through the same positions", function()
    for _, key in ipairs({{MIN, MAX, 2}, {MAX, MIN, -2}, {-1, 1, MIN}, {1, -1, MAX}, {2, MAX}}) do
      local x = mg.zeros(5)
      x[{key}] = 1
      local want = {0, 0, 0, 0, 0}
      for _, p in ipairs(positions(key[1], key[2], key[3], 5)) do want[p + 1] = 1 end
      assert.are.same(want, x:totable())
    end
  end)

  it("on a non-contiguous tensor and on later axes", function()
    local x = mg.arange(12.0):reshape(3, 4).T        -- {4, 3}
    assert.are.same({3, 2, 1, 0}, x[{{MAX, MIN, -1}, 1}]:totable())
    assert.are.same({{1, 9}}, x[{{2, MAX, MAX}, {1, -1, 2}}]:totable())
  end)

  it("errors keep their messages", function()
    local x = mg.zeros(3, 4)
    ends_with("index: slice step cannot be 0 (axis 2)",
      raises(function() return x[{{}, {1, 2, 0}}] end))
    ends_with("index: 0 is not a valid position (indices are 1-based; -1 is the last)",
      raises(function() return x[{{0, 2}}] end))
    raises(function() return x[{{1, 0}}] end, "index", "0 is not a valid position")
    raises(function() x[{{1, 2, 0}}] = 1 end, "index", "step cannot be 0 (axis 1)")
    raises(function() return x[{{1, 2, 3, 4}}] end, "index", "4 entries")
    raises(function() return x[{{1, 2.5}}] end, "index", "stop must be an integer")
  end)
end)

describe("integer indices from Lua (mg_int_index_normalize)", function()
  it("take every position from either end and nothing else", function()
    local x = mg.arange(4.0)
    for _, i in ipairs({1, 2, 4, -1, -4}) do
      assert.are.equal(i > 0 and i - 1 or 4 + i, x[i]:item())
    end
    for _, i in ipairs({MIN, MIN + 1, -5, 5, MAX - 1, MAX}) do
      raises(function() return x[i] end, "index", "out of range for axis 1 of size 4")
      raises(function() x[i] = 1 end, "index", "out of range")
    end
    ends_with("index: 0 is not a valid index (indices are 1-based; -1 is the last)",
      raises(function() return x[0] end))
    ends_with("index: index " .. MIN .. " is out of range for axis 2 of size 3",
      raises(function() return mg.zeros(2, 3)[{1, MIN}] end))
    raises(function() return mg.zeros(0)[1] end, "out of range for axis 1 of size 0")
  end)
end)

describe("einsum subscripts (fuzz/corpus/einsum)", function()
  local m = mg.arange(6.0):reshape(2, 3)

  it("accepts the seed corpus's valid subscripts", function()
    assert.are.equal(0, mg.einsum("->", mg.tensor(0.0)):item())
    assert.are.equal(6, mg.einsum(",->", mg.tensor(2.0), mg.tensor(3.0)):item())
    assert.are.same({{0, 3}, {1, 4}, {2, 5}}, mg.einsum(" Ab -> bA ", m):totable())
    assert.are.same({}, mg.einsum("ai,ib->ab", mg.zeros(0, 3), mg.zeros(3, 2)):totable())
    assert.are.same({2, 1, 4}, mg.einsum("...ij,...jk->...ik", mg.ones(2, 1, 3), mg.ones(1, 3, 4)).shape)
  end)

  -- sizes-1 tensors of n axes, holding v, as variables
  local function cells(n, v)
    local shape = {}
    for i = 1, n do shape[i] = 1 end
    return mg.full(shape, v):requires_grad_(true)
  end

  it("contracts in an order whose intermediate results fit in 16 axes (fuzz)", function()
    -- the leftmost pair first gave 17 axes (16 output letters and i, still needed)
    local a, b, c, d = cells(5, 2.0), cells(12, 3.0), cells(2, 5.0), cells(1, 7.0)
    local r = mg.einsum("jmotu,rEZnvlopqbzA,Gi,i", a, b, c, d)
    assert.are.equal(16, #r.shape)
    assert.are.equal(210, r:sum():item())
    r:sum():backward()
    assert.are.equal(105, a.grad:sum():item())
    assert.are.equal(30, d.grad:sum():item())
  end)

  it("contracts by matmul when a multiply would keep too many axes (fuzz)", function()
    -- 1 x K by K x 1 matrices multiply and sum: 16 kept axes and q made 17
    local a, b = cells(9, 2.0), cells(9, 3.0)
    local r = mg.einsum("abcdefghq,ijklmnopq", a, b)
    assert.are.equal(16, #r.shape)
    assert.are.equal(6, r:sum():item())
    r:sum():backward()
    assert.are.equal(3, a.grad:sum():item())
    assert.are.equal(2, b.grad:sum():item())
  end)

  it("refuses the bad ones, naming einsum", function()
    raises(function() return mg.einsum("ij,->", m, m) end, "einsum", "operand 2 has 2 axes")
    raises(function() return mg.einsum("->", m) end, "einsum", "operand 1 has 2 axes")
    raises(function() return mg.einsum("a...b...", mg.zeros(2, 2, 2, 2)) end, "einsum", "one '...'")
    raises(function() return mg.einsum("..i", m) end, "einsum", "'...'")
    raises(function() return mg.einsum("i1", m) end, "einsum", "invalid character '1'")
    raises(function() return mg.einsum("i\255", m) end, "einsum", "invalid character (code 255)")
    raises(function() return mg.einsum("i-j", m) end, "einsum", "invalid character '-'")
    raises(function() return mg.einsum("ij->ii", m) end, "einsum", "'i' appears more than once")
    raises(function() return mg.einsum("ij->j->i", m) end, "einsum", "more than one '->'")
    raises(function() return mg.einsum("ij->k", m) end, "einsum", "'k' does not appear")
    raises(function() return mg.einsum("ij,jk", m, m) end, "einsum", "letter 'j' has size 3")
    raises(function() return mg.einsum("abcdefghijklmnopq", m) end, "einsum", "more than 16 axes")
    raises(function() return mg.einsum(("a"):rep(5000), m) end, "einsum")
    raises(function() return mg.einsum("ij\0ij", m) end, "einsum")
  end)
end)
