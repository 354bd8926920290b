-- gradcheck_random_spec.lua — every differentiable op of the API checked by
-- float64 central finite differences (mg.autograd.gradcheck) on seeded
-- random cases: random small shapes (at most 4 per axis), broadcasting
-- operands, random axes / keepdims / options, and inputs made
-- non-contiguous at random inside the checked function (a permuted or
-- transposed view, a stepped or reversed slice, a flip, an expanded
-- stride-0 view, or two of them), since gradcheck perturbs contiguous
-- copies of its inputs.  The other spec files check each op on fixed
-- shapes; this one sweeps the shapes and layouts.
--
-- Coverage is checked against the API itself: every function of mg, mg.nnet
-- and the tensor methods is a case below (OPS), an alias of one (ALIASES),
-- or listed in SKIPPED with the reason it has no gradient to check.  That
-- list was compared with /work/shared/api.md: its differentiable names are
-- all cases here (the metamethods + - * / ^ % and unary - as one case; //
-- is floor_divide, a constant); mg.nn's modules are built from these ops
-- and mg.optim, mg.random, mg.data and mg.plot have no gradients.
local mg = require("moongrad")
local gc = require("gradcheck")
local nn = mg.nnet

local CASES = 16 -- random cases per op

-- ---- a seeded generator for shapes and choices (independent of mg.random) ------
local state = 1
local function reseed(s) state = s % 2147483647 + 1 end
local function rnd()
  state = (state * 48271) % 2147483647
  return state / 2147483647
end
local function int(a, b) return a + math.floor(rnd() * (b - a + 1)) end
local function chance(p) return rnd() < p end
local function pick(t) return t[int(1, #t)] end

local function copy(t)
  local o = {}
  for i, v in ipairs(t) do o[i] = v end
  return o
end

local function shape_str(s) return "{" .. table.concat(s, ", ") .. "}" end

-- A shape of lo..hi axes (0..4), each of size dlo..dhi (1..4; 1..3 with 4 axes).
local function shape(lo, hi, dlo, dhi)
  local s = {}
  local nd = int(lo or 0, hi or 4)
  for k = 1, nd do s[k] = int(dlo or 1, dhi or (nd >= 4 and 3 or 4)) end
  return s
end

-- A shape that broadcasts to s: leading axes dropped, some sizes 1.
local function bcast(s)
  local out = {}
  local drop = chance(0.3) and int(0, #s) or 0
  for k = drop + 1, #s do out[#out + 1] = chance(0.3) and 1 or s[k] end
  return out
end

-- An axis of an nd-axis tensor (1-based, negative sometimes).
local function axis(nd)
  local a = int(1, nd)
  return chance(0.3) and a - nd - 1 or a
end

-- What a reduction reads: nil (all), an axis, or a table of distinct axes.
local function axes(nd)
  if nd == 0 or chance(0.25) then return nil end
  if chance(0.6) then return axis(nd) end
  local t = {}
  for a = 1, nd do if chance(0.5) then t[#t + 1] = a end end
  if #t == 0 then return nil end
  return t
end

local function reduced_count(s, ax)
  if ax == nil then
    local n = 1
    for _, d in ipairs(s) do n = n * d end
    return n
  end
  if type(ax) ~= "table" then ax = {ax} end
  local n = 1
  for _, a in ipairs(ax) do n = n * s[a < 0 and #s + a + 1 or a] end
  return n
end

local function reduction() return pick({"mean", "sum", "none"}) end

-- ---- operands: leaves and the views that make them non-contiguous ----------------
-- Values: "normal", or {lo, hi} (uniform), or {lo, hi, "signed"} (|x| in [lo, hi)).
local function leaf(s, dist)
  local o = {dtype = "float64", constant = true}
  local x
  if dist == nil or dist == "normal" then
    x = mg.random.randn(s, o)
  else
    x = mg.random.rand(s, o) * (dist[2] - dist[1]) + dist[1]
    if dist[3] == "signed" then x = x * (mg.random.rand(s, o):gt(0.5):astype("float64") * 2 - 1) end
  end
  return x:requires_grad_(true)
end

-- One view of a leaf of shape L that has shape s: returns L, fn, description.
-- (noexpand: no stride-0 views, whose equal elements would put std at its
-- singular point, zero variance)
local function one_view(s, noexpand)
  local nd = #s
  local kinds = {"plain"}
  if nd >= 1 then kinds[#kinds + 1] = "step"; kinds[#kinds + 1] = "flip" end
  if nd >= 1 and not noexpand then kinds[#kinds + 1] = "expand" end
  if nd >= 2 then kinds[#kinds + 1] = "permute"; kinds[#kinds + 1] = "T" end
  local kind = pick(kinds)
  if kind == "step" then
    local a = int(1, nd)
    local L = copy(s)
    local back = chance(0.4)
    L[a] = 2 * s[a] - (back and 0 or int(0, 1))
    local key = {}
    for k = 1, nd do key[k] = {} end
    key[a] = back and {-1, 1, -2} or {1, -1, 2}
    return L, function(x) return x[key] end, "step axis " .. a
  elseif kind == "flip" then
    local a = int(1, nd)
    return copy(s), function(x) return x:flip(a) end, "flip axis " .. a
  elseif kind == "expand" then
    local L = {}
    local drop = chance(0.3) and int(1, nd) or 0
    for k = drop + 1, nd do L[#L + 1] = chance(0.5) and 1 or s[k] end
    if drop == 0 and #L > 0 then L[int(1, #L)] = 1 end -- at least one axis broadcast
    return L, function(x) return x:expand(s) end, "expand from " .. shape_str(L)
  elseif kind == "T" then
    local L = {}
    for k = nd, 1, -1 do L[#L + 1] = s[k] end
    return L, function(x) return x.T end, ".T"
  elseif kind == "permute" then
    local p = {}
    for k = 1, nd do p[k] = k end
    for k = nd, 2, -1 do local j = int(1, k); p[k], p[j] = p[j], p[k] end
    local L = {}
    for k = 1, nd do L[p[k]] = s[k] end
    return L, function(x) return x:permute(p) end, "permute " .. shape_str(p)
  end
  return copy(s), function(x) return x end, "contiguous"
end

-- A leaf shape and the view(s) taking it to s: none, one, or two chained.
local function view_chain(s, noexpand)
  local L, f, what = one_view(s, noexpand)
  if chance(0.3) then
    local L2, g, what2 = one_view(L, noexpand)
    return L2, function(x) return f(g(x)) end, what2 .. ", then " .. what
  end
  return L, f, what
end

-- ---- the ops ----------------------------------------------------------------------
-- OPS[name] = function() returning {inputs, f, opts}: inputs are {shape, dist}
-- pairs (noexpand = true: no expanded view of that one); f takes the
-- operands (views of the leaves) and returns the op's result; opts go to
-- gradcheck.  Each case draws its shapes, options and views from the seeded
-- generator, so a failure names a case that replays.
local OPS = {}

-- Element-wise unary ops: name -> values that keep away from poles and kinks.
local UNARY = {
  abs = {0.2, 2, "signed"}, negative = "normal", positive = "normal", reciprocal = {0.5, 2, "signed"},
  square = "normal", sqrt = {0.3, 2}, cbrt = {0.3, 2, "signed"}, exp = "normal", exp2 = "normal",
  expm1 = "normal", log = {0.3, 2}, log2 = {0.3, 2}, log10 = {0.3, 2}, log1p = {-0.6, 2},
  sin = "normal", cos = "normal", tan = {-1.2, 1.2}, arcsin = {-0.85, 0.85}, arccos = {-0.85, 0.85},
  arctan = "normal", sinh = "normal", cosh = "normal", tanh = "normal", arcsinh = "normal",
  arccosh = {1.2, 3}, arctanh = {-0.85, 0.85},
}
for name, dist in pairs(UNARY) do
  OPS[name] = function()
    local method = chance(0.5)
    return {{{shape(), dist}}, function(x) return method and x[name](x) or mg[name](x) end}
  end
end

-- Binary ops broadcasting two operands.
local BINARY = {
  add = {"normal", "normal"}, subtract = {"normal", "normal"}, multiply = {"normal", "normal"},
  divide = {"normal", {0.5, 2, "signed"}}, power = {{0.5, 2}, {-2, 2}}, maximum = {"normal", "normal"},
  minimum = {"normal", "normal"}, arctan2 = {"normal", "normal"}, logaddexp = {"normal", "normal"},
  mod = {{-3, 3}, {0.5, 2, "signed"}},
}
for name, dists in pairs(BINARY) do
  OPS[name] = function()
    local s = shape()
    return {{{bcast(s), dists[1]}, {bcast(s), dists[2]}}, function(a, b) return mg[name](a, b) end}
  end
end

-- The arithmetic metamethods, with a number on either side sometimes.
OPS.metamethods = function()
  local s = shape()
  local op = pick({"+", "-", "*", "/", "^", "%", "unm"})
  local num = chance(0.3) and pick({2.5, -1.5, 3}) or nil
  local left = chance(0.5)
  local function apply(a, b)
    if op == "+" then return a + b elseif op == "-" then return a - b
    elseif op == "*" then return a * b elseif op == "/" then return a / b
    elseif op == "^" then return a ^ b elseif op == "%" then return a % b end
  end
  local da = (op == "^") and {0.5, 2} or (op == "%" and {-3, 3} or "normal")
  local db = (op == "/" or op == "%") and {0.5, 2, "signed"} or (op == "^" and {-2, 2} or "normal")
  if op == "unm" then return {{{s, "normal"}}, function(a) return -a end} end
  if num then -- a number on the left (a positive base for ^) or on the right
    if left then return {{{s, db}}, function(b) return apply(op == "^" and 2.5 or num, b) end} end
    return {{{s, da}}, function(a) return apply(a, num) end}
  end
  return {{{bcast(s), da}, {bcast(s), db}}, apply}
end

OPS.where = function()
  local s = shape()
  local cond = mg.random.rand(bcast(s)):gt(0.5)
  return {{{bcast(s)}, {bcast(s)}}, function(a, b) return mg.where(cond, a, b) end}
end

OPS.clip = function()
  local s = shape()
  if chance(0.5) then
    local lo, hi = -0.5, 0.7
    if chance(0.3) then lo = nil elseif chance(0.3) then hi = nil end
    local method = chance(0.5)
    return {{{s}}, function(x) return method and x:clip(lo, hi) or mg.clip(x, lo, hi) end}
  end
  return {{{s}, {bcast(s), {-1, -0.2}}, {bcast(s), {0.2, 1}}},
    function(x, lo, hi) return mg.clip(x, lo, hi) end}
end

-- Reductions over random axes with random keepdims.
for _, name in ipairs({"sum", "mean", "max", "min", "prod", "logsumexp"}) do
  OPS[name] = function()
    local s = shape(0, 3)
    local ax, keep = axes(#s), chance(0.5)
    return {{{s, name == "prod" and {0.5, 1.5, "signed"} or "normal"}},
      function(x) return mg[name](x, {axis = ax, keepdims = keep}) end}
  end
end
for _, name in ipairs({"var", "std"}) do
  OPS[name] = function()
    local s = shape(1, 3, 2)
    local ax, keep = axes(#s), chance(0.5)
    local ddof = reduced_count(s, ax) > 1 and int(0, 1) or 0
    return {{{s, noexpand = name == "std"}}, function(x)
      return mg[name](x, {axis = ax, keepdims = keep, ddof = ddof})
    end}
  end
end
for _, name in ipairs({"cumsum", "cumprod"}) do
  OPS[name] = function()
    local s = shape(0, 3)
    local ax = #s > 0 and chance(0.8) and axis(#s) or nil
    return {{{s, {0.5, 1.5, "signed"}}}, function(x) return mg[name](x, ax) end}
  end
end

-- ---- shapes -------------------------------------------------------------------------
-- A shape with the same number of elements as s (one entry -1 sometimes).
local function reshaped(s)
  local n = 1
  for _, d in ipairs(s) do n = n * d end
  local out = {}
  while n > 1 do
    local f = 2
    while n % f ~= 0 do f = f + 1 end
    if #out > 0 and chance(0.4) then out[#out] = out[#out] * f else out[#out + 1] = f end
    n = n // f
  end
  if chance(0.3) then table.insert(out, int(1, #out + 1), 1) end
  if #out > 0 and chance(0.3) then out[int(1, #out)] = -1 end
  return out
end

OPS.reshape = function()
  local s = shape(0, 3)
  local t = reshaped(s)
  return {{{s}}, function(x) return x:reshape(t) end}
end
OPS.view = function()
  local s = shape(0, 3)
  local t = reshaped(s)
  return {{{s}}, function(x) return mg.view(x, t) end}
end
OPS.transpose = function()
  local s = shape(1, 3)
  if chance(0.4) then return {{{s}}, function(x) return x:transpose() end} end
  local p = {}
  for k = 1, #s do p[k] = k end
  for k = #s, 2, -1 do local j = int(1, k); p[k], p[j] = p[j], p[k] end
  return {{{s}}, function(x) return mg.transpose(x, p) end}
end
OPS.permute = function()
  local s = shape(1, 3)
  local p = {}
  for k = 1, #s do p[k] = k end
  for k = #s, 2, -1 do local j = int(1, k); p[k], p[j] = p[j], p[k] end
  return {{{s}}, function(x) return x:permute(p) end}
end
OPS.swapaxes = function()
  local s = shape(1, 3)
  local a, b = axis(#s), axis(#s)
  return {{{s}}, function(x) return mg.swapaxes(x, a, b) end}
end
OPS.moveaxis = function()
  local s = shape(1, 3)
  local a, b = axis(#s), axis(#s)
  return {{{s}}, function(x) return mg.moveaxis(x, a, b) end}
end
OPS.squeeze = function()
  local s = shape(1, 3)
  s[int(1, #s)] = 1
  local ones = {}
  for k, d in ipairs(s) do if d == 1 then ones[#ones + 1] = k end end
  local a = chance(0.5) and pick(ones) or nil
  return {{{s}}, function(x) return x:squeeze(a) end}
end
OPS.unsqueeze = function()
  local s = shape(0, 3)
  local a = int(1, #s + 1)
  if chance(0.3) then a = a - #s - 2 end
  return {{{s}}, function(x) return mg.unsqueeze(x, a) end}
end
OPS.flatten = function()
  local s = shape(1, 3)
  local a = int(1, #s)
  local b = int(a, #s)
  return {{{s}}, function(x) return x:flatten(a, b) end}
end
OPS.ravel = function() return {{{shape(0, 3)}}, function(x) return mg.ravel(x) end} end
OPS.broadcast_to = function()
  local s = shape(0, 3)
  return {{{bcast(s)}}, function(x) return mg.broadcast_to(x, s) end}
end
OPS.expand = function()
  local s = shape(0, 3)
  return {{{bcast(s)}}, function(x) return x:expand(s) end}
end

-- Operands equal but along one axis; joined with cat, concatenate or stack.
OPS.concatenate = function()
  local s = shape(1, 3)
  local a = axis(#s)
  local ins = {}
  for k = 1, int(1, 3) do
    local t = copy(s)
    t[a < 0 and #s + a + 1 or a] = int(1, 3)
    ins[k] = {t}
  end
  local as_list = chance(0.5)
  return {ins, function(...)
    if as_list then return mg.concatenate({...}, a) end
    return mg.cat({...}, a)
  end}
end
OPS.stack = function()
  local s = shape(0, 3)
  local a = int(1, #s + 1)
  local ins = {}
  for k = 1, int(1, 3) do ins[k] = {s} end
  return {ins, function(...) return mg.stack({...}, a) end}
end
OPS.split = function()
  local s = shape(1, 3)
  local a = axis(#s)
  local n = s[a < 0 and #s + a + 1 or a]
  local by = chance(0.5) and int(1, n) or nil
  local sizes = {}
  if not by then
    local left = n
    while left > 0 do local k = int(1, left); sizes[#sizes + 1] = k; left = left - k end
  end
  return {{{s}}, function(x)
    local pieces = mg.split(x, by or sizes, a)
    local rev = {}
    for i = #pieces, 1, -1 do rev[#rev + 1] = pieces[i] * i end
    return mg.cat(rev, a)
  end}
end
OPS.chunk = function()
  local s = shape(1, 3)
  local a = axis(#s)
  local n = int(1, 4)
  return {{{s}}, function(x)
    local pieces = x:chunk(n, a)
    local p = pieces[#pieces]
    return p * 3 + pieces[1]:sum()
  end}
end
OPS["repeat"] = function()
  local s = shape(0, 3)
  local n = int(1, 3)
  local a = #s > 0 and chance(0.7) and axis(#s) or nil
  return {{{s}}, function(x) return mg["repeat"](x, n, a) end}
end
OPS.repeat_interleave = function()
  local s = shape(1, 3)
  local n, a = int(1, 3), axis(#s)
  return {{{s}}, function(x) return x:repeat_interleave(n, a) end}
end
OPS.tile = function()
  local s = shape(0, 3)
  local reps = {}
  for k = 1, int(1, 3) do reps[k] = int(1, 2) end
  return {{{s}}, function(x) return mg.tile(x, reps) end}
end
OPS.flip = function()
  local s = shape(0, 3)
  local a = #s > 0 and chance(0.6) and (#s == 1 and axis(#s) or pick({axis(#s), {1, #s}})) or nil
  return {{{s}}, function(x) return mg.flip(x, a) end}
end
OPS.pad = function()
  local s = shape(1, 3)
  local w
  local r = rnd()
  if r < 0.3 then w = int(0, 2)
  elseif r < 0.6 then w = {int(0, 2), int(0, 2)}
  else
    w = {}
    for k = 1, #s do w[k] = {int(0, 2), int(0, 1)} end
  end
  local value = chance(0.5) and 1.5 or nil
  return {{{s}}, function(x) return mg.pad(x, w, value and {value = value} or nil) end}
end

-- ---- indexing --------------------------------------------------------------------
-- A basic key for a tensor of shape s: integers, slices (steps +-1, +-2) and {}.
local function basic_key(s)
  local key = {}
  for k = 1, int(1, #s) do
    local n = s[k]
    local r = rnd()
    if r < 0.25 then key[k] = chance(0.3) and -int(1, n) or int(1, n)
    elseif r < 0.45 then key[k] = {}
    else
      local a, b = int(1, n), int(1, n)
      local step = pick({1, 2, -1, -2})
      if (step > 0) == (a > b) then a, b = b, a end
      key[k] = {a, b, step}
    end
  end
  return key
end

-- An int64 index for an axis of size n (negative entries, repeats).
local function index_tensor(n, shp)
  local vals = {}
  local count = 1
  for _, d in ipairs(shp) do count = count * d end
  for i = 1, count do
    local v = int(1, n)
    vals[i] = chance(0.3) and v - n - 1 or v
  end
  return mg.tensor(vals, {dtype = "int64"}):reshape(shp)
end

local function adv_key(s)
  local r = rnd()
  if r < 0.35 then -- a bool mask over the leading axes
    local k = int(1, #s)
    local ms = {}
    for i = 1, k do ms[i] = s[i] end
    return mg.random.rand(ms):gt(0.4)
  elseif r < 0.7 then -- an index tensor on one axis, slices elsewhere
    local key = {}
    local a = int(1, #s)
    for k = 1, a - 1 do key[k] = {} end
    key[a] = index_tensor(s[a], shape(1, 2, 1, 3))
    return key
  end
  -- two index tensors broadcast together
  if #s < 2 then return index_tensor(s[1], {int(1, 4)}) end
  local n = int(1, 3)
  return {index_tensor(s[1], {n}), index_tensor(s[2], chance(0.5) and {n} or {1})}
end

OPS.getitem = function()
  local s = shape(1, 3)
  local key = chance(0.6) and basic_key(s) or adv_key(s)
  return {{{s}}, function(x) return x[key] end}
end

-- x[key] = v on a graph tensor (a copy of x): the gradient reaches x where
-- it survives and v; v broadcasts to the selection (or is a number).
OPS.setitem = function()
  local s = shape(1, 3)
  local key = chance(0.5) and basic_key(s) or adv_key(s)
  local sel = mg.zeros(s)[key]
  local target = sel.ndim and sel.shape or {}
  if chance(0.2) then
    return {{{s}}, function(x) local y = x * 1; y[key] = 2.5; return y end}
  end
  if chance(0.3) then -- into a view of a graph tensor
    local L, view, _ = one_view(s, true)
    return {{{L}, {bcast(target)}}, function(x, v) local t = view(x * 1); t[key] = v; return t end}
  end
  return {{{s}, {bcast(target)}}, function(x, v) local y = x * 1; y[key] = v; return y end}
end

-- ---- linear algebra -----------------------------------------------------------------
OPS.matmul = function()
  local n, k, m = int(1, 4), int(1, 4), int(1, 4)
  local r = rnd()
  local a, b
  if r < 0.15 then a, b = {k}, {k}
  elseif r < 0.3 then a, b = {k}, {k, m}
  elseif r < 0.45 then a, b = {n, k}, {k}
  elseif r < 0.7 then a, b = {n, k}, {k, m}
  else
    local batch = shape(1, 2, 1, 3)
    a, b = bcast(batch), bcast(batch)
    a[#a + 1], a[#a + 2] = n, k
    b[#b + 1], b[#b + 2] = k, m
    if chance(0.2) then b = {k, m} end
  end
  local method = chance(0.5)
  return {{{a}, {b}}, function(x, y) return method and x:matmul(y) or mg.matmul(x, y) end}
end
OPS.dot = function()
  local n, k, m = int(1, 4), int(1, 4), int(1, 4)
  local pairs_ = {{{k}, {k}}, {{n, k}, {k, m}}, {{n, k}, {k}}, {{2, n, k}, {k, m}}}
  local p = pick(pairs_)
  return {{{p[1]}, {p[2]}}, function(x, y) return mg.dot(x, y) end}
end
OPS.outer = function()
  return {{{shape(0, 2)}, {shape(0, 2)}}, function(x, y) return mg.outer(x, y) end}
end
OPS.einsum = function()
  local size = {}
  for _, l in ipairs({"i", "j", "k", "b"}) do size[l] = int(1, 4) end
  local templates = {"ij,jk->ik", "ij,jk", "i,i->", "ij->ji", "ii->i", "ii", "bij,bjk->bik",
    "i,j->ij", "ijk->k", "ij,ij->ij", "ij,kj,k->i", "...ij,...jk->...ik", "bi,bi->b", "ijk->kji"}
  local sub = pick(templates)
  local lhs = sub:match("^([^%-]*)")
  local batch = shape(0, 2, 1, 3)
  local ins = {}
  for part in lhs:gmatch("[^,]+") do
    local s = {}
    if part:find("...", 1, true) then
      for _, d in ipairs(bcast(batch)) do s[#s + 1] = d end
      part = part:gsub("%.%.%.", "")
    end
    for l in part:gmatch("%a") do
      s[#s + 1] = (part:match("^ii$") and size.i) or size[l]
    end
    ins[#ins + 1] = {s}
  end
  return {ins, function(...) return mg.einsum(sub, ...) end}
end
OPS.multi_matmul = function()
  local n = int(2, 4)
  local d = {}
  for k = 1, n + 1 do d[k] = int(1, 4) end
  local ins = {}
  for k = 1, n do ins[k] = {{d[k], d[k + 1]}} end
  if chance(0.3) then ins[1] = {{d[2]}} end
  if chance(0.3) then ins[n] = {{d[n]}} end
  return {ins, function(...) return mg.multi_matmul({...}) end}
end
OPS.norm = function()
  local away = {0.2, 2, "signed"}
  if chance(0.5) then
    local s = shape(1, 3)
    local ord = pick({"nil", 1, 2, 3, 1.5, math.huge, -math.huge})
    if ord == "nil" then ord = nil end
    local ax = chance(0.7) and axis(#s) or nil
    if ax == nil and ord ~= nil then ax = axis(#s) end
    local keep = chance(0.5)
    return {{{s, away}}, function(x) return mg.norm(x, {ord = ord, axis = ax, keepdims = keep}) end}
  end
  local s = shape(2, 3)
  local a, b = int(1, #s), int(1, #s)
  if a == b then b = a % #s + 1 end
  local ord = pick({"fro", 1, -1, math.huge, -math.huge})
  return {{{s, away}}, function(x) return x:norm({ord = ord, axis = {a, b}, keepdims = chance(0.5)}) end}
end
OPS.diagonal = function()
  local s = shape(2, 3)
  local a, b = int(1, #s), int(1, #s)
  if a == b then b = a % #s + 1 end
  local off = int(-1, 1)
  return {{{s}}, function(x) return x:diagonal(off, a, b) end}
end
OPS.trace = function()
  local s = shape(2, 2)
  local off = int(-1, 1)
  return {{{s}}, function(x) return mg.trace(x, off) end}
end

-- ---- in place on graph tensors ------------------------------------------------------
local INPLACE = {add_ = "normal", sub_ = "normal", mul_ = "normal", div_ = {0.5, 2, "signed"},
  pow_ = {-2, 2}, copy_ = "normal"}
for name, dist in pairs(INPLACE) do
  OPS[name] = function()
    local s = shape()
    local base = name == "pow_" and {0.5, 2} or "normal"
    if chance(0.25) then
      local num = name == "copy_" and nil or 1.5
      if num then return {{{s, base}}, function(x) local y = x * 1; y[name](y, num); return y end} end
    end
    if #s >= 1 and chance(0.3) then -- through a view of a graph tensor: the view's handle moves
      local L, view, _ = one_view(s, true)
      return {{{L, base}, {bcast(s), dist}}, function(x, z)
        local t = view(x * 1)
        t[name](t, z)
        return t
      end}
    end
    return {{{s, base}, {bcast(s), dist}}, function(x, z) local y = x * 1; y[name](y, z); return y end}
  end
end
OPS.clamp_ = function()
  local s = shape()
  return {{{s}}, function(x) local y = x * 1; y:clamp_(-0.5, 0.6); return y * x end}
end
OPS.fill_ = function()
  local s = shape()
  return {{{s}}, function(x) local y = x * 1; y:fill_(2); return y * x end}
end
OPS.zero_ = function()
  local s = shape()
  return {{{s}}, function(x) local y = x * 1; y:zero_(); return y + x end}
end

-- ---- conversions --------------------------------------------------------------------
OPS.clone = function() return {{{shape()}}, function(x) return mg.clone(x) * 2 end} end
OPS.contiguous = function() return {{{shape()}}, function(x) return x:contiguous() * 2 end} end
OPS.double = function() return {{{shape()}}, function(x) return x:double() * 2 end} end
-- A float32 round trip: finite differences need a larger step.
local F32 = {eps = 1e-3, atol = 1e-3, rtol = 1e-2}
OPS.astype = function()
  return {{{shape()}}, function(x) return x:astype("float32"):astype("float64") end, F32}
end
OPS.float = function() return {{{shape()}}, function(x) return x:float():double() end, F32} end
OPS.asarray = function() return {{{shape()}}, function(x) return mg.asarray(x) * 2 end} end

-- ---- mg.nnet: activations -----------------------------------------------------------
local ACT = {
  relu = function(x) return nn.relu(x) end,
  leaky_relu = function(x) return nn.leaky_relu(x, 0.2) end,
  elu = function(x) return nn.elu(x, 0.7) end,
  selu = function(x) return nn.selu(x) end,
  gelu = function(x) return nn.gelu(x) end,
  gelu_tanh = function(x) return nn.gelu(x, "tanh") end,
  sigmoid = function(x) return nn.sigmoid(x) end,
  nnet_tanh = function(x) return nn.tanh(x) end,
  hard_tanh = function(x) return nn.hard_tanh(x) end,
  soft_sign = function(x) return nn.soft_sign(x) end,
  softplus = function(x) return nn.softplus(x, 1.5) end,
}
for name, f in pairs(ACT) do
  OPS[name] = function() return {{{shape(), {0.05, 2.5, "signed"}}}, f} end
end
OPS.softmax = function()
  local s = shape(1, 3)
  local a = axis(#s)
  return {{{s}}, function(x) return nn.softmax(x, a) end}
end
OPS.logsoftmax = function()
  local s = shape(1, 3)
  local a = axis(#s)
  return {{{s}}, function(x) return nn.logsoftmax(x, a) end}
end
OPS.glu = function()
  local s = shape(1, 3)
  local a = int(1, #s)
  s[a] = 2 * int(1, 2)
  return {{{s}}, function(x) return nn.glu(x, a) end}
end

-- ---- mg.nnet: losses ------------------------------------------------------------------
local function labels(n, c) return index_tensor(c, {n}):remainder(c) + 1 end

OPS.mse = function()
  local s, red = shape(), reduction()
  return {{{s}, {bcast(s)}}, function(p, t) return nn.mse(p, t, red) end}
end
OPS.l1 = function()
  local s, red = shape(), reduction()
  return {{{s}, {bcast(s)}}, function(p, t) return nn.l1(p, t, red) end}
end
OPS.huber = function()
  local s, red = shape(), reduction()
  return {{{s}, {bcast(s)}}, function(p, t) return nn.huber(p, t, {delta = 0.7, reduction = red}) end}
end
OPS.binary_crossentropy = function()
  local s, red = shape(), reduction()
  return {{{s, {0.05, 0.95}}, {s, {0, 1}}}, function(p, t) return nn.binary_crossentropy(p, t, red) end}
end
OPS.binary_crossentropy_with_logits = function()
  local s, red = shape(1, 3), reduction()
  local pw = chance(0.5) and mg.random.rand({s[#s]}, {dtype = "float64", constant = true}) + 0.5 or nil
  return {{{s}, {s, {0, 1}}}, function(x, t)
    return nn.binary_crossentropy_with_logits(x, t, {pos_weight = pw, reduction = red})
  end}
end

-- A loss of logits {n, c} against int64 labels; extra(o, c) adds options.
local function class_loss(fname, extra)
  return function()
    local n, c = int(1, 4), int(2, 4)
    local y = labels(n, c)
    local o = {reduction = reduction()}
    extra(o, c)
    return {{{{n, c}}}, function(v) return nn[fname](v, y, o) end}
  end
end
local function class_weights(o, c)
  if chance(0.4) then o.weights = mg.random.rand({c}, {dtype = "float64", constant = true}) + 0.5 end
end
OPS.softmax_crossentropy = class_loss("softmax_crossentropy", function(o, c)
  class_weights(o, c)
  if chance(0.4) then o.label_smoothing = 0.2 end
end)
OPS.negative_log_likelihood = class_loss("negative_log_likelihood", class_weights)
OPS.multiclass_hinge = class_loss("multiclass_hinge", function(o) o.margin = 0.6 end)
OPS.softmax_focal_loss = class_loss("softmax_focal_loss", function(o) o.gamma = 1.5 end)
OPS.margin_ranking_loss = function()
  local n = int(1, 4)
  local y = labels(n, 2) * 2 - 3
  local red = reduction()
  return {{{{n}}, {{n}}}, function(p, q)
    return nn.margin_ranking_loss(p, q, y, {margin = 0.3, reduction = red})
  end}
end
OPS.focal_loss = function()
  local s, red = shape(), reduction()
  local t = mg.random.rand(s, {dtype = "float64"}):gt(0.5):astype("float64")
  return {{{s, {0.05, 0.95}}}, function(p)
    return nn.focal_loss(p, t, {alpha = 0.3, gamma = 1.5, reduction = red})
  end}
end

-- ---- mg.nnet: layers -----------------------------------------------------------------
OPS.dense = function()
  local n, i, o = int(1, 3), int(1, 4), int(1, 4)
  local x = chance(0.2) and {i} or {n, i}
  if chance(0.3) then
    return {{{x}, {{i, o}}}, function(a, w) return nn.dense(a, w) end}
  end
  return {{{x}, {{i, o}}, {{o}}}, function(a, w, b) return nn.dense(a, w, b) end}
end

-- A convolution: 1-d to 3-d, groups, stride, padding, dilation; sizes kept small.
OPS.conv_nd = function()
  local d = int(1, 3)
  local g = int(1, 2)
  local cin, cout = g * int(1, 2), g * int(1, 2)
  local n = int(1, 2)
  local xs, ws = {n, cin}, {cout, cin // g}
  local stride, pad, dil = {}, {}, {}
  for k = 1, d do
    local kk = int(1, d == 3 and 2 or 3)
    stride[k], pad[k], dil[k] = int(1, 2), int(0, 1), int(1, 2)
    local need = dil[k] * (kk - 1) + 1 - 2 * pad[k]
    xs[#xs + 1] = math.max(need, 1) + int(0, d == 3 and 1 or 2)
    ws[#ws + 1] = kk
  end
  local o = {stride = stride, padding = pad, dilation = dil, groups = g}
  local fname = pick({"conv_nd", "conv" .. d .. "d"})
  if chance(0.3) then
    return {{{xs}, {ws}}, function(x, w) return nn[fname](x, w, o) end}
  end
  return {{{xs}, {ws}, {{cout}}}, function(x, w, b) return nn[fname](x, w, b, o) end}
end

local function pool_case(fname)
  local d = int(1, 3)
  local xs = {int(1, 2), int(1, 2)}
  local pool, stride, pad = {}, {}, {}
  for k = 1, d do
    pool[k] = int(1, 3)
    stride[k] = int(1, 2)
    pad[k] = int(0, pool[k] // 2)
    xs[#xs + 1] = pool[k] + int(0, d == 3 and 1 or 2)
  end
  return {{{xs}}, function(x) return nn[fname](x, pool, stride, {padding = pad}) end}
end
OPS.max_pool = function() return pool_case("max_pool") end
OPS.avg_pool = function() return pool_case("avg_pool") end

OPS.batchnorm = function()
  local c = int(1, 3)
  local xs = {int(2, 3), c}
  for _ = 1, int(0, 2) do xs[#xs + 1] = int(1, 3) end
  if chance(0.3) then
    local rm = mg.random.randn({c}, {dtype = "float64", constant = true})
    local rv = mg.random.rand({c}, {dtype = "float64", constant = true}) + 0.5
    return {{{xs}, {{c}}, {{c}}}, function(x, g, b)
      return nn.batchnorm(x, g, b, {training = false, running_mean = rm, running_var = rv})
    end}
  end
  return {{{xs}, {{c}}, {{c}}}, function(x, g, b) return nn.batchnorm(x, g, b, {eps = 1e-3}) end}
end

OPS.dropout = function()
  local s, p = shape(), pick({0.2, 0.5})
  local training = chance(0.7)
  return {{{s}}, function(x)
    mg.random.seed(99) -- the same mask at every evaluation
    return nn.dropout(x, p, training)
  end}
end

OPS.embedding = function()
  local v, d = int(1, 4), int(1, 3)
  local idx = index_tensor(v, shape(1, 2, 1, 3)):remainder(v) + 1
  return {{{{v, d}}}, function(w) return nn.embedding(idx, w) end}
end

OPS.gru = function()
  local t, n, i, h = int(1, 3), int(1, 2), int(1, 3), int(1, 2)
  local bf = chance(0.3)
  local x = bf and {n, t, i} or {t, n, i}
  local out = chance(0.5) and 1 or 2
  local function pick_out(...) return (select(out, ...)) end
  if chance(0.3) then
    return {{{x}, {{3 * h, i}}, {{3 * h, h}}}, function(a, wi, wh)
      return pick_out(nn.gru(a, nil, wi, wh, nil, nil, {batch_first = bf}))
    end}
  end
  return {{{x}, {{n, h}}, {{3 * h, i}}, {{3 * h, h}}, {{3 * h}}, {{3 * h}}}, function(a, h0, wi, wh, bi, bh)
    return pick_out(nn.gru(a, h0, wi, wh, bi, bh, {batch_first = bf}))
  end}
end

-- ---- coverage: the API's names ------------------------------------------------------
-- Other names of the ops above.
local ALIASES = {
  acos = "arccos", acosh = "arccosh", asin = "arcsin", asinh = "arcsinh", atan = "arctan",
  atan2 = "arctan2", atanh = "arctanh", sub = "subtract", mul = "multiply", div = "divide",
  pow = "power", neg = "negative", remainder = "mod", clamp = "clip", amax = "max", amin = "min",
  cat = "concatenate", expand_dims = "unsqueeze", clip_ = "clamp_", log_softmax = "logsoftmax",
  conv1d = "conv_nd", conv2d = "conv_nd", conv3d = "conv_nd",
}
-- Names with no gradient to check, and why.
local SKIPPED = {
  ["creation (no tensor input, or a new leaf)"] = {"tensor", "zeros", "ones", "full", "empty",
    "zeros_like", "ones_like", "full_like", "empty_like", "arange", "linspace", "logspace", "eye",
    "identity"},
  ["nnet initializers (new tensors from a shape)"] = {"uniform", "normal", "constant",
    "glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal",
    "kaiming_uniform", "kaiming_normal", "dirac", "orthogonal", "calculate_gain",
    "calculate_fan_in_and_fan_out"},
  ["bool results"] = {"equal", "eq", "not_equal", "ne", "less", "lt", "less_equal", "le", "greater",
    "gt", "greater_equal", "ge", "isnan", "isinf", "isfinite", "logical_and", "logical_or",
    "logical_xor", "logical_not", "any", "all"},
  ["int64 index results"] = {"argmax", "argmin"},
  ["piecewise constant: constant results by design (docs/reference.md)"] = {"sign", "floor", "ceil",
    "round", "floor_divide"},
  ["int64 results or Lua values"] = {"long", "item", "totable"},
  ["constants by design"] = {"detach", "detach_"},
  ["autograd machinery, not ops"] = {"backward", "grad", "null_grad", "null_grads", "zero_grad",
    "zero_grads", "requires_grad_", "attach_grad", "no_grad", "enable_grad", "set_grad_enabled",
    "is_grad_enabled", "keep_grads", "set_keep_grad"},
  ["settings, predicates, files"] = {"set_default_dtype", "get_default_dtype", "set_cache_limit",
    "set_num_threads", "get_num_threads",
    "is_tensor", "save", "load"},
}

local function covered_names()
  local known = {}
  for name in pairs(OPS) do known[name] = "op" end
  for name in pairs(ALIASES) do known[name] = "alias" end
  for _, list in pairs(SKIPPED) do
    for _, name in ipairs(list) do known[name] = "skipped" end
  end
  return known
end

describe("random-shape float64 gradchecks", function()
  it("cover every function of mg, mg.nnet and the tensor methods", function()
    local known = covered_names()
    local missing = {}
    local function scan(tbl, prefix)
      for k, v in pairs(tbl) do
        if type(v) == "function" and not k:match("^_") and not known[k] then
          missing[#missing + 1] = prefix .. k
        end
      end
    end
    scan(mg, "mg.")
    scan(mg.nnet, "mg.nnet.")
    scan(mg.methods, "x:")
    table.sort(missing)
    assert(#missing == 0, "no gradcheck case, alias or skip reason for: " .. table.concat(missing, ", "))
    for name, target in pairs(ALIASES) do
      assert(OPS[target], "alias " .. name .. " of unknown op " .. target)
    end
  end)

  local names = {}
  for name in pairs(OPS) do names[#names + 1] = name end
  table.sort(names)
  for n, name in ipairs(names) do
    it(name .. " (" .. CASES .. " cases)", function()
      for case = 1, CASES do
        reseed(n * 7919 + case)
        mg.random.seed(n * 1000 + case)
        local spec = OPS[name]()
        local ins, f, opts = spec[1], spec[2], spec[3]
        local leaves, views, what = {}, {}, {}
        for i, d in ipairs(ins) do
          local L, view, how = view_chain(d[1], d.noexpand)
          leaves[i], views[i] = leaf(L, d[2]), view
          what[i] = shape_str(d[1]) .. " (" .. how .. ")"
        end
        local function g(...)
          local xs = {...}
          for i = 1, #views do xs[i] = views[i](xs[i]) end
          return f(table.unpack(xs, 1, #views))
        end
        local where = string.format("%s case %d, inputs %s", name, case, table.concat(what, ", "))
        local ok, y = pcall(g, table.unpack(leaves, 1, #leaves))
        assert(ok, where .. ": " .. tostring(y))
        assert(mg.is_tensor(y) and y.requires_grad, where .. ": the result does not require grad")
        local good, msg = gc.gradcheck(g, leaves, opts)
        assert(good, where .. ": " .. tostring(msg))
      end
    end)
  end
end)
