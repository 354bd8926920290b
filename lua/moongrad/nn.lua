-- moongrad.nn — mg.nn: modules in the manner of torch.nn.
--
-- This file holds the Module base class: parameters, buffers and child
-- modules recorded in registration order as they are assigned to fields,
-- walking the tree, train / evaluate, zero_grad, to(dtype). The rest of
-- mg.nn is in the files it requires:
--   nn_util.lua        shared helpers (option checks, ordered tables)
--   nn_state.lua       state_dict, load_state_dict, functional_call, tostring
--   nn_containers.lua  Sequential, ModuleList, Lambda
--   nn_activations.lua ReLU, GELU, Softmax, ..., Flatten, Identity
--   nn_layers.lua      Linear, Conv, pooling, BatchNorm, Dropout, Embedding, GRU
--
--   local Net = mg.nn.Module:extend("Net")
--   function Net:init(n) self.fc = mg.nn.Linear(n, 1) end
--   function Net:forward(x) return self.fc(x) end
--   local net = Net(3)                   -- net(x) runs forward
return function(mg, core)
  local nn = {}
  mg.nn = nn
  local is_tensor = core.is_tensor
  local U = require("moongrad.nn_util")(mg, core)
  local odict, od_set, ordered = U.odict, U.od_set, U.ordered

  -- Module ---------------------------------------------------------------------
  local Module = {__name = "Module", __is_module = true}
  nn.Module = Module

  local function is_module(v)
    if type(v) ~= "table" or rawget(v, "_modules") == nil then return false end
    local mt = getmetatable(v)
    return type(mt) == "table" and mt.__is_module == true
  end
  nn.is_module = is_module

  local function class_name(m) return getmetatable(m).__name end

  -- Instances: fields found in the registries first, then the class chain.
  function Module.__index(self, k)
    local params = rawget(self, "_parameters")
    if params then
      local v = params.map[k]
      if v ~= nil then return v end
      v = rawget(self, "_buffers").map[k]
      if v ~= nil then return v end
      local mods = rawget(self, "_modules")
      v = mods.map[k]
      if v ~= nil then return v end
      if math.type(k) == "integer" then
        if k < 0 then k = #mods.names + 1 + k end
        return mods.map[tostring(k)]
      end
    end
    return getmetatable(self)[k]
  end

  -- Assignments to fields that are not set yet: a module becomes a child, a
  -- leaf variable a parameter (in init, any variable: a computed one such
  -- as randn(3, 3) * 0.1 is stored as a leaf sharing its memory); a tensor
  -- assigned to a buffer's or a parameter's name replaces it; nil removes
  -- the entry; anything else (constants, tensors computed in forward) is a
  -- plain field.
  function Module.__newindex(self, k, v)
    local P, B, M = rawget(self, "_parameters"), rawget(self, "_buffers"), rawget(self, "_modules")
    if P == nil then return rawset(self, k, v) end
    if is_module(v) then
      if math.type(k) == "integer" then k = tostring(k) end
      od_set(P, k, nil)
      od_set(B, k, nil)
      od_set(M, k, v)
      return
    end
    if v == nil then
      od_set(P, k, nil)
      od_set(B, k, nil)
      od_set(M, k, nil)
      return
    end
    if B.map[k] ~= nil or P.map[k] ~= nil then
      if not is_tensor(v) then
        U.fail(class_name(self), "cannot assign a %s to %s '%s' (a tensor or nil expected)",
               type(v), B.map[k] ~= nil and "buffer" or "parameter", tostring(k))
      end
      od_set(B.map[k] ~= nil and B or P, k, v)
      return
    end
    if M.map[k] ~= nil then
      U.fail(class_name(self), "cannot assign a %s to child module '%s' (a module or nil expected)",
             is_tensor(v) and "tensor" or type(v), tostring(k))
    end
    if is_tensor(v) and v.requires_grad then
      if v.grad_fn == nil then
        od_set(P, k, v)
        return
      end
      if rawget(self, "_constructing") then -- init's mg.random.randn(3, 3) * 0.1
        od_set(P, k, v:detach():requires_grad_(true))
        return
      end
    end
    rawset(self, k, v)
  end

  function Module.__call(self, ...) return self:forward(...) end

  -- Classes ----------------------------------------------------------------------
  local function construct(C, ...)
    local obj = {_parameters = odict(), _buffers = odict(), _modules = odict(), training = true}
    setmetatable(obj, C)
    rawset(obj, "_constructing", true)
    local ok, err = pcall(obj.init, obj, ...)
    rawset(obj, "_constructing", nil)
    if not ok then error(err, 0) end
    return obj
  end

  local class_mt = {
    __call = construct,
    __tostring = function(C) return "mg.nn." .. rawget(C, "__name") .. " (class)" end,
  }

  --- Module:extend(name): a new module class inheriting from this one.
  --- Define C:init(...) (the constructor: assign layers and parameters to
  --- self's fields) and C:forward(...); C(...) makes an instance and m(...)
  --- runs forward. C.super is the parent class.
  function Module.extend(parent, name)
    if name == nil then name = "Module" end
    if type(name) ~= "string" then
      U.fail("Module:extend", "the class name must be a string, got %s", type(name))
    end
    local C = {}
    for k, v in pairs(parent) do -- metamethods are read raw: copy them
      if type(k) == "string" and k:sub(1, 2) == "__" then C[k] = v end
    end
    C.__name, C.super = name, parent
    C.__index = Module.__index
    return setmetatable(C, {__index = parent, __call = construct,
                            __tostring = class_mt.__tostring})
  end
  setmetatable(Module, class_mt)

  function Module:init() end

  function Module:forward()
    U.fail(class_name(self), "forward is not defined (write function %s:forward(x) ... end)",
           class_name(self))
  end

  --- m:register_parameter(name, t): t as a parameter (a constant is made a
  --- variable in place, a computed tensor a leaf sharing its memory; nil
  --- removes it). Returns the parameter.
  function Module:register_parameter(name, t)
    if type(name) ~= "string" or name == "" or name:find(".", 1, true) then
      U.fail("register_parameter", "the name must be a non-empty string without dots, got %s",
             tostring(name))
    end
    if t ~= nil and not is_tensor(t) then
      U.fail("register_parameter", "'%s' must be a tensor or nil, got %s", name, type(t))
    end
    if t ~= nil and t.grad_fn ~= nil then t = t:detach() end
    if t ~= nil and not t.requires_grad then t:requires_grad_(true) end
    rawset(self, name, nil)
    od_set(self._buffers, name, nil)
    od_set(self._modules, name, nil)
    od_set(self._parameters, name, t)
    return t
  end

  --- m:register_buffer(name, t): a tensor that is state but not a parameter
  --- (batchnorm's running statistics): in state_dict, not in parameters.
  function Module:register_buffer(name, t)
    if type(name) ~= "string" or name == "" or name:find(".", 1, true) then
      U.fail("register_buffer", "the name must be a non-empty string without dots, got %s",
             tostring(name))
    end
    if t ~= nil and not is_tensor(t) then
      U.fail("register_buffer", "'%s' must be a tensor or nil, got %s", name, type(t))
    end
    rawset(self, name, nil)
    od_set(self._parameters, name, nil)
    od_set(self._modules, name, nil)
    od_set(self._buffers, name, t)
    return t
  end

  --- m:add_module(name, child): registers a child module under name.
  function Module:add_module(name, child)
    if math.type(name) == "integer" then name = tostring(name) end
    if type(name) ~= "string" or name == "" or name:find(".", 1, true) then
      U.fail("add_module", "the name must be a non-empty string without dots, got %s",
             tostring(name))
    end
    if child ~= nil and not is_module(child) then
      U.fail("add_module", "'%s' must be a module, got %s", name, type(child))
    end
    rawset(self, name, nil)
    od_set(self._parameters, name, nil)
    od_set(self._buffers, name, nil)
    od_set(self._modules, name, child)
    return child
  end

  -- Walking the tree -------------------------------------------------------------
  -- Every module (self first, then each child's subtree in order) with its
  -- dotted name; a module reached twice is listed once.
  local function walk_modules(m, prefix, out, seen)
    if seen[m] then return end
    seen[m] = true
    out[#out + 1] = {prefix, m}
    for _, name in ipairs(m._modules.names) do
      local child = m._modules.map[name]
      walk_modules(child, prefix == "" and name or prefix .. "." .. name, out, seen)
    end
  end
  local function module_list(m)
    local out = {}
    walk_modules(m, "", out, {})
    return out
  end

  --- m:named_modules(): name -> module, self under "" (pairs in order).
  function Module:named_modules()
    local names, map = {}, {}
    for _, e in ipairs(module_list(self)) do
      names[#names + 1], map[e[1]] = e[1], e[2]
    end
    return ordered(names, map)
  end

  --- m:modules(): every module of the tree, self first.
  function Module:modules()
    local out = {}
    for i, e in ipairs(module_list(self)) do out[i] = e[2] end
    return out
  end

  --- m:children() / m:named_children(): the direct child modules.
  function Module:children()
    local out = {}
    for i, name in ipairs(self._modules.names) do out[i] = self._modules.map[name] end
    return out
  end
  function Module:named_children()
    local names, map = {}, {}
    for i, name in ipairs(self._modules.names) do
      names[i], map[name] = name, self._modules.map[name]
    end
    return ordered(names, map)
  end

  -- (name, tensor) of one registry (kind "_parameters" or "_buffers") over
  -- the tree, each tensor once.
  local function members(m, kind)
    local out, seen = {}, {}
    for _, e in ipairs(module_list(m)) do
      local reg = e[2][kind]
      for _, name in ipairs(reg.names) do
        local t = reg.map[name]
        if not seen[t] then
          seen[t] = true
          out[#out + 1] = {e[1] == "" and name or e[1] .. "." .. name, t}
        end
      end
    end
    return out
  end

  local function as_map(list)
    local names, map = {}, {}
    for i, e in ipairs(list) do names[i], map[e[1]] = e[1], e[2] end
    return ordered(names, map)
  end
  local function as_list(list)
    local out = {}
    for i, e in ipairs(list) do out[i] = e[2] end
    return out
  end

  --- m:parameters(): the parameter tensors (children's too) in registration
  --- order, each once; m:named_parameters(): dotted name -> tensor
  --- ("conv1.weight"), pairs() in the same order.
  function Module:parameters() return as_list(members(self, "_parameters")) end
  function Module:named_parameters() return as_map(members(self, "_parameters")) end
  function Module:buffers() return as_list(members(self, "_buffers")) end
  function Module:named_buffers() return as_map(members(self, "_buffers")) end

  --- m:num_parameters({trainable = false}): the number of parameter elements.
  function Module:num_parameters(opts)
    local only = type(opts) == "table" and opts.trainable
    local n = 0
    for _, p in ipairs(self:parameters()) do
      if not only or p.requires_grad then n = n + p.size end
    end
    return n
  end

  --- m:train(mode = true): sets .training on every module; returns m.
  function Module:train(mode)
    if mode == nil then mode = true end
    for _, m in ipairs(self:modules()) do rawset(m, "training", mode and true or false) end
    return self
  end
  --- m:evaluate() (alias m:eval()): m:train(false).
  function Module:evaluate() return self:train(false) end
  Module.eval = Module.evaluate

  --- m:zero_grad(): every parameter's .grad set to nil.
  function Module:zero_grad()
    for _, p in ipairs(self:parameters()) do p:zero_grad() end
    return self
  end

  --- m:requires_grad_(flag = true): freezes (false) or unfreezes every
  --- parameter; returns m.
  function Module:requires_grad_(flag)
    if flag == nil then flag = true end
    for _, p in ipairs(self:parameters()) do p:requires_grad_(flag and true or false) end
    return self
  end

  --- m:apply(fn): fn(module) for every module, children before parents;
  --- returns m.
  function Module:apply(fn)
    for _, child in ipairs(self:children()) do child:apply(fn) end
    fn(self)
    return self
  end

  --- m:to(dtype) (and m:double(), m:float()): float parameters and buffers
  --- replaced by copies of dtype (new tensors: make the optimizer after).
  function Module:to(dtype)
    local dt = U.dtype("to", dtype)
    for _, m in ipairs(self:modules()) do
      for _, kind in ipairs({"_parameters", "_buffers"}) do
        local reg = m[kind]
        for _, name in ipairs(reg.names) do
          local t = reg.map[name]
          if (t.dtype == "float32" or t.dtype == "float64") and t.dtype ~= dt then
            local c = t:detach():astype(dt)
            if t.requires_grad then c:requires_grad_(true) end
            reg.map[name] = c
          end
        end
      end
    end
    return self
  end
  function Module:double() return self:to("float64") end
  function Module:float() return self:to("float32") end

  U.is_module, U.class_name, U.module_list, U.as_map = is_module, class_name, module_list, as_map

  require("moongrad.nn_state")(mg, core, U)
  require("moongrad.nn_containers")(mg, core, U)
  require("moongrad.nn_activations")(mg, core, U)
  require("moongrad.nn_layers")(mg, core, U)
end
