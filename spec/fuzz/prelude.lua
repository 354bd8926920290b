-- spec/fuzz/prelude.lua — what the fuzzer (fuzz.lua) and the repro scripts
-- it writes share: the environment the generated statements run in (the
-- pool `v` of values, the pool `c` of callables, `close`, `keep`, NAN/INF)
-- and S(code), which runs one statement under pcall.  A statement that
-- raises a Lua error is fine; a crash, hang or sanitizer report is a bug.
--
-- The scratch directory and the file helpers (P, W, ST, IDX, GZ, RT,
-- DRAIN, PLOTCHECK, ...) come from files_env.lua.
--
-- keep(x) is how a statement's result enters the pool: it checks a tensor
-- (shape entries >= 0, size = product of the shape, ndim = #shape), reads
-- every element of small ones (x:totable(), so a bad view shows up under
-- ASan), and drops big ones (closes them when nothing else holds them).
local mg = require("moongrad")

local F = {mg = mg}

local v, c = {}, {}
F.v, F.c = v, c
-- Every tensor the iteration stored or made (strongly held until reset,
-- which nulls their .grad: after backward(nil, {create_graph = true}) a
-- leaf's .grad holds a graph that refers back to the leaf, a reference
-- cycle that only x:null_grad() breaks, as in PyTorch; the fuzzed programs
-- follow that rule, so LeakSanitizer reports only real leaks).
local seen = {}

local KEEP_MAX = 4096 -- elements: bigger results are not kept in the pool

-- close(t): t's __close (after nulling its .grad, see `seen` below).
local function close(t)
  local mt = getmetatable(t)
  if mt and mt.__close then
    pcall(function() t:null_grad() end)
    mt.__close(t)
  end
end

local function is_open_tensor(x)
  return mg.is_tensor(x) and pcall(function() return x.ndim end)
end

local function invariant(fmt, ...)
  error("FUZZ-INVARIANT: " .. string.format(fmt, ...), 0)
end

local function check_tensor(t)
  local shape, size, ndim, dtype = t.shape, t.size, t.ndim, t.dtype
  local n = 1
  if #shape ~= ndim then invariant("ndim %d but #shape %d", ndim, #shape) end
  for i, d in ipairs(shape) do
    if math.type(d) ~= "integer" or d < 0 then invariant("shape entry %d is %s", i, tostring(d)) end
    n = n * d
  end
  if n ~= size then invariant("size %d but the shape's product is %d", size, n) end
  if dtype ~= "float32" and dtype ~= "float64" and dtype ~= "int64" and dtype ~= "bool" then
    invariant("unknown dtype %s", tostring(dtype))
  end
  if t.requires_grad and dtype ~= "float32" and dtype ~= "float64" then
    invariant("a %s tensor requires grad", dtype)
  end
  local tables, level = 1, 1 -- what totable would build (zero-size {2^40, 0} needs 2^40)
  for i = 1, ndim - 1 do
    level = level * shape[i]
    tables = tables + level
  end
  return size, tables
end

local function held(x)
  for _, y in pairs(v) do
    if rawequal(x, y) then return true end
  end
  return false
end

local function track(t)
  if mg.is_tensor(t) then seen[#seen + 1] = t end
  return t
end

local function keep_tensor(t)
  if not is_open_tensor(t) then return t end -- closed: kept, to be used after close
  track(t)
  local size, tables = check_tensor(t)
  if size <= KEEP_MAX then
    if tables <= KEEP_MAX then t:totable() end
    return t
  end
  if not held(t) then close(t) end
  return nil
end

--- keep(x, ...): the value a statement stores (lists keep their first tensor).
local function keep(x)
  if mg.is_tensor(x) then return keep_tensor(x) end
  if type(x) == "table" and getmetatable(x) == nil then
    for _, e in ipairs(x) do
      if mg.is_tensor(e) then keep_tensor(e) end
    end
    return keep_tensor(x[1])
  end
  return x
end

local env = {
  mg = mg, v = v, c = c, close = close, keep = keep, T = track,
  NAN = 0 / 0, INF = math.huge, ERR = setmetatable({}, {__name = "fuzz error object"}),
  math = math, string = string, table = table, type = type, error = error,
  pcall = pcall, tostring = tostring, select = select, ipairs = ipairs, pairs = pairs,
  collectgarbage = collectgarbage, getmetatable = getmetatable,
}
F.env = env
require("fuzz.files_env")(F, env)

-- mg.plot.lines and training look for gnuplot here: never found, so a
-- fuzzed plot raises its error without starting gnuplot.
local NO_GNUPLOT = "/nonexistent/moongrad-fuzz/gnuplot"

--- S(code): runs one statement; returns ok, err.  A statement that does not
--- compile is a bug of the fuzzer, not of moongrad.
function F.S(code)
  local fn, err = load(code, "=stmt", "t", env)
  if not fn then error("fuzz: generated a statement that does not compile: " .. err, 0) end
  return pcall(fn)
end

--- is_unfriendly(err): an error raised inside moongrad's own Lua code by
--- the Lua runtime ("attempt to index a nil value", "bad argument #1 to
--- '?'"), not by error(...) with a message: it tells the user nothing
--- they can act on.
function F.is_unfriendly(msg)
  if type(msg) ~= "string" or not msg:find("moongrad/", 1, true) then return false end
  return (msg:find("attempt to ", 1, true) or msg:find("bad argument", 1, true)
    or msg:find("stack overflow", 1, true)) ~= nil
end

--- finding(code, ok, err): what is wrong with a statement's outcome, or nil.
--- A Lua error is fine unless its value is not a string (only our own
--- callbacks raise those), it is a broken invariant found by keep(), or
--- (with F.strict) it is unfriendly.
function F.finding(code, ok, err)
  if ok then return nil end
  if type(err) ~= "string" then
    if rawequal(err, env.ERR) then return nil end -- our callbacks' own error object
    return "error object is a " .. type(err) .. " (" .. tostring(err) .. ")"
  end
  if err:find("^fuzz:") then error(err, 0) end
  if err:find("FUZZ-INVARIANT", 1, true) then return err end
  if F.strict and F.is_unfriendly(err) then return "unfriendly error: " .. err end
  return nil
end

--- R(code): S(code) for repro scripts: prints a finding.
function F.R(code)
  local ok, err = F.S(code)
  local f = F.finding(code, ok, err)
  if f then print("FINDING " .. code .. "\n    -> " .. f) end
  return ok, err
end

--- reset(seed): a fresh pool and the library's global state back to its
--- defaults, so each iteration replays alone.
function F.reset(seed)
  for _, t in ipairs(seen) do
    if is_open_tensor(t) then t:null_grad() end
  end
  for k in pairs(seen) do seen[k] = nil end
  for k in pairs(v) do v[k] = nil end
  for k in pairs(c) do c[k] = nil end
  for k in pairs(env.L) do env.L[k] = nil end
  for k in pairs(env.M) do env.M[k] = nil end
  collectgarbage()
  F.clean_files()
  mg.plot.gnuplot = NO_GNUPLOT
  mg.data.FASHION_MNIST_DIR = env.DIR
  mg.set_default_dtype("float32")
  mg.set_grad_enabled(true)
  mg.keep_grads(false)
  mg.autograd.set_training(false)
  mg.random.seed(seed)
  math.randomseed(seed)
end

F.close, F.keep, F.is_open_tensor = close, keep, is_open_tensor
return F
