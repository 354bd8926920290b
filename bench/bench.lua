-- bench.lua — the moongrad side of the benchmark suite: runs ONE workload
-- and prints its figures as "key value" lines (bench/bench.py is the
-- PyTorch twin, with the same workloads and keys; bench/run.lua alternates
-- the two and makes the table).
--   lua5.4 bench/bench.lua WORKLOAD [scale]
-- WORKLOAD: tutorial, tiny, elementwise, sgemm, conv, mlp, mlp_rss, cnn.  `scale`
-- (default 1) multiplies the repetitions inside the process; the mlp and
-- cnn workloads take it as the fraction of the epoch to run (for quick
-- checks).  Threads: MOONGRAD_NUM_THREADS (else OMP_NUM_THREADS), set by the
-- caller, with OPENBLAS_NUM_THREADS=1 (moongrad splits products itself).
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "lua/?.so;" .. package.cpath
local mg = require("moongrad")
local nnet = mg.nnet

local clock
do -- a monotonic wall clock: lua-system (a dependency of busted), else luasocket
  local ok, sys = pcall(require, "system")
  if ok and sys.monotime then clock = sys.monotime end
  if not clock then
    local ok2, socket = pcall(require, "socket")
    if ok2 and socket.gettime then clock = socket.gettime end
  end
  clock = clock or os.clock
end

local workload = arg[1]
local scale = tonumber(arg[2]) or 1

local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end

-- median seconds of one call of fn over `reps` timed calls (after `warm`)
local function timed(fn, reps, warm)
  for _ = 1, warm or 2 do fn() end
  local ts = {}
  for i = 1, reps do
    local t0 = clock()
    fn()
    ts[i] = clock() - t0
  end
  return median(ts)
end

local function emit(key, value) print(string.format("%s %.6g", key, value)) end

local function peak_rss_mb()
  local f = io.open("/proc/self/status")
  if not f then return 0 / 0 end
  local s = f:read("a")
  f:close()
  local kb = s:match("VmHWM:%s*(%d+)")
  return kb and tonumber(kb) / 1024 or 0 / 0
end

local W = {}

-- (1) the tutorial step: x = 2.0; y = x^2 + 3x + 2; y:backward()
function W.tutorial()
  local steps = 2000
  local function batch()
    for _ = 1, steps do
      local x = mg.tensor(2.0)
      local y = x ^ 2 + 3 * x + 2
      y:backward()
    end
  end
  emit("us_per_step", timed(batch, math.ceil(15 * scale), 3) / steps * 1e6)
end

-- (2) a chain of 20 element-wise ops on a 3-element tensor
local function chain(x)
  local y = x
  for _ = 1, 4 do
    y = y * 0.5
    y = y + 1
    y = y:tanh()
    y = y - 0.25
    y = y:exp()
  end
  return y
end

function W.tiny()
  local steps = 1000
  local x = mg.tensor({0.1, 0.2, 0.3})
  local function batch()
    for _ = 1, steps do chain(x) end
  end
  emit("us_per_op_grad", timed(batch, math.ceil(15 * scale), 3) / (20 * steps) * 1e6)
  do
    local guard <close> = mg.no_grad()
    emit("us_per_op_nograd", timed(batch, math.ceil(15 * scale), 3) / (20 * steps) * 1e6)
  end
end

-- (3) add / exp / relu / sum on 10^7 float32 (GB/s: bytes read + written)
function W.elementwise()
  local guard <close> = mg.no_grad()
  local n = 10000000
  mg.random.seed(0)
  local a = mg.random.rand(n) - 0.5
  local b = mg.random.rand(n) - 0.5
  local reps = math.ceil(10 * scale)
  local bytes = 4 * n
  emit("add_gbps", 3 * bytes / timed(function() return a + b end, reps) / 1e9)
  emit("exp_gbps", 2 * bytes / timed(function() return a:exp() end, reps) / 1e9)
  emit("relu_gbps", 2 * bytes / timed(function() return nnet.relu(a) end, reps) / 1e9)
  emit("sum_gbps", bytes / timed(function() return a:sum() end, reps) / 1e9)
end

-- (4) sgemm n x n x n
function W.sgemm()
  local guard <close> = mg.no_grad()
  mg.random.seed(0)
  for _, n in ipairs({256, 512, 1024, 2048}) do
    local a, b = mg.random.rand(n, n), mg.random.rand(n, n)
    local reps = math.ceil((n <= 512 and 20 or n <= 1024 and 10 or 5) * scale)
    emit("gflops_" .. n, 2 * n ^ 3 / timed(function() return mg.matmul(a, b) end, reps) / 1e9)
  end
end

-- (7) conv2d (with bias) forward + backward at the demo CNN's two layers,
-- batch 128: the first layer's input is data (constant), the second's a variable
function W.conv()
  mg.random.seed(0)
  local layers = {
    {key = "conv1_ms", x = {128, 1, 28, 28}, w = {32, 1, 3, 3}, xvar = false},
    {key = "conv2_ms", x = {128, 32, 13, 13}, w = {64, 32, 3, 3}, xvar = true},
  }
  for _, l in ipairs(layers) do
    local x = mg.tensor(mg.random.randn(l.x), {constant = not l.xvar})
    local w = mg.random.randn(l.w) * 0.1
    w = mg.tensor(w) -- a leaf
    local b = mg.zeros(l.w[1])
    local t = timed(function()
      local y = nnet.conv2d(x, w, b)
      y:sum():backward()
    end, math.ceil(10 * scale))
    emit(l.key, t * 1e3)
  end
end

-- (5) and (6): one epoch of Fashion-MNIST with Adam, batch 128
local function train(model, flat)
  local images, labels = mg.data.fashion_mnist("train")
  if flat then images = images:reshape(images.shape[1], 784)
  else images = images:reshape(images.shape[1], 1, 28, 28) end
  local n = images.shape[1]
  local opt = mg.optim.Adam(model:parameters(), {lr = 1e-3})
  local limit = math.max(1, math.floor(n * math.min(scale, 1) / 128))
  local batches, total = 0, 0
  local t0 = clock()
  for xb, yb in mg.data.loader(images, labels, {batch_size = 128, shuffle = true}) do
    local loss = nnet.softmax_crossentropy(model(xb), yb)
    opt:zero_grad()
    loss:backward()
    opt:step()
    total = total + loss:item()
    batches = batches + 1
    if batches >= limit then break end
  end
  local t = clock() - t0
  emit("s_per_epoch", t * (n / 128) / batches)
  emit("mean_loss", total / batches)
  emit("peak_rss_mb", peak_rss_mb())
end

function W.mlp()
  mg.random.seed(0)
  local nn = mg.nn
  train(nn.Sequential{nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                      nn.Linear(128, 10)}, true)
end

-- (5) the MLP for 5 whole epochs: RSS (VmRSS, MiB) after epochs 1 and 5
function W.mlp_rss()
  mg.random.seed(0)
  local nn = mg.nn
  local model = nn.Sequential{nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                              nn.Linear(128, 10)}
  local images, labels = mg.data.fashion_mnist("train")
  images = images:reshape(images.shape[1], 784)
  local opt = mg.optim.Adam(model:parameters(), {lr = 1e-3})
  local loader = mg.data.loader(images, labels, {batch_size = 128, shuffle = true})
  for epoch = 1, 5 do
    for xb, yb in loader do
      local loss = nnet.softmax_crossentropy(model(xb), yb)
      opt:zero_grad()
      loss:backward()
      opt:step()
    end
    if epoch == 1 or epoch == 5 then
      local f = assert(io.open("/proc/self/status"))
      local kb = f:read("a"):match("VmRSS:%s*(%d+)")
      f:close()
      emit("rss_epoch" .. epoch .. "_mb", tonumber(kb) / 1024)
    end
  end
end

function W.cnn()
  mg.random.seed(0)
  local nn = mg.nn
  train(nn.Sequential{nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(),
                      nn.Linear(128, 10)}, false)
end

if not W[workload] then
  io.stderr:write("usage: lua5.4 bench/bench.lua tutorial|tiny|elementwise|sgemm|conv|mlp|mlp_rss|cnn [scale]\n")
  os.exit(2)
end
W[workload]()
