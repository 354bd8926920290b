-- cnn_paths_spec.lua — the fast paths behind the demo CNN give the same
-- results as plain reference loops written here in Lua:
--   max_pool: the one-pass 2 x 2 / stride 2 search (values, places of the
--     maxima, NaN and ties) and the general search (padding, overlapping
--     windows, other strides), float32 and float64, non-contiguous inputs;
--   conv: im2col / col2im with short and long output rows, padding on every
--     side, stride, dilation and groups, samples batched into one GEMM or
--     one at a time, with and without bias;
--   outputs that come uninitialised from the allocator (conv's y and input
--     gradient, max_pool's values and its scattered gradient, matmul's
--     product) are written everywhere: recycled memory full of NaN does not
--     leak into them.
local mg = require("moongrad")
local gc = require("gradcheck")
local nn = mg.nnet
local H = require("helpers")
local flat = H.flat

local function same_values(expected, actual, tol, what)
  local e, a = flat(expected), flat(actual)
  assert.are.equal(#e, #a, (what or "") .. ": number of elements")
  for i = 1, #e do
    local x, y = e[i], a[i]
    local ok = (x ~= x and y ~= y) or x == y or math.abs(x - y) <= (tol or 0) * (1 + math.abs(x))
    if not ok then
      error(string.format("%s: element %d: expected %.10g, got %.10g", what or "", i, x, y), 2)
    end
  end
end

local function check(f, inputs, opts)
  local ok, msg = gc.gradcheck(f, inputs, opts)
  assert(ok, msg)
end
local function check2(f, inputs, opts)
  local ok, msg = gc.gradgradcheck(f, inputs, opts)
  assert(ok, msg)
end

-- Leaves blocks of NaN of the size of `numel` values of dtype in the
-- allocator's cache (freed, not returned to the system), so the next tensors
-- of that size start out as NaN (int64: the bits of a float64 NaN).
local function poison(numel, dtype)
  dtype = dtype == "float32" and "float32" or "float64" -- int64: the same bytes
  collectgarbage() -- other garbage first: the blocks freed last are taken first
  collectgarbage()
  local keep = {}
  for i = 1, 4 do keep[i] = mg.full({numel}, 0 / 0, {dtype = dtype}) end
  keep = nil -- luacheck: ignore
  collectgarbage()
  collectgarbage()
end

-- ---- max_pool reference -----------------------------------------------------------
-- Max pooling of the last two axes of a {P, H, W} list of values (flat,
-- row-major): returns the maxima and, per input place, how many windows
-- picked it (the gradient of the sum).  First maximum of a window in
-- row-major order; NaN wins (the first NaN).
local function naive_max_pool(x, P, H, W, k, s, pad)
  local OH = (H + 2 * pad[1] - k[1]) // s[1] + 1
  local OW = (W + 2 * pad[2] - k[2]) // s[2] + 1
  local y, grad = {}, {}
  for i = 1, P * H * W do grad[i] = 0 end
  for p = 0, P - 1 do
    for oh = 0, OH - 1 do
      for ow = 0, OW - 1 do
        local best, at
        for a = 0, k[1] - 1 do
          for b = 0, k[2] - 1 do
            local ih, iw = oh * s[1] - pad[1] + a, ow * s[2] - pad[2] + b
            if ih >= 0 and ih < H and iw >= 0 and iw < W then
              local i = (p * H + ih) * W + iw + 1
              local v = x[i]
              if at == nil or v > best or (v ~= v and best == best) then best, at = v, i end
            end
          end
        end
        y[#y + 1] = best
        grad[at] = grad[at] + 1
      end
    end
  end
  return y, grad, OH, OW
end

-- Values with ties, NaN, -inf and inf in the mix (about 1 in 8 each).
local function tricky(n, seed)
  local v, r = {}, seed
  for i = 1, n do
    r = (r * 1103515245 + 12345) % 2147483648
    local m = (r // 65536) % 16 -- the high bits (the low ones of an LCG repeat quickly)
    if m == 0 then v[i] = 0 / 0
    elseif m == 1 then v[i] = -math.huge
    elseif m == 2 then v[i] = math.huge
    elseif m < 6 then v[i] = 1.5 -- ties
    else v[i] = (r // 1024 % 1000) / 100 - 5 end
  end
  return v
end

local function pool_case(shape, dtype, k, s, pad, seed)
  local P, H, W = 1, shape[#shape - 1], shape[#shape]
  for i = 1, #shape - 2 do P = P * shape[i] end
  local vals = tricky(P * H * W, seed)
  local x = mg.tensor(mg.tensor(vals, {dtype = dtype, constant = true}):reshape(shape))
  local xv = flat(x:totable()) -- rounded to the dtype
  local y = nn.max_pool(x, k, s, {padding = pad})
  local ry, rg, OH, OW = naive_max_pool(xv, P, H, W, k, s, pad)
  assert.are.equal(OH, y.shape[#shape - 1])
  assert.are.equal(OW, y.shape[#shape])
  same_values(ry, y:totable(), 0, "values")
  y:sum():backward()
  same_values(rg, x.grad:totable(), 0, "gradient")
end

describe("max_pool fast path (2 x 2, stride 2)", function()
  it("matches the reference on odd and even sizes, float32 and float64, NaN and ties", function()
    local seed = 1
    for _, dtype in ipairs({"float32", "float64"}) do
      for _, shape in ipairs({{1, 1, 2, 2}, {2, 3, 7, 9}, {1, 2, 8, 8}, {3, 5, 3}, {2, 1, 26, 26},
                              {1, 1, 11, 11}, {1, 2, 2, 17}}) do
        seed = seed + 1
        pool_case(shape, dtype, {2, 2}, {2, 2}, {0, 0}, seed)
      end
    end
  end)

  it("reads non-contiguous inputs", function()
    local base = mg.random.randn({7, 6, 3, 2})
    local xt = base:permute(4, 3, 2, 1) -- {2, 3, 6, 7}, not contiguous
    same_values(nn.max_pool(xt:clone(), 2):totable(), nn.max_pool(xt, 2):totable(), 0, "values")
    local x64 = mg.random.randn({9, 4, 5}, {dtype = "float64"})[{{}, {}, {1, 5, 2}}] -- strided
    same_values(nn.max_pool(x64:clone(), 2):totable(), nn.max_pool(x64, 2):totable(), 0, "strided")
  end)

  it("a 3-d window {1, 2, 2} pools each slice as the 2-d pool does", function()
    local x = mg.random.randn({2, 3, 4, 6, 5}, {dtype = "float64"})
    local y3 = nn.max_pool(x, {1, 2, 2})
    local y2 = nn.max_pool(x:reshape(2, 12, 6, 5), 2):reshape(2, 3, 4, 3, 2)
    same_values(y2:totable(), y3:totable(), 0, "3-d")
    -- stride 2 along the first axis too
    local y3s = nn.max_pool(x, {1, 2, 2}, {2, 2, 2})
    same_values(y2[{{}, {}, {1, 4, 2}}]:totable(), y3s:totable(), 0, "3-d strided")
  end)

  it("gradcheck and gradgradcheck (float64)", function()
    local x = mg.random.randn({2, 2, 5, 6}, {dtype = "float64"})
    check(function(x_) return nn.max_pool(x_, 2) end, {x})
    check2(function(x_) return nn.max_pool(x_, 2) ^ 2 end, {x})
  end)

  it("values and gradient are written everywhere over recycled memory", function()
    local x = mg.random.randn({4, 8, 26, 26}):requires_grad_(true)
    local ref = nn.max_pool(x:clone():detach(), 2):totable()
    poison(4 * 8 * 13 * 13, "float32")
    local y = nn.max_pool(x, 2)
    same_values(ref, y:totable(), 0, "values")
    poison(4 * 8 * 26 * 26, "float32")
    y:sum():backward()
    local g = flat(x.grad:totable())
    local ones = 0
    for _, v in ipairs(g) do
      assert(v == 0 or v == 1, "gradient entry " .. tostring(v))
      if v == 1 then ones = ones + 1 end
    end
    assert.are.equal(4 * 8 * 13 * 13, ones)
  end)
end)

describe("max_pool general path", function()
  it("matches the reference with padding, overlapping windows and other strides", function()
    local seed = 100
    local cases = {
      {shape = {2, 3, 7, 9}, k = {3, 3}, s = {2, 2}, pad = {1, 1}},
      {shape = {1, 2, 6, 5}, k = {2, 2}, s = {1, 1}, pad = {0, 0}},
      {shape = {1, 2, 6, 5}, k = {2, 2}, s = {2, 2}, pad = {1, 1}},
      {shape = {2, 1, 9, 10}, k = {3, 2}, s = {3, 2}, pad = {1, 0}},
      {shape = {1, 1, 5, 13}, k = {1, 3}, s = {1, 3}, pad = {0, 1}},
      {shape = {1, 3, 8, 8}, k = {4, 4}, s = {3, 2}, pad = {2, 2}},
    }
    for _, dtype in ipairs({"float32", "float64"}) do
      for _, c in ipairs(cases) do
        seed = seed + 1
        pool_case(c.shape, dtype, c.k, c.s, c.pad, seed)
      end
    end
  end)
end)

-- ---- conv reference: H.naive_conv2d ---------------------------------------------------
local function conv_case(c, dtype, with_bias)
  local o = {stride = c.stride or {1, 1}, padding = c.padding or {0, 0},
             dilation = c.dilation or {1, 1}, groups = c.groups or 1}
  local x = mg.random.randn(c.x, {dtype = dtype, constant = true})
  local w = mg.random.randn(c.w, {dtype = dtype, constant = true})
  local b = with_bias and mg.random.randn({c.w[1]}, {dtype = dtype, constant = true}) or nil
  o.bias = b and flat(b:totable())
  local ref, shape = H.naive_conv2d(flat(x:totable()), c.x, flat(w:totable()), c.w, o)
  o.bias = nil
  local y = b and nn.conv2d(x, w, b, o) or nn.conv2d(x, w, o)
  assert.are.same(shape, y.shape)
  same_values(ref, y:totable(), dtype == "float32" and 1e-4 or 1e-11, "conv")
end

describe("conv im2col / col2im paths", function()
  -- output widths 1 .. 40 cover the copies of 4, 8-12, 16-32, 36-64 and more bytes
  local cases = {
    {x = {3, 2, 5, 3}, w = {3, 2, 3, 3}},                                 -- rows of 1
    {x = {5, 3, 6, 6}, w = {4, 3, 3, 3}},                                 -- 4: many samples, one GEMM
    {x = {2, 2, 7, 13}, w = {3, 2, 3, 3}, padding = {1, 1}},              -- 13, padding both sides
    {x = {2, 4, 9, 19}, w = {4, 2, 2, 3}, padding = {2, 1}, groups = 2},  -- 21
    {x = {2, 1, 3, 40}, w = {2, 1, 2, 5}, padding = {0, 2}},              -- 40
    {x = {1, 2, 41, 41}, w = {2, 2, 3, 3}, padding = {1, 1}},             -- one sample a GEMM
    {x = {3, 1, 19, 18}, w = {2, 1, 3, 3}},                               -- 272: 3 samples a GEMM
    {x = {2, 2, 9, 11}, w = {3, 2, 3, 3}, stride = {2, 3}, padding = {1, 2}},
    {x = {2, 2, 9, 11}, w = {3, 2, 2, 3}, dilation = {2, 3}, padding = {1, 3}},
    {x = {3, 4, 4, 4}, w = {6, 4, 1, 1}},                                 -- 1x1: no im2col
    {x = {2, 2, 3, 3}, w = {2, 2, 3, 3}, padding = {2, 2}, stride = {4, 4}}, -- taps in padding only
  }

  it("forward matches a naive convolution (float32 and float64, with and without bias)", function()
    for _, dtype in ipairs({"float32", "float64"}) do
      for _, c in ipairs(cases) do
        conv_case(c, dtype, true)
        conv_case(c, dtype, false)
      end
    end
  end)

  it("gradients of x, w and b (float64 gradcheck) on the same paths", function()
    for i, c in ipairs(cases) do
      if i ~= 6 then -- the 41 x 41 case is slow for finite differences
        local o = {stride = c.stride, padding = c.padding, dilation = c.dilation, groups = c.groups}
        local x = mg.random.randn(c.x, {dtype = "float64"})
        local w = mg.random.randn(c.w, {dtype = "float64"})
        local b = mg.random.randn({c.w[1]}, {dtype = "float64"})
        check(function(x_, w_, b_) return nn.conv2d(x_, w_, b_, o) end, {x, w, b})
      end
    end
  end)

  it("second order through the batched path", function()
    local x, w = mg.random.randn({3, 2, 5, 4}, {dtype = "float64"}), mg.random.randn({2, 2, 3, 3}, {dtype = "float64"})
    check2(function(x_, w_) return nn.conv2d(x_, w_, {padding = 1}) end, {x, w})
  end)

  it("y and the input gradient are written everywhere over recycled memory", function()
    for _, c in ipairs({{x = {8, 3, 13, 13}, w = {5, 3, 3, 3}, bias = true},
                        {x = {8, 3, 13, 13}, w = {5, 3, 3, 3}, bias = false},
                        {x = {2, 2, 40, 40}, w = {3, 2, 3, 3}, bias = false},
                        {x = {2, 2, 40, 40}, w = {3, 2, 3, 3}, bias = true}}) do
      local x = mg.random.randn(c.x):requires_grad_(true)
      local w = mg.random.randn(c.w)
      local b = c.bias and mg.random.randn({c.w[1]}) or nil
      local function run() return b and nn.conv2d(x, w, b) or nn.conv2d(x, w) end
      local ref = run()
      ref:sum():backward()
      local gref = x.grad:totable()
      x:null_grad()
      poison(ref.size, ref.dtype)
      local y = run()
      same_values(ref:totable(), y:totable(), 0, "y")
      poison(x.size, x.dtype)
      y:sum():backward()
      same_values(gref, x.grad:totable(), 0, "gx")
      x:null_grad()
    end
  end)
end)

describe("matmul without a zero fill", function()
  it("writes every entry of its result over recycled memory", function()
    local cases = { -- results of 64 KiB and more (blocks the allocator keeps)
      {mg.random.randn({128, 48}), mg.random.randn({48, 160})},
      {mg.random.randn({3, 64, 7}, {dtype = "float64"}), mg.random.randn({7, 64}, {dtype = "float64"})},
      {mg.random.randn({30, 160}).T, mg.random.randn({30, 120})},                -- a transposed operand
      {mg.arange(0, 3000):reshape(100, 30), mg.arange(0, 3000):reshape(30, 100)}, -- int64
      {mg.zeros({200, 0}), mg.zeros({0, 100})},                                   -- k = 0: zeros
    }
    for i, c in ipairs(cases) do
      local ref = mg.matmul(c[1], c[2])
      poison(ref.size, ref.dtype)
      local r = mg.matmul(c[1], c[2])
      same_values(ref:totable(), r:totable(), 0, "case " .. i)
    end
  end)
end)
