-- moongrad.nn — mg.nn: modules in the manner of torch.nn.
--
-- This file holds the Module base class (parameters, buffers and child
-- modules recorded in registration order as they are assigned to fields),
-- the containers Sequential and ModuleList, mg.nn.functional_call and the
-- helpers the layers share. The layers themselves (Linear, Conv2d, ...)
-- are in nn_layers.lua.
--
--   local Net = mg.nn.Module:extend("Net")
--   function Net:init(n) self.fc = mg.nn.Linear(n, 1) end
--   function Net:forward(x) return self.fc(x) end
--   local net = Net(3)                   -- net(x) runs forward
return function(mg, core)
  local nn = {}
  mg.nn = nn
  local is_tensor = core.is_tensor

  -- Helpers ------------------------------------------------------------------
  local U = {}

  function U.fail(fn, fmt, ...)
    error(fn .. ": " .. string.format(fmt, ...), 0)
  end

  function U.shape_str(shape)
    local parts = {}
    for i, d in ipairs(shape) do parts[i] = tostring(d) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end

  local function same_shape(a, b)
    if #a ~= #b then return false end
    for i = 1, #a do
      if a[i] ~= b[i] then return false end
    end
    return true
  end

  -- A list of names kept beside a name -> value map: insertion order.
  local function odict() return {names = {}, map = {}} end

  local function od_set(d, k, v)
    if v == nil then
      if d.map[k] == nil then return end
      d.map[k] = nil
      for i, n in ipairs(d.names) do
        if n == k then table.remove(d.names, i) break end
      end
      return
    end
    if d.map[k] == nil then d.names[#d.names + 1] = k end
    d.map[k] = v
  end

  -- A name -> value table whose pairs() walks the names in order (then any
  -- keys added afterwards); indexing it is plain.
  local function ordered(names, map)
    local pos = {}
    for i, k in ipairs(names) do pos[k] = i end
    local function iter(t)
      local i, key, rest = 0, nil, false
      return function()
        while not rest do
          i = i + 1
          local k = names[i]
          if k == nil then rest = true break end
          local v = rawget(t, k)
          if v ~= nil then return k, v end
        end
        while true do
          local v
          key, v = next(t, key)
          if key == nil then return nil end
          if pos[key] == nil then return key, v end
        end
      end, t, nil
    end
    return setmetatable(map, {__pairs = iter})
  end
  U.ordered = ordered

  -- Float dtype option of a layer constructor.
  local float_names = {float32 = "float32", float = "float32", float64 = "float64",
                       double = "float64"}
  function U.dtype(fn, dt)
    if dt == nil then return mg.get_default_dtype() end
    local name = type(dt) == "string" and float_names[dt]
    if not name then
      U.fail(fn, "dtype must be \"float32\" or \"float64\", got %s", tostring(dt))
    end
    return name
  end

  -- The trailing option table of a constructor (nil -> {}).
  function U.opts(fn, o)
    if o == nil then return {} end
    if type(o) ~= "table" or is_tensor(o) then
      U.fail(fn, "expected an option table, got %s", is_tensor(o) and "a tensor" or type(o))
    end
    return o
  end

  function U.posint(fn, v, what)
    if math.type(v) ~= "integer" or v < 1 then
      U.fail(fn, "%s must be a positive integer, got %s", what, tostring(v))
    end
    return v
  end

  -- x as a tensor: tensors as they are, numbers and tables as constants of
  -- dtype dt.
  function U.input(fn, x, dt)
    if is_tensor(x) then return x end
    local ty = type(x)
    if ty == "number" or ty == "table" then
      return mg.tensor(x, {dtype = dt, constant = true})
    end
    U.fail(fn, "expected a tensor input, got %s", ty)
  end

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

  -- State ------------------------------------------------------------------------
  -- (name, tensor) of every parameter and buffer, module by module (own
  -- parameters, own buffers, then the children); shared tensors under each
  -- of their names.
  local function state_entries(m, prefix, out)
    for _, kind in ipairs({"_parameters", "_buffers"}) do
      local reg = m[kind]
      for _, name in ipairs(reg.names) do out[#out + 1] = {prefix .. name, reg.map[name]} end
    end
    for _, name in ipairs(m._modules.names) do
      state_entries(m._modules.map[name], prefix .. name .. ".", out)
    end
    return out
  end

  --- m:state_dict({keep_vars = false}): dotted name -> tensor for every
  --- parameter and buffer (pairs() in order); the tensors are constants
  --- sharing memory with the model (the parameters themselves with
  --- keep_vars).
  function Module:state_dict(opts)
    local keep = type(opts) == "table" and opts.keep_vars
    local entries = state_entries(self, "", {})
    if not keep then
      for _, e in ipairs(entries) do
        if e[2].requires_grad then e[2] = e[2]:detach() end
      end
    end
    return as_map(entries)
  end

  --- m:load_state_dict(sd, {strict = true}): copies sd's tensors into the
  --- model's parameters and buffers, in place and unrecorded (cast to
  --- their dtypes). Shapes must match; with strict, a missing or unexpected
  --- key is an error too. Nothing is copied when it raises. Returns the
  --- lists of missing and unexpected keys.
  function Module:load_state_dict(sd, opts)
    local fn = "load_state_dict"
    if type(sd) ~= "table" or is_tensor(sd) then
      U.fail(fn, "expected a table of name -> tensor, got %s", is_tensor(sd) and "a tensor" or type(sd))
    end
    opts = U.opts(fn, opts)
    local strict = opts.strict ~= false
    local own = state_entries(self, "", {})
    local known, missing, unexpected, problems, todo = {}, {}, {}, {}, {}
    for _, e in ipairs(own) do
      local name, target = e[1], e[2]
      known[name] = true
      local v = sd[name]
      if v == nil then
        missing[#missing + 1] = name
      elseif not is_tensor(v) then
        problems[#problems + 1] = string.format("%s is a %s, not a tensor", name, type(v))
      elseif not same_shape(v.shape, target.shape) then
        problems[#problems + 1] = string.format(
          "size mismatch for %s: copying a tensor of shape %s into one of shape %s",
          name, U.shape_str(v.shape), U.shape_str(target.shape))
      else
        todo[#todo + 1] = {target, v}
      end
    end
    for k in pairs(sd) do
      if not known[k] then unexpected[#unexpected + 1] = tostring(k) end
    end
    table.sort(unexpected)
    if strict and #missing > 0 then
      problems[#problems + 1] = "missing keys: " .. table.concat(missing, ", ")
    end
    if strict and #unexpected > 0 then
      problems[#problems + 1] = "unexpected keys: " .. table.concat(unexpected, ", ")
    end
    if #problems > 0 then
      U.fail(fn, "could not load the state into %s: %s", class_name(self),
             table.concat(problems, "; "))
    end
    mg.no_grad(function()
      for _, job in ipairs(todo) do
        local target, v = job[1], job[2]
        if v.dtype ~= target.dtype then v = v:detach():astype(target.dtype) end
        target.data:copy_(v.data)
      end
    end)
    return missing, unexpected
  end

  --- mg.nn.functional_call(m, params, ...): m(...) with some parameters or
  --- buffers (dotted name -> tensor) standing in for the model's own, which
  --- are put back afterwards (also when forward raises).
  function nn.functional_call(m, params, ...)
    local fn = "functional_call"
    if not is_module(m) then U.fail(fn, "expected a module, got %s", type(m)) end
    if type(params) ~= "table" or is_tensor(params) then
      U.fail(fn, "params must be a table of name -> tensor, got %s", type(params))
    end
    local saved = {}
    local function restore()
      for i = #saved, 1, -1 do
        local s = saved[i]
        s[1][s[2]] = s[3]
      end
    end
    for name, t in pairs(params) do
      local owner, leaf = m, tostring(name)
      for part in tostring(name):gmatch("([^.]+)%.") do
        owner = owner._modules.map[part]
        if owner == nil then break end
      end
      leaf = tostring(name):match("([^.]+)$")
      local reg = owner and ((owner._parameters.map[leaf] ~= nil and owner._parameters)
                             or (owner._buffers.map[leaf] ~= nil and owner._buffers))
      if not reg then
        restore()
        U.fail(fn, "%s has no parameter or buffer named %s", class_name(m), tostring(name))
      end
      if not is_tensor(t) then
        restore()
        U.fail(fn, "params[%s] must be a tensor, got %s", tostring(name), type(t))
      end
      saved[#saved + 1] = {reg.map, leaf, reg.map[leaf]}
      reg.map[leaf] = t
    end
    local res = table.pack(pcall(m.forward, m, ...))
    restore()
    if not res[1] then error(res[2], 0) end
    return table.unpack(res, 2, res.n)
  end

  -- Printing ---------------------------------------------------------------------
  --- m:extra_repr(): what goes between the parentheses in tostring(m).
  function Module:extra_repr() return "" end

  local function own_params_note(m)
    local parts, n = {}, 0
    for _, name in ipairs(m._parameters.names) do
      local p = m._parameters.map[name]
      n = n + p.size
      parts[#parts + 1] = name .. " " .. U.shape_str(p.shape)
    end
    if n == 0 and #parts == 0 then return nil end
    return string.format("-- %d params: %s", n, table.concat(parts, ", "))
  end

  -- Lines {indent, text, note} for m, its children indented below it.
  local function repr_lines(m, indent, label, out)
    local head = label .. class_name(m) .. "(" .. m:extra_repr()
    if #m._modules.names == 0 then
      out[#out + 1] = {indent, head .. ")", own_params_note(m)}
      return out
    end
    out[#out + 1] = {indent, head, own_params_note(m)}
    for _, name in ipairs(m._modules.names) do
      repr_lines(m._modules.map[name], indent + 2, "(" .. name .. "): ", out)
    end
    out[#out + 1] = {indent, ")"}
    return out
  end

  --- tostring(m): the layers as PyTorch prints them, each with its
  --- parameters' shapes and count, and for a container the total.
  function Module.__tostring(m)
    local lines = repr_lines(m, 0, "", {})
    local width = 0
    for _, l in ipairs(lines) do
      if l[3] then width = math.max(width, l[1] + #l[2]) end
    end
    local out = {}
    for i, l in ipairs(lines) do
      local text = string.rep(" ", l[1]) .. l[2]
      if l[3] then text = text .. string.rep(" ", width - #text + 2) .. l[3] end
      out[i] = text
    end
    if #m._modules.names > 0 then
      local total, trainable = m:num_parameters(), m:num_parameters({trainable = true})
      if total > 0 then
        out[#out + 1] = string.format("Total: %d parameters (%d trainable)", total, trainable)
      end
    end
    return table.concat(out, "\n")
  end

  -- Containers -------------------------------------------------------------------
  local Lambda = Module:extend("Lambda")
  nn.Lambda = Lambda
  --- Lambda(fn): a module whose forward is the function fn(x, ...).
  function Lambda:init(f)
    if type(f) ~= "function" and not (getmetatable(f) or {}).__call then
      U.fail("Lambda", "expected a function, got %s", type(f))
    end
    self.fn = f
  end
  function Lambda:forward(...) return self.fn(...) end
  function Lambda:extra_repr() return "function" end

  -- The modules of a container's constructor: a list table or the arguments;
  -- plain functions become Lambda modules.
  local function module_args(fn, ...)
    local list = table.pack(...)
    if list.n == 1 and type(list[1]) == "table" and not is_module(list[1]) then
      list = list[1]
      list.n = #list
    end
    local out = {}
    for i = 1, list.n do
      local v = list[i]
      if type(v) == "function" then v = Lambda(v) end
      if not is_module(v) then
        U.fail(fn, "entry %d is a %s, expected a module (mg.nn.Linear(...), mg.nn.ReLU(), ...)",
               i, is_tensor(v) and "tensor" or type(v))
      end
      out[i] = v
    end
    return out
  end

  local function container_add(self, fn, v)
    if type(v) == "function" then v = Lambda(v) end
    if not is_module(v) then
      U.fail(fn, "expected a module, got %s", is_tensor(v) and "a tensor" or type(v))
    end
    self:add_module(tostring(#self._modules.names + 1), v)
    return self
  end
  local function container_len(self) return #rawget(self, "_modules").names end

  local Sequential = Module:extend("Sequential")
  nn.Sequential = Sequential
  --- Sequential{layer, ...} (or Sequential(layer, ...)): the layers applied
  --- in turn. m[i] is layer i (negative from the end), #m their number,
  --- m:add(layer) appends one and returns m. Functions become Lambda layers.
  function Sequential:init(...)
    for i, m in ipairs(module_args("Sequential", ...)) do self:add_module(tostring(i), m) end
  end
  function Sequential:add(layer) return container_add(self, "Sequential:add", layer) end
  Sequential.append = Sequential.add
  Sequential.__len = container_len
  function Sequential:forward(x)
    for _, name in ipairs(self._modules.names) do x = self._modules.map[name](x) end
    return x
  end

  local ModuleList = Module:extend("ModuleList")
  nn.ModuleList = ModuleList
  --- ModuleList{...}: a list of modules whose parameters are registered,
  --- with no forward of its own (m[i], #m, m:add / m:append, ipairs(m)).
  function ModuleList:init(...)
    if select("#", ...) == 0 then return end
    for i, m in ipairs(module_args("ModuleList", ...)) do self:add_module(tostring(i), m) end
  end
  function ModuleList:add(m) return container_add(self, "ModuleList:add", m) end
  ModuleList.append = ModuleList.add
  ModuleList.__len = container_len

  require("moongrad.nn_layers")(mg, core, U)
end
