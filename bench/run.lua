-- run.lua — `make bench`: runs every workload of bench/bench.lua (moongrad)
-- and bench/bench.py (PyTorch) in separate processes, alternating the two
-- (moongrad, PyTorch, moongrad, ...) several times, with the same thread
-- count on both sides, and the reference C loops of bench/cbench.c beside
-- them; prints ONE table of medians and ratios and writes it to
-- bench/RESULTS.md with the date, the CPU model and the thread count.
-- Settings (environment):
--   BENCH_THREADS        threads of both sides (default: the CPUs online)
--   BENCH_REPS           alternating runs of the short workloads (default 5)
--   BENCH_TRAIN_REPS     alternating runs of the training epochs (default 3)
--   BENCH_TRAIN_THREADS  thread counts the epochs run at (default 1..BENCH_THREADS)
--   BENCH_ONLY           comma-separated workloads to run (default: all)
--   BENCH_SCALE          repetition / epoch fraction factor for quick runs (default 1)
--   BENCH_PYTHON         the Python with torch (default /usr/bin/python3)
--   BENCH_CBENCH         the reference program (default build/cbench)
--   BENCH_RESULTS        where the table goes (default bench/RESULTS.md; "-" = nowhere)

local function getenv(k, d)
  local v = os.getenv(k)
  return (v and v ~= "") and v or d
end

local function shell_out(cmd)
  local f = io.popen(cmd)
  local s = f:read("a")
  f:close()
  return s
end

local function cpus()
  return tonumber(shell_out("nproc 2>/dev/null"):match("%d+")) or 1
end

local threads = tonumber(getenv("BENCH_THREADS", tostring(cpus())))
local reps = tonumber(getenv("BENCH_REPS", "5"))
local train_reps = tonumber(getenv("BENCH_TRAIN_REPS", "3"))
local scale = getenv("BENCH_SCALE", "1")
local python = getenv("BENCH_PYTHON", "/usr/bin/python3")
local cbench = getenv("BENCH_CBENCH", "build/cbench")
local results = getenv("BENCH_RESULTS", "bench/RESULTS.md")
local lua = getenv("LUA", "lua5.4")
local train_threads = {}
for t in getenv("BENCH_TRAIN_THREADS", ""):gmatch("%d+") do train_threads[#train_threads + 1] = tonumber(t) end
if #train_threads == 0 then for t = 1, threads do train_threads[t] = t end end
local only = {}
for w in getenv("BENCH_ONLY", ""):gmatch("[%w_]+") do only[w] = true end
local function wanted(w) return next(only) == nil or only[w] end

local notes = {}
local function note(s)
  notes[#notes + 1] = s
  io.stderr:write("note: ", s, "\n")
end

-- ---- running one process --------------------------------------------------
-- The same thread count t on every side: PyTorch and the C reference take
-- it from OMP_NUM_THREADS / OPENBLAS_NUM_THREADS; moongrad runs its own pool
-- of t threads (MOONGRAD_NUM_THREADS) and calls OpenBLAS on one thread per
-- block, so its process gets OPENBLAS_NUM_THREADS=1: OpenBLAS's own idle
-- threads would otherwise spin through the first ~0.1 s of the process.
local function env_prefix(t, side)
  local blas = side == "mg" and 1 or t
  return string.format("env OPENBLAS_NUM_THREADS=%d MOONGRAD_NUM_THREADS=%d OMP_NUM_THREADS=%d "
    .. "BENCH_THREADS=%d ", blas, t, t, t)
end

-- Runs cmd; returns a table key -> number, or nil and the reason.
local function run(cmd)
  local f = io.popen(cmd .. " 2>&1")
  local out = f:read("a")
  local ok = f:close()
  local r = {}
  for k, v in out:gmatch("([%w_]+) ([-%d.e+naif]+)\n") do r[k] = tonumber(v) end
  if out:match("^skipped") then return nil, out:match("^skipped (.-)\n") end
  if not ok then return nil, "failed: " .. cmd .. "\n" .. out end
  return r
end

local have_torch = true
do
  local ok = os.execute(python .. " -c 'import torch' >/dev/null 2>&1")
  if not ok then
    have_torch = false
    note("PyTorch side skipped: torch cannot be imported by " .. python
         .. " (make bench-deps installs python3-torch)")
  end
end

local function side_cmd(side, workload, t)
  if side == "mg" then return env_prefix(t, "mg") .. lua .. " bench/bench.lua " .. workload .. " " .. scale end
  return env_prefix(t) .. python .. " bench/bench.py " .. workload .. " " .. scale
end

-- samples[workload .. "@" .. threads][side][key] = {values}
local samples = {}
local function add_samples(id, side, r)
  samples[id] = samples[id] or {}
  samples[id][side] = samples[id][side] or {}
  for k, v in pairs(r) do
    local s = samples[id][side]
    s[k] = s[k] or {}
    table.insert(s[k], v)
  end
end

local function median(t)
  if not t or #t == 0 then return nil end
  local c = {}
  for i, v in ipairs(t) do c[i] = v end
  table.sort(c)
  local n = #c
  return n % 2 == 1 and c[(n + 1) // 2] or (c[n // 2] + c[n // 2 + 1]) / 2
end

local function value(id, side, key)
  return samples[id] and samples[id][side] and median(samples[id][side][key])
end

-- Alternates moongrad and PyTorch (and the C reference, when given) n times.
local function alternate(workload, t, n, extra)
  local id = workload .. "@" .. t
  for i = 1, n do
    io.stderr:write(string.format("[%s, %d thread%s, run %d/%d]\n", workload, t,
                                  t == 1 and "" or "s", i, n))
    local r, why = run(side_cmd("mg", workload, t))
    if r then add_samples(id, "mg", r) else note("moongrad " .. workload .. ": " .. why) return end
    if have_torch then
      r, why = run(side_cmd("pt", workload, t))
      if r then add_samples(id, "pt", r) else note("PyTorch " .. workload .. ": " .. why) end
    end
    for _, e in ipairs(extra or {}) do
      r, why = run(env_prefix(t) .. e.cmd)
      if r then add_samples(id, e.side, r) else note("cbench: " .. why) end
    end
  end
end

local has_cbench = io.open(cbench) ~= nil
if not has_cbench then note(cbench .. " not found: no C reference figures (make bench builds it)") end
local function cref(side, args)
  return has_cbench and {{side = side, cmd = cbench .. " " .. args}} or {}
end

local have_data = io.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") ~= nil
if not have_data then note("Fashion-MNIST is not installed (make bench-deps): MLP and CNN epochs skipped") end

if wanted("tutorial") then alternate("tutorial", threads, reps) end
if wanted("tiny") then alternate("tiny", threads, reps) end
if wanted("elementwise") then
  local extra = cref("c", "bw")
  if has_cbench and threads > 1 then -- and the one-core figure: moongrad's loops are single-threaded
    extra[#extra + 1] = {side = "c1", cmd = "env OMP_NUM_THREADS=1 " .. cbench .. " bw"}
  end
  alternate("elementwise", threads, reps, extra)
end
if wanted("sgemm") then
  local extra = {}
  for _, n in ipairs({256, 512, 1024, 2048}) do
    if has_cbench then extra[#extra + 1] = {side = "c" .. n, cmd = cbench .. " sgemm " .. n} end
  end
  alternate("sgemm", threads, reps, extra)
end
if wanted("conv") then alternate("conv", threads, reps) end
for _, w in ipairs({"mlp", "cnn"}) do
  if wanted(w) and have_data then
    for i = 1, train_reps do -- the thread counts interleaved too
      for _, t in ipairs(train_threads) do alternate(w, t, 1) end
      io.stderr:write(string.format("[%s: round %d/%d done]\n", w, i, train_reps))
    end
  end
end

if wanted("mlp_rss") and have_data then -- moongrad only: its memory over 5 epochs
  io.stderr:write("[mlp_rss: 5 MLP epochs, 1 thread]\n")
  local r, why = run(side_cmd("mg", "mlp_rss", 1))
  if r then add_samples("mlp_rss@1", "mg", r) else note("moongrad mlp_rss: " .. why) end
end

-- ---- the table --------------------------------------------------------------
-- kind: "time" (lower is better: ratio = moongrad / PyTorch), "rate" (higher
-- is better: ratio = PyTorch / moongrad, i.e. still moongrad's time over
-- PyTorch's), "size" (ratio = moongrad / PyTorch).
local rows = {}
local function fmt(v)
  if not v then return "—" end
  if v >= 100 then return string.format("%.0f", v) end
  if v >= 10 then return string.format("%.1f", v) end
  if v >= 1 then return string.format("%.2f", v) end
  return string.format("%.3f", v)
end

local function row(label, unit, kind, id, key, ref)
  local m, p = value(id, "mg", key), value(id, "pt", key)
  if not m then return end
  local ratio
  if m and p then
    ratio = (kind == "rate") and p / m or m / p
  end
  rows[#rows + 1] = {label, unit, fmt(m), fmt(p), ratio and string.format("%.3f", ratio) or "—",
                     ref or ""}
end

local T = "@" .. threads
row("(1) tutorial step: x = 2.0; y = x^2 + 3x + 2; y:backward()", "µs/step", "time", "tutorial" .. T, "us_per_step")
row("(2) 20 element-wise ops on 3 elements, with grad", "µs/op", "time", "tiny" .. T, "us_per_op_grad")
row("(2) 20 element-wise ops on 3 elements, no grad", "µs/op", "time", "tiny" .. T, "us_per_op_nograd")
local pattern = {add = "add", exp = "copy", relu = "copy", sum = "read"}
for _, op in ipairs({"add", "exp", "relu", "sum"}) do
  local id = "elementwise" .. T
  local bw, bw1 = value(id, "c", pattern[op]), value(id, "c1", pattern[op])
  local m = value(id, "mg", op .. "_gbps")
  local ref = (bw and m) and string.format("%.0f%% of C %s loop (%.1f GB/s, %d thread%s)", 100 * m / bw,
                                           pattern[op], bw, threads, threads == 1 and "" or "s")
  if ref and bw1 then ref = ref .. string.format("; %.0f%% at 1 thread (%.1f GB/s)", 100 * m / bw1, bw1) end
  row("(3) " .. op .. ", 10^7 float32", "GB/s", "rate", id, op .. "_gbps", ref)
end
for _, n in ipairs({256, 512, 1024, 2048}) do
  local id = "sgemm" .. T
  local c = value(id, "c" .. n, "gflops")
  local m = value(id, "mg", "gflops_" .. n)
  local ref = (c and m) and string.format("%.0f%% of direct cblas_sgemm (%.1f GFLOP/s)", 100 * m / c, c)
  row(string.format("(4) sgemm %d", n), "GFLOP/s", "rate", id, "gflops_" .. n, ref)
end
for _, w in ipairs({{"mlp", "(5) MLP 784-256-128-10"}, {"cnn", "(6) CNN"}}) do
  local best = {}
  for _, t in ipairs(train_threads) do
    local id = w[1] .. "@" .. t
    for _, side in ipairs({"mg", "pt"}) do
      local v = value(id, side, "s_per_epoch")
      if v and (not best[side] or v < best[side].v) then best[side] = {v = v, t = t} end
    end
    local th = string.format(", %d thread%s", t, t == 1 and "" or "s")
    row(w[2] .. " epoch" .. th, "s/epoch", "time", id, "s_per_epoch")
    row(w[2] .. " peak RSS" .. th, "MiB", "size", id, "peak_rss_mb")
  end
  if best.mg and best.pt then
    rows[#rows + 1] = {string.format("%s epoch, each at its best thread count (moongrad %d, PyTorch %d)",
                                     w[2], best.mg.t, best.pt.t), "s/epoch", fmt(best.mg.v),
                       fmt(best.pt.v), string.format("%.3f", best.mg.v / best.pt.v), ""}
  end
end
do
  local r1, r5 = value("mlp_rss@1", "mg", "rss_epoch1_mb"), value("mlp_rss@1", "mg", "rss_epoch5_mb")
  if r1 and r5 then
    rows[#rows + 1] = {"(5) MLP RSS after epoch 1 → after epoch 5 (moongrad, 1 thread)", "MiB",
                       fmt(r1) .. " → " .. fmt(r5), "", "",
                       string.format("%+.1f%% (target: within 5%%)", 100 * (r5 / r1 - 1))}
  end
end
row("(7) conv2d fwd+bwd 128x1x28x28, 32 3x3", "ms", "time", "conv" .. T, "conv1_ms")
row("(7) conv2d fwd+bwd 128x32x13x13, 64 3x3", "ms", "time", "conv" .. T, "conv2_ms")

local header = {"workload", "unit", "moongrad", "PyTorch", "ratio", "reference"}
local function md_table()
  local lines = {"| " .. table.concat(header, " | ") .. " |",
                 "|---|---|--:|--:|--:|---|"}
  for _, r in ipairs(rows) do lines[#lines + 1] = "| " .. table.concat(r, " | ") .. " |" end
  return table.concat(lines, "\n")
end

local cpu = "unknown CPU"
do
  local f = io.open("/proc/cpuinfo")
  if f then
    cpu = f:read("a"):match("model name%s*:%s*([^\n]+)") or cpu
    f:close()
  end
end
local torch_version = have_torch and shell_out(python .. " -c 'import torch; print(torch.__version__)' 2>/dev/null"):gsub("%s+$", "") or "absent"
local date = os.date("!%Y-%m-%d %H:%M UTC")
local train_list = {}
for i, t in ipairs(train_threads) do train_list[i] = tostring(t) end

local text = table.concat({
  "# moongrad vs PyTorch",
  "",
  string.format("%s — %s (%d CPUs online), %d thread%s on both sides (PyTorch: "
    .. "OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, torch.set_num_threads; moongrad: its own pool, "
    .. "MOONGRAD_NUM_THREADS, with OpenBLAS called on one thread per block); epochs at %s "
    .. "thread(s). %s, PyTorch %s.",
    date, cpu, cpus(), threads, threads == 1 and "" or "s", table.concat(train_list, " and "),
    _VERSION, torch_version),
  "",
  string.format("Medians of %d alternating runs (moongrad, PyTorch, C reference; each run "
    .. "a fresh process; %d for the epochs). ratio = moongrad's time / PyTorch's time "
    .. "(for GB/s and GFLOP/s rows: PyTorch's rate / moongrad's), and moongrad's RSS / "
    .. "PyTorch's: below 1 moongrad is faster (smaller). Reference: moongrad as a fraction of "
    .. "bench/cbench.c's plain C loop with the same memory traffic at the same thread count, "
    .. "and at 1 thread (read: sum; copy: one in, one out; add: two in, one out), or of a direct "
    .. "cblas_sgemm call (OpenBLAS's own threads).",
    reps, train_reps),
  "",
  md_table(),
  "",
}, "\n")
if #notes > 0 then text = text .. "\nNotes:\n\n- " .. table.concat(notes, "\n- ") .. "\n" end

print(text)
if results ~= "-" then
  local f = assert(io.open(results, "w"))
  f:write(text)
  f:close()
  print("written to " .. results)
end
