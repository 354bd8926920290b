-- moongrad.autograd — the Lua side of autograd, installed into mg:
--   mg.autograd.grad(outputs, inputs, opts)  gradients without touching .grad
--   mg.grad(f)                               a function's derivative, as a function
--   mg.autograd.jacobian(f, x), hessian(f, x)
--   mg.autograd.gradcheck / gradgradcheck   finite-difference checks
--   MXNet-style switches: record, pause, is_recording, is_training,
--   set_training, train_mode, predict_mode (x:attach_grad() is in C).
-- Everything here is built on core.autograd_grad, the one C engine that
-- also runs backward.
return function(mg, core)
  local A = mg.autograd or {}
  mg.autograd = A
  local raw_grad = core.autograd_grad
  mg.autograd_grad = nil -- reached as mg.autograd.grad

  local is_tensor = core.is_tensor
  local unpack = table.unpack

  -- How many functions being differentiated (by mg.grad, jacobian,
  -- hessian, gradcheck) are running: inside one, mg.grad records its
  -- gradients, so that they can be differentiated in turn.
  local depth = 0

  -- Runs fn(...), a function to differentiate, with grad mode on and .grad
  -- kept as it is (the forward of a derivative must not clear the caller's
  -- gradients); restores both, also when fn raises.
  local function callable(f)
    return type(f) == "function" or (getmetatable(f) or {}).__call ~= nil
  end

  -- f must be a function (name: the API function, for the message).
  local function check_fn(f, name)
    if not callable(f) then error(("%s: f must be a function, got %s"):format(name, type(f)), 3) end
  end

  -- opts must be nil or a table.
  local function check_opts(opts, name)
    if opts ~= nil and type(opts) ~= "table" then
      error(("%s: options must be a table, got %s"):format(name, type(opts)), 3)
    end
    return opts or {}
  end

  local function call_recording(fn, ...)
    local prev_mode = core.set_grad_enabled(true)
    local prev_keep = core.set_keep_grad(true)
    depth = depth + 1
    local res = table.pack(pcall(fn, ...))
    depth = depth - 1
    core.set_keep_grad(prev_keep)
    core.set_grad_enabled(prev_mode)
    if not res[1] then error(res[2], 0) end
    return unpack(res, 2, res.n)
  end

  -- A variable standing for x's values: x itself when it is a variable, else
  -- a variable leaf sharing x's memory (numbers become 0-d tensors).
  local function variable(x, fn)
    if type(x) == "number" then return mg.tensor(x) end
    if not is_tensor(x) then
      error(("%s: expected a tensor or a number, got %s"):format(fn, type(x)), 3)
    end
    if x.requires_grad then return x end
    if x.dtype ~= "float32" and x.dtype ~= "float64" then
      error(("%s: can only differentiate with respect to float tensors, got %s")
        :format(fn, x.dtype), 3)
    end
    return x:detach():requires_grad_(true)
  end

  local function concat(a, b)
    local r = table.move(a, 1, #a, 1, {})
    return table.move(b, 1, #b, #r + 1, r)
  end

  -- ---- mg.autograd.grad -------------------------------------------------------
  local function tensor_list(v, what)
    if is_tensor(v) then return {v} end
    if type(v) ~= "table" or #v == 0 then
      error(("autograd.grad: %s must be a tensor or a non-empty list of tensors, got %s")
        :format(what, type(v)), 3)
    end
    for i = 1, #v do
      if not is_tensor(v[i]) then
        error(("autograd.grad: %s[%d] must be a tensor, got %s"):format(what, i, type(v[i])), 3)
      end
    end
    return v
  end

  -- One head gradient per output: a tensor, number or nested table (nil = ones).
  local function head_list(go, outputs)
    if go == nil then return nil end
    if is_tensor(go) or type(go) == "number" then go = {go} end
    if type(go) ~= "table" then
      error("autograd.grad: grad_outputs must be a tensor, a number or a list", 3)
    end
    local heads = {}
    for k, y in ipairs(outputs) do
      local h = go[k]
      local kind = type(h)
      if h ~= nil and not is_tensor(h) and kind ~= "number" and kind ~= "table" then
        error(("autograd.grad: grad_outputs[%d] must be a tensor, a number or a table, got %s")
          :format(k, kind), 3)
      end
      if h ~= nil and not is_tensor(h) then
        h = mg.tensor(h, {dtype = y.dtype, constant = true})
      end
      heads[k] = h
    end
    return heads
  end

  --- mg.autograd.grad(outputs, inputs, opts): the gradients of the outputs
  --- (a tensor or a list; weighted by opts.grad_outputs, ones by default)
  --- with respect to the inputs, as a list matching inputs. No .grad is
  --- read or written. opts: grad_outputs, retain_graph (default:
  --- create_graph), create_graph (record the gradient computation, so the
  --- results can be differentiated again), allow_unused (nil for an input
  --- the outputs do not depend on, instead of an error), materialize_grads
  --- (zeros instead of nil).
  function A.grad(outputs, inputs, opts)
    opts = check_opts(opts, "autograd.grad")
    outputs = tensor_list(outputs, "outputs")
    inputs = tensor_list(inputs, "inputs")
    local create = opts.create_graph and true or false
    local retain = opts.retain_graph
    if retain == nil then retain = create end
    local res = raw_grad(outputs, inputs, head_list(opts.grad_outputs, outputs), retain, create)
    for j, x in ipairs(inputs) do
      if res[j] == nil then
        if opts.materialize_grads then
          res[j] = mg.zeros_like(x, {constant = true})
        elseif not opts.allow_unused then
          error(("autograd.grad: input %d was not used to compute the outputs (pass "
            .. "allow_unused = true to get nil for it)"):format(j), 2)
        end
      end
    end
    return res
  end

  -- ---- mg.grad ---------------------------------------------------------------

  local function scalar_output(y, fn)
    if not is_tensor(y) then
      error(("%s: f must return a tensor, got %s"):format(fn, type(y)), 3)
    end
    if y.size ~= 1 then
      error(("%s: f must return a scalar (one element), got shape {%s}")
        :format(fn, table.concat(y.shape, ", ")), 3)
    end
  end

  --- mg.grad(f, opts): a function that, given f's arguments, returns the
  --- gradient of f (which must return a scalar) with respect to each tensor
  --- or number argument, in order (nil for other arguments). Constants and
  --- numbers are differentiated too (as JAX's grad); .grad is not touched.
  --- Nested (mg.grad(mg.grad(f)), or inside the f of jacobian or hessian)
  --- it gives higher derivatives: called from within a function being
  --- differentiated, it records its gradients. opts.create_graph records
  --- them at the outermost level too.
  function mg.grad(f, opts)
    check_fn(f, "grad")
    opts = check_opts(opts, "grad")
    return function(...)
      local args = table.pack(...)
      local vars, at = {}, {}
      for i = 1, args.n do
        local a = args[i]
        if type(a) == "number" or is_tensor(a) then
          args[i] = variable(a, "grad")
          vars[#vars + 1], at[#at + 1] = args[i], i
        end
      end
      if #vars == 0 then error("grad: f has no tensor or number argument to differentiate", 2) end
      local create = opts.create_graph or depth > 0
      local y = call_recording(f, unpack(args, 1, args.n))
      scalar_output(y, "grad")
      local gs = raw_grad({y}, vars, nil, create, create)
      local out = {}
      for k, i in ipairs(at) do
        out[i] = gs[k] or mg.zeros_like(vars[k], {constant = true})
      end
      return unpack(out, 1, args.n)
    end
  end

  -- ---- jacobian and hessian ------------------------------------------------------
  -- The one-hot head selecting flat element i of a tensor of this shape.
  local function one_hot(shape, n, i, dtype)
    local e = mg.zeros({n}, {dtype = dtype, constant = true})
    e[i] = 1
    return e:reshape(shape)
  end

  -- Rows d(y_i)/dx for every element of y, as a {y.size, x.size} tensor.
  local function rows(y, x, create)
    local ny, nx = y.size, x.size
    local J = mg.zeros({ny, nx}, {dtype = x.dtype, constant = true})
    if not y.requires_grad then return J end
    for i = 1, ny do
      local head = one_hot(y.shape, ny, i, y.dtype)
      local g = raw_grad({y}, {x}, {head}, true, create)[1]
      if g then J[i] = g:reshape(nx) end
    end
    return J
  end

  --- mg.autograd.jacobian(f, x, opts): the Jacobian of y = f(x) at x, of
  --- shape y.shape .. x.shape (J[i..., j...] = dy[i...]/dx[j...]); one
  --- gradient pass per element of y. opts.create_graph records it.
  function A.jacobian(f, x, opts)
    check_fn(f, "jacobian")
    opts = check_opts(opts, "jacobian")
    x = variable(x, "jacobian")
    local y = call_recording(f, x)
    if not is_tensor(y) then error("jacobian: f must return a tensor, got " .. type(y), 2) end
    return rows(y, x, opts.create_graph):reshape(concat(y.shape, x.shape))
  end

  --- mg.autograd.hessian(f, x, opts): the Hessian of the scalar f at x, of
  --- shape x.shape .. x.shape: the Jacobian of the recorded gradient.
  function A.hessian(f, x, opts)
    check_fn(f, "hessian")
    opts = check_opts(opts, "hessian")
    x = variable(x, "hessian")
    local y = call_recording(f, x)
    scalar_output(y, "hessian")
    local g = y.requires_grad and raw_grad({y}, {x}, nil, true, true)[1]
    g = g or mg.zeros_like(x, {constant = true})
    return rows(g, x, opts.create_graph):reshape(concat(x.shape, x.shape))
  end

  -- ---- gradcheck ------------------------------------------------------------------
  local function numel(shape)
    local n = 1
    for _, d in ipairs(shape) do n = n * d end
    return n
  end

  -- Every multi-index of shape, row-major ({} alone for a 0-d tensor).
  local function indices(shape)
    local out = {}
    local function walk(axis, prefix)
      if axis > #shape then
        out[#out + 1] = table.move(prefix, 1, #prefix, 1, {})
        return
      end
      for i = 1, shape[axis] do
        prefix[axis] = i
        walk(axis + 1, prefix)
      end
      prefix[axis] = nil
    end
    walk(1, {})
    return out
  end

  local function flatten(v, out)
    out = out or {}
    if type(v) ~= "table" then
      out[#out + 1] = v
    else
      for _, e in ipairs(v) do flatten(e, out) end
    end
    return out
  end

  -- A fixed, well-spread constant float64 tensor of the given shape (not
  -- drawn from moongrad's generator, so seeded code is not disturbed).
  local function fixed(shape, salt)
    local vals = {}
    for k = 1, numel(shape) do vals[k] = math.sin(k * 12.9898 + salt * 78.233) * 1.5 end
    return mg.tensor(vals, {dtype = "float64", constant = true}):reshape(shape)
  end
  A._fixed = fixed -- (internal; spec/gradcheck.lua re-exports it)

  local function values(g, x)
    if g == nil then
      local z = {}
      for k = 1, x.size do z[k] = 0 end
      return z
    end
    return flatten(g:totable())
  end

  local function close(a, n, o)
    return math.abs(a - n) <= o.atol + o.rtol * math.abs(n)
  end

  local function options(opts)
    opts = opts or {}
    return {eps = opts.eps or 1e-6, atol = opts.atol or 1e-5, rtol = opts.rtol or 1e-4,
            head = opts.head, raise = opts.raise}
  end

  -- The inputs as f will see them: each variable replaced by a variable
  -- leaf holding a copy of its values (perturbed in place by compare, so
  -- the caller's tensors, graphs and .grad are left alone), constants as
  -- they are; and the list of those leaves.
  local function leaves(inputs, fn)
    if is_tensor(inputs) then inputs = {inputs} end
    if type(inputs) ~= "table" then
      error(("%s: inputs must be a tensor or a list of tensors, got %s"):format(fn, type(inputs)), 3)
    end
    local xs, vars, at = {}, {}, {}
    for i, x in ipairs(inputs) do
      if not is_tensor(x) then
        error(("%s: input %d must be a tensor, got %s"):format(fn, i, type(x)), 3)
      end
      xs[i] = x.requires_grad and x:detach():clone():requires_grad_(true) or x
      if x.requires_grad then vars[#vars + 1], at[#at + 1] = xs[i], i end
    end
    return xs, vars, at
  end

  -- The gradients of `out` (a tensor) with respect to vars, by input
  -- position (nil where none).
  local function grads_of(out, vars, at, head, create)
    local res = {}
    if is_tensor(out) and out.requires_grad and #vars > 0 then
      local gs = raw_grad({out}, vars, head and {head} or nil, create, create)
      for k, i in ipairs(at) do res[i] = gs[k] end
    end
    return res
  end

  -- Central differences of scalar() for every element of every variable
  -- input, against analytic[i][k]; the values are perturbed in place
  -- through x.data (nothing recorded) and restored.
  local function compare(inputs, analytic, scalar, o, what)
    for i, x in ipairs(inputs) do
      if x.requires_grad then
        local data = x.data
        local orig = flatten(data:totable())
        for k, idx in ipairs(indices(x.shape)) do
          data[idx] = orig[k] + o.eps
          local fp = scalar()
          data[idx] = orig[k] - o.eps
          local fm = scalar()
          data[idx] = orig[k]
          local num = (fp - fm) / (2 * o.eps)
          local ana = analytic[i][k]
          if not close(ana, num, o) then
            return false, string.format("%s: input %d, element {%s}: analytic %.10g, numeric %.10g",
              what, i, table.concat(idx, ", "), ana, num)
          end
        end
      end
    end
    return true
  end

  local function verdict(ok, msg, o)
    if not ok and o.raise then error(msg, 3) end
    return ok, msg
  end

  --- mg.autograd.gradcheck(f, inputs, opts): compares the gradient of
  --- sum(f(inputs...) * head) (a fixed head; opts.head = "sum" for ones)
  --- with respect to each variable input against central finite
  --- differences. Use float64 inputs. opts: eps (1e-6), atol (1e-5), rtol
  --- (1e-4), head, raise (raise instead of returning false). Returns true,
  --- or false and a message naming the input, the element and both values.
  --- The inputs' .grad and graphs are left alone.
  function A.gradcheck(f, inputs, opts)
    check_fn(f, "gradcheck")
    local o = options(check_opts(opts, "gradcheck"))
    local xs, vars, at = leaves(inputs, "gradcheck")
    local y = call_recording(f, unpack(xs, 1, #xs))
    if not is_tensor(y) then error("gradcheck: f must return a tensor, got " .. type(y), 2) end
    local head = o.head ~= "sum" and fixed(y.shape, 1) or nil
    local g = grads_of(y, vars, at, head, false)
    local analytic = {}
    for i, x in ipairs(xs) do analytic[i] = values(g[i], x) end
    local function phi()
      return mg.no_grad(function()
        local out = f(unpack(xs, 1, #xs))
        return (head and (out * head):sum() or out:sum()):item()
      end)
    end
    local ok, msg = compare(xs, analytic, phi, o, "gradcheck")
    return verdict(ok, msg, o)
  end

  --- mg.autograd.gradgradcheck(f, inputs, opts): second order. With g the
  --- gradient of sum(f(inputs...) * v) recorded (create_graph), checks the
  --- gradient of sum_i sum(g_i * u_i) against finite differences of g
  --- (v, u fixed tensors). Same options and result as gradcheck.
  function A.gradgradcheck(f, inputs, opts)
    check_fn(f, "gradgradcheck")
    local o = options(check_opts(opts, "gradgradcheck"))
    local xs, vars, at = leaves(inputs, "gradgradcheck")
    local y0 = mg.no_grad(function() return f(unpack(xs, 1, #xs)) end)
    if not is_tensor(y0) then error("gradgradcheck: f must return a tensor, got " .. type(y0), 2) end
    local v = fixed(y0.shape, 2)
    local u = {}
    for i, x in ipairs(xs) do u[i] = fixed(x.shape, 10 + i) end
    local function first(create)
      local s = call_recording(function() return (f(unpack(xs, 1, #xs)) * v):sum() end)
      return grads_of(s, vars, at, nil, create)
    end
    local function second(g)
      return call_recording(function()
        local total = mg.tensor(0.0, {dtype = "float64", constant = true})
        for _, i in ipairs(at) do
          if g[i] then total = total + (g[i] * u[i]):sum() end
        end
        return total
      end)
    end
    local gg = grads_of(second(first(true)), vars, at, nil, false)
    local analytic = {}
    for i, x in ipairs(xs) do analytic[i] = values(gg[i], x) end
    local function psi() return second(first(false)):item() end
    local ok, msg = compare(xs, analytic, psi, o, "gradgradcheck")
    return verdict(ok, msg, o)
  end

  -- ---- grad mode, MXNet style ------------------------------------------------------
  local training = false

  --- mg.autograd.is_training(): true inside record (or after set_training(true)).
  function A.is_training() return training end
  --- mg.autograd.set_training(on): returns the previous mode.
  function A.set_training(on)
    local prev = training
    training = on and true or false
    return prev
  end
  --- mg.autograd.is_recording(): whether ops are recorded (grad mode; on by
  --- default in moongrad, unlike MXNet).
  function A.is_recording() return core.is_grad_enabled() end
  function A.set_recording(on) return core.set_grad_enabled(on) end

  local guard_mt = {
    __close = function(g)
      core.set_grad_enabled(g.rec)
      training = g.train
    end,
    __name = "moongrad.AutogradGuard",
  }

  -- Runs fn with recording `rec` and training `train` (nil: unchanged), or,
  -- without fn, returns a to-be-closed guard that restores both.
  local function with_modes(rec, train, fn, name)
    if fn ~= nil and not callable(fn) then
      error(("autograd.%s: expected a function to run (or nothing, for a <close> guard), got %s")
        :format(name, type(fn)), 3)
    end
    local g = setmetatable({rec = core.is_grad_enabled(), train = training}, guard_mt)
    if rec ~= nil then core.set_grad_enabled(rec) end
    if train ~= nil then training = train end
    if fn == nil then return g end
    local res = table.pack(pcall(fn))
    guard_mt.__close(g)
    if not res[1] then error(res[2], 0) end
    return unpack(res, 2, res.n)
  end

  --- mg.autograd.record(fn, train_mode): runs fn recording, in training mode
  --- (unless train_mode == false), and returns its results; without fn,
  --- `local g <close> = mg.autograd.record()` does so to the end of the scope.
  function A.record(fn, train_mode)
    if type(fn) == "boolean" then fn, train_mode = nil, fn end
    return with_modes(true, train_mode ~= false, fn, "record")
  end
  --- mg.autograd.pause(fn, train_mode): runs fn without recording, in
  --- predict mode unless train_mode is true.
  function A.pause(fn, train_mode)
    if type(fn) == "boolean" then fn, train_mode = nil, fn end
    return with_modes(false, train_mode == true, fn, "pause")
  end
  --- mg.autograd.train_mode(fn) / predict_mode(fn): training on or off, recording unchanged.
  function A.train_mode(fn) return with_modes(nil, true, fn, "train_mode") end
  function A.predict_mode(fn) return with_modes(nil, false, fn, "predict_mode") end

  A.no_grad = mg.no_grad
  A.enable_grad = mg.enable_grad
  A.set_grad_enabled = core.set_grad_enabled
  A.is_grad_enabled = core.is_grad_enabled
end
