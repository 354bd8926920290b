-- moongrad.progress — mg.progress(total, opts): a progress bar for training
-- loops (batches done / total, rate, elapsed, ETA and a smoothed running loss).
-- On a terminal it redraws one line in place with "\r" (at most every
-- `interval` seconds); anywhere else (a pipe, a log file) it prints plain
-- lines, one every 10% and one at the end. Pure Lua: the wall clock is read
-- from /proc/uptime (os.time() elsewhere) and the terminal test runs
-- `[ -t 1 ]` through os.execute. Specs inject `out` and `clock`.
local M = {}

-- Wall clock ----------------------------------------------------------------

local uptime_file   -- opened on first use, unbuffered so every read is fresh

--- Seconds since some fixed point, with 10 ms resolution on Linux
--- (/proc/uptime); whole seconds (os.time) where /proc is absent.
local function wall_clock()
  if uptime_file == nil then
    uptime_file = io.open("/proc/uptime", "r") or false
    if uptime_file then uptime_file:setvbuf("no") end
  end
  if uptime_file then
    uptime_file:seek("set", 0)
    local t = uptime_file:read("n")
    if t then return t end
  end
  return os.time()
end
M.clock = wall_clock

-- Terminal detection ----------------------------------------------------------

local tty_cache = {}

--- Whether file descriptor `fd` (1 = stdout, 2 = stderr) of this process is
--- a terminal. os.execute runs the shell through system(), which shares our
--- file descriptors, so `[ -t 1 ]` tests OUR stdout (io.popen would test its
--- own pipe). TERM unset or "dumb" counts as no terminal. Cached per fd.
function M.is_terminal(fd)
  fd = fd or 1
  if tty_cache[fd] == nil then
    local term = os.getenv("TERM")
    local ok = false
    if term and term ~= "" and term ~= "dumb" then
      ok = os.execute("[ -t " .. math.tointeger(fd) .. " ] 2>/dev/null") == true
    end
    tty_cache[fd] = ok
  end
  return tty_cache[fd]
end

local MODES = {tty = true, plain = true, off = true}

M.getenv = os.getenv   -- replaceable, so specs can set MOONGRAD_PROGRESS

-- The display mode: opts.mode / opts.plain / opts.disable, then the
-- environment (MOONGRAD_PROGRESS = tty | plain | off), then detection.
local function resolve_mode(opts, out)
  if opts.mode ~= nil then
    if not MODES[opts.mode] then
      error("mg.progress: mode must be \"tty\", \"plain\" or \"off\", got " .. tostring(opts.mode), 3)
    end
    return opts.mode
  end
  if opts.disable then return "off" end
  if opts.plain then return "plain" end
  local env = M.getenv("MOONGRAD_PROGRESS")
  if env and MODES[env] then return env end
  if out == io.stdout then return M.is_terminal(1) and "tty" or "plain" end
  if out == io.stderr then return M.is_terminal(2) and "tty" or "plain" end
  return "plain"
end

-- Formatting ------------------------------------------------------------------

--- "MM:SS", or "H:MM:SS" from one hour on; "?" for an unknown time.
function M.format_time(s)
  if s == nil or s ~= s or s == math.huge or s < 0 then return "?" end
  s = math.floor(s + 0.5)
  local h, m, sec = s // 3600, (s // 60) % 60, s % 60
  if h > 0 then return string.format("%d:%02d:%02d", h, m, sec) end
  return string.format("%02d:%02d", m, sec)
end

--- A postfix value: integers as they are, numbers with 4 decimals
--- (scientific outside [1e-3, 1e4)), anything else through tostring.
function M.format_value(v)
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) ~= "number" then return tostring(v) end
  if v ~= v then return "nan" end
  if v == math.huge then return "inf" end
  if v == -math.huge then return "-inf" end
  local a = math.abs(v)
  if a ~= 0 and (a < 1e-3 or a >= 1e4) then return string.format("%.3e", v) end
  return string.format("%.4f", v)
end

--- "12.34it/s", or "2.50s/it" below one per second; "?it/s" before any time passed.
function M.format_rate(rate, unit)
  unit = unit or "it"
  if rate == nil or rate ~= rate or rate <= 0 or rate == math.huge then return "?" .. unit .. "/s" end
  if rate < 1 then return string.format("%.2fs/%s", 1 / rate, unit) end
  return string.format("%.2f%s/s", rate, unit)
end

local EIGHTHS = {"▏", "▎", "▍", "▌", "▋", "▊", "▉"}

--- The bar itself, `width` characters for the fraction `frac` in [0, 1]:
--- Unicode blocks (with eighths) or, with ascii, "#" and ".".
function M.format_bar(frac, width, ascii)
  frac = math.max(0, math.min(1, frac))
  if ascii then
    local full = math.floor(frac * width)
    return string.rep("#", full) .. string.rep(".", width - full)
  end
  local eighths = math.floor(frac * width * 8)
  local full, part = eighths // 8, eighths % 8
  local s = string.rep("█", full)
  if full < width then
    s = s .. (part > 0 and EIGHTHS[part] or " ") .. string.rep(" ", width - full - 1)
  end
  return s
end

-- The bar object ----------------------------------------------------------------

local Bar = {}
Bar.__index = Bar
Bar.__name = "moongrad.ProgressBar"

local function to_number(v)
  if type(v) == "number" then return v end
  if type(v) == "string" then return nil end
  local ok, n = pcall(function() return v:item() end)   -- a 0-d/1-element tensor
  if ok and type(n) == "number" then return n end
  return nil
end

-- Adds the keys of t that the bar has not seen yet to its display order
-- (new keys of one call in alphabetical order, so output is deterministic).
local function remember_keys(self, t)
  local new = {}
  for k in pairs(t) do
    if not self.seen[k] then new[#new + 1] = k end
  end
  table.sort(new, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(new) do
    self.seen[k] = true
    self.keys[#self.keys + 1] = k
  end
end

--- Elapsed seconds since the bar was made (frozen at close).
function Bar:elapsed()
  return (self.closed_at or self.clock()) - self.start
end

--- Items per second over the whole run (nil before any time passed).
function Bar:rate(now)
  local dt = (now or self.closed_at or self.clock()) - self.start
  if dt <= 0 then return nil end
  return self.n / dt
end

--- The smoothed value of a recorded quantity (e.g. "loss").
function Bar:value(key) return self.smooth[key] end

--- The plain mean of every value recorded under `key` (e.g. the epoch's loss).
function Bar:mean(key)
  local c = self.counts[key]
  if not c or c == 0 then return nil end
  return self.sums[key] / c
end

--- The status text (without "\r" or newline); `with_bar` adds the bar.
function Bar:text(now, with_bar)
  now = now or self.clock()
  local elapsed = now - self.start
  local rate = self:rate(now)
  local parts = {}
  if self.desc and self.desc ~= "" then parts[#parts + 1] = self.desc .. ": " end
  local extra = {}
  for _, k in ipairs(self.keys) do
    local v = self.postfix[k]
    if v ~= nil then extra[#extra + 1] = tostring(k) .. "=" .. M.format_value(v) end
  end
  local tail = #extra > 0 and (", " .. table.concat(extra, ", ")) or ""
  if self.total then
    local frac = self.total > 0 and self.n / self.total or 1
    parts[#parts + 1] = string.format("%3d%%", math.floor(frac * 100))
    parts[#parts + 1] = with_bar and ("|" .. M.format_bar(frac, self.width, self.ascii) .. "| ") or " "
    local eta = rate and (self.total - self.n) / rate or nil
    if self.n >= self.total then eta = 0 end
    parts[#parts + 1] = string.format("%d/%d [%s<%s, %s%s]", self.n, self.total,
      M.format_time(elapsed), M.format_time(eta), M.format_rate(rate, self.unit), tail)
  else
    parts[#parts + 1] = string.format("%d%s [%s, %s%s]", self.n, self.unit == "it" and "it" or " " .. self.unit,
      M.format_time(elapsed), M.format_rate(rate, self.unit), tail)
  end
  return table.concat(parts)
end

function Bar:_write(s)
  if type(self.out) == "function" then
    self.out(s)
  else
    self.out:write(s)
    if self.out.flush then self.out:flush() end
  end
end

-- Redraws the terminal line, padding over what a longer previous line left.
function Bar:_draw(now)
  local s = self:text(now, true)
  local len = utf8.len(s) or #s
  local pad = self.last_len > len and string.rep(" ", self.last_len - len) or ""
  self:_write("\r" .. s .. pad)
  self.last_len, self.last_text = len, s
  self.last_draw = now
end

-- Prints one plain line.
function Bar:_line(now)
  self:_write(self:text(now, false) .. "\n")
  self.last_draw = now
  self.printed_n = self.n
end

-- Draws if due: throttled redraws on a terminal; 10% marks (or every
-- plain_interval seconds without a total) in plain mode.
function Bar:_refresh(force)
  if self.mode == "off" or self.closed then return end
  local now = self.clock()
  if self.mode == "tty" then
    local finished = self.total and self.n >= self.total and not self.drew_full
    if force or finished or now - self.last_draw >= self.interval - 1e-9 then
      if finished then self.drew_full = true end
      self:_draw(now)
    end
  elseif self.total then
    if self.n >= self.next_mark and self.n ~= self.printed_n then
      self:_line(now)
      local step = math.max(self.total * self.every, 1)
      while self.next_mark <= self.n do self.next_mark = self.next_mark + step end
    end
  elseif now - self.last_draw >= self.plain_interval and self.n ~= self.printed_n then
    self:_line(now)
  end
end

--- bar:update(n = 1, values): n more items done; numbers in `values`
--- (numbers or one-element tensors, e.g. {loss = L}) are recorded and shown
--- smoothed; other values are shown as they are. Returns the bar.
function Bar:update(n, values)
  if type(n) == "table" and values == nil then n, values = 1, n end
  n = n or 1
  if math.tointeger(n) == nil then
    error("bar:update: the count must be a whole number, got " .. tostring(n), 2)
  end
  n = math.tointeger(n)
  if self.closed then return self end
  self.n = self.n + n
  if values then self:_record(values) end
  self:_refresh(false)
  return self
end

--- bar:step{loss = L}: one more item done, with values (update(1, values)).
function Bar:step(values) return self:update(1, values) end

--- bar:record{loss = L}: records values without counting an item
--- (for loops driven by bar:iter / mg.progress.wrap).
function Bar:record(values) return self:update(0, values) end

function Bar:_record(values)
  if type(values) ~= "table" or getmetatable(values) ~= nil then
    error("bar:update: values must be a table such as {loss = 0.5}, got " .. type(values), 3)
  end
  remember_keys(self, values)
  for k, v in pairs(values) do
    local x = to_number(v)
    if x == nil then
      self.postfix[k] = v
    else
      -- bias-corrected exponential moving average (the first value is
      -- shown as is; smoothing = 0 gives the plain running mean)
      local c = (self.counts[k] or 0) + 1
      self.counts[k], self.sums[k] = c, (self.sums[k] or 0) + x
      local a = self.smoothing
      if a <= 0 then
        self.smooth[k] = self.sums[k] / c
      else
        self.ema[k] = (1 - a) * (self.ema[k] or 0) + a * x
        self.smooth[k] = self.ema[k] / (1 - (1 - a) ^ c)
      end
      self.postfix[k] = self.smooth[k]
    end
  end
end

--- bar:set_postfix{lr = 0.01, ...}: values shown as they are (not smoothed).
function Bar:set_postfix(values)
  if type(values) ~= "table" then
    error("bar:set_postfix: expected a table such as {lr = 0.01}, got " .. type(values), 2)
  end
  remember_keys(self, values)
  for k, v in pairs(values) do
    local x = to_number(v)
    self.postfix[k] = x ~= nil and x or v
  end
  self:_refresh(false)
  return self
end

--- bar:write(msg): prints a line of text without breaking the bar.
function Bar:write(msg)
  msg = tostring(msg)
  if self.mode == "tty" and not self.closed and self.last_len > 0 then
    self:_write("\r" .. string.rep(" ", self.last_len) .. "\r" .. msg .. "\n")
    self.last_len = 0
    self:_draw(self.clock())
  else
    self:_write(msg .. "\n")
  end
  return self
end

--- bar:close(): the final line (and a newline on a terminal). Idempotent;
--- also runs at the end of a `local bar <close> = ...` scope.
function Bar:close()
  if self.closed then return self end
  local now = self.clock()
  if self.mode == "tty" then
    if self:text(now, true) ~= self.last_text then self:_draw(now) end
    self:_write("\n")
  elseif self.mode == "plain" and self.printed_n ~= self.n then
    self:_line(now)
  end
  self.closed, self.closed_at = true, now
  return self
end
Bar.__close = Bar.close

function Bar:__tostring() return self:text(nil, self.mode == "tty") end

-- Iteration ------------------------------------------------------------------------

-- total and a stateful iterator for: a count, an array, an object with
-- :iter() (and # for the total), or an iterator function (opts.total).
local function iteration(src, total)
  local t = type(src)
  if t == "number" then
    local n, i = math.tointeger(src), 0
    if not n or n < 0 then error("mg.progress.wrap: a count must be a non-negative integer, got " .. tostring(src), 3) end
    return n, function()
      if i < n then i = i + 1; return i end
    end
  elseif t == "function" then
    return total, src
  elseif t == "table" or t == "userdata" then
    local ok, it = pcall(function() return src.iter end)
    if ok and type(it) == "function" then
      if total == nil then
        local okn, len = pcall(function() return #src end)
        if okn and math.type(len) == "integer" then total = len end
      end
      return total, src:iter()
    end
    if t == "table" then
      local i, n = 0, #src
      return total or n, function()
        if i < n then i = i + 1; return src[i] end
      end
    end
  end
  error("mg.progress.wrap: expected a count, a table, an iterator function or an object with :iter(), got " .. t, 3)
end

--- for i, item... in bar:iter(src) do ... end: counts one item each time
--- the loop asks for the next one and closes the bar at the end (or on
--- break/error, through the generic for's closing value).
function Bar:iter(src)
  local total, nextf = iteration(src, self.total)
  if self.total == nil and total ~= nil then
    self.total = total
    self.next_mark = math.max(total * self.every, 1)
  end
  return self:_iterate(nextf)
end

function Bar:_iterate(nextf)
  local i = 0
  local function step()
    if i > 0 then self:update(1) end
    local res = table.pack(nextf())
    if res[1] == nil then
      self:close()
      return nil
    end
    i = i + 1
    return i, table.unpack(res, 1, res.n)
  end
  return step, nil, nil, self
end

-- Construction ------------------------------------------------------------------------

local function new(total, opts)
  if type(total) == "table" and opts == nil then total, opts = total.total, total end
  opts = opts or {}
  if type(opts) ~= "table" then error("mg.progress: options must be a table, got " .. type(opts), 3) end
  if total ~= nil then
    total = math.tointeger(total)
    if total == nil or total < 0 then
      error("mg.progress: total must be a non-negative integer or nil", 3)
    end
  end
  local out = opts.out or io.stdout
  if type(out) ~= "function" and not (pcall(function() return out.write end)) then
    error("mg.progress: out must be a function or a file, got " .. type(out), 3)
  end
  local clock = opts.clock or wall_clock
  local self = setmetatable({
    total = total, n = 0, desc = opts.desc, unit = opts.unit or "it",
    width = opts.width or 25, ascii = opts.ascii or false,
    interval = opts.interval or 0.1, every = opts.every or 0.1,
    plain_interval = opts.plain_interval or 10,
    smoothing = opts.smoothing or 0.1,
    out = out, clock = clock,
    keys = {}, seen = {}, postfix = {}, smooth = {}, ema = {}, sums = {}, counts = {},
    last_len = 0, closed = false,
  }, Bar)
  if type(self.width) ~= "number" or self.width < 1 then
    error("mg.progress: width must be a positive number", 3)
  end
  for _, k in ipairs({"interval", "every", "plain_interval", "smoothing"}) do
    local v = self[k]
    if type(v) ~= "number" or v ~= v or v < 0 or (k == "smoothing" and v > 1) then
      error("mg.progress: " .. k .. " must be a number " .. (k == "smoothing" and "in [0, 1]" or ">= 0")
        .. ", got " .. tostring(v), 3)
    end
  end
  self.width = math.floor(self.width)
  self.mode = resolve_mode(opts, out)
  self.start = clock()
  self.last_draw = self.start
  self.next_mark = total and math.max(total * self.every, 1) or nil
  if self.mode == "tty" then self:_draw(self.start) end
  return self
end

--- mg.progress.wrap(src, opts): `for i, item in mg.progress.wrap(loader, {desc = "epoch 1"}) do`;
--- src is a count, an array, an iterator function (give opts.total) or an
--- object with :iter() (and # for the total).
function M.wrap(src, opts)
  opts = opts or {}
  local total, nextf = iteration(src, opts.total)
  return new(total, opts):_iterate(nextf)
end

M.Bar = Bar
setmetatable(M, {__call = function(_, total, opts) return new(total, opts) end})

return function(mg, core)
  mg.progress = M
end
