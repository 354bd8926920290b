-- spec/fuzz/fuzz.lua — a seeded, reproducible fuzzer for moongrad's Lua API.
--
--   lua5.4 spec/fuzz/fuzz.lua --seed N --iterations M
--     [--start I]          first iteration (iteration I of seed N replays alone)
--     [--seconds S]        stop after S seconds (wall clock) even if iterations remain
--     [--repro FILE]       write each iteration as a standalone Lua script, flushed
--                          before every statement (the last one in FILE crashed)
--     [--progress FILE]    write "seed iteration" to FILE as each iteration starts
--     [--statements K]     statements per iteration (default 40)
--     [--cg on|off|mixed]  backward with create_graph = true: always, never, in half
--                          of the iterations (default mixed; see cg_iter below)
--     [--slow S]           report statements that take more than S seconds of CPU
--     [--verbose]          per-function counts and the unfriendly error messages
--     [--strict]           exit 1 on an unfriendly error message too
--
-- Each iteration seeds math.random and mg.random from (seed, iteration),
-- makes a few tensors (every dtype, 0-d, zero-size, variables and
-- constants), then runs random statements over everything the API exports
-- (mg.*, mg.autograd.*, mg.nnet.*, mg.random.*, the methods in mg.methods,
-- the metamethods, indexing and properties) with random arguments: pool
-- tensors, views of them (transposes, stepped and reversed slices,
-- broadcast views), numbers (NaN, inf, huge integers), strings, nil,
-- booleans, option tables, shapes, nested tables, closed tensors, the
-- same tensor twice, callbacks; and random backward passes (head
-- gradients, retain_graph, create_graph) and mg.autograd.grad calls; and
-- (files.lua) checkpoints, IDX files, data loaders and plots, with files in
-- a scratch directory only.
-- Every statement runs under pcall: it may succeed or raise a Lua error;
-- a crash, a hang or a sanitizer report is a bug (run.lua runs this under
-- ASan+UBSan and turns a crash into a minimised repro script).
--
-- Findings that do not crash make the exit status 1: an error that is not
-- a string, a result that breaks a tensor invariant (see prelude.lua).
-- "Unfriendly" errors (a Lua runtime error such as "attempt to index a nil
-- value" raised inside moongrad's own Lua code) are counted and listed
-- with --verbose; --strict makes them fail too.
-- (LUA_CPATH chooses the build: run.lua points it at build/sanitize; else lua/?.so)
package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;" .. package.path
if not os.getenv("LUA_CPATH") then package.cpath = "lua/?.so;" .. package.cpath end
local F = require("fuzz.prelude")
local mg, v, c, S = F.mg, F.v, F.c, F.S

-- ---- options ------------------------------------------------------------------------
local opt = {seed = 1, iterations = 100, start = 1, statements = 40, cg = "mixed"}
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    local key = a:match("^%-%-([%w_]+)$")
    if not key then error("fuzz: unknown argument " .. a) end
    if key == "verbose" or key == "strict" then
      opt[key] = true
    else
      local val = arg[i + 1]
      if val == nil then error("fuzz: " .. a .. " needs a value") end
      opt[key] = tonumber(val) or val
      i = i + 1
    end
    i = i + 1
  end
end
F.strict = opt.strict

-- ---- randomness ------------------------------------------------------------------------
local random = math.random
local function chance(p) return random() < p end
local function pick(list) return list[random(#list)] end
local fmt = string.format

-- Picks a key of a {key = weight} table (keys sorted, so runs replay).
local function weighted(tbl)
  local keys, total = {}, 0
  for k, w in pairs(tbl) do keys[#keys + 1] = k; total = total + w end
  table.sort(keys)
  local r = random() * total
  for _, k in ipairs(keys) do
    r = r - tbl[k]
    if r <= 0 then return k end
  end
  return keys[#keys]
end

-- ---- the API, enumerated ----------------------------------------------------------------
-- Functions (and tables of them) that touch files or the outside world are
-- left out of the generic calls; mg.autograd.graph gets its tensor only (a
-- second argument is a path).  mg.save, mg.load, the file readers of
-- mg.data and mg.plot get statements of their own (files.lua), with paths
-- in a scratch directory only; mg.data.loader is fuzzed both ways.
local SKIP = {["mg.save"] = true, ["mg.load"] = true, ["mg.plot"] = true,
              ["mg.data.read_idx"] = true, ["mg.data.mnist"] = true, ["mg.data.fashion_mnist"] = true}
local ONE_ARG = {["mg.autograd.graph"] = true}
-- Functions that loop over every element in Lua (or per element call a
-- backward pass) get small tensors only.
local HEAVY = {["mg.autograd.gradcheck"] = true, ["mg.autograd.gradgradcheck"] = true,
               ["mg.autograd.jacobian"] = true, ["mg.autograd.hessian"] = true}

local FUNCS, METHODS = {}, {}
local function collect(tbl, prefix, depth)
  local names = {}
  for k in pairs(tbl) do
    if type(k) == "string" then names[#names + 1] = k end
  end
  table.sort(names)
  for _, k in ipairs(names) do
    local val, name = tbl[k], prefix .. "." .. k
    if type(val) == "function" and not SKIP[name] and not k:match("^_") then
      FUNCS[#FUNCS + 1] = name
    elseif type(val) == "table" and depth < 2 and k ~= "methods" and not k:match("^_")
        and getmetatable(val) == nil and not SKIP[name] then
      collect(val, name, depth + 1)
    end
  end
end
collect(mg, "mg", 0)
do
  local names = {}
  for k, val in pairs(mg.methods) do
    if type(val) == "function" then names[#names + 1] = k end
  end
  table.sort(names)
  METHODS = names
end

-- Option names and string arguments the API reads, gathered from the sources
-- (so new options are fuzzed without editing this file), plus fixed ones.
local OPTION_KEYS, STRINGS = {}, {}
do
  local seen = {}
  local function add_key(k)
    if not seen[k] then seen[k] = true; OPTION_KEYS[#OPTION_KEYS + 1] = k end
  end
  for _, k in ipairs({"axis", "keepdims", "dtype", "constant", "requires_grad", "retain_graph",
      "create_graph", "ddof", "ord", "offset", "axis1", "axis2", "decimals", "min", "max",
      "value", "mode", "gain", "groups", "grad_outputs", "allow_unused", "materialize_grads",
      "eps", "training", "p", "reduction", "batch_first", "stride", "padding", "dilation"}) do
    add_key(k)
  end
  local function scan(path, patterns)
    local f = io.open(path)
    if not f then return end
    local text = f:read("a")
    f:close()
    for _, pat in ipairs(patterns) do
      for k in text:gmatch(pat) do add_key(k) end
    end
  end
  local p = io.popen("ls binding/*.c lua/moongrad/*.lua 2>/dev/null")
  local files = {}
  for line in p:lines() do files[#files + 1] = line end
  p:close()
  table.sort(files)
  for _, path in ipairs(files) do
    scan(path, {'getfield%(L, [%w_%-]+, "([%a_]+)"%)', "opts?%.([%a_]+)", 'opt_%a+%(L, [%w_]+, "([%a_]+)"'})
  end
  table.sort(OPTION_KEYS)
  STRINGS = {"float32", "float64", "int64", "bool", "float", "double", "long", "int32",
    "complex", "", ":", "fro", "nuc", "inf", "-inf", "mean", "sum", "none", "constant",
    "relu", "tanh", "linear", "leaky_relu", "sigmoid", "selu", "fan_in", "fan_out",
    "ij,jk->ik", "ii", "ii->i", "i,i", "...", "ij->", "x\0y", ("a"):rep(300)}
end

-- Lua keywords cannot follow a dot or colon (mg.repeat, x:repeat()).
local KEYWORDS = {}
for w in ("and break do else elseif end false for function goto if in local nil not or repeat "
    .. "return then true until while"):gmatch("%a+") do KEYWORDS[w] = true end

-- The source text of a function name such as "mg.nnet.relu" (mg["repeat"]).
local function fname(name)
  return (name:gsub("%.([%a_][%w_]*)", function(k)
    return KEYWORDS[k] and "[\"" .. k .. "\"]" or "." .. k
  end))
end

-- ---- literals ----------------------------------------------------------------------------
local function lit(x)
  if x == nil then return "nil" end
  local t = type(x)
  if t == "number" then
    if x ~= x then return "NAN" end
    if x == math.huge then return "INF" end
    if x == -math.huge then return "(-INF)" end
    if math.type(x) == "integer" then
      if x == math.mininteger then return "math.mininteger" end
      return x < 0 and "(" .. x .. ")" or tostring(x)
    end
    return "(" .. fmt("%a", x) .. ")"
  end
  if t == "string" then return fmt("%q", x) end
  return tostring(x)
end

local function list_lit(items) return "{" .. table.concat(items, ", ") .. "}" end

-- ---- the pool ------------------------------------------------------------------------------
local POOL = 24 -- slots v[1..POOL]; callables in c[1..8]

local function info(i)
  local x = v[i]
  if not mg.is_tensor(x) then return nil end
  local ok, shape = pcall(function() return x.shape end)
  if not ok then return {closed = true} end
  return {shape = shape, ndim = #shape, size = x.size, dtype = x.dtype, rg = x.requires_grad}
end

-- Indices of pool slots whose value passes pred(info).
local function slots(pred)
  local out = {}
  for i = 1, POOL do
    local inf = info(i)
    if inf and pred(inf) then out[#out + 1] = i end
  end
  return out
end

local function open(inf) return not inf.closed end
local function pool_ref(pred)
  local s = slots(pred or open)
  if #s == 0 then return nil end
  return "v[" .. pick(s) .. "]"
end

local function free_slot()
  for i = 1, POOL do
    if v[i] == nil then return i end
  end
  return random(POOL)
end

-- ---- value generators (each returns Lua source text) -------------------------------------
local SMALL = {-3, -2, -1, 0, 1, 1, 2, 2, 3, 4, 5}
local HUGE = {math.maxinteger, math.mininteger, 2 ^ 31 - 1, 2 ^ 31, 2 ^ 32 + 1, 2 ^ 40, 2 ^ 53,
              -2 ^ 53, 2 ^ 62, -2 ^ 62, 2 ^ 63 - 1}
for i, x in ipairs(HUGE) do HUGE[i] = math.tointeger(x) or x end
local FLOATS = {0.5, -1.5, 2.0, 1e-300, 1e308, -1e308, 0 / 0, math.huge, -math.huge, -0.0, 3.25,
                1e15, 2.5}

local function gen_int()
  if chance(0.85) then return lit(pick(SMALL)) end
  return lit(pick(HUGE))
end

local function gen_number()
  local r = random()
  if r < 0.5 then return gen_int() end
  return lit(pick(FLOATS))
end

local function small_shape()
  if chance(0.03) then -- many axes (MG_MAXDIM is 16), or one long axis
    local dims = {}
    for k = 1, pick({8, 15, 16, 16}) do dims[k] = weighted({[1] = 8, [2] = 1, [0] = 1}) end
    return chance(0.7) and dims or {pick({100, 257, 1000})}
  end
  local nd = weighted({[0] = 2, [1] = 4, [2] = 5, [3] = 3, [4] = 1})
  local dims = {}
  for k = 1, nd do dims[k] = weighted({[0] = 1, [1] = 4, [2] = 5, [3] = 4, [4] = 2}) end
  return dims
end

local function shape_lit(dims)
  local items = {}
  for k, d in ipairs(dims) do items[k] = lit(d) end
  return list_lit(items)
end

-- A shape table: mostly small, sometimes one a pool tensor can be reshaped
-- to (with a -1), sometimes invalid (negative, huge, overflowing, floats).
local function gen_shape()
  local r = random()
  if r < 0.45 then return shape_lit(small_shape()) end
  if r < 0.75 then
    local s = slots(open)
    if #s > 0 then
      local inf = info(pick(s))
      local dims = {}
      local n = inf.size
      if n == 0 then
        dims = {0, random(0, 3)}
      else -- split n into factors
        while n > 1 and #dims < 4 do
          local f = 1
          for d = 2, n do
            if n % d == 0 then f = d; break end
          end
          if chance(0.5) and #dims > 0 then dims[#dims] = dims[#dims] * f else dims[#dims + 1] = f end
          n = n // f
        end
        if chance(0.3) then table.insert(dims, random(#dims + 1), 1) end
      end
      if #dims > 0 and chance(0.3) then dims[random(#dims)] = -1 end
      return shape_lit(dims)
    end
  end
  local bad = {
    "{-1}", "{-2, 3}", "{2, -1, -1}", "{2.5}", "{\"a\"}", "{{2}}", "{INF}", "{NAN}",
    "{math.maxinteger, 2}", "{2^62, 4}", "{2^31, 2^31, 2^31}", "{4294967296, 4294967296}",
    "{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}",
    "{0, math.maxinteger}", "{math.mininteger}", "{3037000500, 3037000500}", "{true}",
    "{1, 2, 1, 2, 1, 2, 1, 2}", "{0, 2^62, 2^62}",
  }
  return pick(bad)
end

local function gen_dtype()
  return lit(pick({"float32", "float64", "float32", "float64", "int64", "bool"}))
end

-- A new tensor (an expression; T() tracks it, see prelude.lua).
local gen_fresh_expr
local function gen_fresh() return "T(" .. gen_fresh_expr() .. ")" end
function gen_fresh_expr()
  local shape = shape_lit(small_shape())
  local r = random()
  if r < 0.45 then
    return fmt("mg.random.randn(%s, {dtype = %s, constant = %s})", shape,
      lit(pick({"float32", "float64"})), lit(chance(0.3)))
  elseif r < 0.6 then
    return fmt("mg.random.randint(-3, 4, %s)", shape)
  elseif r < 0.7 then
    return fmt("mg.random.rand(%s):gt(0.5)", shape)
  elseif r < 0.8 then
    return fmt("mg.tensor(%s, {requires_grad = %s})", gen_number(), lit(chance(0.5)))
  elseif r < 0.87 then
    return pick({"mg.tensor({{1, 2}, {3, 4}})", "mg.tensor({{1.5, -2}, {0, 4}})",
      "mg.tensor({true, false, true})", "mg.tensor({})", "mg.zeros({0, 3})", "mg.ones({2, 0})",
      "mg.tensor({NAN, INF, -INF, 0.0})", "mg.arange(6)", "mg.arange(6.0):reshape(2, 3)",
      "mg.eye(3)", "mg.tensor({1, -1, 2})", "mg.tensor({math.maxinteger, math.mininteger})"})
  else
    return fmt("mg.full(%s, %s, {dtype = %s})", shape, gen_number(), gen_dtype())
  end
end

-- A nested table of numbers (a tensor-like), sometimes ragged or mixed.
local function gen_nested()
  return pick({"{1, 2, 3}", "{{1, 2}, {3, 4}}", "{{1}, {2, 3}}", "{true, false}", "{1, true}",
    "{{}}", "{}", "{1.5, NAN}", "{{{1}}}", "{\"a\"}", "{mg.ones(2)}", "{math.maxinteger, 1.5}",
    "{{1, 2}, 3}", "{nil, 2}"})
end

-- A tensor expression built on a pool tensor that makes a view of it.
local function gen_view(ref, inf)
  local nd = inf.ndim
  local opts = {ref .. ".T", ref .. ":detach()", ref .. ".data", ref .. ":flip()"}
  if nd >= 1 then
    local items = {}
    for k = 1, nd do
      items[k] = pick({"{}", "{1, -1, 2}", "{-1, 1, -1}", "{2, -1}", "{-1}", "{1, 1}", "{2, 1}"})
    end
    opts[#opts + 1] = ref .. "[" .. list_lit(items) .. "]"
    opts[#opts + 1] = ref .. "[1]"
    opts[#opts + 1] = ref .. ":unsqueeze(1)"
    -- broadcast: new leading axes, size-1 axes expanded
    local dims = {}
    for k, d in ipairs(inf.shape) do dims[k] = d == 1 and random(1, 3) or d end
    if chance(0.5) then table.insert(dims, 1, random(0, 3)) end
    opts[#opts + 1] = ref .. ":expand(" .. shape_lit(dims) .. ")"
  end
  if nd >= 2 then
    opts[#opts + 1] = ref .. ":transpose(1, 2)"
    opts[#opts + 1] = ref .. ":diagonal()"
    local perm = {}
    for k = 1, nd do perm[k] = k end
    for k = nd, 2, -1 do local j = random(k); perm[k], perm[j] = perm[j], perm[k] end
    opts[#opts + 1] = ref .. ":permute(" .. table.concat(perm, ", ") .. ")"
  end
  if nd == 0 then opts[#opts + 1] = ref .. ":expand(3, 2)" end
  return pick(opts)
end

local function gen_tensor()
  local r = random()
  if r < 0.8 then
    local ref = pool_ref()
    if ref then return ref end
  elseif r < 0.9 then
    local s = slots(open)
    if #s > 0 then
      local i = pick(s)
      return gen_view("v[" .. i .. "]", info(i))
    end
  end
  return gen_fresh()
end

-- Whether this iteration runs backward with create_graph = true (--cg).  A
-- leaf that gets a recorded .grad holds a reference cycle (leaf -> .grad ->
-- graph -> leaf) that only x:null_grad() breaks, as in PyTorch; the
-- prelude nulls every .grad it can reach, but a leaf that lost its handle
-- (closed, or replaced by an in-place write) stays in the cycle, so run.lua
-- checks leaks only in --cg off runs.
local cg_iter = false

local function gen_closed()
  local ref = pool_ref(function(inf) return inf.closed end)
  if ref then return ref end
  return "(function() local t = mg.ones(2); close(t); return t end)()"
end

local function gen_axis()
  if chance(0.85) then return lit(random(-4, 4)) end
  return pick({"{1, 2}", "{-1}", "{1, 1}", "{}", "{1, 2, 3, 4, 5}", "1.5", lit(math.maxinteger),
    lit(math.mininteger), "\"1\"", "{axis = 1}", "{axis = {1, -1}}"})
end

-- An index key for x[key]: integers, slices {a, b, step}, {}, ":", int64 index
-- tensors and bool masks, on any axis.
local function gen_key(inf)
  local nd = inf and inf.ndim or 2
  local function entry(k)
    local len = inf and inf.shape and inf.shape[k] or 3
    local r = random()
    if r < 0.35 then
      return lit(pick({1, -1, 2, len, -len, len + 1, 0, -(len + 1), random(-len, len)}))
    elseif r < 0.65 then
      local a = pick({"nil", "1", "2", "-1", "-2", lit(len), "0", lit(math.maxinteger),
        lit(math.mininteger)})
      local b = pick({"nil", "-1", "1", "2", lit(len + 3), "-" .. (len + 3), lit(math.mininteger)})
      local s = pick({"nil", "1", "2", "-1", "-2", "3", "0", lit(math.mininteger),
        lit(math.maxinteger)})
      return "{" .. a .. ", " .. b .. ", " .. s .. "}"
    elseif r < 0.72 then
      return pick({"{}", "\":\""})
    elseif r < 0.82 then
      local ref = pool_ref(function(i) return i.dtype == "int64" end)
      return ref or pick({"mg.tensor({1, -1})", "mg.tensor({1, 1, 1})", "mg.tensor({0})",
        "mg.tensor({5, 1})", "mg.tensor(1)", "mg.zeros({0}, {dtype = \"int64\"})"})
    elseif r < 0.92 then
      local ref = pool_ref(function(i) return i.dtype == "bool" end)
      return ref or "mg.tensor({true, false})"
    else
      return pick({"1.5", "true", "\"x\"", "mg.ones(2)", "{1, 2, 3, 4}", "{\"a\"}",
        gen_closed(), "NAN"})
    end
  end
  if chance(0.3) then return entry(1) end
  local n = random(0, nd + 1)
  local items = {}
  for k = 1, n do items[k] = entry(k) end
  return list_lit(items)
end

local UNARY = {"exp", "log", "sin", "tanh", "abs", "sqrt", "square", "neg", "sum", "mean", "relu"}
local BINARY = {"add", "mul", "sub", "div", "maximum", "matmul", "power"}

-- A callback for mg.grad, jacobian, hessian, gradcheck, no_grad(fn), ...
local function gen_callback()
  local u = pick(UNARY)
  if u == "relu" then u = "abs" end
  return pick({
    fmt("function(x, ...) return mg.sum(mg.%s(x)) end", u),
    fmt("function(x, ...) return mg.%s(x) end", u),
    fmt("function(x, y) return mg.sum(mg.%s(x, y)) end", pick(BINARY)),
    "function(x, ...) return (x * x):sum() end",
    "function(x, ...) return x end",
    "function(...) return 1 end",
    "function(...) return nil end",
    "function(x) error('fuzz callback error') end",
    "function(x) error(ERR) end",
    "function(x) return {} end",
    "function(x) return x:sum(), x end",
    "function(x) local y = (x * 2):sum(); y:backward(); return y end",
    "function(x) close(x); return x end",
    fmt("function(x) return mg.sum(%s) end", gen_view("x", {ndim = 2, shape = {2, 2}})),
  })
end

-- A definition table for mg.autograd.Function (some of them wrong).
local function gen_function_def()
  local fwd = pick({
    "function(ctx, x, ...) ctx:save_for_backward(x); return x * 2 end",
    "function(ctx, x, y) ctx:save_for_backward(x, y); return x * y end",
    "function(ctx, x) local y = x:exp(); ctx:save_for_backward(y); return y end",
    "function(ctx, x) return x end",
    "function(ctx, x) return x, x end",
    "function(ctx, x) return 1 end",
    "function(ctx, x) ctx:save_for_backward(1); return x end",
    "function(ctx, x) error('fuzz forward error') end",
    "function(ctx, x) ctx:save_for_backward(x); return x:sum() end",
  })
  local bwd = pick({
    "function(ctx, g) return g * 2 end",
    "function(ctx, g) return g, g end",
    "function(ctx, g) return g * ctx.saved[1] end",
    "function(ctx, g) return nil end",
    "function(ctx, g) return 1 end",
    "function(ctx, g) return mg.ones(7) end",
    "function(ctx, g) error('fuzz backward error') end",
    "function(ctx, g) local t = g * 1; close(t); return t end",
    "function(ctx, g) return g, g, g, g, g, g, g, g, g, g end",
    "function(ctx, g) if ctx.saved[1] then ctx.saved[1]:add_(1) end; return g end",
  })
  return fmt("{name = %s, forward = %s, backward = %s}",
    lit(pick({"Fz", "Fz", "", "x y"})), fwd, bwd)
end

local gen_any

-- An option table with a few known keys.
local function gen_opts()
  local n = random(0, 3)
  local items = {}
  for _ = 1, n do
    local key = pick(OPTION_KEYS)
    local val
    local r = random()
    if key == "create_graph" and not cg_iter then val = "false"
    elseif r < 0.3 then val = lit(chance(0.5))
    elseif r < 0.55 then val = gen_axis()
    elseif r < 0.65 then val = gen_dtype()
    else val = gen_any(2) end
    items[#items + 1] = "[" .. lit(key) .. "] = " .. val
  end
  return list_lit(items)
end

local function gen_tensor_list()
  local n = random(0, 4)
  local items = {}
  for k = 1, n do items[k] = chance(0.9) and gen_tensor() or gen_any(2) end
  return list_lit(items)
end

-- Any argument (depth limits nesting).
function gen_any(depth)
  depth = depth or 1
  local kind = weighted({tensor = 32, int = 14, number = 6, opts = depth < 2 and 10 or 0,
    shape = 7, ["nil"] = 5, bool = 3, string = 4, closed = 3, nested = 3,
    callback = depth < 2 and 2 or 0, list = depth < 2 and 4 or 0, axis = 6, fresh = 3})
  if kind == "tensor" then return gen_tensor()
  elseif kind == "int" then return gen_int()
  elseif kind == "number" then return gen_number()
  elseif kind == "opts" then return gen_opts()
  elseif kind == "shape" then return gen_shape()
  elseif kind == "nil" then return "nil"
  elseif kind == "bool" then return lit(chance(0.5))
  elseif kind == "string" then return lit(pick(STRINGS))
  elseif kind == "closed" then return gen_closed()
  elseif kind == "nested" then return gen_nested()
  elseif kind == "callback" then return gen_callback()
  elseif kind == "list" then return gen_tensor_list()
  elseif kind == "axis" then return gen_axis()
  else return gen_fresh() end
end

-- Einsum subscripts for the given operand infos (sometimes malformed).
local function gen_subscripts(infos)
  if chance(0.15) then return lit(pick(STRINGS)) end
  local letters = chance(0.8) and {"i", "j", "k", "l"} or {"i", "j", "A", "Z", "z", "a"}
  local parts, used = {}, {}
  for k, inf in ipairs(infos) do
    local s = {}
    local nd = inf and inf.ndim or 1
    local ell = chance(0.2) and random(0, nd) -- "..." standing for some leading axes
    for a = 1, ell and (nd - ell) or nd do
      local l = pick(letters)
      s[a] = l
      used[l] = true
    end
    parts[k] = (ell and "..." or "") .. table.concat(s)
    if chance(0.05) then parts[k] = parts[k] .. pick({" ", ".", "..", "1", "-"}) end
  end
  local out = table.concat(parts, ",")
  if chance(0.7) then
    local o = {}
    if out:find("...", 1, true) and chance(0.7) then o[1] = "..." end
    for _, l in ipairs(letters) do
      if used[l] and chance(0.6) then o[#o + 1] = l end
    end
    if chance(0.1) then o[#o + 1] = "z" end
    out = out .. "->" .. table.concat(o)
  end
  return lit(out)
end

-- ---- statements ---------------------------------------------------------------------------
local function store(expr)
  return fmt("v[%d] = keep(%s)", free_slot(), expr)
end

-- Arguments for a call: the first mostly a tensor; the same tensor again
-- with some probability (aliasing).
local function gen_args(n, first_tensor)
  local args = {}
  for k = 1, n do
    if k == 1 and first_tensor then
      args[k] = chance(0.85) and gen_tensor() or gen_any()
    elseif k > 1 and chance(0.15) then
      args[k] = args[random(k - 1)]
    else
      args[k] = gen_any()
    end
  end
  return args
end

-- ---- argument profiles ----------------------------------------------------------------
-- What a function's arguments usually are, by its last name ("sum" for mg.sum
-- and x:sum), so that most calls get past the argument checks into the
-- kernels; each argument is still replaced by anything at all now and then.
local PROFILE = {}
local function profile(names, kinds)
  for n in names:gmatch("%S+") do PROFILE[n] = kinds end
end
profile("zeros ones empty rand randn orthogonal dirac glorot_uniform glorot_normal xavier_uniform "
  .. "xavier_normal he_uniform he_normal kaiming_uniform kaiming_normal", {"shape", "opts"})
profile("normal uniform", {"shape", "num", "num", "opts"})
profile("constant full", {"shape", "num", "opts"})
profile("calculate_fan_in_and_fan_out", {"shape"})
profile("arange", {"num", "num", "num", "opts"})
profile("linspace logspace", {"num", "num", "int", "opts"})
profile("eye identity", {"int", "int", "opts"})
profile("randint", {"int", "int", "shape"})
profile("seed", {"int"})
profile("calculate_gain", {"str", "num"})
profile("set_default_dtype", {"dtype"})
profile("tensor asarray", {"nested", "opts"})
profile("zeros_like ones_like empty_like full_like", {"T", "num", "opts"})
profile("sum mean max min amax amin prod logsumexp any all argmax argmin", {"T", "axis", "bool"})
profile("var std", {"T", "axis", "bool", "opts"})
profile("cumsum cumprod squeeze flip unsqueeze expand_dims flatten", {"T", "axis", "axis"})
profile("reshape view broadcast_to expand tile", {"T", "shape"})
profile("astype", {"T", "dtype"})
profile("add sub subtract mul multiply div divide pow power floor_divide mod remainder maximum "
  .. "minimum logaddexp arctan2 atan2 equal eq not_equal ne less lt less_equal le greater gt "
  .. "greater_equal ge logical_and logical_or logical_xor add_ sub_ mul_ div_ pow_ copy_ fill_",
  {"T", "C"})
profile("matmul dot outer", {"T", "M"})
profile("where", {"B", "T", "C"})
profile("clip clamp clip_ clamp_", {"T", "num", "num"})
profile("split chunk repeat repeat_interleave", {"T", "int", "axis"})
profile("moveaxis swapaxes", {"T", "axis", "axis"})
profile("transpose permute", {"T", "axis", "axis", "axis"})
profile("pad", {"T", "padw", "num"})
profile("diagonal trace", {"T", "int", "axis", "axis"})
profile("norm", {"T", "ord", "axis", "bool"})
profile("round", {"T", "int"})
profile("concatenate cat stack multi_matmul null_grads zero_grads", {"list", "axis"})
profile("dropout", {"T", "prob", "bool"})
profile("backward", {"T", "C", "opts"})
profile("item totable clone contiguous detach detach_ float double long", {"T"})
profile("loader", {"T", "T", "opts"})

-- An expression for a random tensor of the given dims.
local function randn_of(dims, dtype)
  return fmt("T(mg.random.randn(%s, {dtype = %s}))", shape_lit(dims),
    lit(dtype or pick({"float32", "float64"})))
end

-- A tensor that broadcasts against one of shape `dims`: the same shape, a
-- trailing part of it, size-1 axes, a 0-d tensor or a number.
local function compatible(dims, dtype)
  local r = random()
  if r < 0.15 then return gen_number() end
  local d = {}
  if r < 0.35 then
    for k = random(1, #dims + 1), #dims do d[#d + 1] = dims[k] end
  else
    for k, n in ipairs(dims) do d[k] = chance(0.2) and 1 or n end
  end
  return randn_of(d, dtype)
end

local function dims_of(ref)
  local i = ref and tonumber(ref:match("^v%[(%d+)%]$"))
  local inf = i and info(i)
  if inf and not inf.closed then return inf.shape, inf.dtype end
  return nil
end

-- Arguments for a call from a profile; `first` is the receiver's source
-- text for methods (the profile's first entry is then skipped).
local function profiled(kinds, first)
  local args, dims, dtype = {}, nil, nil
  if first then dims, dtype = dims_of(first) end
  local n = #kinds
  if chance(0.2) then n = random(0, n + 1) end -- fewer or more than usual
  for k = first and 2 or 1, n do
    local kind = kinds[k] or "any"
    local a
    if chance(0.1) then kind = "any" end
    if kind == "T" then
      a = gen_tensor()
      if not dims then dims, dtype = dims_of(a) end
    elseif kind == "C" then a = dims and compatible(dims, dtype) or gen_tensor()
    elseif kind == "M" then
      if dims and #dims >= 1 then
        local d = {}
        for j = #dims, 1, -1 do d[#d + 1] = dims[j] end -- {m, k} @ {k, m}
        if #d >= 2 and chance(0.5) then d[#d] = random(0, 3) end
        a = randn_of(d, dtype)
      else
        a = gen_tensor()
      end
    elseif kind == "B" then
      a = pool_ref(function(i) return not i.closed and i.dtype == "bool" end) or gen_tensor()
      if not dims then dims, dtype = dims_of(a) end
    elseif kind == "axis" then
      a = dims and chance(0.8) and lit(random(-#dims - 1, #dims + 1)) or gen_axis()
    elseif kind == "int" then a = lit(pick({1, 2, 2, 3, 0, -1, 4}))
    elseif kind == "num" then a = gen_number()
    elseif kind == "shape" then a = gen_shape()
    elseif kind == "dtype" then a = gen_dtype()
    elseif kind == "bool" then a = lit(chance(0.5))
    elseif kind == "opts" then a = gen_opts()
    elseif kind == "str" then a = lit(pick(STRINGS))
    elseif kind == "nested" then a = chance(0.8) and gen_nested() or gen_number()
    elseif kind == "list" then
      local items = {}
      local base = gen_tensor()
      local bd, bt = dims_of(base)
      items[1] = base
      for j = 2, random(1, 4) do
        items[j] = bd and chance(0.8) and randn_of(bd, bt) or gen_tensor()
      end
      a = list_lit(items)
    elseif kind == "padw" then
      a = pick({"1", "0", "{1, 2}", "{{1, 0}, {0, 2}}", "-1", "{{1, 1}}", "{}", gen_int()})
    elseif kind == "prob" then a = lit(pick({0.5, 0, 0.9, 1, -0.1, 0 / 0, 2}))
    elseif kind == "ord" then
      a = pick({"nil", "1", "2", "\"fro\"", "\"nuc\"", "INF", "(-INF)", "0", "NAN", "-1", "3.5"})
    else a = gen_any() end
    args[#args + 1] = a
  end
  return args
end

-- Valid-looking arguments for the layers (shapes that fit), then perturbed.
local function layer_args(name)
  local N, I, O, H, T = random(0, 3), random(1, 3), random(1, 3), random(1, 3), random(1, 3)
  local dt = pick({"float32", "float64"})
  local args
  if name == "dense" then
    args = {randn_of({N, I}, dt), randn_of({I, O}, dt), chance(0.7) and randn_of({O}, dt) or "nil"}
  elseif name == "batchnorm" then
    local C = random(1, 3)
    args = {randn_of({N + 1, C, random(1, 2)}, dt), randn_of({C}, dt), randn_of({C}, dt),
      pick({"nil", "{eps = 1e-5}", "{training = false}", fmt("{running_mean = mg.zeros(%d), "
        .. "running_var = mg.ones(%d), momentum = 0.1}", C, C), gen_opts()})}
  elseif name == "embedding" then
    local V = random(1, 4)
    args = {fmt("mg.random.randint(%d, %d, %s)", pick({1, 1, 0, -V}), V + pick({1, 1, 2}),
      shape_lit(small_shape())), randn_of({V, random(1, 3)}, dt)}
  elseif name == "gru" then
    args = {randn_of({T, N, I}, dt), chance(0.7) and randn_of({N, H}, dt) or "nil",
      randn_of({3 * H, I}, dt), randn_of({3 * H, H}, dt), randn_of({3 * H}, dt),
      randn_of({3 * H}, dt), chance(0.3) and "{batch_first = true}" or "nil"}
  else
    return nil
  end
  for k = 1, #args do
    if chance(0.08) then args[k] = gen_any() end
  end
  return args
end

local function small_tensor()
  return pool_ref(function(inf) return not inf.closed and inf.size <= 6 end)
    or "mg.random.randn({2}, {dtype = \"float64\"})"
end

-- (callbacks given to no_grad and friends take no arguments; a tensor is fine too)
local function gen_small_or_tensor() return chance(0.5) and "nil" or gen_tensor() end

local function call_function(name)
  if ONE_ARG[name] then return store(name .. "(" .. gen_tensor() .. ")") end
  if HEAVY[name] then
    local x = small_tensor()
    local a = {gen_callback(), chance(0.5) and ("{" .. x .. "}") or x}
    if chance(0.5) then a[3] = gen_opts() end
    return store(name .. "(" .. table.concat(a, ", ") .. ")")
  end
  if name == "mg.einsum" then
    local n = random(1, 3)
    local refs, infos = {}, {}
    for k = 1, n do
      local s = slots(open)
      if #s > 0 and chance(0.9) then
        local i = pick(s)
        refs[k], infos[k] = "v[" .. i .. "]", info(i)
      else
        refs[k] = gen_any()
      end
    end
    return store(name .. "(" .. gen_subscripts(infos) .. ", " .. table.concat(refs, ", ") .. ")")
  end
  if name == "mg.autograd.Function" then
    return fmt("c[%d] = mg.autograd.Function(%s)", random(8), gen_function_def())
  end
  if name == "mg.grad" then
    return fmt("c[%d] = mg.grad(%s%s)", random(8), gen_callback(),
      chance(0.3) and ", " .. gen_opts() or "")
  end
  if name:match("no_grad$") or name:match("enable_grad$") or name:match("record$")
      or name:match("pause$") or name:match("_mode$") then
    if chance(0.5) then
      return store(fmt("%s(%s, %s)", name, gen_callback(), gen_small_or_tensor()))
    end
    return fmt("do local g <close> = %s(); %s end", name, fmt("v[%d] = keep(mg.%s(%s))",
      free_slot(), pick(UNARY) == "relu" and "abs" or pick({"exp", "sum", "abs"}), gen_tensor()))
  end
  local base = name:match("([%w_]+)$")
  local args = chance(0.85) and (layer_args(base) or (PROFILE[base] and profiled(PROFILE[base])))
  if not args then
    args = gen_args(weighted({[0] = 1, [1] = 5, [2] = 6, [3] = 4, [4] = 2, [5] = 1}), true)
  end
  return store(fname(name) .. "(" .. table.concat(args, ", ") .. ")")
end

local function call_method()
  local name = pick(METHODS)
  local n = weighted({[0] = 3, [1] = 5, [2] = 4, [3] = 2, [4] = 1})
  local args = gen_args(n, false)
  if chance(0.9) then
    local self = chance(0.93) and (pool_ref() or gen_fresh()) or gen_closed()
    if name:match("_$") and self:match("^v%[") and chance(0.5) then
      -- in place through a constant view of a pool tensor (a variable's
      -- storage changes under its graph: the version checks must see it)
      self = self .. pick({".data", ":detach()", ".T:detach()", "[1]:detach()"})
    end
    if PROFILE[name] and chance(0.85) then
      args = profiled(PROFILE[name], self)
      n = #args
    end
    for k = 1, n do -- the receiver again, as an argument (aliasing)
      if chance(0.12) then args[k] = self end
    end
    if KEYWORDS[name] then
      return store(fmt("(function(s, ...) return s[%q](s, ...) end)(%s%s)", name, self,
        n > 0 and ", " .. table.concat(args, ", ") or ""))
    end
    return store(fmt("%s:%s(%s)", self, name, table.concat(args, ", ")))
  end
  -- mg.methods.f called on something that is not a tensor
  return store(fmt("mg.methods[%s](%s)", lit(name), table.concat(gen_args(n + 1, false), ", ")))
end

local OPS = {"+", "-", "*", "/", "^", "//", "%", "==", "<", ".."}
local function operator()
  local r = random()
  if r < 0.65 then
    local a, b = gen_tensor(), chance(0.5) and gen_tensor() or gen_any(2)
    if chance(0.5) then a, b = b, a end
    if chance(0.15) then b = a end
    return store(fmt("(%s) %s (%s)", a, pick(OPS), b))
  elseif r < 0.8 then
    return store("-(" .. gen_tensor() .. ")")
  elseif r < 0.9 then
    return store("#(" .. gen_tensor() .. ")")
  else
    return store("tostring(" .. (chance(0.9) and gen_tensor() or gen_closed()) .. ")")
  end
end

local PROPS = {"shape", "ndim", "size", "dtype", "data", "grad", "constant", "requires_grad",
  "grad_fn", "T", "is_leaf", "nonexistent"}
local function property()
  local x = chance(0.92) and gen_tensor() or gen_closed()
  return store(fmt("(%s).%s", x, pick(PROPS)))
end

local function index_get()
  local s = slots(function() return true end)
  if #s == 0 then return store(gen_fresh()) end
  local i = pick(s)
  return store(fmt("v[%d][%s]", i, gen_key(info(i))))
end

local function index_set()
  local s = slots(function() return true end)
  if #s == 0 then return store(gen_fresh()) end
  local i = pick(s)
  local inf = info(i)
  local val
  local r = random()
  if r < 0.3 then val = gen_number()
  elseif r < 0.5 then val = "v[" .. i .. "]" -- x[key] = x
  elseif r < 0.62 and inf and not inf.closed then val = gen_view("v[" .. i .. "]", inf)
  elseif r < 0.9 then val = gen_tensor()
  else val = gen_any(2) end
  return fmt("v[%d][%s] = %s", i, gen_key(inf), val)
end

local function backward()
  local ref = pool_ref(function(inf) return not inf.closed and inf.rg end) or gen_tensor()
  local r = random()
  local function bopts()
    return fmt("{retain_graph = %s, create_graph = %s}", lit(chance(0.5)),
      lit(cg_iter and chance(0.5)))
  end
  if r < 0.35 then
    local head = pick({"nil", "1", "2.5", "NAN", "mg.ones_like(" .. ref .. ")", gen_tensor(),
      gen_any(2)})
    return fmt("%s:backward(%s%s)", ref, head, chance(0.6) and ", " .. bopts() or "")
  elseif r < 0.5 then
    return fmt("%s:backward(%s)", ref, bopts())
  elseif r < 0.6 then
    return fmt("(%s):sum():backward(nil, %s)", ref, bopts())
  elseif r < 0.8 then
    local ins = {}
    for k = 1, random(1, 3) do
      ins[k] = pool_ref(function(inf) return not inf.closed and inf.rg end) or gen_tensor()
    end
    local o = {"allow_unused = " .. lit(chance(0.6)), "create_graph = " .. lit(chance(0.4))}
    if chance(0.3) then o[#o + 1] = "retain_graph = " .. lit(chance(0.5)) end
    if chance(0.3) then o[#o + 1] = "grad_outputs = " .. gen_any(2) end
    if chance(0.2) then o[#o + 1] = "materialize_grads = true" end
    return store(fmt("mg.autograd.grad(%s, %s, %s)", ref, list_lit(ins), list_lit(o)))
  else
    return store(fmt("(%s).grad", pool_ref() or gen_tensor()))
  end
end

local function call_callable()
  local s = {}
  for i = 1, 8 do
    if c[i] ~= nil then s[#s + 1] = i end
  end
  if #s == 0 then return call_function(pick({"mg.autograd.Function", "mg.grad"})) end
  local i = pick(s)
  local n = random(0, 3)
  local args = {}
  for k = 1, n do args[k] = chance(0.8) and small_tensor() or gen_any(2) end
  return store(fmt("c[%d](%s)", i, table.concat(args, ", ")))
end

local function misc()
  local r = random()
  if r < 0.4 then return "close(" .. (pool_ref() or gen_fresh()) .. ")" end
  if r < 0.55 then return fmt("do local t <close> = %s; pcall(t.null_grad, t) end",
    pool_ref() or gen_fresh()) end
  if r < 0.75 then return fmt("v[%d] = nil; collectgarbage()", random(POOL)) end
  if r < 0.85 then return "mg.set_default_dtype(" .. lit(pick(STRINGS)) .. ")" end
  if r < 0.92 then return "mg.set_grad_enabled(" .. lit(chance(0.7)) .. ")" end
  return "mg.keep_grads(" .. lit(chance(0.5)) .. ")"
end

-- Functions with much code behind their arguments are drawn more often.
local HEAVIER = {einsum = 6, matmul = 3, multi_matmul = 3, gru = 5, batchnorm = 4, dense = 3,
  embedding = 3, cat = 2, concatenate = 2, stack = 2, split = 2, pad = 2, tile = 2, norm = 2,
  where = 2, repeat_interleave = 2, diagonal = 2, var = 2, Function = 3, grad = 3}
local FUNC_WEIGHTS = {}
for _, name in ipairs(FUNCS) do FUNC_WEIGHTS[name] = HEAVIER[name:match("([%w_]+)$")] or 1 end

local file_statement = require("fuzz.files")({
  F = F, random = random, chance = chance, pick = pick, weighted = weighted, lit = lit,
  list_lit = list_lit, store = store, free_slot = free_slot, info = info, pool_ref = pool_ref,
  gen_tensor = gen_tensor, gen_any = gen_any, gen_opts = gen_opts, gen_closed = gen_closed,
  gen_number = gen_number, small_shape = small_shape, shape_lit = shape_lit, gen_view = gen_view,
})

local function statement()
  local kind = weighted({func = 30, method = 28, op = 8, prop = 4, get = 8, set = 6,
    backward = 8, view = 4, callable = 2, misc = 2, files = 6})
  if kind == "files" then return file_statement() end
  if kind == "func" then return call_function(weighted(FUNC_WEIGHTS))
  elseif kind == "method" then return call_method()
  elseif kind == "op" then return operator()
  elseif kind == "prop" then return property()
  elseif kind == "get" then return index_get()
  elseif kind == "set" then return index_set()
  elseif kind == "backward" then return backward()
  elseif kind == "callable" then return call_callable()
  elseif kind == "view" then
    local s = slots(open)
    if #s == 0 then return store(gen_fresh()) end
    local i = pick(s)
    return store(gen_view("v[" .. i .. "]", info(i)))
  else return misc() end
end

-- ---- error classification ------------------------------------------------------------------
local stats = {iterations = 0, calls = 0, ok = 0, errors = 0, findings = 0, unfriendly = 0}
local per_fn, unfriendly_msgs, findings = {}, {}, {}

local function fn_name(code)
  return code:match("^v%[%d+%] = keep%(([%w_.]+)%(") or code:match(":([%w_]+)%(")
    or code:match("^([%w_.]+)") or "?"
end

local function classify(code, ok, err, where)
  stats.calls = stats.calls + 1
  local name = fn_name(code)
  local pf = per_fn[name] or {ok = 0, err = 0}
  per_fn[name] = pf
  if ok then
    stats.ok = stats.ok + 1
    pf.ok = pf.ok + 1
    return
  end
  stats.errors = stats.errors + 1
  pf.err = pf.err + 1
  local finding = F.finding(code, ok, err)
  if F.is_unfriendly(err) then
    stats.unfriendly = stats.unfriendly + 1
    local key = err:gsub("%d+", "N")
    if not unfriendly_msgs[key] then unfriendly_msgs[key] = where .. "  " .. code .. "\n    -> " .. err end
  end
  if finding then
    stats.findings = stats.findings + 1
    findings[#findings + 1] = where .. "  " .. code .. "\n    -> " .. finding
  end
end

-- ---- the run --------------------------------------------------------------------------------
local repro
local function iter_seed(seed, iter) return (seed * 1000003 + iter) % 2147483647 end

local t0 = os.time()
local last = opt.start + opt.iterations - 1
for iter = opt.start, last do
  if opt.seconds and os.time() - t0 >= opt.seconds then break end
  if opt.progress then
    local p = io.open(opt.progress, "w")
    p:write(opt.seed, " ", iter, "\n")
    p:close()
  end
  local s = iter_seed(opt.seed, iter)
  F.reset(s)
  if opt.cg == "on" then cg_iter = true
  elseif opt.cg == "off" then cg_iter = false
  else cg_iter = chance(0.5) end
  if opt.repro then
    if repro then repro:close() end
    repro = assert(io.open(opt.repro, "w"))
    repro:setvbuf("no")
    repro:write(fmt("-- fuzz repro: seed %d, iteration %d (run from the repository root)\n",
      opt.seed, iter), "package.path = \"lua/?.lua;lua/?/init.lua;spec/?.lua;\" .. package.path\n",
      "if not os.getenv(\"LUA_CPATH\") then package.cpath = \"lua/?.so;\" .. package.cpath end\n",
      "local F = require(\"fuzz.prelude\")\nlocal S = F.R\n",
      opt.strict and "F.strict = true\n" or "", fmt("F.reset(%d)\n", s))
  end
  local function run(code)
    if repro then repro:write("S", fmt("%q", code):gsub("\\\n", "\\n"), "\n") end
    local t = os.clock()
    local ok, err = S(code)
    if opt.slow and os.clock() - t > opt.slow then
      io.stderr:write(fmt("SLOW %.2fs [seed %d iteration %d] %s\n", os.clock() - t, opt.seed, iter, code))
    end
    classify(code, ok, err, fmt("[seed %d iteration %d]", opt.seed, iter))
  end
  -- the pool: a few tensors of every kind
  for _ = 1, random(5, 9) do run(store(gen_fresh())) end
  for _ = 1, opt.statements do run(statement()) end
  if repro then repro:write("F.reset(0) -- nulls the .grad of every tensor made (see prelude.lua)\n") end
  stats.iterations = stats.iterations + 1
end
if repro then repro:close() end
F.reset(0)

-- ---- report ----------------------------------------------------------------------------------
if opt.verbose then
  local names = {}
  for k in pairs(per_fn) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do print(fmt("  %-32s ok %6d  error %6d", k, per_fn[k].ok, per_fn[k].err)) end
  local keys = {}
  for k in pairs(unfriendly_msgs) do keys[#keys + 1] = k end
  table.sort(keys)
  if #keys > 0 then print("unfriendly error messages (" .. #keys .. " kinds):") end
  for _, k in ipairs(keys) do print("  " .. unfriendly_msgs[k]) end
end
for _, f in ipairs(findings) do print("FINDING " .. f) end
print(fmt("fuzz: seed %d, iterations %d..%d: %d iterations, %d calls (%d ok, %d Lua errors, "
  .. "%d unfriendly), %d findings", opt.seed, opt.start, opt.start + stats.iterations - 1,
  stats.iterations, stats.calls, stats.ok, stats.errors, stats.unfriendly, stats.findings))
os.exit(stats.findings == 0 and 0 or 1, true)
