-- moongrad.nn_activations — mg.nn's parameterless layers: ReLU,
-- LeakyReLU, GELU, Tanh, Sigmoid, Softmax, LogSoftmax, Identity and
-- Flatten, each calling mg.nnet's kernel (mg.nnet.relu, ...).
return function(mg, core, U)
  local nn = mg.nn
  local Module = nn.Module
  local fail, fmt = U.fail, U.fmt

  -- Activations: mg.nnet's kernels --------------------------------------------
  local A = {
    relu = function(x) return mg.nnet.relu(x) end,
    leaky_relu = function(x, slope) return mg.nnet.leaky_relu(x, slope) end,
    sigmoid = function(x) return mg.nnet.sigmoid(x) end,
    gelu = function(x, approximate)
      if approximate == "tanh" then return mg.nnet.gelu(x, "tanh") end
      return mg.nnet.gelu(x)
    end,
    softmax = function(x, axis) return mg.nnet.softmax(x, axis) end,
    logsoftmax = function(x, axis) return mg.nnet.logsoftmax(x, axis) end,
  }

  -- A parameterless layer applying fn(x, self).
  local function activation(name, fn, extra)
    local C = Module:extend(name)
    function C:forward(x) return fn(U.input(name, x), self) end
    if extra then C.extra_repr = extra end
    nn[name] = C
    return C
  end

  activation("ReLU", function(x) return A.relu(x) end)
  activation("Tanh", function(x) return mg.tanh(x) end)
  activation("Sigmoid", function(x) return A.sigmoid(x) end)
  activation("Identity", function(x) return x end)

  --- LeakyReLU(negative_slope = 0.01)
  local LeakyReLU = activation("LeakyReLU", function(x, m) return A.leaky_relu(x, m.negative_slope) end,
                               function(m) return "negative_slope=" .. fmt(m.negative_slope) end)
  function LeakyReLU:init(slope)
    if type(slope) == "table" then slope = slope.negative_slope end
    if slope == nil then slope = 0.01 end
    if type(slope) ~= "number" then fail("LeakyReLU", "negative_slope must be a number, got %s", type(slope)) end
    self.negative_slope = slope
  end

  --- GELU({approximate = "none" | "tanh"})
  local GELU = activation("GELU", function(x, m) return A.gelu(x, m.approximate) end,
                          function(m) return m.approximate == "tanh" and "approximate=tanh" or "" end)
  function GELU:init(o)
    if type(o) == "string" then o = {approximate = o} end
    o = U.opts("GELU", o)
    local a = o.approximate or "none"
    if a ~= "none" and a ~= "tanh" then
      fail("GELU", "approximate must be \"none\" or \"tanh\", got %s", tostring(a))
    end
    self.approximate = a
  end

  -- Softmax(axis = -1) and LogSoftmax(axis = -1)
  local function axis_init(name)
    return function(self, axis)
      if type(axis) == "table" then axis = axis.axis end
      if axis == nil then axis = -1 end
      if math.type(axis) ~= "integer" or axis == 0 then
        fail(name, "axis must be a non-zero integer (1-based, negative from the end), got %s",
             tostring(axis))
      end
      self.axis = axis
    end
  end
  local function axis_repr(m) return "axis=" .. m.axis end
  nn.Softmax = activation("Softmax", function(x, m) return A.softmax(x, m.axis) end, axis_repr)
  nn.Softmax.init = axis_init("Softmax")
  nn.LogSoftmax = activation("LogSoftmax", function(x, m) return A.logsoftmax(x, m.axis) end, axis_repr)
  nn.LogSoftmax.init = axis_init("LogSoftmax")

  --- Flatten({start_axis = 2, end_axis = -1}) or Flatten(start, end):
  --- keeps the batch axis by default.
  local Flatten = activation("Flatten", function(x, m) return x:flatten(m.start_axis, m.end_axis) end,
                             function(m) return ("start_axis=%d, end_axis=%d"):format(m.start_axis, m.end_axis) end)
  function Flatten:init(a, b)
    if type(a) == "table" then a, b = a.start_axis, a.end_axis end
    self.start_axis, self.end_axis = a or 2, b or -1
    for _, v in ipairs({self.start_axis, self.end_axis}) do
      if math.type(v) ~= "integer" then fail("Flatten", "axes must be integers, got %s", tostring(v)) end
    end
  end
end
