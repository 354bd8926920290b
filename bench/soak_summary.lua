-- bench/soak_summary.lua — sums up the RSS log of `make soak`
-- (build/soak/rss.csv: epoch,seconds,rss_mb): RSS after epochs 1, 5, 10
-- and the last, the growth from epoch 5 to the end, and a line of RSS
-- samples over the run; writes an RSS-over-time plot when gnuplot is there.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "lua/?.so;" .. package.cpath
local file = arg[1] or "build/soak/rss.csv"
local rows = {}
for line in io.lines(file) do
  local e, s, r = line:match("^(%d+),([%d.]+),([%d.]+)$")
  if e then rows[#rows + 1] = {epoch = tonumber(e), s = tonumber(s), rss = tonumber(r)} end
end
assert(#rows > 0, file .. ": no epochs logged")
local function at(n) return rows[math.min(n, #rows)] end
local last, peak = rows[#rows], 0
for _, r in ipairs(rows) do peak = math.max(peak, r.rss) end
print(("soak: %d epochs in %.1f min; RSS after epoch 1 %.0f MB, 5 %.0f MB, 10 %.0f MB, last %.0f MB, "
  .. "peak %.0f MB; epoch 5 -> last %+.1f%%, epoch 1 -> 5 %+.1f%%"):format(
  #rows, last.s / 60, at(1).rss, at(5).rss, at(10).rss, last.rss, peak,
  100 * (last.rss / at(5).rss - 1), 100 * (at(5).rss / at(1).rss - 1)))
local samples = {}
for k = 0, 10 do
  local r = rows[math.max(1, math.floor(k * #rows / 10 + 0.5))]
  samples[#samples + 1] = ("%.1fmin:%.0f"):format(r.s / 60, r.rss)
end
print("RSS (MB) over the run: " .. table.concat(samples, "  "))
local ok, mg = pcall(require, "moongrad")
if ok and mg.plot.available() then
  local xs, ys = {}, {}
  for i, r in ipairs(rows) do xs[i], ys[i] = r.s / 60, r.rss end
  local out = file:gsub("%.csv$", "") .. ".png"
  mg.plot.lines({{x = xs, y = ys, label = "RSS (MB)"}},
    {output = out, title = "make soak: MLP, RSS after each epoch", xlabel = "minutes",
     ylabel = "MB", yrange = {0, 1.2 * peak}})
  print("plot: " .. out)
end
