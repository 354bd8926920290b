-- moongrad.nn_layers — mg.nn's layers with parameters or modes (installed
-- by nn.lua, which holds the Module base class): Linear, Conv1d/2d/3d,
-- MaxPool / AvgPool 1d/2d/3d, BatchNorm1d/2d/3d, Dropout, Embedding, GRU.
-- Parameters are named and initialised as in PyTorch; forward calls the
-- functional mg.nnet layers.
return function(mg, core, U)
  local nn = mg.nn
  local Module = nn.Module
  local is_tensor = core.is_tensor
  local fail, shape_str, fmt = U.fail, U.shape_str, U.fmt
  local bool_opt, num_opt = U.bool_opt, U.num_opt

  local function init() return mg.nnet.initializers end

  -- U(-bound, bound) of shape, a variable of dtype dt.
  local function uniform(shape, bound, dt)
    return init().uniform(shape, -bound, bound, {dtype = dt})
  end

  -- PyTorch's default for Linear and Conv weights: kaiming_uniform with
  -- a = sqrt(5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  local function default_weight(shape, dt)
    return init().kaiming_uniform(shape, {a = math.sqrt(5), dtype = dt})
  end

  -- A per-axis option: an integer (every axis) or d integers, as a table.
  local function axes_opt(fn, v, key, d, dflt, min)
    if v == nil then v = dflt end
    local out = {}
    if math.type(v) == "integer" then
      for i = 1, d do out[i] = v end
    elseif type(v) == "table" and not is_tensor(v) and #v == d then
      for i = 1, d do out[i] = v[i] end
    else
      fail(fn, "%s must be an integer or a table of %d integers, got %s", key, d,
           type(v) == "table" and "a table of " .. #v or tostring(v))
    end
    for i = 1, d do
      if math.type(out[i]) ~= "integer" or out[i] < min then
        fail(fn, "%s entries must be integers >= %d, got %s", key, min, tostring(out[i]))
      end
    end
    return out
  end
  -- x's size along axis (negative from the end), or nil.
  local function dim(x, axis)
    local s = x.shape
    if axis < 0 then axis = #s + 1 + axis end
    return s[axis]
  end

  -- Linear ----------------------------------------------------------------------
  local Linear = Module:extend("Linear")
  nn.Linear = Linear
  --- Linear(in, out, {bias = true, dtype}): y = x W^T + b with weight
  --- {out, in} and bias {out}, both U(-1/sqrt(in), 1/sqrt(in)).
  function Linear:init(n_in, n_out, o)
    local fn = "Linear"
    o = U.opts(fn, o)
    self.in_features = U.posint(fn, n_in, "in_features")
    self.out_features = U.posint(fn, n_out, "out_features")
    local dt = U.dtype(fn, o.dtype)
    self.weight = default_weight({n_out, n_in}, dt)
    if bool_opt(fn, o, "bias", true) then
      self.bias = uniform({n_out}, 1 / math.sqrt(n_in), dt)
    end
  end
  function Linear:forward(x)
    x = U.input("Linear", x, self.weight.dtype)
    if x.ndim < 1 or dim(x, -1) ~= self.in_features then
      fail("Linear", "expected an input whose last axis has %d features, got shape %s",
           self.in_features, shape_str(x.shape))
    end
    local y = mg.matmul(x, self.weight.T)
    if self.bias ~= nil then y = y + self.bias end
    return y
  end
  function Linear:extra_repr()
    return ("in_features=%d, out_features=%d, bias=%s"):format(
      self.in_features, self.out_features, tostring(self.bias ~= nil))
  end

  -- Convolutions ----------------------------------------------------------------
  -- Conv{d}d(in, out, kernel, {stride = 1, padding = 0, dilation = 1,
  -- groups = 1, bias = true, dtype}): weight {out, in / groups, k...};
  -- padding may also be "valid" or "same" (stride 1).
  local function conv_class(d)
    local name = "Conv" .. d .. "d"
    local C = Module:extend(name)
    nn[name] = C
    function C:init(n_in, n_out, kernel, o)
      o = U.opts(name, o)
      self.in_channels = U.posint(name, n_in, "in_channels")
      self.out_channels = U.posint(name, n_out, "out_channels")
      self.kernel_size = axes_opt(name, kernel, "kernel_size", d, nil, 1)
      self.stride = axes_opt(name, o.stride, "stride", d, 1, 1)
      self.dilation = axes_opt(name, o.dilation, "dilation", d, 1, 1)
      local pad = o.padding
      if pad == "valid" then pad = 0 end
      if pad == "same" then
        for i = 1, d do
          if self.stride[i] ~= 1 then fail(name, "padding = \"same\" needs stride 1") end
        end
        self.padding = "same"
      else
        self.padding = axes_opt(name, pad, "padding", d, 0, 0)
      end
      local g = o.groups or 1
      U.posint(name, g, "groups")
      if n_in % g ~= 0 or n_out % g ~= 0 then
        fail(name, "in_channels (%d) and out_channels (%d) must be divisible by groups (%d)",
             n_in, n_out, g)
      end
      self.groups = g
      local dt = U.dtype(name, o.dtype)
      local shape = {n_out, n_in // g}
      local fan_in = n_in // g
      for i = 1, d do
        shape[i + 2] = self.kernel_size[i]
        fan_in = fan_in * self.kernel_size[i]
      end
      self.weight = default_weight(shape, dt)
      if bool_opt(name, o, "bias", true) then
        self.bias = uniform({n_out}, 1 / math.sqrt(fan_in), dt)
      end
    end

    -- x with "same" padding applied (the odd element after, as PyTorch),
    -- and the symmetric padding left for the convolution.
    local function same_pad(self, x)
      local widths, sym, odd = {{0, 0}, {0, 0}}, {}, false
      for i = 1, d do
        local total = self.dilation[i] * (self.kernel_size[i] - 1)
        local lo = total // 2
        widths[i + 2] = {lo, total - lo}
        sym[i] = lo
        if total % 2 == 1 then odd = true end
      end
      if not odd then return x, sym end
      for i = 1, d do widths[i + 2] = {0, widths[i + 2][2] - widths[i + 2][1]} end
      return mg.pad(x, widths), sym
    end

    function C:forward(x)
      x = U.input(name, x, self.weight.dtype)
      local given = x.shape
      local unbatched = x.ndim == d + 1
      if unbatched then x = x:unsqueeze(1) end
      if x.ndim ~= d + 2 or x.shape[2] ~= self.in_channels then
        fail(name, "expected an input {N, %d, ...} with %d spatial axes (or {%d, ...} unbatched), "
             .. "got shape %s", self.in_channels, d, self.in_channels, shape_str(given))
      end
      local pad = self.padding
      if pad == "same" then x, pad = same_pad(self, x) end
      local o = {stride = self.stride, padding = pad, dilation = self.dilation, groups = self.groups}
      local y
      if self.bias ~= nil then
        y = mg.nnet.conv_nd(x, self.weight, self.bias, o)
      else
        y = mg.nnet.conv_nd(x, self.weight, o)
      end
      if unbatched then y = y:squeeze(1) end
      return y
    end

    function C:extra_repr()
      local s = ("%d, %d, kernel_size=%s, stride=%s"):format(self.in_channels, self.out_channels,
                                                            fmt(self.kernel_size), fmt(self.stride))
      local function nondefault(t, v)
        if type(t) ~= "table" then return true end
        for _, e in ipairs(t) do
          if e ~= v then return true end
        end
        return false
      end
      if nondefault(self.padding, 0) then s = s .. ", padding=" .. fmt(self.padding) end
      if nondefault(self.dilation, 1) then s = s .. ", dilation=" .. fmt(self.dilation) end
      if self.groups ~= 1 then s = s .. ", groups=" .. self.groups end
      if self.bias == nil then s = s .. ", bias=false" end
      return s
    end
  end
  for d = 1, 3 do conv_class(d) end

  -- Pooling -----------------------------------------------------------------------
  -- MaxPool{d}d / AvgPool{d}d(kernel, {stride = kernel, padding = 0}) (also
  -- (kernel, stride)): over the last d axes.
  local function pool_class(kind, d)
    local name = kind .. "Pool" .. d .. "d"
    local C = Module:extend(name)
    nn[name] = C
    function C:init(kernel, o)
      if math.type(o) == "integer" or (type(o) == "table" and #o > 0) then o = {stride = o} end
      o = U.opts(name, o)
      self.kernel_size = axes_opt(name, kernel, "kernel_size", d, nil, 1)
      self.stride = axes_opt(name, o.stride, "stride", d, self.kernel_size, 1)
      self.padding = axes_opt(name, o.padding, "padding", d, 0, 0)
      for i = 1, d do
        if 2 * self.padding[i] > self.kernel_size[i] then
          fail(name, "padding should be at most half of the kernel size, got padding %s and "
               .. "kernel_size %s", fmt(self.padding), fmt(self.kernel_size))
        end
      end
    end
    local f = kind == "Max" and "max_pool" or "avg_pool"
    function C:forward(x)
      x = U.input(name, x)
      if x.ndim ~= d + 1 and x.ndim ~= d + 2 then
        fail(name, "expected an input with %d or %d axes ({N, C, ...} or {C, ...}), got shape %s",
             d + 2, d + 1, shape_str(x.shape))
      end
      return mg.nnet[f](x, self.kernel_size, {stride = self.stride, padding = self.padding})
    end
    function C:extra_repr()
      return ("kernel_size=%s, stride=%s, padding=%s"):format(
        fmt(self.kernel_size), fmt(self.stride), fmt(self.padding))
    end
  end
  for d = 1, 3 do
    pool_class("Max", d)
    pool_class("Avg", d)
  end

  -- Batch normalisation --------------------------------------------------------------
  -- BatchNorm{d}d(C, {eps = 1e-5, momentum = 0.1, affine = true,
  -- track_running_stats = true, dtype}): weight (ones) and bias (zeros);
  -- buffers running_mean, running_var, num_batches_tracked. Training
  -- normalises with the batch's statistics and updates the running ones;
  -- evaluation uses the running ones. momentum = false: cumulative average.
  local bn_axes = {{2, 3}, {4}, {5}}
  local bn_forms = {"{N, C} or {N, C, L}", "{N, C, H, W}", "{N, C, D, H, W}"}
  local function batchnorm_class(d)
    local name = "BatchNorm" .. d .. "d"
    local C = Module:extend(name)
    nn[name] = C
    function C:init(n, o)
      o = U.opts(name, o)
      self.num_features = U.posint(name, n, "num_features")
      self.eps = num_opt(name, o, "eps", 1e-5)
      if o.momentum == false then self.momentum = false
      else self.momentum = num_opt(name, o, "momentum", 0.1) end
      self.affine = bool_opt(name, o, "affine", true)
      self.track_running_stats = bool_opt(name, o, "track_running_stats", true)
      local dt = U.dtype(name, o.dtype)
      if self.affine then
        self.weight = mg.ones({n}, {dtype = dt})
        self.bias = mg.zeros({n}, {dtype = dt})
      end
      if self.track_running_stats then
        self:register_buffer("running_mean", mg.zeros({n}, {dtype = dt, constant = true}))
        self:register_buffer("running_var", mg.ones({n}, {dtype = dt, constant = true}))
        self:register_buffer("num_batches_tracked", mg.tensor(0, {dtype = "int64"}))
      end
    end
    function C:forward(x)
      local ref = self.weight or self.running_mean
      x = U.input(name, x, ref and ref.dtype)
      local ok = false
      for _, nd in ipairs(bn_axes[d]) do ok = ok or x.ndim == nd end
      if not ok or x.shape[2] ~= self.num_features then
        fail(name, "expected an input %s with C = %d, got shape %s", bn_forms[d],
             self.num_features, shape_str(x.shape))
      end
      local o = {eps = self.eps, training = true}
      if self.track_running_stats then
        if self.training then
          self.num_batches_tracked.data:add_(1)
          o.momentum = self.momentum or 1 / self.num_batches_tracked:item()
        else
          o.training = false
        end
        o.running_mean, o.running_var = self.running_mean, self.running_var
      end
      return mg.nnet.batchnorm(x, self.weight, self.bias, o)
    end
    function C:extra_repr()
      return ("%d, eps=%s, momentum=%s, affine=%s, track_running_stats=%s"):format(
        self.num_features, fmt(self.eps), fmt(self.momentum), tostring(self.affine),
        tostring(self.track_running_stats))
    end
  end
  for d = 1, 3 do batchnorm_class(d) end

  -- Dropout ----------------------------------------------------------------------------
  local Dropout = Module:extend("Dropout")
  nn.Dropout = Dropout
  --- Dropout(p = 0.5): zeroes elements with probability p and scales the
  --- rest by 1 / (1 - p) in training mode; the identity in evaluation.
  function Dropout:init(p)
    if type(p) == "table" then p = p.p end
    if p == nil then p = 0.5 end
    if type(p) ~= "number" or not (p >= 0 and p < 1) then
      fail("Dropout", "p must be a number in [0, 1), got %s", tostring(p))
    end
    self.p = p
  end
  function Dropout:forward(x)
    return mg.nnet.dropout(U.input("Dropout", x), self.p, self.training)
  end
  function Dropout:extra_repr() return "p=" .. fmt(self.p) end

  -- Embedding ------------------------------------------------------------------------
  local Embedding = Module:extend("Embedding")
  nn.Embedding = Embedding
  --- Embedding(num, dim, {dtype}): a table {num, dim} drawn from N(0, 1);
  --- m(idx) looks up the rows at the 1-based int64 indices idx (any shape;
  --- a Lua table of integers is read as int64).
  function Embedding:init(num, d, o)
    o = U.opts("Embedding", o)
    self.num_embeddings = U.posint("Embedding", num, "num_embeddings")
    self.embedding_dim = U.posint("Embedding", d, "embedding_dim")
    self.weight = init().normal({num, d}, 0, 1, {dtype = U.dtype("Embedding", o.dtype)})
  end
  function Embedding:forward(idx)
    if not is_tensor(idx) and (type(idx) == "table" or math.type(idx) == "integer") then
      idx = mg.tensor(idx, {dtype = "int64"})
    end
    if not is_tensor(idx) then fail("Embedding", "expected int64 indices, got %s", type(idx)) end
    return mg.nnet.embedding(idx, self.weight)
  end
  function Embedding:extra_repr() return ("%d, %d"):format(self.num_embeddings, self.embedding_dim) end

  -- GRU -----------------------------------------------------------------------------
  local GRU = Module:extend("GRU")
  nn.GRU = GRU
  --- GRU(input, hidden, {num_layers = 1, bias = true, batch_first = false,
  --- dtype}): PyTorch's parameters weight_ih_l0 {3H, I}, weight_hh_l0
  --- {3H, H}, bias_ih_l0, bias_hh_l0 {3H} (gates r, z, n), all
  --- U(-1/sqrt(H), 1/sqrt(H)). m(x, h0) takes x {T, N, I} ({N, T, I} with
  --- batch_first, {T, I} unbatched) and h0 {layers, N, H} (nil: zeros);
  --- returns the last layer's outputs {T, N, H} and the last hidden states
  --- {layers, N, H}.
  function GRU:init(n_in, hidden, o)
    local fn = "GRU"
    o = U.opts(fn, o)
    self.input_size = U.posint(fn, n_in, "input_size")
    self.hidden_size = U.posint(fn, hidden, "hidden_size")
    self.num_layers = U.posint(fn, o.num_layers or 1, "num_layers")
    self.batch_first = bool_opt(fn, o, "batch_first", false)
    local bias = bool_opt(fn, o, "bias", true)
    self.has_bias = bias
    local dt = U.dtype(fn, o.dtype)
    local k = 1 / math.sqrt(hidden)
    for l = 0, self.num_layers - 1 do
      local i = l == 0 and n_in or hidden
      self["weight_ih_l" .. l] = uniform({3 * hidden, i}, k, dt)
      self["weight_hh_l" .. l] = uniform({3 * hidden, hidden}, k, dt)
      if bias then
        self["bias_ih_l" .. l] = uniform({3 * hidden}, k, dt)
        self["bias_hh_l" .. l] = uniform({3 * hidden}, k, dt)
      end
    end
  end
  function GRU:forward(x, h0)
    local fn = "GRU"
    x = U.input(fn, x, self.weight_ih_l0.dtype)
    if (x.ndim ~= 2 and x.ndim ~= 3) or dim(x, -1) ~= self.input_size then
      fail(fn, "expected an input {T, N, %d} (or {N, T, %d} with batch_first, {T, %d} unbatched), "
           .. "got shape %s", self.input_size, self.input_size, self.input_size, shape_str(x.shape))
    end
    local L, H = self.num_layers, self.hidden_size
    local unbatched = x.ndim == 2
    local n = unbatched and 1 or x.shape[self.batch_first and 1 or 2]
    if h0 ~= nil then
      h0 = U.input(fn, h0, x.dtype)
      if h0.size ~= L * n * H then
        fail(fn, "h0 must have shape %s, got %s", shape_str(unbatched and {L, H} or {L, n, H}),
             shape_str(h0.shape))
      end
      h0 = h0:reshape(L, n, H)
    end
    if unbatched then x = x:unsqueeze(2) end
    local o = {batch_first = self.batch_first and not unbatched}
    local out, hs = x, {}
    for l = 0, L - 1 do
      local h
      out, h = mg.nnet.gru(out, h0 and h0[l + 1], self["weight_ih_l" .. l], self["weight_hh_l" .. l],
                           self["bias_ih_l" .. l], self["bias_hh_l" .. l], o)
      hs[l + 1] = h
    end
    local hn = mg.stack(hs, 1)
    if unbatched then return out:squeeze(2), hn:squeeze(2) end
    return out, hn
  end
  function GRU:extra_repr()
    local s = ("%d, %d"):format(self.input_size, self.hidden_size)
    if self.num_layers ~= 1 then s = s .. ", num_layers=" .. self.num_layers end
    if not self.has_bias then s = s .. ", bias=false" end
    if self.batch_first then s = s .. ", batch_first=true" end
    return s
  end
end
