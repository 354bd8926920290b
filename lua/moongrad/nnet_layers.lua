-- moongrad.nnet_layers — mg.nnet's initializers and functional layers.
--
-- Initializers (mg.nnet.initializers.* and mg.nnet.*) return new leaf
-- tensors of the given shape, drawn from mg.random (so mg.random.seed makes
-- them reproducible): uniform, normal, constant, glorot_* / xavier_*,
-- he_* / kaiming_*, dirac and orthogonal (those two in C, nn_layers.c),
-- identity; with calculate_gain and calculate_fan_in_and_fan_out as PyTorch.
--
-- Layers: dense, batchnorm, dropout, embedding (C: a checked gather) and gru,
-- composed of differentiable ops, so their gradients (and, for dense and
-- batchnorm, second derivatives) come from the ops' own backward passes.
return function(mg, core)
  mg.nnet = mg.nnet or {}
  local nn = mg.nnet
  local C = core.nnet
  local function stack(list) return mg.stack(list, 1) end

  -- Helpers ------------------------------------------------------------------
  local function fail(fn, fmt, ...)
    error(fn .. ": " .. string.format(fmt, ...), 0)
  end

  local function shape_str(shape)
    local parts = {}
    for i, d in ipairs(shape) do parts[i] = tostring(d) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end

  -- An option table: a plain Lua table that is not a list (nested tables
  -- with array entries are tensor-likes).
  local function is_opts(v)
    return type(v) == "table" and not mg.is_tensor(v) and #v == 0
  end

  local function ndim_of(t) return t.ndim end -- (raises on a closed tensor)

  local function tensor_arg(fn, v, what)
    if mg.is_tensor(v) then
      if not pcall(ndim_of, v) then
        fail(fn, "%s: tensor used after it was closed", what)
      end
      return v
    end
    local ty = type(v)
    if ty == "number" or (ty == "table" and #v > 0) then
      return mg.tensor(v, {constant = true})
    end
    fail(fn, "%s must be a tensor (or a number or nested table), got %s", what, ty)
  end

  local function opt_number(fn, opts, key, dflt)
    local v = opts[key]
    if v == nil then v = dflt end
    if v == nil then return nil end
    if mg.is_tensor(v) and v.size == 1 then v = v:item() end
    if type(v) ~= "number" then
      fail(fn, "option %s must be a number, got %s", key, type(v))
    end
    if v ~= v or v == math.huge or v == -math.huge then -- no silent NaN from bad input
      fail(fn, "%s must be a finite number, got %s", key, tostring(v))
    end
    return v
  end

  local float_names = {float32 = "float32", float = "float32", float64 = "float64",
                       double = "float64"}
  local function float_dtype(fn, dt)
    if dt == nil then return mg.get_default_dtype() end
    if type(dt) ~= "string" then fail(fn, "dtype must be a string, got %s", type(dt)) end
    local name = float_names[dt]
    if not name then
      fail(fn, "dtype %s is not a float dtype (initializers make float32 or float64 tensors)", dt)
    end
    return name
  end

  -- The shape (a table {2, 3} or leading integers 2, 3) and what follows it.
  local function shape_args(fn, ...)
    local args = table.pack(...)
    local shape, i, n = {}, 1, 0
    if type(args[1]) == "table" and not mg.is_tensor(args[1]) then
      n = #args[1]
      for k = 1, n do shape[k] = args[1][k] end -- (a hole is an error below)
      i = 2
    else
      while type(args[i]) == "number" do
        shape[#shape + 1] = args[i]
        i = i + 1
      end
      n = #shape
    end
    for k = 1, n do
      local d = shape[k]
      if math.type(d) ~= "integer" or d < 0 then
        fail(fn, "shape entries must be integers >= 0, entry %d is %s", k, tostring(d))
      end
    end
    return shape, args, i
  end

  -- The option table at args[i] (or {}), checked to be one.
  local function opts_at(fn, args, i)
    local o = args[i]
    if o == nil then return {} end
    if not is_opts(o) then
      fail(fn, "expected an option table at argument %d, got %s", i,
           mg.is_tensor(o) and "a tensor" or type(o))
    end
    return o
  end

  -- t (a constant float64 tensor) as the initializer's result: cast to the
  -- dtype, a variable unless opts say constant = true / requires_grad = false.
  local function finish(t, opts, dt)
    t = t:astype(dt)
    if t.requires_grad then t = t:detach() end
    local rg = opts.requires_grad
    if rg == nil then rg = not opts.constant end
    return t:requires_grad_(rg and true or false)
  end

  local function numel(shape)
    local n = 1
    for _, d in ipairs(shape) do n = n * d end
    return n
  end

  -- Initializers -------------------------------------------------------------
  local init = {}

  --- calculate_fan_in_and_fan_out(shape or tensor): as PyTorch's
  --- _calculate_fan_in_and_fan_out: fan_in = shape[2] * receptive field,
  --- fan_out = shape[1] * receptive field (receptive field = product of
  --- shape[3..]); at least 2 dimensions.
  local function fans(fn, shape)
    for k = 1, #shape do -- (not ipairs: {nil, 2} has a hole)
      local d = shape[k]
      if math.type(d) ~= "integer" or d < 0 then
        fail(fn, "shape entries must be integers >= 0, entry %d is %s", k, tostring(d))
      end
    end
    if #shape < 2 then
      fail(fn, "fan in and fan out can not be computed for a shape with fewer than 2 "
             .. "dimensions, got %s", shape_str(shape))
    end
    local rf = 1
    for k = 3, #shape do rf = rf * shape[k] end
    return shape[2] * rf, shape[1] * rf
  end
  function init.calculate_fan_in_and_fan_out(shape)
    if mg.is_tensor(shape) then shape = shape.shape end
    if type(shape) ~= "table" then
      fail("calculate_fan_in_and_fan_out", "expected a shape table or a tensor, got %s", type(shape))
    end
    return fans("calculate_fan_in_and_fan_out", shape)
  end

  --- calculate_gain(nonlinearity, param): PyTorch's recommended gains.
  local unit_gain = {linear = true, conv1d = true, conv2d = true, conv3d = true,
                     conv_transpose1d = true, conv_transpose2d = true,
                     conv_transpose3d = true, sigmoid = true}
  function init.calculate_gain(nonlinearity, param)
    local fn = "calculate_gain"
    if unit_gain[nonlinearity] then return 1 end
    if nonlinearity == "tanh" then return 5 / 3 end
    if nonlinearity == "relu" then return math.sqrt(2) end
    if nonlinearity == "selu" then return 3 / 4 end
    if nonlinearity == "leaky_relu" then
      local slope = param
      if slope == nil then slope = 0.01 end
      if type(slope) ~= "number" or slope ~= slope or math.abs(slope) == math.huge then
        fail(fn, "negative_slope %s is not a valid number", tostring(param))
      end
      return math.sqrt(2 / (1 + slope * slope))
    end
    fail(fn, "unsupported nonlinearity %s (linear, conv1d/2d/3d, conv_transpose1d/2d/3d, "
           .. "sigmoid, tanh, relu, leaky_relu, selu)", tostring(nonlinearity))
  end

  local function draw_uniform(shape, lo, hi)
    local u = mg.random.rand(shape, {dtype = "float64", constant = true})
    return u * (hi - lo) + lo
  end
  local function draw_normal(shape, mean, std)
    local z = mg.random.randn(shape, {dtype = "float64", constant = true})
    return z * std + mean
  end

  --- uniform(shape, lower, upper, opts): U[lower, upper) (defaults 0, 1;
  --- also opts.lower / lower_bound, opts.upper / upper_bound), times gain.
  function init.uniform(...)
    local fn = "uniform"
    local shape, args, i = shape_args(fn, ...)
    local lo, hi = 0, 1
    if type(args[i]) == "number" then lo, i = args[i], i + 1 end
    if type(args[i]) == "number" then hi, i = args[i], i + 1 end
    local o = opts_at(fn, args, i)
    lo = opt_number(fn, o, "lower", opt_number(fn, o, "lower_bound", lo))
    hi = opt_number(fn, o, "upper", opt_number(fn, o, "upper_bound", hi))
    if not (lo < hi) then fail(fn, "lower (%g) must be less than upper (%g)", lo, hi) end
    local gain = opt_number(fn, o, "gain", 1)
    local dt = float_dtype(fn, o.dtype)
    return finish(draw_uniform(shape, lo, hi) * gain, o, dt)
  end

  --- normal(shape, mean, std, opts): N(mean, std^2) (defaults 0, 1; also
  --- opts.mean, opts.std), times gain.
  function init.normal(...)
    local fn = "normal"
    local shape, args, i = shape_args(fn, ...)
    local mean, std = 0, 1
    if type(args[i]) == "number" then mean, i = args[i], i + 1 end
    if type(args[i]) == "number" then std, i = args[i], i + 1 end
    local o = opts_at(fn, args, i)
    mean = opt_number(fn, o, "mean", mean)
    std = opt_number(fn, o, "std", std)
    if not (std >= 0) then fail(fn, "std must be >= 0, got %g", std) end
    local gain = opt_number(fn, o, "gain", 1)
    local dt = float_dtype(fn, o.dtype)
    return finish(draw_normal(shape, mean, std) * gain, o, dt)
  end

  --- constant(shape, value, opts): every element gain * value (default 0;
  --- also opts.value).
  function init.constant(...)
    local fn = "constant"
    local shape, args, i = shape_args(fn, ...)
    local value = 0
    if type(args[i]) == "number" then value, i = args[i], i + 1 end
    local o = opts_at(fn, args, i)
    value = opt_number(fn, o, "value", value)
    local gain = opt_number(fn, o, "gain", 1)
    local dt = float_dtype(fn, o.dtype)
    return finish(mg.full(shape, value * gain, {dtype = "float64", constant = true}), o, dt)
  end

  --- glorot_uniform(shape, {gain = 1}): U[-b, b], b = gain * sqrt(6 / (fan_in + fan_out)).
  function init.glorot_uniform(...)
    local fn = "glorot_uniform"
    local shape, args, i = shape_args(fn, ...)
    local o = opts_at(fn, args, i)
    local fan_in, fan_out = fans(fn, shape)
    local gain = opt_number(fn, o, "gain", 1)
    local dt = float_dtype(fn, o.dtype)
    local b = gain * math.sqrt(6 / (fan_in + fan_out))
    return finish(draw_uniform(shape, -b, b), o, dt)
  end

  --- glorot_normal(shape, {gain = 1}): N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
  function init.glorot_normal(...)
    local fn = "glorot_normal"
    local shape, args, i = shape_args(fn, ...)
    local o = opts_at(fn, args, i)
    local fan_in, fan_out = fans(fn, shape)
    local gain = opt_number(fn, o, "gain", 1)
    local dt = float_dtype(fn, o.dtype)
    return finish(draw_normal(shape, 0, gain * math.sqrt(2 / (fan_in + fan_out))), o, dt)
  end

  -- He / Kaiming: std = gain / sqrt(fan), fan = fan_in (mode = "fan_in",
  -- default) or fan_out; gain = opts.gain when given, else
  -- calculate_gain(nonlinearity (default "leaky_relu"), a (default 0)).
  local function he_std(fn, shape, o)
    local fan_in, fan_out = fans(fn, shape)
    local mode = o.mode or "fan_in"
    if mode ~= "fan_in" and mode ~= "fan_out" then
      fail(fn, "mode must be \"fan_in\" or \"fan_out\", got %s", tostring(mode))
    end
    local gain = opt_number(fn, o, "gain", nil)
    if gain == nil then
      local a = opt_number(fn, o, "a", opt_number(fn, o, "slope", 0))
      local ok, g = pcall(init.calculate_gain, o.nonlinearity or "leaky_relu", a)
      if not ok then error(fn .. ": " .. g, 0) end
      gain = g
    end
    local fan = mode == "fan_in" and fan_in or fan_out
    return gain / math.sqrt(fan)
  end

  --- he_uniform(shape, {mode, nonlinearity, a, gain}): U[-b, b], b = sqrt(3) * std.
  function init.he_uniform(...)
    local fn = "he_uniform"
    local shape, args, i = shape_args(fn, ...)
    local o = opts_at(fn, args, i)
    local b = math.sqrt(3) * he_std(fn, shape, o)
    local dt = float_dtype(fn, o.dtype)
    return finish(draw_uniform(shape, -b, b), o, dt)
  end

  --- he_normal(shape, {mode, nonlinearity, a, gain}): N(0, std^2).
  function init.he_normal(...)
    local fn = "he_normal"
    local shape, args, i = shape_args(fn, ...)
    local o = opts_at(fn, args, i)
    local std = he_std(fn, shape, o)
    local dt = float_dtype(fn, o.dtype)
    return finish(draw_normal(shape, 0, std), o, dt)
  end

  --- orthogonal(shape, {gain = 1}) and dirac(shape, {groups = 1, gain = 1}): C.
  function init.orthogonal(...)
    local shape, args, i = shape_args("orthogonal", ...)
    local o = opts_at("orthogonal", args, i)
    float_dtype("orthogonal", o.dtype)
    return C.orthogonal(shape, o)
  end
  function init.dirac(...)
    local shape, args, i = shape_args("dirac", ...)
    local o = opts_at("dirac", args, i)
    float_dtype("dirac", o.dtype)
    return C.dirac(shape, o)
  end

  --- identity(n, opts): the n x n identity (as MyGrad's initializers.identity).
  function init.identity(n, opts)
    if math.type(n) ~= "integer" or n < 0 then
      fail("identity", "n must be an integer >= 0, got %s", tostring(n))
    end
    return mg.identity(n, opts)
  end

  init.xavier_uniform = init.glorot_uniform
  init.xavier_normal = init.glorot_normal
  init.kaiming_uniform = init.he_uniform
  init.kaiming_normal = init.he_normal

  nn.initializers = init
  for k, v in pairs(init) do nn[k] = v end

  -- Layers -------------------------------------------------------------------

  --- dense(x, w, b): x @ w + b, w shaped in x out (as MyGrad), b optional
  --- (out, or anything that broadcasts to the result).
  function nn.dense(x, w, b)
    local fn = "dense"
    x = tensor_arg(fn, x, "x")
    w = tensor_arg(fn, w, "w")
    if w.ndim ~= 2 then
      fail(fn, "w must be 2-d (in x out), got shape %s", shape_str(w.shape))
    end
    if x.ndim < 1 or x.shape[x.ndim] ~= w.shape[1] then
      fail(fn, "x's last axis must match w's first (w is in x out): x has shape %s, w %s",
           shape_str(x.shape), shape_str(w.shape))
    end
    local y = mg.matmul(x, w)
    if b == nil then return y end
    b = tensor_arg(fn, b, "b")
    local out = w.shape[2]
    if b.ndim > math.max(y.ndim, 1) or (b.ndim >= 1 and b.shape[b.ndim] ~= out
                                          and b.shape[b.ndim] ~= 1) then
      fail(fn, "b must have shape {%d} (or broadcast to the result %s), got %s", out,
           shape_str(y.shape), shape_str(b.shape))
    end
    return y + b
  end

  -- A per-channel tensor (C elements) reshaped to broadcast against x.
  local function per_channel(fn, t, what, cshape, nc)
    t = tensor_arg(fn, t, what)
    if t.size ~= nc then
      fail(fn, "%s must have %d elements (one per channel), got shape %s", what, nc,
           shape_str(t.shape))
    end
    return t:reshape(cshape)
  end

  --- batchnorm(x, gamma, beta, {eps = 1e-5, momentum = 0.1, running_mean,
  --- running_var, training = true}); also batchnorm(x, {gamma =, beta =, ...})
  --- as MyGrad.  Normalises each channel (axis 2) over the batch and spatial
  --- axes (all others).
  function nn.batchnorm(x, gamma, beta, opts)
    local fn = "batchnorm"
    if is_opts(gamma) and beta == nil and opts == nil then
      opts, gamma, beta = gamma, gamma.gamma, gamma.beta
    elseif is_opts(beta) and opts == nil then
      opts, beta = beta, beta.beta
    end
    opts = opts or {}
    if not is_opts(opts) then fail(fn, "expected an option table, got %s", type(opts)) end
    x = tensor_arg(fn, x, "x")
    if x.ndim < 2 then
      fail(fn, "x must have at least 2 axes (N x C x ...), got shape %s", shape_str(x.shape))
    end
    local nc = x.shape[2]
    local axes, cshape = {1}, {1, nc}
    for k = 3, x.ndim do
      axes[#axes + 1] = k
      cshape[k] = 1
    end
    local eps = opt_number(fn, opts, "eps", 1e-5)
    local momentum = opt_number(fn, opts, "momentum", 0.1)
    if not (eps >= 0) then fail(fn, "eps must be >= 0, got %g", eps) end
    local training = opts.training
    if training == nil then training = true end
    local rm, rv = opts.running_mean, opts.running_var
    for _, r in ipairs({{rm, "running_mean"}, {rv, "running_var"}}) do
      if r[1] ~= nil and not mg.is_tensor(r[1]) then
        fail(fn, "%s must be a tensor (it is updated in place), got %s", r[2], type(r[1]))
      end
      if r[1] ~= nil and r[1].size ~= nc then
        fail(fn, "%s must have %d elements (one per channel), got shape %s", r[2], nc,
             shape_str(r[1].shape))
      end
    end
    if (rm == nil) ~= (rv == nil) then
      fail(fn, "give both running_mean and running_var, or neither")
    end

    local xhat
    if training then
      local n = x.size // math.max(nc, 1)
      if n <= 1 and x.size > 0 then
        fail(fn, "expected more than 1 value per channel when training, got input of shape %s",
             shape_str(x.shape))
      end
      local red = {axis = axes, keepdims = true}
      local mean = x:mean(red)
      local xc = x - mean
      local var = (xc * xc):mean(red)
      xhat = xc / mg.sqrt(var + eps)
      if rm ~= nil then -- running estimates, in place (unbiased variance, as PyTorch)
        mg.no_grad(function()
          local bm, bv = mean:detach():reshape(rm.shape), var:detach():reshape(rv.shape)
          rm.data[{}] = rm.data * (1 - momentum) + bm * momentum
          rv.data[{}] = rv.data * (1 - momentum) + bv * (momentum * n / (n - 1))
        end)
      end
    else
      if rm == nil then
        fail(fn, "inference (training = false) needs running_mean and running_var")
      end
      local m = rm:detach():reshape(cshape)
      local v = rv:detach():reshape(cshape)
      xhat = (x - m) / mg.sqrt(v + eps)
    end
    local y = xhat
    if gamma ~= nil then y = y * per_channel(fn, gamma, "gamma", cshape, nc) end
    if beta ~= nil then y = y + per_channel(fn, beta, "beta", cshape, nc) end
    return y
  end

  --- dropout(x, p = 0.5, training = true): inverted dropout (kept elements
  --- scaled by 1 / (1 - p), the mask drawn from mg.random); x itself when
  --- not training or p == 0.  Also dropout(x, {p =, training =}).
  function nn.dropout(x, p, training)
    local fn = "dropout"
    if is_opts(p) then
      training, p = p.training, p.p
    elseif is_opts(training) then
      training = training.training
    end
    x = tensor_arg(fn, x, "x")
    if p == nil then p = 0.5 end
    if type(p) ~= "number" or not (p >= 0 and p < 1) then
      fail(fn, "p must be a number in [0, 1), got %s", tostring(p))
    end
    if training == nil then training = true end
    if not training or p == 0 then return x end
    local dt = (x.dtype == "float32" or x.dtype == "float64") and x.dtype or mg.get_default_dtype()
    local keep = mg.random.rand(x.shape, {dtype = "float64", constant = true}):lt(1 - p)
    return x * (keep:astype(dt) * (1 / (1 - p)))
  end

  --- embedding(idx, table): rows of table (V x D) at the 1-based int64
  --- indices idx (any shape); result idx.shape .. {D}.  Gradients of
  --- repeated indices add up.  In C (nn_layers.c).
  nn.embedding = C.embedding

  -- sigmoid as 0.5 tanh(x / 2) + 0.5: stable, with a stable gradient
  local function sigmoid(v) return mg.tanh(v * 0.5) * 0.5 + 0.5 end

  -- Rows a..b (1-based, inclusive) of a 2-d weight or 1-d bias.
  local function rows(t, a, b)
    if t == nil then return nil end
    return t[{{a, b}}]
  end

  --- gru(x, h0, w_ih, w_hh, b_ih, b_hh, {batch_first = false}): a GRU over
  --- the sequence x (T x N x I; T x I unbatched; N x T x I with batch_first)
  --- with PyTorch's weights and gate equations (gates r, z, n in that order
  --- in the rows of w_ih (3H x I), w_hh (3H x H), b_ih, b_hh (3H), biases
  --- optional, h0 (N x H) nil for zeros):
  ---   r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)
  ---   z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)
  ---   n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
  ---   h' = (1 - z) * n + z * h
  --- Returns every hidden state (T x N x H) and the last one (N x H).
  function nn.gru(x, h0, w_ih, w_hh, b_ih, b_hh, opts)
    local fn = "gru"
    if is_opts(b_ih) and b_hh == nil and opts == nil then
      opts, b_ih = b_ih, nil
    elseif is_opts(b_hh) and opts == nil then
      opts, b_hh = b_hh, nil
    end
    opts = opts or {}
    if not is_opts(opts) then fail(fn, "expected an option table, got %s", type(opts)) end
    x = tensor_arg(fn, x, "x")
    w_ih = tensor_arg(fn, w_ih, "w_ih")
    w_hh = tensor_arg(fn, w_hh, "w_hh")
    local unbatched = x.ndim == 2
    if x.ndim ~= 3 and not unbatched then
      fail(fn, "x must be T x N x I (or T x I), got shape %s", shape_str(x.shape))
    end
    if opts.batch_first and not unbatched then x = x:transpose(1, 2) end
    if unbatched then x = x:reshape(x.shape[1], 1, x.shape[2]) end
    local T, N, I = x.shape[1], x.shape[2], x.shape[3]
    if w_hh.ndim ~= 2 or w_hh.shape[1] ~= 3 * w_hh.shape[2] then
      fail(fn, "w_hh must be 3H x H, got shape %s", shape_str(w_hh.shape))
    end
    local H = w_hh.shape[2]
    if w_ih.ndim ~= 2 or w_ih.shape[1] ~= 3 * H or w_ih.shape[2] ~= I then
      fail(fn, "w_ih must be 3H x I = {%d, %d}, got shape %s", 3 * H, I, shape_str(w_ih.shape))
    end
    local function bias(b, what)
      if b == nil then return nil end
      b = tensor_arg(fn, b, what)
      if b.size ~= 3 * H then
        fail(fn, "%s must have 3H = %d elements, got shape %s", what, 3 * H, shape_str(b.shape))
      end
      return b:reshape(3 * H)
    end
    b_ih, b_hh = bias(b_ih, "b_ih"), bias(b_hh, "b_hh")
    local h
    if h0 == nil then
      h = mg.zeros({N, H}, {dtype = x.dtype, constant = true})
    else
      h = tensor_arg(fn, h0, "h0")
      if h.size ~= N * H then
        fail(fn, "h0 must be N x H = {%d, %d}, got shape %s", N, H, shape_str(h.shape))
      end
      h = h:reshape(N, H)
    end

    -- the weights split by gate once; their gradients add up over the steps
    local W_ir, W_iz, W_in = rows(w_ih, 1, H).T, rows(w_ih, H + 1, 2 * H).T, rows(w_ih, 2 * H + 1, 3 * H).T
    local W_hr, W_hz, W_hn = rows(w_hh, 1, H).T, rows(w_hh, H + 1, 2 * H).T, rows(w_hh, 2 * H + 1, 3 * H).T
    local b_ir, b_iz, b_in = rows(b_ih, 1, H), rows(b_ih, H + 1, 2 * H), rows(b_ih, 2 * H + 1, 3 * H)
    local b_hr, b_hz, b_hn = rows(b_hh, 1, H), rows(b_hh, H + 1, 2 * H), rows(b_hh, 2 * H + 1, 3 * H)
    local function affine(v, w, b)
      local y = mg.matmul(v, w)
      if b ~= nil then y = y + b end
      return y
    end

    local hs = {}
    for t = 1, T do
      local xt = x[t]
      local r = sigmoid(affine(xt, W_ir, b_ir) + affine(h, W_hr, b_hr))
      local z = sigmoid(affine(xt, W_iz, b_iz) + affine(h, W_hz, b_hz))
      local n = mg.tanh(affine(xt, W_in, b_in) + r * affine(h, W_hn, b_hn))
      h = n + z * (h - n)
      hs[t] = h
    end
    local out
    if T == 0 then
      out = mg.zeros({0, N, H}, {dtype = h.dtype, constant = true})
    else
      out = stack(hs)
    end
    if unbatched then
      return out:reshape(T, H), h:reshape(H)
    end
    if opts.batch_first then out = out:transpose(1, 2) end
    return out, h
  end
end
