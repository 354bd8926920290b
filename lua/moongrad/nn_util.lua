-- moongrad.nn_util — helpers shared by the mg.nn files: error messages,
-- option checks, shapes, and the ordered tables (pairs() in registration
-- order) that named_parameters and state_dict return. Returns the table U.
return function(mg, core)
  local is_tensor = core.is_tensor
  local U = {}

  function U.fail(fn, fmt, ...)
    error(fn .. ": " .. string.format(fmt, ...), 0)
  end

  function U.shape_str(shape)
    local parts = {}
    for i, d in ipairs(shape) do parts[i] = tostring(d) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end

  function U.same_shape(a, b)
    if #a ~= #b then return false end
    for i = 1, #a do
      if a[i] ~= b[i] then return false end
    end
    return true
  end

  -- A list of names kept beside a name -> value map: insertion order.
  function U.odict() return {names = {}, map = {}} end

  function U.od_set(d, k, v)
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
  function U.ordered(names, map)
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

  function U.bool_opt(fn, o, key, dflt)
    local v = o[key]
    if v == nil then return dflt end
    if type(v) ~= "boolean" then
      U.fail(fn, "option %s must be true or false, got %s", key, tostring(v))
    end
    return v
  end

  function U.num_opt(fn, o, key, dflt)
    local v = o[key]
    if v == nil then return dflt end
    if type(v) ~= "number" then U.fail(fn, "option %s must be a number, got %s", key, type(v)) end
    return v
  end

  -- An option's value as tostring(m) shows it: tables as {1, 2}, numbers %g.
  function U.fmt(v)
    if type(v) == "table" then return U.shape_str(v) end
    if type(v) == "number" then return string.format("%g", v) end
    return tostring(v)
  end

  return U
end
