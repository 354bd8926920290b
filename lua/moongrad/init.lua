-- moongrad: the Lua face of the C core (lua/moongrad/core.so).
-- This file gathers the core's functions into the `mg` table, adds the
-- pieces that read best in Lua (mg.random, mg.no_grad and its <close>
-- guard, constants) and returns it.
local core = require("moongrad.core")

local mg = {}
for k, v in pairs(core) do
  if type(v) == "function" then mg[k] = v end
end

mg.methods = core.methods          -- tensor methods; add your own here
mg.pi, mg.e = math.pi, math.exp(1)
mg.inf, mg.nan = math.huge, 0 / 0
mg.newaxis = nil

-- mg.random: a documented generator (xoshiro256**, seeded by splitmix64)
mg.random = {
  seed = core.seed, rand = core.rand, randn = core.randn, randint = core.randint,
}
mg.seed, mg.rand, mg.randn, mg.randint = nil, nil, nil, nil

-- Grad mode ------------------------------------------------------------------
local guard_mt = {
  __close = function(g) core.set_grad_enabled(g.prev) end,
  __name = "moongrad.GradGuard",
}

local function callable(f)
  return type(f) == "function" or (getmetatable(f) or {}).__call ~= nil
end

local function with_mode(on, fn, name)
  if fn ~= nil and not callable(fn) then
    error(name .. ": expected a function to run (or nothing, for a <close> guard), got "
      .. type(fn), 3)
  end
  local prev = core.set_grad_enabled(on)
  if fn == nil then return setmetatable({prev = prev}, guard_mt) end
  local res = table.pack(pcall(fn))
  core.set_grad_enabled(prev)
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

--- mg.no_grad(fn) runs fn without recording; `local g <close> = mg.no_grad()`
--- turns recording off until the end of the scope.
function mg.no_grad(fn) return with_mode(false, fn, "no_grad") end
--- mg.enable_grad: the reverse, for a scope inside no_grad.
function mg.enable_grad(fn) return with_mode(true, fn, "enable_grad") end

--- mg.keep_grads(true): a variable's .grad survives its use in new ops, so
--- several backward passes accumulate (gradient accumulation).
function mg.keep_grads(on) return core.set_keep_grad(on) end

mg.zero_grads = mg.null_grads

-- Lua-side parts, each a function that installs into mg
require("moongrad.autograd")(mg, core)
require("moongrad.graph")(mg, core)
require("moongrad.nnet")(mg, core)
require("moongrad.nnet_act")(mg, core)
require("moongrad.nnet_layers")(mg, core)
require("moongrad.data")(mg, core)
require("moongrad.progress")(mg, core)
require("moongrad.plot")(mg, core)
require("moongrad.optim")(mg, core)
require("moongrad.nn")(mg, core)
mg.Tensor = "moongrad.Tensor"

return mg
