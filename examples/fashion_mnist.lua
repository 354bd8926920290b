-- examples/fashion_mnist.lua — trains an MLP or the demo CNN on Fashion-MNIST
-- with mg.nn, mg.optim and mg.data, shows a progress bar, prints the test
-- accuracy after every epoch, and leaves a checkpoint and a loss/accuracy plot.
--
--   lua5.4 examples/fashion_mnist.lua --model cnn --epochs 3 --batch-size 64 --lr 2e-3 \
--          --save fashion_cnn.safetensors --plot fashion_cnn.png
--
-- The data comes from Debian's dataset-fashion-mnist package (or --data DIR).
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/../lua/?.lua;" .. here .. "/../lua/?/init.lua;" .. package.path
package.cpath = here .. "/../lua/?.so;" .. package.cpath

local mg = require("moongrad")
local nn = mg.nn

-- Options ----------------------------------------------------------------------
local opts = {model = "cnn", epochs = 3, ["batch-size"] = 64, lr = 2e-3, seed = 1,
              save = nil, plot = nil, data = nil, limit = nil, minutes = nil, ["rss-log"] = nil}
local optional = {save = true, plot = true, data = true, limit = true, minutes = true,
                  ["rss-log"] = true}
local i, arg_epochs = 1, false
while arg and arg[i] do
  local key = arg[i]:match("^%-%-(.+)$")
  if not key or opts[key] == nil and not optional[key] then
    error("usage: fashion_mnist.lua [--model mlp|cnn] [--epochs N] [--batch-size N] [--lr X] "
          .. "[--seed N] [--save FILE] [--plot FILE] [--data DIR] [--limit N] "
          .. "[--minutes M] [--rss-log FILE]; got " .. arg[i], 0)
  end
  local v = arg[i + 1]
  opts[key] = tonumber(v) or v
  arg_epochs = arg_epochs or key == "epochs"
  i = i + 2
end
-- --minutes M: a soak run, epochs until M minutes have passed (then --epochs
-- only caps it); --rss-log FILE: "epoch,seconds,rss_mb" lines, one per epoch.
if opts.minutes and not arg_epochs then opts.epochs = math.maxinteger end
opts.save = opts.save or ("fashion_" .. opts.model .. ".safetensors")
opts.plot = opts.plot or ("fashion_" .. opts.model .. ".png")
mg.random.seed(opts.seed)

-- Data: images {N, 28, 28} in [0, 1], labels 1..10 ----------------------------------
local train_x, train_y = mg.data.fashion_mnist("train", {dir = opts.data})
local test_x, test_y = mg.data.fashion_mnist("test", {dir = opts.data})
if opts.limit then -- a quick run on the first N training images
  train_x, train_y = train_x[{{1, opts.limit}}], train_y[{{1, opts.limit}}]
end
-- Inputs standardised with the training set's mean and standard deviation
-- (0.2860 and 0.3530), as torchvision's Normalize is used for this data set.
local MEAN, STD = 0.2860, 0.3530
local function shape_for_model(x)
  x = (x - MEAN) / STD
  if opts.model == "cnn" then return x:reshape(-1, 1, 28, 28) end
  return x:reshape(-1, 28 * 28)
end

-- Models ----------------------------------------------------------------------------
local function build(kind)
  if kind == "mlp" then
    return nn.Sequential{
      nn.Linear(784, 256), nn.ReLU(),
      nn.Linear(256, 128), nn.ReLU(),
      nn.Linear(128, 10),
    }
  elseif kind == "cnn" then
    return nn.Sequential{
      nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),   -- 32 x 13 x 13
      nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),  -- 64 x 5 x 5
      nn.Flatten(),
      nn.Linear(64 * 5 * 5, 128), nn.ReLU(),
      nn.Linear(128, 10),
    }
  end
  error("--model must be mlp or cnn, got " .. tostring(kind), 0)
end

local model = build(opts.model)
print(model)
local opt = mg.optim.Adam(model:parameters(), {lr = opts.lr})
local batches = math.ceil(train_x.shape[1] / opts["batch-size"])
-- (a timed soak run keeps the learning rate constant)
local sched = not opts.minutes and mg.optim.CosineAnnealingLR(opt, {T_max = opts.epochs * batches})

-- Resident memory in MB (Linux), printed each epoch so a long run shows a flat line.
local function rss_mb()
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local kb = f:read("a"):match("VmRSS:%s+(%d+)")
  f:close()
  return (tonumber(kb) or 0) / 1024
end

-- Evaluation: accuracy over a data set, batch by batch, without recording -----------
local function accuracy(x, y)
  model:evaluate()
  local correct = 0
  mg.no_grad(function()
    for xb, yb in mg.data.loader(x, y, {batch_size = 1000}) do
      local pred = model(shape_for_model(xb)):argmax(2)
      correct = correct + pred:eq(yb):sum():item()
    end
  end)
  model:train()
  return correct / x.shape[1]
end

-- Training ------------------------------------------------------------------------------
local history = {loss = {}, accuracy = {}}
local loader = mg.data.loader(train_x, train_y, {batch_size = opts["batch-size"], shuffle = true})
local rss_log = opts["rss-log"] and assert(io.open(opts["rss-log"], "w"))
if rss_log then rss_log:write("epoch,seconds,rss_mb\n") end
local start = mg.progress.clock()
for epoch = 1, opts.epochs do
  local t0 = mg.progress.clock()
  local bar = mg.progress(#loader, {desc = opts.minutes and ("epoch %d"):format(epoch)
                                            or ("epoch %d/%d"):format(epoch, opts.epochs)})
  for xb, yb in loader do
    local loss = mg.nnet.softmax_crossentropy(model(shape_for_model(xb)), yb)
    opt:zero_grad()
    loss:backward()
    opt:step()
    if sched then sched:step() end
    bar:step{loss = loss}
  end
  bar:close()
  local acc = accuracy(test_x, test_y)
  history.loss[epoch] = bar:mean("loss")
  history.accuracy[epoch] = acc
  print(("epoch %d: train loss %.4f, test accuracy %.2f%%, %.1f s, RSS %.0f MB"):format(
    epoch, history.loss[epoch], 100 * acc, mg.progress.clock() - t0, rss_mb()))
  local elapsed = mg.progress.clock() - start
  if rss_log then
    rss_log:write(("%d,%.1f,%.1f\n"):format(epoch, elapsed, rss_mb()))
    rss_log:flush()
  end
  if opts.minutes and elapsed >= 60 * opts.minutes then break end
end
if rss_log then rss_log:close() end

-- Leave a checkpoint and a plot behind ---------------------------------------------------
mg.save(opts.save, model:state_dict())
print("checkpoint: " .. opts.save)
if mg.plot.available() then
  mg.plot.training(history, {output = opts.plot, title = "Fashion-MNIST, " .. opts.model})
  print("plot: " .. opts.plot)
else
  print("plot: skipped (gnuplot is not installed: apt-get install gnuplot-nox)")
end
print(("final test accuracy: %.2f%%"):format(100 * history.accuracy[#history.accuracy]))
