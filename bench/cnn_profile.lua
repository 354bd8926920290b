-- cnn_profile.lua — a short run of the demo CNN (bench/bench.lua's cnn
-- workload: Fashion-MNIST, batch 128, Adam) for profiling and quick
-- before/after timings: loads the data, trains `batches` batches (default
-- 50) and prints the median and mean milliseconds per batch and the
-- seconds per epoch that the mean implies (wall clock), and the CPU time per
-- batch (os.clock: steadier on a machine shared with other work).  With a second argument
-- "random", random inputs replace the data set (no loading).
--   OPENBLAS_NUM_THREADS=1 lua5.4 bench/cnn_profile.lua [batches] [random]
--   perf record -g lua5.4 bench/cnn_profile.lua 200
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "lua/?.so;" .. package.cpath
local mg = require("moongrad")
local nn, nnet = mg.nn, mg.nnet

local clock = os.clock
do
  local ok, sys = pcall(require, "system")
  if ok and sys.monotime then clock = sys.monotime end
end

local nbatches = tonumber(arg[1]) or 50
local random = arg[2] == "random"

mg.random.seed(0)
local images, labels
if random then
  images = mg.random.rand({128 * 8, 1, 28, 28})
  labels = mg.random.randint(1, 11, {128 * 8})
else
  images, labels = mg.data.fashion_mnist("train")
  images = images:reshape(images.shape[1], 1, 28, 28)
end

local model = nn.Sequential{nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(),
                            nn.Linear(128, 10)}
local opt = mg.optim.Adam(model:parameters(), {lr = 1e-3})
local ts, done, cpu = {}, 0, 0
while done < nbatches do
  for xb, yb in mg.data.loader(images, labels, {batch_size = 128, shuffle = true}) do
    local t0, c0 = clock(), os.clock()
    local loss = nnet.softmax_crossentropy(model(xb), yb)
    opt:zero_grad()
    loss:backward()
    opt:step()
    loss:item()
    done = done + 1
    ts[done] = clock() - t0
    cpu = cpu + os.clock() - c0
    if done >= nbatches then break end
  end
end
local sum = 0
for _, t in ipairs(ts) do sum = sum + t end
table.sort(ts)
local mean = sum / #ts
print(string.format("ms_per_batch_median %.3f", ts[(#ts + 1) // 2] * 1e3))
print(string.format("ms_per_batch_mean %.3f", mean * 1e3))
print(string.format("s_per_epoch %.3f", mean * 60000 / 128))
print(string.format("cpu_ms_per_batch %.3f", cpu / #ts * 1e3))
