-- moongrad.nn_containers — mg.nn's containers: Sequential{...} (layers
-- applied in turn; m[i], #m, m:add), ModuleList{...} and Lambda(fn) (a
-- function as a layer; containers wrap plain functions in one).
return function(mg, core, U)
  local nn = mg.nn
  local Module = nn.Module
  local is_tensor = core.is_tensor
  local is_module = U.is_module

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
end
