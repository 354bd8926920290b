-- moongrad.nn_state — mg.nn's state and printing: m:state_dict(),
-- m:load_state_dict(sd, {strict}), mg.nn.functional_call(m, params, ...),
-- m:extra_repr() and tostring(m) (PyTorch's layout with each layer's
-- parameter shapes and count, and a total for containers).
return function(mg, core, U)
  local nn = mg.nn
  local Module = nn.Module
  local is_tensor = core.is_tensor
  local class_name, is_module, as_map = U.class_name, U.is_module, U.as_map

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
      elseif not U.same_shape(v.shape, target.shape) then
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
end
