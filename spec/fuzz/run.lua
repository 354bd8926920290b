-- spec/fuzz/run.lua — runs the fuzzer (fuzz.lua) against the ASan+UBSan build
-- for a time budget, and turns every crash, hang, sanitizer report or leak
-- into a minimised repro script under build/fuzz/; so are the findings of
-- fuzz.lua --strict (an error that is not a string, a broken tensor
-- invariant, an unfriendly "attempt to ..." error from moongrad's Lua code).
--
--   lua5.4 spec/fuzz/run.lua --minutes M [--seed S] [--san build/sanitize] [--cc gcc]
--   lua5.4 spec/fuzz/run.lua --minimize build/fuzz/crash-S-I.lua [--san ...]
--
-- (make fuzz: 2 minutes; make fuzz-long: FUZZ_MINUTES; both build the
-- sanitizer .so first.)  Iterations run in chunks, each in a fresh lua5.4
-- process with the sanitizer runtimes preloaded; the fuzzer writes the
-- iteration it is on to a progress file, so a crash names its iteration,
-- which replays alone (--start I --iterations 1) and is written out as a
-- standalone script (--repro), then shrunk one statement at a time while it
-- still fails the same way.  A leak (reported when a chunk exits) is
-- narrowed to its iteration by bisection.  Chunks alternate between --cg off
-- (leaks checked) and --cg on (backward with create_graph; see fuzz.lua).
-- The seed of a run is printed; without --seed it comes from the clock.
-- To replay a failure: lua5.4 build/fuzz/crash-...min.lua under the same
-- environment (see env() below), or the fuzz.lua command in the repro's header.
--
-- At the end: the iterations and calls that ran clean, and the failures.
-- The exit status is 1 when anything failed.
local fmt = string.format

local opt = {minutes = 2, san = "build/sanitize", cc = os.getenv("CC") or "gcc", chunk = 150}
do
  local i = 1
  while i <= #arg do
    local key = arg[i]:match("^%-%-([%w_]+)$")
    if not key or arg[i + 1] == nil then error("run.lua: bad argument " .. arg[i]) end
    opt[key] = tonumber(arg[i + 1]) or arg[i + 1]
    i = i + 2
  end
end

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function capture(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

local root = capture("pwd"):gsub("%s+$", "")
local san_dir = opt.san:sub(1, 1) == "/" and opt.san or root .. "/" .. opt.san
local function lib(name) return capture(opt.cc .. " -print-file-name=" .. name):gsub("%s+$", "") end

-- The sanitizer environment: the runtimes preloaded into lua5.4, core.so
-- from the sanitizer build; allocations over 3 GiB fail (return NULL, so
-- the library reports out of memory) instead of swapping the machine.
-- Leaks are checked in the --cg off chunks only (see cg_iter in fuzz.lua).
-- MG_FUZZ_DIR is the scratch directory of the statements that write files.
-- The fuzzed programs' files go to one scratch directory (see files_env.lua).
local OUT = "build/fuzz"
local scratch = root .. "/" .. OUT .. "/tmp"
os.execute("mkdir -p " .. sh_quote(scratch))
local function env(leaks) return table.concat({
  "MG_FUZZ_DIR=" .. sh_quote(scratch),
  "LUA_CPATH=" .. sh_quote(san_dir .. "/?.so;;"),
  "LD_PRELOAD=" .. sh_quote(lib("libasan.so") .. " " .. lib("libubsan.so")),
  "ASAN_OPTIONS=detect_leaks=" .. (leaks and 1 or 0) .. ":abort_on_error=1:"
    .. "allocator_may_return_null=1:max_allocation_size_mb=3072:soft_rss_limit_mb=6144",
  "LSAN_OPTIONS=" .. sh_quote("suppressions=" .. root .. "/.ci/lsan.supp:print_suppressions=0"),
  "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1",
}, " ") end
local cg = "off" -- the kind of chunk being run

-- Runs a shell command under the sanitizer environment with a time limit;
-- returns the exit status (124 on timeout) and the output.
local function run(cmd, limit, log)
  log = log or OUT .. "/last.log"
  local full = fmt("%s timeout -k 5 %d %s > %s 2>&1; echo $?", env(cg == "off"), limit, cmd,
    sh_quote(log))
  local rc = tonumber(capture(full):match("(%d+)%s*$"))
  local f = io.open(log)
  local text = f and f:read("a") or ""
  if f then f:close() end
  return rc, text
end

-- What kind of failure an output shows, as a short signature that the
-- minimiser keeps constant: the sanitizer's error kind and the first
-- moongrad frame (file:line), or the UBSan location, or TIMEOUT / SEGV.
local function signature(rc, text)
  if text:find("lua5.4: spec/fuzz/", 1, true) or text:find("fuzz: generated", 1, true) then
    return "FUZZER BUG " .. (text:match("lua5.4: ([^\n]*)") or "")
  end
  local ub = text:match("([%w_/%.]+%.c:%d+):%d+: runtime error: ([^\n]-) ?[%(:\n]")
  if ub then return "UBSan " .. ub end
  local kind = text:match("ERROR: AddressSanitizer: ([%w%-_]+)")
    or (text:find("ERROR: LeakSanitizer", 1, true) and "leak")
  if kind then
    local frame = text:match("in [%w_]+ ([%w_/]+%.c:%d+)") or "?"
    return "ASan " .. kind .. " " .. frame
  end
  if rc == 124 or rc == 137 then return "TIMEOUT" end
  local finding = text:match("FINDING[^\n]*\n%s*%-> ([^\n]*)")
  if finding then return "FINDING " .. finding:gsub("%d+", "N"):sub(1, 80) end
  if rc ~= 0 and rc ~= 1 then return "exit status " .. tostring(rc) end
  return nil
end

-- ---- minimising a repro script -------------------------------------------------
-- A repro is a header and one statement per line (lines starting with S").
local function read_lines(path)
  local lines = {}
  for l in io.lines(path) do lines[#lines + 1] = l end
  return lines
end

local function write_lines(path, lines)
  local f = assert(io.open(path, "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
end

local function fails_same(lines, sig, tmp)
  write_lines(tmp, lines)
  local rc, text = run("lua5.4 " .. sh_quote(tmp), 60, tmp .. ".log")
  return signature(rc, text) == sig
end

local function minimize(path, sig)
  local lines = read_lines(path)
  local tmp = path:gsub("%.lua$", "") .. ".try.lua"
  if not sig then
    local rc, text = run("lua5.4 " .. sh_quote(path), 60, tmp .. ".log")
    sig = signature(rc, text)
    if not sig then
      print("minimize: " .. path .. " does not fail")
      return nil
    end
  end
  -- drop chunks of statements, halving the chunk size, while it still fails
  local size = 16
  while size >= 1 do
    local i = #lines
    while i >= 1 do
      if lines[i]:match('^S"') then
        local lo = i
        while lo > 1 and i - lo + 1 < size and lines[lo - 1]:match('^S"') do lo = lo - 1 end
        local cand = {}
        for k = 1, #lines do
          if k < lo or k > i then cand[#cand + 1] = lines[k] end
        end
        if fails_same(cand, sig, tmp) then
          lines = cand
          i = lo - 1
        else
          i = i - 1
        end
      else
        i = i - 1
      end
    end
    size = size // 2
  end
  os.remove(tmp)
  os.remove(tmp .. ".log")
  local out = path:gsub("%.lua$", "") .. ".min.lua"
  table.insert(lines, 2, "-- " .. sig)
  write_lines(out, lines)
  return out, sig
end

if opt.minimize then
  local out, sig = minimize(opt.minimize)
  if out then print(fmt("minimize: %s (%s)", out, sig)) end
  os.exit(out and 0 or 1)
end

-- ---- the run ----------------------------------------------------------------------
local seed = opt.seed or os.time() % 100000
local deadline = os.time() + math.floor(opt.minutes * 60)
local totals = {iterations = 0, calls = 0, ok = 0, errors = 0}
local failures = {}
local progress = OUT .. "/progress"

local function fuzz_cmd(start, n, extra)
  return fmt("lua5.4 spec/fuzz/fuzz.lua --strict --seed %d --start %d --iterations %d --cg %s %s",
    seed, start, n, cg, extra or "")
end

local function add_totals(text)
  local it, calls, ok, errs = text:match("(%d+) iterations, (%d+) calls %((%d+) ok, (%d+) Lua errors")
  if it then
    totals.iterations = totals.iterations + tonumber(it)
    totals.calls = totals.calls + tonumber(calls)
    totals.ok = totals.ok + tonumber(ok)
    totals.errors = totals.errors + tonumber(errs)
  end
end

-- Records the failure of iteration `iter`: its repro, minimised (the first
-- of each signature; the others are listed with their repro only).
local minimised = {}
local function report(iter, sig, text)
  local base = fmt("%s/crash-%d-cg%s-%d", OUT, seed, cg, iter)
  run(fuzz_cmd(iter, 1, "--repro " .. base .. ".lua"), 120, base .. ".log")
  local out = not minimised[sig] and minimize(base .. ".lua", sig)
  minimised[sig] = true
  failures[#failures + 1] = fmt("seed %d iteration %d (--cg %s): %s\n    repro: %s%s", seed, iter, cg, sig,
    base .. ".lua", out and ("\n    minimised: " .. out) or "")
  io.stderr:write("fuzz: FAILED " .. failures[#failures] .. "\n")
  local findings = {}
  for l in text:gmatch("FINDING[^\n]*\n[^\n]*") do findings[#findings + 1] = l end
  if #findings > 0 then io.stderr:write(table.concat(findings, "\n"), "\n") end
end

-- A leak shows when the process exits: bisect [a, b] down to one iteration.
local function bisect_leak(a, b, sig)
  while a < b do
    local m = (a + b) // 2
    local rc, text = run(fuzz_cmd(a, m - a + 1), 600)
    if signature(rc, text) then b = m else a = m + 1 end
  end
  return a
end

print(fmt("fuzz: seed %d, %g minutes, sanitizer build %s", seed, opt.minutes, san_dir))
-- Chunks alternate between --cg off (leaks checked) and --cg on, each
-- mode with its own run of iterations.
local next_iter = {off = 1, on = 1}
local chunk = 0
while os.time() < deadline do
  chunk = chunk + 1
  cg = chunk % 2 == 1 and "off" or "on"
  local start = next_iter[cg]
  local left = deadline - os.time()
  local rc, text = run(fuzz_cmd(start, opt.chunk, "--seconds " .. left .. " --progress " .. progress),
    left + 120)
  local sig = signature(rc, text)
  if not sig then
    add_totals(text)
    next_iter[cg] = start + opt.chunk
  else
    local p = io.open(progress)
    local cur = p and tonumber(p:read("a"):match("%d+ (%d+)")) or start
    if p then p:close() end
    if sig:match("leak") then cur = bisect_leak(start, cur, sig) end
    if sig:match("^FINDING") then cur = tonumber(text:match("FINDING %[seed %d+ iteration (%d+)%]")) end
    -- the iterations before the failing one ran clean
    if cur > start then
      local rc2, text2 = run(fuzz_cmd(start, cur - start), 600)
      if not signature(rc2, text2) then add_totals(text2) end
    end
    report(cur, sig, text)
    next_iter[cg] = cur + 1
  end
end

print(fmt("fuzz: %d iterations, %d calls (%d succeeded, %d raised a Lua error) ran clean "
  .. "under ASan+UBSan (seed %d)", totals.iterations, totals.calls, totals.ok, totals.errors, seed))
if #failures > 0 then
  print(fmt("fuzz: %d failures:", #failures))
  for _, f in ipairs(failures) do print("  " .. f) end
  os.exit(1)
end
