-- conv_bench.lua — forward and forward+backward time of mg.nnet.conv2d (with
-- bias) on the demo CNN's two layers: a batch of 64 x 1 x 28 x 28 through 32
-- 3x3 filters, and 64 x 32 x 13 x 13 through 64 3x3 filters; plus
-- max_pool 2x2 on the first layer's output.  bench/conv_bench.py times the
-- same in PyTorch.  Run: make && lua5.4 bench/conv_bench.lua [reps]
-- (LUA_PATH/LUA_CPATH as in the Makefile, or from an installed tree).
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "lua/?.so;" .. package.cpath
local mg = require("moongrad")
local nn = mg.nnet

-- wall-clock seconds: luasocket when there, else CPU time (sums all threads)
local ok, socket = pcall(require, "socket")
local now, clock_name = os.clock, "os.clock (CPU time of all threads)"
if ok and socket.gettime then now, clock_name = socket.gettime, "wall clock" end

local reps = tonumber(arg and arg[1]) or 20

local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end

-- median milliseconds of fn over reps runs after 3 warm-up runs
local function time(fn)
  for _ = 1, 3 do fn() end
  local ts = {}
  for i = 1, reps do
    collectgarbage("step", 0)
    local t0 = now()
    fn()
    ts[i] = (now() - t0) * 1000
  end
  return median(ts)
end

mg.random.seed(0)
local layers = {
  {name = "conv2d 64x1x28x28, 32 3x3 filters", x = {64, 1, 28, 28}, w = {32, 1, 3, 3}},
  {name = "conv2d 64x32x13x13, 64 3x3 filters", x = {64, 32, 13, 13}, w = {64, 32, 3, 3}},
}
print(string.format("moongrad conv bench (float32, %s, median of %d)", clock_name, reps))
for _, l in ipairs(layers) do
  local x = mg.random.randn(l.x)
  local w = mg.random.randn(l.w) * 0.1
  local b = mg.zeros(l.w[1])
  local fw = time(function()
    local g <close> = mg.no_grad()
    return nn.conv2d(x, w, b)
  end)
  local fb = time(function()
    local y = nn.conv2d(x, w, b)
    y:sum():backward()
    x:null_grad(); w:null_grad(); b:null_grad()
  end)
  print(string.format("  %-38s forward %8.2f ms   forward+backward %8.2f ms", l.name, fw, fb))
end
do
  local x = mg.random.randn({64, 32, 26, 26})
  local fb = time(function()
    nn.max_pool(x, 2):sum():backward()
    x:null_grad()
  end)
  print(string.format("  %-38s forward+backward %8.2f ms", "max_pool 2x2 on 64x32x26x26", fb))
end
