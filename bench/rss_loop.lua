-- bench/rss_loop.lua — the foundation issue's memory check: a million
-- iterations of `(x * 2 + 1):sum()` on a 1000-element variable, printing the
-- process RSS (from /proc/self/status) every 100,000 iterations.  The RSS
-- should stay flat with no collectgarbage() calls.
local mg = require("moongrad")

local function rss_mb()
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s+(%d+)")) / 1024
end

local n = tonumber(arg and arg[1]) or 1000000
local x = mg.random.rand(1000)
local start = rss_mb()
local t0 = os.clock()
print(string.format("start: %.1f MB", start))
local maxr = start
for i = 1, n do
  local y = (x * 2 + 1):sum()
  if i % 100000 == 0 then
    local r = rss_mb()
    if r > maxr then maxr = r end
    print(string.format("%8d iterations: RSS %.1f MB", i, r))
  end
end
print(string.format("max RSS growth: %.1f MB over %d iterations (%.2f us/iteration)",
  maxr - start, n, (os.clock() - t0) / n * 1e6))
