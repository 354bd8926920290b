-- spec/release_spec.lua — how tensors are given back when Lua collects
-- them: by the allocator hook of binding/gc_alloc.c (no __gc finalizer), or
-- by a finalizer when MOONGRAD_GC_FINALIZERS=1 asks for it.  Both keep a
-- loop of large temporaries bounded and never mistake another object of
-- the same size for a tensor.
local mg = require("moongrad")
local core = require("moongrad.core")

local rss_mb = require("helpers").rss_mb

-- Runs a Lua chunk in a fresh lua5.4 with env prefix; returns its output.
local function run(env, code)
  local cmd = ("%s lua5.4 -e %q 2>&1"):format(env, code)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

local LOOP = [[
  package.path = 'lua/?.lua;lua/?/init.lua;' .. package.path
  package.cpath = 'lua/?.so;' .. package.cpath
  local mg = require('moongrad')
  local function rss()
    local f = io.open('/proc/self/status'); local s = f:read('a'); f:close()
    return tonumber(s:match('VmRSS:%s+(%d+)')) / 1024
  end
  local x = mg.random.randn(500, 500)
  local start = rss()
  for _ = 1, 400 do local y = ((x * 2):exp() + 1):sum(); y:backward() end
  print(require('moongrad.core').release_mode, rss() - start)
]]

describe("releasing tensors", function()
  it("uses the allocator hook here (no __gc on the tensor metatable)", function()
    assert.are.equal("allocator", core.release_mode)
    local mt = getmetatable(mg.zeros(1))
    assert.is_nil(rawget(mt, "__gc"))
    assert.is_function(rawget(mt, "__close"))
  end)

  it("keeps memory bounded in both modes", function()
    if not rss_mb() then return pending("no /proc/self/status") end
    for _, mode in ipairs({{"", "allocator"}, {"MOONGRAD_GC_FINALIZERS=1", "finalizer"}}) do
      local out, ok = run(mode[1], LOOP)
      assert.is_truthy(ok, out)
      local got, grown = out:match("^(%a+)%s+(%S+)")
      assert.are.equal(mode[2], got, out)
      assert.is_true(tonumber(grown) < 100, out)
    end
  end)

  it("tells tensors from other objects of the same size", function()
    -- strings, tables and closures of every small size, some holding bytes
    -- that look like pointers, collected among tensors
    local keep = {}
    for round = 1, 20 do
      for len = 0, 80 do
        local bytes = {}
        for i = 1, len do bytes[i] = string.char((i * 37 + round * 11 + len) % 256) end
        keep[#keep + 1] = table.concat(bytes)
        keep[#keep + 1] = string.pack("<i8i8", round * len, round ~ len):rep(len % 4)
      end
      keep[#keep + 1] = mg.ones(3) * round
      keep[#keep + 1] = {round, round}
      keep[#keep + 1] = function() return round end
      if round % 5 == 0 then keep = {} collectgarbage() end
    end
    collectgarbage()
    assert.are.equal(6, (mg.ones(3) * 2):sum():item())
  end)

  it("still frees a tensor at once with <close>, and later use is an error", function()
    local y
    do
      local x <close> = mg.ones(4)
      y = x
    end
    assert.has_error(function() return y + 1 end)
  end)

  it("drops an autograd.Function's context when its graph goes, within two collections", function()
    local weak = setmetatable({}, {__mode = "k"})
    local Keep = mg.autograd.Function{
      forward = function(ctx, x) weak[ctx] = true; return x * 1 end,
      backward = function(_, g) return g end,
    }
    for _ = 1, 50 do local _ = Keep(mg.tensor({1.})) end
    collectgarbage()
    collectgarbage()
    assert.is_nil(next(weak))
  end)
end)

describe("threads", function()
  it("get/set_num_threads, with errors for counts out of range", function()
    local n = mg.get_num_threads()
    assert.is_true(math.type(n) == "integer" and n >= 1)
    assert.has_error(function() mg.set_num_threads(0) end, "set_num_threads: expected 1 to 64 threads, got 0")
    assert.has_error(function() mg.set_num_threads(1.5) end)
    assert.has_error(function() mg.set_num_threads("2") end)
    mg.set_num_threads(n)
  end)

  it("splits exp, log, tanh, sin, cos, pow of long arrays without changing a bit", function()
    local n0 = mg.get_num_threads()
    mg.random.seed(3)
    local x = mg.random.rand(1100001) * 4 - 2         -- odd length: uneven parts
    local p = mg.random.rand(1100001) + 0.5
    local function all()
      return {x:exp(), (x + 3):log(), x:tanh(), x:sin(), x:cos(), (x + 3) ^ p, x[{{2, -1, 2}}]:exp()}
    end
    mg.set_num_threads(1)
    local one = all()
    mg.set_num_threads(3)
    local three = all()
    mg.set_num_threads(n0)
    for i = 1, #one do
      assert.is_true(mg.equal(one[i], three[i]):all():item(), "op " .. i)
    end
  end)

  it("splits add, relu and long sums without changing a bit", function()
    local n0 = mg.get_num_threads()
    mg.random.seed(4)
    local x = mg.random.randn(2300001)
    local y = mg.random.randn(2300001)
    local xd = mg.random.randn(5000003, {dtype = "float64"})
    local function all()
      return {x + y, mg.nnet.relu(x), x:sum(), xd:sum(), x:mean(), (x * y):sum()}
    end
    mg.set_num_threads(1)
    local one = all()
    for _, t in ipairs({2, 3}) do
      mg.set_num_threads(t)
      local other = all()
      for i = 1, #one do
        assert.is_true(mg.equal(one[i], other[i]):all():item(), ("op %d, %d threads"):format(i, t))
      end
    end
    mg.set_num_threads(n0)
    -- and the blocked sum is right
    local ones = mg.ones(3000001)
    assert.are.equal(3000001, ones:sum():item())
  end)
end)
