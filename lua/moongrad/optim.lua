-- moongrad.optim — mg.optim: the optimizers SGD, Adam, AdamW and RMSprop with
-- PyTorch's update rules, and learning-rate schedules (StepLR, MultiStepLR,
-- ExponentialLR, CosineAnnealingLR, LinearLR) with PyTorch's closed forms.
--
-- An optimizer holds param_groups (each a table of options plus `params`, a
-- list of variable tensors) and `state`, a table keyed by parameter tensor
-- (state[p].momentum_buffer, .exp_avg, .exp_avg_sq, .max_exp_avg_sq,
-- .square_avg, .grad_avg, .step).  opt:step() makes one C call per group
-- (core.optim.*_step, binding/b_optim.c): the updates write into the
-- parameters' memory, so each parameter stays the same leaf tensor.
return function(mg, core)
  local C = core.optim
  local optim = {}
  mg.optim = optim

  local REQUIRED = setmetatable({}, {__tostring = function() return "<required>" end})

  local function is_tensor(v) return mg.is_tensor(v) end

  -- "a number", "a table", ... for messages
  local function a_type(v)
    local t = type(v)
    if is_tensor(v) then return "a tensor" end
    return (t:match("^[aeiou]") and "an " or "a ") .. t
  end

  -- Options -------------------------------------------------------------------
  -- A copy of the option table `opts` over the defaults; unknown keys are errors.
  local function options(name, defaults, opts, level)
    if opts ~= nil and type(opts) ~= "table" then
      error(name .. ": options must be a table, got " .. a_type(opts), level + 1)
    end
    opts = opts or {}
    local out = {}
    for k, v in pairs(opts) do
      if k ~= "params" and defaults[k] == nil then
        local known = {}
        for d in pairs(defaults) do known[#known + 1] = d end
        table.sort(known)
        error(string.format("%s: unknown option '%s' (options: %s)", name, tostring(k),
                            table.concat(known, ", ")), level + 1)
      end
      out[k] = v
    end
    for k, v in pairs(defaults) do
      if out[k] == nil then
        if v == REQUIRED then error(name .. ": option '" .. k .. "' is required", level + 1) end
        out[k] = type(v) == "table" and {table.unpack(v)} or v
      end
    end
    return out
  end

  -- Parameters ------------------------------------------------------------------
  -- A module (anything with a parameters method) gives its list.
  local function unwrap(params)
    if type(params) == "table" and not is_tensor(params) then
      local f = params.parameters
      if type(f) == "function" or (type(f) == "table" and getmetatable(f)
                                     and getmetatable(f).__call) then
        return f(params)
      end
    end
    return params
  end

  -- A checked copy of a parameter list; `where` names it in messages.
  local function param_list(name, params, where, seen, level)
    params = unwrap(params)
    if is_tensor(params) then
      error(string.format("%s: %s must be a list of tensors, got a single tensor (write {x})",
                          name, where), level + 1)
    end
    if type(params) ~= "table" then
      error(string.format("%s: %s must be a list of variable tensors or a module, got %s",
                          name, where, a_type(params)), level + 1)
    end
    local list = {}
    for i = 1, #params do
      local p = params[i]
      local at = string.format("%s[%d]", where, i)
      if not is_tensor(p) then
        error(string.format("%s: %s is %s, expected a variable tensor", name, at, a_type(p)),
              level + 1)
      end
      if p.constant then
        error(string.format("%s: %s is a constant tensor; only variables can be optimized "
                            .. "(create it with constant = false or call requires_grad_())",
                            name, at), level + 1)
      end
      if not p.is_leaf then
        error(string.format("%s: %s is not a leaf tensor (it comes from %s); optimize the "
                            .. "tensors it is computed from", name, at, p.grad_fn), level + 1)
      end
      if seen[p] then
        error(string.format("%s: %s is the same tensor as %s", name, at, seen[p]), level + 1)
      end
      seen[p] = at
      list[i] = p
    end
    return list
  end

  -- The Optimizer base ------------------------------------------------------------
  local Optimizer = {}

  --- opt:step(closure): one update of every parameter that has a .grad, in place;
  --- params without a gradient are left alone.  closure (optional) recomputes the
  --- loss (and its gradients) first; its result is returned.
  function Optimizer:step(closure)
    local loss
    if closure ~= nil then loss = mg.enable_grad(closure) end
    local kernel = C[self._kernel]
    for _, g in ipairs(self.param_groups) do kernel(g.params, self.state, g) end
    return loss
  end

  --- opt:zero_grad(): sets every parameter's .grad to nil.
  function Optimizer:zero_grad()
    for _, g in ipairs(self.param_groups) do
      mg.null_grads(g.params)
    end
  end

  -- Checks a group's options through the C step with no parameters.
  local function check_group(self, g, level)
    local ok, err = pcall(C[self._kernel], {}, {}, g)
    if not ok then error(err, level + 1) end
  end

  --- opt:add_param_group({params = {...}, lr = ...}): more parameters, with
  --- their own options (the optimizer's defaults fill the rest).
  function Optimizer:add_param_group(group, level)
    level = level or 2
    local name = self._name
    if type(group) ~= "table" or is_tensor(group) then
      error(name .. ": a parameter group must be a table {params = {...}, ...}", level)
    end
    local seen = {}
    for gi, g in ipairs(self.param_groups) do
      for j, p in ipairs(g.params) do seen[p] = string.format("param_groups[%d].params[%d]", gi, j) end
    end
    local k = #self.param_groups + 1
    local g = options(name, self.defaults, group, level)
    local where = k == 1 and rawget(self, "_single") and "params"
                  or string.format("param_groups[%d].params", k)
    g.params = param_list(name, group.params, where, seen, level)
    if #g.params == 0 then error(name .. ": " .. where .. " is an empty list", level) end
    check_group(self, g, level)
    self.param_groups[k] = g
    return self
  end

  --- opt:state_dict(): {state = {[i] = {...}}, param_groups = {{lr = ..., params = {i, ...}}}}
  --- with parameters numbered 1.. through the groups (PyTorch's layout); the
  --- state tensors are the optimizer's own (clone them to keep a snapshot).
  function Optimizer:state_dict()
    local state, groups, n = {}, {}, 0
    for gi, g in ipairs(self.param_groups) do
      local out = {}
      for k, v in pairs(g) do
        if k ~= "params" then out[k] = type(v) == "table" and {table.unpack(v)} or v end
      end
      out.params = {}
      for _, p in ipairs(g.params) do
        n = n + 1
        out.params[#out.params + 1] = n
        if self.state[p] then
          local s = {}
          for k, v in pairs(self.state[p]) do s[k] = v end
          state[n] = s
        end
      end
      groups[gi] = out
    end
    return {state = state, param_groups = groups}
  end

  --- opt:load_state_dict(sd): the options and (copied) state of a state_dict of
  --- an optimizer over parameters of the same shapes, in the same order.
  function Optimizer:load_state_dict(sd)
    local name = self._name
    if type(sd) ~= "table" or type(sd.param_groups) ~= "table" or type(sd.state) ~= "table" then
      error(name .. ".load_state_dict: expected a table {state = ..., param_groups = ...}", 2)
    end
    if #sd.param_groups ~= #self.param_groups then
      error(string.format("%s.load_state_dict: %d parameter groups, the optimizer has %d", name,
                          #sd.param_groups, #self.param_groups), 2)
    end
    local byid, groups = {}, {}
    for gi, g in ipairs(self.param_groups) do
      local sg = sd.param_groups[gi]
      if type(sg) ~= "table" or type(sg.params) ~= "table" or #sg.params ~= #g.params then
        error(string.format("%s.load_state_dict: group %d has a different number of parameters",
                            name, gi), 2)
      end
      local ng = {}
      for k, v in pairs(sg) do ng[k] = type(v) == "table" and {table.unpack(v)} or v end
      ng.params = g.params
      check_group(self, ng, 2)
      for j, id in ipairs(sg.params) do byid[id] = g.params[j] end
      groups[gi] = ng
    end
    local state = {}
    for id, s in pairs(sd.state) do
      local p = byid[id]
      if not p then error(name .. ".load_state_dict: state for unknown parameter " .. tostring(id), 2) end
      local ns = {}
      for k, v in pairs(s) do
        if is_tensor(v) then
          local ps, vs = table.concat(p.shape, ", "), table.concat(v.shape, ", ")
          if ps ~= vs then
            error(string.format("%s.load_state_dict: state '%s' of parameter %s has shape {%s}, "
                                .. "the parameter {%s}", name, k, tostring(id), vs, ps), 2)
          end
          v = v:astype(p.dtype):detach():clone()
        end
        ns[k] = v
      end
      state[p] = ns
    end
    for gi, g in ipairs(groups) do self.param_groups[gi] = g end
    rawset(self, "state", state)
    return self
  end

  -- Classes -----------------------------------------------------------------------
  local function option_text(v)
    if type(v) == "table" then
      local parts = {}
      for i, e in ipairs(v) do parts[i] = tostring(e) end
      return "{" .. table.concat(parts, ", ") .. "}"
    end
    return tostring(v)
  end

  -- Defines optimizer `name`: order lists its options for printing.
  local function define(name, kernel, defaults, order)
    local cls = {}
    local mt = {__name = "moongrad.optim." .. name}
    mt.__index = function(self, k)
      local m = cls[k]
      if m == nil then m = Optimizer[k] end
      if m ~= nil then return m end
      -- the options read as fields: those of the first group
      if defaults[k] ~= nil then return rawget(self, "param_groups")[1][k] end
      return nil
    end
    -- opt.lr = 0.01 (or any option): set in every group, checked at once
    mt.__newindex = function(self, k, v)
      if defaults[k] == nil then return rawset(self, k, v) end
      for _, g in ipairs(self.param_groups) do
        local old = g[k]
        g[k] = v
        local ok, err = pcall(C[kernel], {}, {}, g)
        if not ok then
          g[k] = old
          error(err, 2)
        end
      end
    end
    mt.__tostring = function(self)
      local lines = {name .. " ("}
      for gi, g in ipairs(self.param_groups) do
        lines[#lines + 1] = string.format("Parameter Group %d (%d tensors)", gi, #g.params)
        for _, k in ipairs(order) do
          lines[#lines + 1] = string.format("    %s: %s", k, option_text(g[k]))
        end
      end
      lines[#lines + 1] = ")"
      return table.concat(lines, "\n")
    end
    optim[name] = function(params, opts)
      local self = {param_groups = {}, state = {}, defaults = nil,
                    _name = name, _kernel = kernel}
      self.defaults = options(name, defaults, opts, 2)
      setmetatable(self, mt)
      params = unwrap(params)
      local groups = type(params) == "table" and not is_tensor(params)
                     and type(params[1]) == "table" and not is_tensor(params[1])
      if groups then
        for _, g in ipairs(params) do self:add_param_group(g, 3) end
      else
        if type(params) == "table" and not is_tensor(params) and #params == 0 then
          error(name .. ": got an empty parameter list", 2)
        end
        rawset(self, "_single", true)
        local g = {}
        for k, v in pairs(self.defaults) do g[k] = v end
        g.params = params
        self:add_param_group(g, 3)
      end
      return self
    end
    return cls
  end

  --- mg.optim.SGD(params, {lr, momentum = 0, dampening = 0, weight_decay = 0,
  --- nesterov = false, maximize = false})
  define("SGD", "sgd_step",
         {lr = REQUIRED, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false,
          maximize = false},
         {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"})

  --- mg.optim.Adam(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8,
  --- weight_decay = 0, amsgrad = false, maximize = false})
  define("Adam", "adam_step",
         {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0, amsgrad = false,
          maximize = false},
         {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"})

  --- mg.optim.AdamW(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8,
  --- weight_decay = 1e-2, amsgrad = false, maximize = false})
  define("AdamW", "adamw_step",
         {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 1e-2, amsgrad = false,
          maximize = false},
         {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"})

  --- mg.optim.RMSprop(params, {lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0,
  --- momentum = 0, centered = false, maximize = false})
  define("RMSprop", "rmsprop_step",
         {lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0, centered = false,
          maximize = false},
         {"lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"})

  -- Learning-rate schedules --------------------------------------------------------
  -- Each keeps last_epoch (0 after construction) and the groups' initial lrs
  -- (base_lrs); step() advances one epoch and sets every group's lr to the
  -- closed form at the new epoch.
  local Scheduler = {}
  Scheduler.__index = Scheduler

  --- sched:step(epoch): the next epoch (or the given one); sets the groups' lr.
  function Scheduler:step(epoch)
    if epoch ~= nil then
      if math.type(epoch) ~= "integer" or epoch < 0 then
        error(self._name .. ".step: epoch must be an integer >= 0", 2)
      end
      self.last_epoch = epoch
    else
      self.last_epoch = self.last_epoch + 1
    end
    local lrs = {self:get_lr()}
    for i, g in ipairs(self.optimizer.param_groups) do g.lr = lrs[i] end
    self._last_lr = lrs
  end

  --- sched:get_lr(): the schedule's lr at the current epoch, one number per group.
  function Scheduler:get_lr()
    local out = {}
    for i, base in ipairs(self.base_lrs) do out[i] = self:_closed_form(base, self.last_epoch) end
    return table.unpack(out)
  end

  --- sched:get_last_lr(): the lrs the last step set, as a list (one per group).
  function Scheduler:get_last_lr() return {table.unpack(self._last_lr)} end

  function Scheduler:state_dict()
    return {last_epoch = self.last_epoch, base_lrs = {table.unpack(self.base_lrs)}}
  end
  function Scheduler:load_state_dict(sd)
    self.last_epoch = sd.last_epoch
    self.base_lrs = {table.unpack(sd.base_lrs)}
  end

  local function check_number(name, key, v, ok, what)
    if type(v) ~= "number" or v ~= v or not ok(v) then
      error(string.format("%s: %s must be %s, got %s", name, key, what, tostring(v)), 4)
    end
  end
  local function positive_int(name, key, v)
    if math.type(v) ~= "integer" or v <= 0 then
      error(string.format("%s: %s must be an integer > 0, got %s", name, key, tostring(v)), 4)
    end
  end

  local function scheduler(name, closed_form, defaults, check)
    local cls = setmetatable({}, {__index = Scheduler})
    cls.__index = cls
    cls.__name = "moongrad.optim." .. name
    cls._closed_form = closed_form
    optim[name] = function(opt, opts)
      if type(opt) ~= "table" or type(rawget(opt, "param_groups")) ~= "table" then
        error(name .. ": argument #1 must be an optimizer, got " .. a_type(opt), 2)
      end
      local o = options(name, defaults, opts, 2)
      o.last_epoch = o.last_epoch or -1
      check(name, o)
      local self = setmetatable(o, cls)
      self.optimizer, self._name = opt, name
      self.base_lrs = {}
      for i, g in ipairs(opt.param_groups) do
        if self.last_epoch == -1 then
          g.initial_lr = g.lr
        elseif g.initial_lr == nil then
          error(name .. ": param_groups[" .. i .. "] has no initial_lr to resume from "
                .. "(last_epoch given)", 2)
        end
        self.base_lrs[i] = g.initial_lr
      end
      self:step()
      return self
    end
  end

  local function check_epoch(name, o)
    if math.type(o.last_epoch) ~= "integer" or o.last_epoch < -1 then
      error(name .. ": last_epoch must be an integer >= -1", 4)
    end
  end

  --- mg.optim.StepLR(opt, {step_size, gamma = 0.1}): lr = base * gamma^floor(epoch / step_size)
  scheduler("StepLR", function(self, base, e)
    return base * self.gamma ^ (e // self.step_size)
  end, {step_size = REQUIRED, gamma = 0.1, last_epoch = -1}, function(name, o)
    positive_int(name, "step_size", o.step_size)
    check_number(name, "gamma", o.gamma, function() return true end, "a number")
    check_epoch(name, o)
  end)

  --- mg.optim.MultiStepLR(opt, {milestones = {30, 80}, gamma = 0.1}): lr = base *
  --- gamma^(number of milestones <= epoch)
  scheduler("MultiStepLR", function(self, base, e)
    local k = 0
    for _, m in ipairs(self.milestones) do if m <= e then k = k + 1 end end
    return base * self.gamma ^ k
  end, {milestones = REQUIRED, gamma = 0.1, last_epoch = -1}, function(name, o)
    if type(o.milestones) ~= "table" then error(name .. ": milestones must be a list", 4) end
    for i, m in ipairs(o.milestones) do positive_int(name, "milestones[" .. i .. "]", m) end
    check_number(name, "gamma", o.gamma, function() return true end, "a number")
    check_epoch(name, o)
  end)

  --- mg.optim.ExponentialLR(opt, {gamma}): lr = base * gamma^epoch
  scheduler("ExponentialLR", function(self, base, e)
    return base * self.gamma ^ e
  end, {gamma = REQUIRED, last_epoch = -1}, function(name, o)
    check_number(name, "gamma", o.gamma, function() return true end, "a number")
    check_epoch(name, o)
  end)

  --- mg.optim.CosineAnnealingLR(opt, {T_max, eta_min = 0}):
  --- lr = eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2
  scheduler("CosineAnnealingLR", function(self, base, e)
    return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * e / self.T_max)) / 2
  end, {T_max = REQUIRED, eta_min = 0, last_epoch = -1}, function(name, o)
    positive_int(name, "T_max", o.T_max)
    check_number(name, "eta_min", o.eta_min, function(v) return v >= 0 end, "a number >= 0")
    check_epoch(name, o)
  end)

  --- mg.optim.LinearLR(opt, {start_factor = 1/3, end_factor = 1, total_iters = 5}):
  --- lr = base * (start + (end - start) * min(epoch, total_iters) / total_iters), a
  --- linear warm-up (or decay); mg.optim.LinearWarmup is the same.
  scheduler("LinearLR", function(self, base, e)
    local t = math.min(e, self.total_iters)
    return base * (self.start_factor + (self.end_factor - self.start_factor) * t
                   / self.total_iters)
  end, {start_factor = 1 / 3, end_factor = 1, total_iters = 5, last_epoch = -1},
  function(name, o)
    check_number(name, "start_factor", o.start_factor, function(v) return v > 0 and v <= 1 end,
                 "in (0, 1]")
    check_number(name, "end_factor", o.end_factor, function(v) return v >= 0 and v <= 1 end,
                 "in [0, 1]")
    positive_int(name, "total_iters", o.total_iters)
    check_epoch(name, o)
  end)
  optim.LinearWarmup = optim.LinearLR
end
