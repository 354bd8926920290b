-- gradcheck.lua — a helper for the specs (require "gradcheck"): compares the
-- gradients moongrad's backward computes with central finite differences.
--
--   gradcheck(f, inputs, opts)   first order: y = f(inputs...), backward of a
--                                fixed head gradient (or of y:sum() with
--                                opts.head = "sum"), each variable input's
--                                .grad against (phi(x + eps) - phi(x - eps)) / 2eps
--                                with phi = sum(f(inputs...) * head)
--   gradgradcheck(f, inputs, opts)  second order: g = d sum(f * v)/dx recorded
--                                with {create_graph = true}; the gradient of
--                                sum(g * u) against finite differences of g
--
-- inputs are float64 tensors; those that are variables are checked.  Elements
-- are perturbed by writing into x.data (storage shared, nothing recorded).
-- opts: eps (1e-6), atol (1e-5), rtol (1e-4), head ("sum" or nil).
-- Both return true, or false and a message naming the input, the element and
-- the two values.
local mg = require("moongrad")

local M = {}

local function numel(shape)
  local n = 1
  for _, d in ipairs(shape) do n = n * d end
  return n
end

-- Every multi-index of shape, row-major ({} alone for a 0-d tensor).
local function indices(shape)
  local out = {}
  local function walk(axis, prefix)
    if axis > #shape then
      out[#out + 1] = table.move(prefix, 1, #prefix, 1, {})
      return
    end
    for i = 1, shape[axis] do
      prefix[axis] = i
      walk(axis + 1, prefix)
    end
    prefix[axis] = nil
  end
  walk(1, {})
  return out
end

local function flatten(v, out)
  out = out or {}
  if type(v) ~= "table" then
    out[#out + 1] = v
  else
    for _, e in ipairs(v) do flatten(e, out) end
  end
  return out
end

-- A fixed, well-spread constant float64 tensor of the given shape (no use of
-- moongrad's generator, so specs that seed it are not disturbed).
local function fixed(shape, salt)
  local vals = {}
  for k = 1, numel(shape) do
    vals[k] = math.sin(k * 12.9898 + salt * 78.233) * 1.5
  end
  local t = mg.tensor(vals, {dtype = "float64", constant = true})
  return t:reshape(shape)
end
M.fixed = fixed

-- The values of a gradient (nil = zeros) as a flat list.
local function grad_values(x)
  if x.grad == nil then
    local z = {}
    for k = 1, x.size do z[k] = 0 end
    return z
  end
  return flatten(x.grad:totable())
end

local function close(a, n, o)
  return math.abs(a - n) <= o.atol + o.rtol * math.abs(n)
end

local function options(opts)
  opts = opts or {}
  return {eps = opts.eps or 1e-6, atol = opts.atol or 1e-5, rtol = opts.rtol or 1e-4,
          head = opts.head}
end

local function call(f, inputs)
  return f(table.unpack(inputs, 1, #inputs))
end

-- Central differences of scalar(inputs) for every element of every variable
-- input, compared with analytic[i][k]; scalar() must leave inputs unchanged.
local function compare(inputs, analytic, scalar, o, what)
  for i, x in ipairs(inputs) do
    if x.requires_grad then
      local data = x.data
      local orig = flatten(data:totable())
      for k, idx in ipairs(indices(x.shape)) do
        data[idx] = orig[k] + o.eps
        local fp = scalar()
        data[idx] = orig[k] - o.eps
        local fm = scalar()
        data[idx] = orig[k]
        local num = (fp - fm) / (2 * o.eps)
        local ana = analytic[i][k]
        if not close(ana, num, o) then
          return false, string.format("%s: input %d, element {%s}: analytic %.10g, numeric %.10g",
            what, i, table.concat(idx, ", "), ana, num)
        end
      end
    end
  end
  return true
end

function M.gradcheck(f, inputs, opts)
  local o = options(opts)
  for _, x in ipairs(inputs) do x:null_grad() end
  local y = call(f, inputs)
  local head = o.head ~= "sum" and fixed(y.shape, 1) or nil
  if head then y:backward(head) else y:backward() end
  local analytic = {}
  for i, x in ipairs(inputs) do analytic[i] = grad_values(x) end
  local function phi()
    return mg.no_grad(function()
      local out = call(f, inputs)
      return (head and (out * head):sum() or out:sum()):item()
    end)
  end
  return compare(inputs, analytic, phi, o, "gradcheck")
end

-- The first gradients of sum(f(inputs) * v), as tensors (recorded when create).
local function first_grads(f, inputs, v, create)
  for _, x in ipairs(inputs) do x:null_grad() end
  local s = (call(f, inputs) * v):sum()
  s:backward(nil, {create_graph = create})
  local g = {}
  for i, x in ipairs(inputs) do
    g[i] = x.grad or mg.zeros_like(x, {constant = true})
    x:null_grad()
  end
  return g
end

function M.gradgradcheck(f, inputs, opts)
  local o = options(opts)
  local v
  do -- v has the output's shape
    local guard <close> = mg.no_grad()
    v = fixed(call(f, inputs).shape, 2)
  end
  local u = {}
  for i, x in ipairs(inputs) do u[i] = fixed(x.shape, 10 + i) end
  local function second(g)
    local total
    for i, x in ipairs(inputs) do
      if x.requires_grad then
        local t = (g[i] * u[i]):sum()
        total = total and total + t or t
      end
    end
    return total
  end
  local g = first_grads(f, inputs, v, true)
  local total = second(g)
  if total.requires_grad then total:backward() end
  local analytic = {}
  for i, x in ipairs(inputs) do analytic[i] = grad_values(x) end
  local function psi()
    return second(first_grads(f, inputs, v, false)):item()
  end
  return compare(inputs, analytic, psi, o, "gradgradcheck")
end

return M
