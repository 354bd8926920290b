-- safetensors_spec.lua — mg.save / mg.load (src/io_safetensors.c): bit-identical
-- round trips of every dtype (0-d, empty and non-contiguous inputs, nested
-- tables, metadata), the exact bytes written, files built byte by byte from
-- the format's description (including the converted dtypes F16, BF16, I8..U64),
-- interop with Python's safetensors module when it is installed, and a clear
-- error for every kind of malformed file.
local mg = require("moongrad")
local H = require("helpers")
local write, slurp, raises, flat = H.write, H.read, H.raises, H.flat

local function tmpfile()
  local p = os.tmpname()
  return p
end

-- A safetensors file from a header text and the data bytes.
local function st_bytes(header, body)
  return string.pack("<I8", #header) .. header .. (body or "")
end

-- Exact equality of values (NaN = NaN, and the sign of zeros).
local function same_values(a, b)
  assert.are.same(a.shape, b.shape)
  assert.are.equal(a.dtype, b.dtype)
  local x, y = flat(a:totable()), flat(b:totable())
  if a.ndim == 0 then x, y = {a:item()}, {b:item()} end
  assert.are.equal(#x, #y)
  for i = 1, #x do
    local u, v = x[i], y[i]
    if type(u) == "number" and u ~= u then
      assert(v ~= v, "element " .. i .. ": expected NaN")
    elseif type(u) == "number" and u == 0 and math.type(u) == "float" then
      assert(v == 0 and 1 / u == 1 / v, "element " .. i .. ": sign of zero differs")
    else
      assert.are.equal(u, v, "element " .. i)
    end
  end
end

describe("mg.save / mg.load round trip", function()
  local path
  before_each(function() path = tmpfile() end)
  after_each(function() os.remove(path) end)

  it("is bit-identical for every dtype, 0-d and empty tensors", function()
    mg.random.seed(7)
    local t = {
      f32 = mg.random.randn(3, 4),
      f64 = mg.random.randn({2, 3}, {dtype = "float64"}),
      i64 = mg.tensor({{math.mininteger, -1, 0}, {1, 2, math.maxinteger}}),
      b = mg.tensor({true, false, true}),
      special = mg.tensor({0 / 0, math.huge, -math.huge, -0.0, 1e-45, 3.4e38}),
      special64 = mg.tensor({0 / 0, -0.0, 5e-324, 1.7976931348623157e308}, {dtype = "float64"}),
      scalar = mg.tensor(2.5),
      iscalar = mg.tensor(42),
      empty = mg.zeros(0, 3),
      empty_i = mg.zeros({2, 0}, {dtype = "int64"}),
    }
    mg.save(path, t)
    local back, meta = mg.load(path)
    assert.are.same({}, meta)
    local n = 0
    for name, v in pairs(back) do
      n = n + 1
      same_values(t[name], v)
      assert.is_true(v.constant)
    end
    assert.are.equal(10, n)
    -- saving what was loaded gives the same bytes
    local again = tmpfile()
    mg.save(again, back)
    assert.are.equal(slurp(path), slurp(again))
    os.remove(again)
  end)

  it("saves non-contiguous inputs as their logical values", function()
    local x = mg.arange(12.0):reshape(3, 4)
    local views = {
      T = x.T,
      stepped = x[{{}, {1, -1, 2}}],
      row = x[2],
      flipped = x:flip(1),
      bcast = mg.broadcast_to(mg.tensor({1.0, 2.0}), {3, 2}),
    }
    mg.save(path, views)
    local back = mg.load(path)
    for name, v in pairs(views) do same_values(v:contiguous(), back[name]) end
    assert.are.same({{0, 4, 8}, {1, 5, 9}, {2, 6, 10}, {3, 7, 11}}, back.T:totable())
  end)

  it("flattens nested tables with dots and keeps variables' values", function()
    local w = mg.tensor({{1.0, 2.0}}, {requires_grad = true})
    mg.save(path, {fc = {weight = w, bias = mg.tensor({0.5})}, layers = {{w = mg.tensor({3.0})}}})
    local back, _, names = mg.load(path)
    assert.are.same({{1, 2}}, back["fc.weight"]:totable())
    assert.are.same({0.5}, back["fc.bias"]:totable())
    assert.are.same({3}, back["layers.1.w"]:totable())
    assert.is_true(back["fc.weight"].constant)
    assert.are.same({"fc.bias", "fc.weight", "layers.1.w"}, names)
  end)

  it("names a closed tensor (fuzz)", function()
    local shut = mg.ones(2)
    getmetatable(shut).__close(shut)
    -- (was "lua/moongrad/data.lua:N: dtype: tensor used after it was closed")
    raises(function() mg.save(path, {w = mg.ones(1), fc = {shut}}) end,
      "mg.save: 'fc.1' is a tensor used after it was closed")
  end)

  it("writes and reads metadata", function()
    mg.save(path, {a = mg.tensor({1.0})}, {metadata = {format = "pt", epoch = 3}})
    local _, meta = mg.load(path)
    assert.are.same({format = "pt", epoch = "3"}, meta)
  end)

  it("writes the format's exact bytes, entries ordered by alignment then name", function()
    mg.save(path, {b = mg.tensor({1.5, -2.0}), a = mg.tensor({true, false}),
                   c = mg.tensor({7}), d = mg.tensor({0.25}, {dtype = "float64"})})
    local header = '{"c":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},' ..
      '"d":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},' ..
      '"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},' ..
      '"a":{"dtype":"BOOL","shape":[2],"data_offsets":[24,26]}}'
    header = header .. string.rep(" ", (8 - (8 + #header) % 8) % 8)
    local body = string.pack("<i8<d<f<f", 7, 0.25, 1.5, -2.0) .. "\1\0"
    assert.are.equal(st_bytes(header, body), slurp(path))
    assert.are.equal(0, (8 + #header) % 8)
  end)

  it("writes an empty set", function()
    mg.save(path, {})
    local back, meta, names = mg.load(path)
    assert.are.same({}, names)
    assert.is_nil(next(back))
    assert.is_nil(next(meta))
    assert.are.equal(st_bytes("{}" .. string.rep(" ", 6)), slurp(path))
  end)

  it("replaces the file atomically and leaves no temporary files", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. dir))
    local p = dir .. "/ckpt.safetensors"
    mg.save(p, {a = mg.tensor({1.0})})
    mg.save(p, {a = mg.tensor({2.0, 3.0})})
    assert.are.same({2, 3}, mg.load(p).a:totable())
    raises(function() mg.save(p, {["bad\xff"] = mg.tensor({9.0})}) end, "mg.save", "UTF-8")
    assert.are.same({2, 3}, mg.load(p).a:totable())
    local ls = io.popen("ls -A " .. dir)
    local listing = ls:read("a")
    ls:close()
    assert.are.equal("ckpt.safetensors\n", listing)
    os.remove(p)
    os.remove(dir)
  end)
end)

describe("mg.load of files built byte by byte", function()
  local path
  before_each(function() path = tmpfile() end)
  after_each(function() os.remove(path) end)

  it("reads F32, F64, I64 and BOOL entries with metadata, unpadded header", function()
    local header = '{"__metadata__":{"who":"spec"},' ..
      '"m":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},' ..
      '"s":{"dtype":"I64","shape":[],"data_offsets":[16,24]},' ..
      '"f":{"dtype":"BOOL","shape":[3],"data_offsets":[24,27]},' ..
      '"d":{"dtype":"F64","shape":[1],"data_offsets":[27,35]},' ..
      '"e":{"dtype":"F32","shape":[0,5],"data_offsets":[35,35]}}'
    local body = string.pack("<ffff", 1.5, -2, 0.25, 3) .. string.pack("<i8", -7) ..
      "\1\0\2" .. string.pack("<d", math.pi)
    write(path, st_bytes(header, body))
    local t, meta, names = mg.load(path)
    assert.are.same({who = "spec"}, meta)
    assert.are.same({"m", "s", "f", "d", "e"}, names)
    assert.are.same({{1.5, -2}, {0.25, 3}}, t.m:totable())
    assert.are.equal("float32", t.m.dtype)
    assert.are.equal(0, t.s.ndim)
    assert.are.equal(-7, t.s:item())
    assert.are.same({true, false, true}, t.f:totable())
    assert.are.equal(math.pi, t.d:totable()[1])
    assert.are.equal("float64", t.d.dtype)
    assert.are.same({0, 5}, t.e.shape)
  end)

  it("converts F16 and BF16 to float32 and smaller integers to int64", function()
    local header = '{"h":{"dtype":"F16","shape":[6],"data_offsets":[0,12]},' ..
      '"bf":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]},' ..
      '"i8":{"dtype":"I8","shape":[2],"data_offsets":[16,18]},' ..
      '"u8":{"dtype":"U8","shape":[2],"data_offsets":[18,20]},' ..
      '"i16":{"dtype":"I16","shape":[1],"data_offsets":[20,22]},' ..
      '"u16":{"dtype":"U16","shape":[1],"data_offsets":[22,24]},' ..
      '"i32":{"dtype":"I32","shape":[1],"data_offsets":[24,28]},' ..
      '"u32":{"dtype":"U32","shape":[1],"data_offsets":[28,32]},' ..
      '"u64":{"dtype":"U64","shape":[1],"data_offsets":[32,40]}}'
    local body = string.pack("<I2I2I2I2I2I2", 0x3C00, 0xC000, 0x7C00, 0x0001, 0x8000, 0x3555) ..
      string.pack("<I2I2", 0x3F80, 0xC0A0) .. string.pack("<i1i1", -128, 5) ..
      string.pack("<I1I1", 255, 0) .. string.pack("<i2", -300) .. string.pack("<I2", 65535) ..
      string.pack("<i4", -70000) .. string.pack("<I4", 4000000000) .. string.pack("<I8", 12345)
    write(path, st_bytes(header, body))
    local t = mg.load(path)
    local h = t.h:totable()
    assert.are.equal("float32", t.h.dtype)
    assert.are.equal(1, h[1])
    assert.are.equal(-2, h[2])
    assert.are.equal(math.huge, h[3])
    assert.are.equal(2 ^ -24, h[4])
    assert.is_true(h[5] == 0 and 1 / h[5] < 0)
    assert.is_true(math.abs(h[6] - 1 / 3) < 1e-3)
    assert.are.same({1, -5}, t.bf:totable())
    assert.are.equal("int64", t.i8.dtype)
    assert.are.same({-128, 5}, t.i8:totable())
    assert.are.same({255, 0}, t.u8:totable())
    assert.are.same({-300}, t.i16:totable())
    assert.are.same({65535}, t.u16:totable())
    assert.are.same({-70000}, t.i32:totable())
    assert.are.same({4000000000}, t.u32:totable())
    assert.are.same({12345}, t.u64:totable())
  end)
end)

describe("interop with Python's safetensors", function()
  local have = os.execute("python3 -c 'import safetensors.numpy, numpy' >/dev/null 2>&1")
  if not have then
    pending("python3 with the safetensors and numpy modules is not installed")
    return
  end
  it("reads what Python writes and Python reads what mg.save writes", function()
    local a, b = tmpfile(), tmpfile()
    local script = ([==[
import numpy as np, safetensors.numpy as st
st.save_file({"x": np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
              "y": np.array([-1, 2], dtype=np.int64), "z": np.array(True)}, %q,
             metadata={"k": "v"})
d = st.load_file(%q)
assert d["w"].dtype == np.float64 and d["w"].tolist() == [[1.5, 2.5]], d
assert d["m"].dtype == np.bool_ and d["m"].tolist() == [True, False], d
assert d["i"].tolist() == [[7]], d
]==]):format(a, b)
    mg.save(b, {w = mg.tensor({{1.5, 2.5}}, {dtype = "float64"}), m = mg.tensor({true, false}),
                i = mg.tensor({{7}})})
    local f = assert(io.popen("python3 -", "w"))
    f:write(script)
    assert.is_true(f:close())
    local t, meta = mg.load(a)
    assert.are.same({{0, 0.25, 0.5}, {0.75, 1, 1.25}}, t.x:totable())
    assert.are.same({-1, 2}, t.y:totable())
    assert.are.equal(true, t.z:item())
    assert.are.same({k = "v"}, meta)
    os.remove(a)
    os.remove(b)
  end)
end)

describe("mg.load of malformed files", function()
  local path
  before_each(function() path = tmpfile() end)
  after_each(function() os.remove(path) end)

  local function entry(name, dtype, shape, b, e)
    return ('"%s":{"dtype":"%s","shape":[%s],"data_offsets":[%s,%s]}'):format(name, dtype, shape, b, e)
  end

  local function bad(bytes, ...)
    write(path, bytes)
    return raises(function() mg.load(path) end, "mg.load", path, ...)
  end

  it("rejects a missing file", function()
    raises(function() mg.load("/nonexistent/x.safetensors") end, "mg.load", "cannot open")
  end)

  it("rejects a file shorter than the header length", function()
    bad("", "truncated")
    bad("\5\0\0", "truncated")
  end)

  it("rejects a header length past the end of the file", function()
    bad(string.pack("<I8", 100) .. "{}", "header length 100 runs past the end")
    bad(string.pack("<I8", -1) .. "{}", "runs past the end")
  end)

  it("rejects invalid JSON and JSON that is not an object", function()
    bad(st_bytes('{"a":'), "invalid JSON")
    bad(st_bytes(''), "invalid JSON")
    bad(st_bytes('{"a":{}} trailing'), "invalid JSON")
    bad(st_bytes('[1, 2]'), "not an object")
    bad(st_bytes('{"a":[1]}'), "entry 'a' is not a JSON object")
    bad(st_bytes('{"a":{"shape":[],"data_offsets":[0,4]}}' , "\0\0\0\0"), "'a'", "no \"dtype\"")
  end)

  it("rejects unknown and unsupported dtypes", function()
    bad(st_bytes("{" .. entry("w", "Q7", "1", 0, 4) .. "}", "\0\0\0\0"), "'w'",
        'unknown dtype "Q7"')
    bad(st_bytes("{" .. entry("w", "F8_E4M3", "4", 0, 4) .. "}", "\0\0\0\0"), "'w'",
        "unsupported dtype F8_E4M3")
  end)

  it("rejects negative, fractional, huge and too many shape entries", function()
    bad(st_bytes("{" .. entry("w", "F32", "-1", 0, 4) .. "}", "\0\0\0\0"), "'w'",
        "not a non-negative integer")
    bad(st_bytes("{" .. entry("w", "F32", "1.5", 0, 4) .. "}", "\0\0\0\0"), "not a non-negative")
    bad(st_bytes("{" .. entry("w", "F32", "4294967296,4294967296,4294967296", 0, 4) .. "}",
        "\0\0\0\0"), "'w'", "too many elements")
    bad(st_bytes("{" .. entry("w", "F32", "0,4294967296,4294967296,4294967296", 0, 0) .. "}"),
        "'w'", "too many elements")
    bad(st_bytes("{" .. entry("w", "F32", "99999999999999999999999", 0, 4) .. "}", "\0\0\0\0"),
        "invalid JSON")
    bad(st_bytes("{" .. entry("w", "F32", string.rep("1,", 16) .. "1", 0, 4) .. "}", "\0\0\0\0"),
        "17 dimensions")
    bad(st_bytes('{"w":{"dtype":"F32","shape":3,"data_offsets":[0,4]}}', "\0\0\0\0"),
        "\"shape\" must be an array")
  end)

  it("rejects offsets past the end, backwards or malformed", function()
    bad(st_bytes("{" .. entry("w", "F32", "2", 0, 8) .. "}", "\0\0\0\0"), "'w'",
        "outside the data area of 4 bytes")
    bad(st_bytes("{" .. entry("w", "F32", "0", 4, 0) .. "}", "\0\0\0\0"), "outside the data")
    bad(st_bytes("{" .. entry("w", "F32", "1", -4, 0) .. "}", "\0\0\0\0"), "data_offsets")
    bad(st_bytes('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}', "\0\0\0\0"),
        "two non-negative integers")
  end)

  it("rejects offsets that do not match the shape", function()
    bad(st_bytes("{" .. entry("w", "F32", "3", 0, 8) .. "}", string.rep("\0", 8)), "'w'",
        "hold 8 bytes, but shape {3} of F32 needs 12")
  end)

  it("rejects overlapping entries, gaps and uncovered bytes", function()
    bad(st_bytes("{" .. entry("a", "F32", "2", 0, 8) .. "," .. entry("b", "F32", "1", 4, 8) ..
                 "}", string.rep("\0", 8)), "'a' and 'b' overlap")
    bad(st_bytes("{" .. entry("a", "F32", "1", 4, 8) .. "}", string.rep("\0", 8)), "'a'", "gap")
    bad(st_bytes("{" .. entry("a", "F32", "1", 0, 4) .. "}", string.rep("\0", 9)),
        "cover 4 bytes of data but the data area holds 9")
  end)

  it("rejects duplicate names", function()
    bad(st_bytes("{" .. entry("a", "F32", "1", 0, 4) .. "," .. entry("a", "F32", "1", 4, 8) ..
                 "}", string.rep("\0", 8)), "duplicate tensor name")
  end)

  it("rejects bad metadata and U64 values beyond int64", function()
    bad(st_bytes('{"__metadata__":{"k":1}}'), "\"__metadata__\" entry 'k' is not a string")
    bad(st_bytes('{"__metadata__":[1]}'), "\"__metadata__\" must be an object")
    bad(st_bytes("{" .. entry("u", "U64", "1", 0, 8) .. "}", string.rep("\255", 8)), "'u'",
        "beyond int64")
  end)
end)

describe("mg.save errors", function()
  it("names the problem", function()
    local p = os.tmpname()
    raises(function() mg.save(p, mg.tensor({1.0})) end, "mg.save", "table of name -> tensor")
    raises(function() mg.save(p, {a = 1}) end, "mg.save", "'a' is a number")
    raises(function() mg.save(p, {a = {b = "x"}}) end, "mg.save", "'a.b' is a string")
    raises(function() mg.save(p, {[true] = mg.tensor({1.0})}) end, "mg.save", "keys must be")
    raises(function() mg.save(p, {__metadata__ = mg.tensor({1.0})}) end, "mg.save", "reserved")
    raises(function() mg.save(p, {["a.b"] = mg.tensor({1.0}), a = {b = mg.tensor({2.0})}}) end,
           "mg.save", "'a.b' appears twice")
    raises(function() mg.save(p, {a = mg.tensor({1.0})}, {metadata = {k = {}}}) end, "mg.save",
           "metadata")
    raises(function() mg.save("/nonexistent/dir/x.safetensors", {a = mg.tensor({1.0})}) end,
           "mg.save", "cannot create")
    local loop = {}
    loop.self = loop
    raises(function() mg.save(p, loop) end, "mg.save", "contains itself")
    os.remove(p)
  end)
end)
