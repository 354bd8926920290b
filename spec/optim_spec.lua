-- optim_spec.lua — mg.optim against PyTorch's update rules written out below
-- in plain Lua numbers: SGD (momentum, dampening, nesterov, weight_decay,
-- maximize), Adam and AdamW (weight_decay, amsgrad, betas, eps) and RMSprop
-- (alpha, momentum, centered, weight_decay), in float32 and float64, over a
-- few steps; that parameters stay the same leaf tensors (updated in place,
-- with the version counter bumped), that parameters without a gradient are
-- left alone; parameter groups, modules, lr changes, state_dict; the
-- learning-rate schedules' sequences; errors; and a small training loop per
-- optimizer whose loss goes down.
local mg = require("moongrad")
local H = require("helpers")
local flat, near, raises = H.flat, H.near, H.raises

-- PyTorch's update rules, element by element on Lua lists ---------------------------
-- p: the parameter's values (updated in place), g: its gradient, s: this
-- parameter's state (a table the function fills), o: the options.
local ref = {}

function ref.SGD(p, g, s, o)
  local mom, damp, wd = o.momentum or 0, o.dampening or 0, o.weight_decay or 0
  local first = s.momentum_buffer == nil
  if mom ~= 0 and first then s.momentum_buffer = {} end
  for i = 1, #p do
    local d = o.maximize and -g[i] or g[i]
    if wd ~= 0 then d = d + wd * p[i] end
    if mom ~= 0 then
      local b = first and d or mom * s.momentum_buffer[i] + (1 - damp) * d
      s.momentum_buffer[i] = b
      if o.nesterov then d = d + mom * b else d = b end
    end
    p[i] = p[i] - o.lr * d
  end
end

local function adam(p, g, s, o, decoupled)
  local lr = o.lr or 1e-3
  local b1, b2 = table.unpack(o.betas or {0.9, 0.999})
  local eps = o.eps or 1e-8
  local wd = o.weight_decay or (decoupled and 1e-2 or 0)
  if not s.step then
    s.step, s.exp_avg, s.exp_avg_sq, s.max_exp_avg_sq = 0, {}, {}, {}
    for i = 1, #p do s.exp_avg[i], s.exp_avg_sq[i], s.max_exp_avg_sq[i] = 0, 0, 0 end
  end
  s.step = s.step + 1
  local bc1, bc2 = 1 - b1 ^ s.step, 1 - b2 ^ s.step
  for i = 1, #p do
    if decoupled then p[i] = p[i] * (1 - lr * wd) end
    local gi = o.maximize and -g[i] or g[i]
    if not decoupled and wd ~= 0 then gi = gi + wd * p[i] end
    s.exp_avg[i] = b1 * s.exp_avg[i] + (1 - b1) * gi
    s.exp_avg_sq[i] = b2 * s.exp_avg_sq[i] + (1 - b2) * gi * gi
    local v = s.exp_avg_sq[i]
    if o.amsgrad then
      s.max_exp_avg_sq[i] = math.max(s.max_exp_avg_sq[i], v)
      v = s.max_exp_avg_sq[i]
    end
    local denom = math.sqrt(v) / math.sqrt(bc2) + eps
    p[i] = p[i] - lr / bc1 * s.exp_avg[i] / denom
  end
end
function ref.Adam(p, g, s, o) adam(p, g, s, o, false) end
function ref.AdamW(p, g, s, o) adam(p, g, s, o, true) end

function ref.RMSprop(p, g, s, o)
  local lr, alpha, eps = o.lr or 1e-2, o.alpha or 0.99, o.eps or 1e-8
  local wd, mom = o.weight_decay or 0, o.momentum or 0
  if not s.square_avg then
    s.square_avg, s.grad_avg, s.momentum_buffer = {}, {}, {}
    for i = 1, #p do s.square_avg[i], s.grad_avg[i], s.momentum_buffer[i] = 0, 0, 0 end
  end
  for i = 1, #p do
    local gi = o.maximize and -g[i] or g[i]
    if wd ~= 0 then gi = gi + wd * p[i] end
    s.square_avg[i] = alpha * s.square_avg[i] + (1 - alpha) * gi * gi
    local avg
    if o.centered then
      s.grad_avg[i] = alpha * s.grad_avg[i] + (1 - alpha) * gi
      avg = math.sqrt(s.square_avg[i] - s.grad_avg[i] ^ 2) + eps
    else
      avg = math.sqrt(s.square_avg[i]) + eps
    end
    if mom > 0 then
      s.momentum_buffer[i] = mom * s.momentum_buffer[i] + gi / avg
      p[i] = p[i] - lr * s.momentum_buffer[i]
    else
      p[i] = p[i] - lr * gi / avg
    end
  end
end

-- The problem: two parameters and loss = sum(0.75 w^2 + 0.5 w) + sum(0.5 b^2 - b),
-- so grad w = 1.5 w + 0.5 and grad b = b - 1.
local W0, B0 = {{0.5, -1.0}, {2.0, 0.25}}, {0.3, -0.2, 1.7}
local function loss_of(w, b)
  return (w * w * 0.75 + w * 0.5):sum() + (b * b * 0.5 - b):sum()
end
local function grads_of(pw, pb)
  local gw, gb = {}, {}
  for i, v in ipairs(pw) do gw[i] = 1.5 * v + 0.5 end
  for i, v in ipairs(pb) do gb[i] = v - 1 end
  return gw, gb
end

-- Runs `steps` steps of mg.optim[name] and of the reference, compares the
-- parameters after each step and the state tensors at the end.
local function compare(name, opts, dtype, steps)
  local tol = dtype == "float32" and 2e-5 or 1e-12
  local w = mg.tensor(W0, {dtype = dtype})
  local b = mg.tensor(B0, {dtype = dtype})
  local opt = mg.optim[name]({w, b}, opts)
  -- the reference starts from the values the tensors really hold
  local pw, pb = flat(w:totable()), flat(b:totable())
  local sw, sb = {}, {}
  for step = 1, steps do
    loss_of(w, b):backward()
    opt:step()
    local gw, gb = grads_of(pw, pb)
    ref[name](pw, gw, sw, opts)
    ref[name](pb, gb, sb, opts)
    near(pw, w, tol, name .. " step " .. step .. " w")
    near(pb, b, tol, name .. " step " .. step .. " b")
  end
  for _, key in ipairs({"momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq",
                        "square_avg", "grad_avg"}) do
    local t = opt.state[w][key]
    if t then
      assert.are.equal(dtype, t.dtype)
      assert.are.same({2, 2}, t.shape)
      assert.is_true(t.constant)
      near(sw[key], t, tol, key)
      near(sb[key], opt.state[b][key], tol, key)
    end
  end
  if sw.step then assert.are.equal(steps, opt.state[w].step) end
  return opt, w, b
end

local cases = {
  SGD = {
    {lr = 0.1},
    {lr = 0.1, momentum = 0.9},
    {lr = 0.1, momentum = 0.9, dampening = 0.5},
    {lr = 0.1, momentum = 0.9, nesterov = true},
    {lr = 0.05, momentum = 0.5, weight_decay = 0.1},
    {lr = 0.1, weight_decay = 0.2},
    {lr = 0.1, momentum = 0.3, maximize = true},
  },
  Adam = {
    {},
    {lr = 0.1},
    {lr = 0.1, weight_decay = 0.1},
    {lr = 0.1, amsgrad = true},
    {lr = 0.05, betas = {0.5, 0.9}, eps = 1e-3},
    {lr = 0.1, betas = {0, 0.5}, amsgrad = true, weight_decay = 0.3, maximize = true},
  },
  AdamW = {
    {},
    {lr = 0.1},
    {lr = 0.1, weight_decay = 0.5},
    {lr = 0.1, weight_decay = 0.5, amsgrad = true},
    {lr = 0.05, betas = {0.8, 0.95}, eps = 1e-4, weight_decay = 0},
  },
  RMSprop = {
    {},
    {lr = 0.05},
    {lr = 0.05, momentum = 0.9},
    {lr = 0.05, centered = true},
    {lr = 0.05, centered = true, momentum = 0.5, weight_decay = 0.1},
    {lr = 0.02, alpha = 0.5, eps = 1e-4, weight_decay = 0.2},
  },
}

local function describe_opts(o)
  local keys = {}
  for k in pairs(o) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = o[k]
    if type(v) == "table" then v = "{" .. table.concat(v, ", ") .. "}" end
    parts[#parts + 1] = k .. "=" .. tostring(v)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

for _, name in ipairs({"SGD", "Adam", "AdamW", "RMSprop"}) do
  describe("mg.optim." .. name .. " follows PyTorch's update rule", function()
    for _, o in ipairs(cases[name]) do
      for _, dtype in ipairs({"float32", "float64"}) do
        it(describe_opts(o) .. " in " .. dtype, function() compare(name, o, dtype, 4) end)
      end
    end
  end)
end

describe("long parameters (vector loops and their remainders)", function()
  for _, setup in ipairs({{"SGD", {lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.01}},
                          {"Adam", {lr = 0.1, amsgrad = true}},
                          {"AdamW", {lr = 0.1}},
                          {"RMSprop", {lr = 0.05, centered = true, momentum = 0.5}}}) do
    for _, dtype in ipairs({"float32", "float64"}) do
      it(setup[1] .. " over 37 elements in " .. dtype, function()
        local name, o = setup[1], setup[2]
        local values = {}
        for i = 1, 37 do values[i] = math.sin(i) * 2 end
        local p = mg.tensor(values, {dtype = dtype})
        local opt = mg.optim[name]({p}, o)
        local ref_p, s = flat(p:totable()), {}
        for _ = 1, 3 do
          (p * p * 0.75 + p * 0.5):sum():backward()
          opt:step()
          local g = {}
          for i, v in ipairs(ref_p) do g[i] = 1.5 * v + 0.5 end
          ref[name](ref_p, g, s, o)
          near(ref_p, p, dtype == "float32" and 2e-5 or 1e-12, name)
        end
      end)
    end
  end
end)

describe("optimizer steps", function()
  it("update the parameters in place: same objects, still leaves, memory shared", function()
    local w = mg.tensor({1.0, 2.0, 3.0})
    local view = w.data                 -- a constant sharing w's memory
    local opt = mg.optim.SGD({w}, {lr = 0.5})
    local before = w
    loss_of(mg.tensor({{0.0}}), w):backward()
    opt:step()
    assert.is_true(rawequal(before, w))
    assert.is_true(rawequal(opt.param_groups[1].params[1], w))
    assert.is_true(w.is_leaf)
    assert.is_nil(w.grad_fn)
    assert.is_false(w.constant)
    assert.are.equal("float32", w.dtype)
    near({1.0, 1.5, 2.0}, w, 1e-6)
    near({1.0, 1.5, 2.0}, view, 1e-6)   -- the same storage was written
  end)

  it("bump the version counter: a graph that saved the parameter refuses backward", function()
    local w = mg.tensor({1.0, 2.0})
    local opt = mg.optim.SGD({w}, {lr = 0.1})
    local y = (w * w):sum()
    y:backward(nil, {retain_graph = true})
    opt:step()
    raises(function() y:backward() end, "modified in place")
  end)

  it("leave parameters without a gradient alone, and keep no state for them", function()
    for _, name in ipairs({"SGD", "Adam", "AdamW", "RMSprop"}) do
      local w, unused = mg.tensor({1.0, 2.0}), mg.tensor({5.0, 6.0})
      local opt = mg.optim[name]({w, unused}, {lr = 0.1, momentum = name == "SGD" and 0.9 or nil})
      ;(w * w):sum():backward()
      assert.is_nil(unused.grad)
      opt:step()
      near({5.0, 6.0}, unused, 0)
      assert.is_nil(opt.state[unused])
      assert.is_not_nil(opt.state[w])
      assert.is_true(w:totable()[1] < 1.0)
    end
  end)

  it("a parameter that gets its gradient later starts its state then", function()
    local a, b = mg.tensor({1.0}), mg.tensor({1.0})
    local opt = mg.optim.Adam({a, b}, {lr = 0.1})
    ;(a * 2):sum():backward()
    opt:step()
    ;((a + b) * 2):sum():backward()
    opt:step()
    assert.are.equal(2, opt.state[a].step)
    assert.are.equal(1, opt.state[b].step)
    -- Adam's first step moves by lr whatever the gradient's size
    near({0.9}, b, 1e-6)
  end)

  it("zero_grad sets every .grad to nil", function()
    local w, b = mg.tensor({1.0, 2.0}), mg.tensor(0.5)
    local opt = mg.optim.SGD({w, b}, {lr = 0.1})
    ;(w * b):sum():backward()
    assert.is_not_nil(w.grad)
    opt:zero_grad()
    assert.is_nil(w.grad)
    assert.is_nil(b.grad)
    opt:step() -- nothing to do
    near({1.0, 2.0}, w, 0)
  end)

  it("update a non-contiguous parameter (a transposed view) through its own memory", function()
    local base = mg.tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}, {dtype = "float64", constant = true})
    local wt = base.T:requires_grad_(true) -- shape {3, 2}, strides of the transpose
    local opt = mg.optim.SGD({wt}, {lr = 0.5, momentum = 0.9})
    local target = mg.tensor({{1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}}, {dtype = "float64", constant = true})
    for _ = 1, 2 do
      (wt * target):sum():backward()
      opt:step()
    end
    -- grad = target each step; buffer: target, then 1.9 target; total 2.9 * 0.5 * target
    near({{1 - 1.45, 4}, {2, 5 - 1.45}, {3 - 1.45, 6 - 1.45}}, wt, 1e-12)
    near({{1 - 1.45, 2, 3 - 1.45}, {4, 5 - 1.45, 6 - 1.45}}, base, 1e-12)
  end)

  it("float32 and float64 parameters in one optimizer", function()
    local a = mg.tensor({1.0, -1.0}, {dtype = "float32"})
    local b = mg.tensor({1.0, -1.0}, {dtype = "float64"})
    local opt = mg.optim.RMSprop({a, b}, {lr = 0.01})
    ;(a * a):sum():backward()
    ;(b * b):sum():backward()
    opt:step()
    assert.are.equal("float32", opt.state[a].square_avg.dtype)
    assert.are.equal("float64", opt.state[b].square_avg.dtype)
    -- first RMSprop step: lr * g / sqrt(0.01 g^2) = 10 lr
    near({0.9, -0.9}, a, 1e-5)
    near({0.9, -0.9}, b, 1e-6)
  end)

  it("step(closure) evaluates the closure and returns its loss", function()
    local w = mg.tensor({3.0})
    local opt = mg.optim.SGD({w}, {lr = 0.25})
    local loss = opt:step(function()
      opt:zero_grad()
      local l = (w * w):sum()
      l:backward()
      return l
    end)
    near({9.0}, loss, 1e-6)
    near({1.5}, w, 1e-6)
  end)

  it("reads its gradient after backward with create_graph", function()
    local w = mg.tensor({2.0}, {dtype = "float64"})
    local opt = mg.optim.SGD({w}, {lr = 0.1})
    ;(w * w * w):sum():backward(nil, {create_graph = true})
    opt:step()
    near({2.0 - 0.1 * 12}, w, 1e-12)
    assert.is_true(w.is_leaf)
    w:null_grad() -- w.grad's graph holds w: break the cycle
  end)
end)

describe("optimizer options", function()
  it("opt.lr reads and writes the learning rate of every group", function()
    local w = mg.tensor({1.0})
    local opt = mg.optim.SGD({w}, {lr = 0.1, momentum = 0.5})
    assert.are.equal(0.1, opt.lr)
    assert.are.equal(0.5, opt.momentum)
    opt.lr = 0.5
    assert.are.equal(0.5, opt.param_groups[1].lr)
    ;(w * 2):sum():backward()
    opt:step()
    near({0.0}, w, 1e-6)
    opt.momentum = 0
    assert.are.equal(0, opt.param_groups[1].momentum)
  end)

  it("defaults are PyTorch's", function()
    local w = mg.tensor({1.0})
    local adam = mg.optim.Adam({w})
    assert.are.equal(1e-3, adam.lr)
    assert.are.same({0.9, 0.999}, adam.betas)
    assert.are.equal(1e-8, adam.eps)
    assert.are.equal(0, adam.weight_decay)
    assert.is_false(adam.amsgrad)
    assert.are.equal(1e-2, mg.optim.AdamW({w}).weight_decay)
    local rms = mg.optim.RMSprop({w})
    assert.are.equal(1e-2, rms.lr)
    assert.are.equal(0.99, rms.alpha)
    assert.is_false(rms.centered)
    local sgd = mg.optim.SGD({w}, {lr = 1})
    assert.are.equal(0, sgd.momentum)
    assert.is_false(sgd.nesterov)
  end)

  it("parameter groups with their own options", function()
    local a, b = mg.tensor({1.0}), mg.tensor({1.0})
    local opt = mg.optim.SGD({{params = {a}}, {params = {b}, lr = 0.5}}, {lr = 0.1})
    assert.are.equal(2, #opt.param_groups)
    ;(a * 1 + b * 1):sum():backward()
    opt:step()
    near({0.9}, a, 1e-6)
    near({0.5}, b, 1e-6)
    opt:add_param_group({params = {mg.tensor({3.0})}, momentum = 0.9})
    assert.are.equal(0.1, opt.param_groups[3].lr)
    assert.are.equal(0.9, opt.param_groups[3].momentum)
  end)

  it("a module (anything with a parameters method) gives its parameters", function()
    local w, b = mg.tensor({1.0, 2.0}), mg.tensor(0.0)
    local module = {parameters = function(self) return {w, b} end}
    local opt = mg.optim.Adam(module, {lr = 0.1})
    assert.are.equal(2, #opt.param_groups[1].params)
    assert.is_true(rawequal(w, opt.param_groups[1].params[1]))
  end)

  it("tostring lists the options", function()
    local s = tostring(mg.optim.SGD({mg.tensor({1.0})}, {lr = 0.1, momentum = 0.9}))
    assert.truthy(s:find("SGD", 1, true))
    assert.truthy(s:find("momentum: 0.9", 1, true))
  end)

  it("state_dict and load_state_dict carry the state over", function()
    local function run(opt, w, n)
      for _ = 1, n do
        opt:zero_grad()
        loss_of(mg.tensor({{0.0}}), w):backward()
        opt:step()
      end
    end
    local w1 = mg.tensor(B0, {dtype = "float64"})
    local o1 = mg.optim.Adam({w1}, {lr = 0.1, amsgrad = true})
    run(o1, w1, 3)
    local w2 = mg.tensor(w1:totable(), {dtype = "float64"})
    local o2 = mg.optim.Adam({w2}, {lr = 0.5})
    o2:load_state_dict(o1:state_dict())
    assert.are.equal(0.1, o2.lr)
    assert.is_true(o2.amsgrad)
    assert.are.equal(3, o2.state[w2].step)
    assert.is_false(rawequal(o1.state[w1].exp_avg, o2.state[w2].exp_avg)) -- copied
    run(o1, w1, 2)
    run(o2, w2, 2)
    near(w1:totable(), w2, 1e-15)
  end)
end)

describe("learning-rate schedules", function()
  local function sgd(lr) return mg.optim.SGD({mg.tensor({1.0})}, {lr = lr}) end
  -- the lr at epochs 0..n (construction is epoch 0)
  local function lrs(sched, opt, n)
    local out = {opt.lr}
    for _ = 1, n do
      sched:step()
      out[#out + 1] = opt.lr
    end
    return out
  end

  it("StepLR: lr * gamma^floor(epoch / step_size)", function()
    local opt = sgd(1.0)
    local s = mg.optim.StepLR(opt, {step_size = 3, gamma = 0.5})
    near({1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125}, lrs(s, opt, 9), 1e-15)
    assert.are.equal(0.125, s:get_lr())
    assert.are.same({0.125}, s:get_last_lr())
    assert.are.equal(9, s.last_epoch)
  end)

  it("StepLR's default gamma is 0.1", function()
    local opt = sgd(0.1)
    local s = mg.optim.StepLR(opt, {step_size = 2})
    near({0.1, 0.1, 0.01, 0.01, 0.001}, lrs(s, opt, 4), 1e-15)
  end)

  it("CosineAnnealingLR: eta_min + (lr - eta_min) (1 + cos(pi epoch / T_max)) / 2", function()
    local opt = sgd(0.1)
    local s = mg.optim.CosineAnnealingLR(opt, {T_max = 4, eta_min = 0.02})
    local c = math.sqrt(0.5)
    local expected = {0.1, 0.02 + 0.08 * (1 + c) / 2, 0.06, 0.02 + 0.08 * (1 - c) / 2, 0.02,
                      0.02 + 0.08 * (1 - c) / 2, 0.06} -- past T_max it rises again
    near(expected, lrs(s, opt, 6), 1e-14)
    local opt2 = sgd(1.0)
    local s2 = mg.optim.CosineAnnealingLR(opt2, {T_max = 2})
    near({1.0, 0.5, 0.0}, lrs(s2, opt2, 2), 1e-15)
  end)

  it("MultiStepLR, ExponentialLR and LinearLR (warm-up)", function()
    local opt = sgd(1.0)
    near({1, 1, 0.1, 0.1, 0.1, 0.01, 0.01},
         lrs(mg.optim.MultiStepLR(opt, {milestones = {2, 5}}), opt, 6), 1e-15)
    opt = sgd(2.0)
    near({2, 1, 0.5, 0.25}, lrs(mg.optim.ExponentialLR(opt, {gamma = 0.5}), opt, 3), 1e-15)
    opt = sgd(0.1)
    near({0.025, 0.05, 0.075, 0.1, 0.1},
         lrs(mg.optim.LinearLR(opt, {start_factor = 0.25, total_iters = 3}), opt, 4), 1e-15)
    opt = sgd(0.3)
    near({0.1, 0.14, 0.18, 0.22, 0.26, 0.3, 0.3},
         lrs(mg.optim.LinearWarmup(opt), opt, 6), 1e-12)
  end)

  it("every group follows its own base lr; step(epoch) jumps", function()
    local opt = mg.optim.SGD({{params = {mg.tensor({1.0})}, lr = 1.0},
                              {params = {mg.tensor({1.0})}, lr = 0.5}}, {lr = 0.1})
    local s = mg.optim.StepLR(opt, {step_size = 1, gamma = 0.5})
    s:step()
    local a, b = s:get_lr()
    assert.are.equal(0.5, a)
    assert.are.equal(0.25, b)
    assert.are.same({0.5, 0.25}, s:get_last_lr())
    s:step(3)
    assert.are.equal(0.125, opt.param_groups[1].lr)
    assert.are.equal(0.0625, opt.param_groups[2].lr)
  end)

  it("schedules check their arguments", function()
    local opt = sgd(0.1)
    raises(function() mg.optim.StepLR(opt, {}) end, "StepLR", "step_size", "required")
    raises(function() mg.optim.StepLR(opt, {step_size = 0}) end, "StepLR", "step_size")
    raises(function() mg.optim.StepLR(opt, {step_size = 1.5}) end, "StepLR", "integer")
    raises(function() mg.optim.StepLR({}, {step_size = 1}) end, "StepLR", "optimizer")
    raises(function() mg.optim.CosineAnnealingLR(opt, {T_max = 0}) end, "CosineAnnealingLR",
           "T_max")
    raises(function() mg.optim.CosineAnnealingLR(opt, {T_max = 5, Tmax = 3}) end,
           "CosineAnnealingLR", "unknown option 'Tmax'")
    raises(function() mg.optim.LinearLR(opt, {start_factor = 0}) end, "LinearLR",
           "start_factor")
    raises(function() mg.optim.StepLR(sgd(0.1), {step_size = 1, last_epoch = 3}) end,
           "StepLR", "initial_lr")
  end)
end)

describe("optimizer errors", function()
  local w = mg.tensor({1.0, 2.0})

  it("a negative learning rate", function()
    raises(function() mg.optim.SGD({w}, {lr = -0.1}) end, "SGD", "learning rate", "-0.1")
    raises(function() mg.optim.Adam({w}, {lr = -1}) end, "Adam", "learning rate")
    raises(function() mg.optim.AdamW({w}, {lr = -1}) end, "AdamW", "learning rate")
    raises(function() mg.optim.RMSprop({w}, {lr = -1}) end, "RMSprop", "learning rate")
    local opt = mg.optim.SGD({w}, {lr = 0.1})
    raises(function() opt.lr = -2 end, "SGD", "learning rate")
    assert.are.equal(0.1, opt.lr) -- unchanged
    raises(function() opt.lr = "fast" end, "SGD", "'lr' must be a number")
  end)

  it("SGD needs lr", function()
    raises(function() mg.optim.SGD({w}) end, "SGD", "'lr' is required")
    raises(function() mg.optim.SGD({w}, {}) end, "SGD", "'lr' is required")
  end)

  it("a non-tensor, a constant or a non-leaf in params names its index", function()
    raises(function() mg.optim.SGD({w, 3}, {lr = 0.1}) end, "SGD", "params[2]", "number")
    raises(function() mg.optim.Adam({w, {1, 2}}) end, "Adam", "params[2]", "table")
    local c = mg.tensor({1.0}, {constant = true})
    raises(function() mg.optim.Adam({w, w * 1, c}) end, "Adam", "params[2]", "not a leaf",
           "MulBackward")
    raises(function() mg.optim.RMSprop({c}) end, "RMSprop", "params[1]", "constant")
    raises(function() mg.optim.SGD({w, w}, {lr = 1}) end, "SGD", "params[2]", "params[1]")
    raises(function() mg.optim.SGD({{params = {w, "x"}}}, {lr = 1}) end,
           "param_groups[1].params[2]", "string")
  end)

  it("params must be a non-empty list (or a module)", function()
    raises(function() mg.optim.SGD({}, {lr = 0.1}) end, "SGD", "empty")
    raises(function() mg.optim.Adam(w) end, "Adam", "single tensor")
    raises(function() mg.optim.Adam(42) end, "Adam", "list")
  end)

  it("betas out of [0, 1)", function()
    raises(function() mg.optim.Adam({w}, {betas = {1.0, 0.999}}) end, "Adam", "beta1", "[0, 1)")
    raises(function() mg.optim.Adam({w}, {betas = {0.9, 1.5}}) end, "Adam", "beta2")
    raises(function() mg.optim.AdamW({w}, {betas = {-0.1, 0.9}}) end, "AdamW", "beta1")
    raises(function() mg.optim.Adam({w}, {betas = 0.9}) end, "Adam", "betas")
    raises(function() mg.optim.Adam({w}, {betas = {0.9}}) end, "Adam", "betas")
  end)

  it("other bad hyper-parameters", function()
    raises(function() mg.optim.SGD({w}, {lr = 0.1, momentum = -1}) end, "SGD", "momentum")
    raises(function() mg.optim.SGD({w}, {lr = 0.1, nesterov = true}) end, "SGD", "nesterov")
    raises(function() mg.optim.SGD({w}, {lr = 0.1, momentum = 0.9, nesterov = true,
                                          dampening = 0.1}) end, "SGD", "dampening")
    raises(function() mg.optim.SGD({w}, {lr = 0.1, weight_decay = -1}) end, "weight_decay")
    raises(function() mg.optim.Adam({w}, {eps = -1}) end, "Adam", "eps")
    raises(function() mg.optim.RMSprop({w}, {alpha = -0.5}) end, "RMSprop", "alpha")
    raises(function() mg.optim.RMSprop({w}, {momentum = -0.5}) end, "RMSprop", "momentum")
    raises(function() mg.optim.Adam({w}, {learning_rate = 0.1}) end, "Adam",
           "unknown option 'learning_rate'")
    raises(function() mg.optim.Adam({w}, 0.1) end, "Adam", "options must be a table")
  end)

  it("a state tensor replaced by one of the wrong shape", function()
    local p = mg.tensor({1.0, 2.0})
    local opt = mg.optim.Adam({p})
    ;(p * p):sum():backward()
    opt:step()
    opt.state[p].exp_avg = mg.zeros(3)
    ;(p * p):sum():backward()
    raises(function() opt:step() end, "Adam", "exp_avg", "{3}", "{2}")
    opt.state[p].exp_avg = opt.state[p].exp_avg_sq
    raises(function() opt:step() end, "Adam", "share memory")
    opt.state[p].exp_avg = p.grad
    raises(function() opt:step() end, "Adam", "share memory")
    opt.state[p].exp_avg = "zeros"
    raises(function() opt:step() end, "Adam", "exp_avg", "must be a tensor")
    near({1.0 - 0.001, 2.0 - 0.001}, p, 1e-6) -- nothing changed after the first step
  end)
end)

describe("a training loop", function()
  -- y = 2 x1 - 3 x2 + 0.5 plus nothing: a linear model can fit it exactly
  local function data()
    mg.random.seed(7)
    local x = mg.random.randn({64, 2}, {constant = true})
    local y = mg.matmul(x, mg.tensor({2.0, -3.0}, {constant = true})) + 0.5
    return x, y
  end

  local setups = {
    {"SGD", {lr = 0.1}},
    {"SGD", {lr = 0.05, momentum = 0.9, nesterov = true}},
    {"Adam", {lr = 0.1}},
    {"AdamW", {lr = 0.1, amsgrad = true}},
    {"RMSprop", {lr = 0.05}},
    {"RMSprop", {lr = 0.01, momentum = 0.9, centered = true}},
  }
  for _, setup in ipairs(setups) do
    local name, opts = setup[1], setup[2]
    it("fits a linear regression with " .. name .. " " .. describe_opts(opts), function()
      local x, y = data()
      local w, b = mg.zeros(2), mg.zeros(1)
      assert.is_false(w.constant)
      local opt = mg.optim[name]({w, b}, opts)
      local sched = mg.optim.StepLR(opt, {step_size = 50, gamma = 0.5})
      local first, last
      for epoch = 1, 150 do
        opt:zero_grad()
        local loss = ((mg.matmul(x, w) + b - y) ^ 2):mean()
        loss:backward()
        opt:step()
        sched:step()
        if epoch == 1 then first = loss:item() end
        last = loss:item()
      end
      assert.is_true(last < first * 0.05, string.format("loss %g -> %g", first, last))
      assert.is_true(w.is_leaf)
    end)
  end
end)
