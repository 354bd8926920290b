-- moongrad.plot — line plots written to PNG, SVG or PDF through gnuplot
-- (Debian: `apt-get install gnuplot-nox`). mg.plot.script builds the whole
-- gnuplot script, data included inline as datablocks, as a pure function;
-- mg.plot.lines / mg.plot.training write it to a temporary file and run
-- gnuplot on it. User strings (labels, titles, the output path) only ever
-- appear inside gnuplot single-quoted strings, where gnuplot does no
-- backquote or macro substitution; the shell sees only quoted file names.
local M = {}

M.gnuplot = os.getenv("MOONGRAD_GNUPLOT") or "gnuplot"

-- Quoting ---------------------------------------------------------------------

--- A gnuplot single-quoted string: ' doubled, control characters (which
--- would end the command) turned into spaces.
function M.quote(s)
  s = tostring(s):gsub("[%c]", " "):gsub("'", "''")
  return "'" .. s .. "'"
end

--- A POSIX shell single-quoted word.
function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Checking the arguments ---------------------------------------------------------

local mg_ref   -- the mg table, set at install time (for mg.is_tensor)

local function fail(fname, msg) error(fname .. ": " .. msg, 0) end

local function shape_text(t)
  local s = t.shape
  local parts = {}
  for i = 1, #s do parts[i] = tostring(s[i]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- A Lua array of numbers from a 1-d tensor or a table of numbers.
local function numbers(fname, what, v)
  if mg_ref and mg_ref.is_tensor(v) then
    if not pcall(function() return v.ndim end) then
      fail(fname, what .. " is a tensor used after it was closed")
    end
    if v.ndim ~= 1 then
      fail(fname, what .. " must be 1-d, got a tensor of shape " .. shape_text(v))
    end
    local t = v:totable()
    for i = 1, #t do
      if type(t[i]) == "boolean" then t[i] = t[i] and 1 or 0 end
    end
    return t
  end
  if type(v) ~= "table" then
    fail(fname, what .. " must be a 1-d tensor or a table of numbers, got " .. type(v))
  end
  local t = {}
  for i = 1, #v do
    if type(v[i]) ~= "number" then
      fail(fname, what .. "[" .. i .. "] must be a number, got " .. type(v[i]))
    end
    t[i] = v[i]
  end
  return t
end

local STYLES = {lines = true, points = true, linespoints = true}

local function check_word(fname, what, v)
  if type(v) ~= "string" or not v:match("^[%a ]+$") then
    fail(fname, what .. " must be words such as \"top left\", got " .. tostring(v))
  end
  return v
end

local function check_size(fname, what, v, default)
  if v == nil then return default end
  if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v)) or v < 1 or v > 20000 then
    fail(fname, what .. " must be a whole number of pixels in 1..20000, got " .. tostring(v))
  end
  return math.tointeger(v)
end

local function check_range(fname, what, r)
  if r == nil then return nil end
  if type(r) ~= "table" or type(r[1]) ~= "number" or type(r[2]) ~= "number"
      or r[1] ~= r[1] or r[2] ~= r[2] or math.abs(r[1]) == math.huge or math.abs(r[2]) == math.huge then
    fail(fname, what .. " must be {low, high} with finite numbers")
  end
  return r
end

-- One series, normalised: x and y as Lua arrays of the same length.
local function normalise_series(fname, i, s)
  if type(s) ~= "table" or mg_ref.is_tensor(s) then
    fail(fname, "series " .. i .. " must be a table such as {x = x, y = y, label = \"f(x)\"}")
  end
  if s.y == nil then fail(fname, "series " .. i .. " has no y") end
  local y = numbers(fname, "series " .. i .. " y", s.y)
  local x
  if s.x == nil then
    x = {}
    for k = 1, #y do x[k] = k end
  else
    x = numbers(fname, "series " .. i .. " x", s.x)
  end
  if #x ~= #y then
    fail(fname, string.format("series %d: x has %d values and y has %d", i, #x, #y))
  end
  local style = s.style or "lines"
  if not STYLES[style] then
    fail(fname, "series " .. i .. ": style must be \"lines\", \"points\" or \"linespoints\", got " .. tostring(style))
  end
  if s.axis ~= nil and s.axis ~= "y1" and s.axis ~= "y2" then
    fail(fname, "series " .. i .. ": axis must be \"y1\" or \"y2\", got " .. tostring(s.axis))
  end
  if s.linewidth ~= nil and (type(s.linewidth) ~= "number" or not (s.linewidth > 0 and s.linewidth < 100)) then
    fail(fname, "series " .. i .. ": linewidth must be a number in (0, 100)")
  end
  return {x = x, y = y, label = s.label, style = style, dash = s.dash, axis = s.axis or "y1",
          color = s.color, linewidth = s.linewidth or 2}
end

-- Output format from the file extension.
local function terminal_for(fname, output, width, height)
  local ext = tostring(output):match("%.([%w]+)$")
  ext = ext and ext:lower()
  if ext == "png" then
    return string.format("set terminal pngcairo size %d,%d noenhanced background rgb 'white'", width, height)
  elseif ext == "svg" then
    return string.format("set terminal svg size %d,%d noenhanced background rgb 'white'", width, height)
  elseif ext == "pdf" then
    return string.format("set terminal pdfcairo size %.2fin,%.2fin noenhanced", width / 100, height / 100)
  end
  fail(fname, "output must end in .png, .svg or .pdf, got " .. M.quote(output))
end

local function num(v)
  if v ~= v or v == math.huge or v == -math.huge then return "NaN" end  -- a gap
  if math.type(v) == "integer" then return tostring(v) end
  return string.format("%.10g", v)
end

-- The script -------------------------------------------------------------------------

--- mg.plot.script(series, opts): the gnuplot script (data inline) that
--- mg.plot.lines runs; a pure function, for inspection and tests.
function M.script(series, opts, fname)
  fname = fname or "mg.plot.script"
  opts = opts or {}
  if type(series) ~= "table" then fail(fname, "expected a list of series, got " .. type(series)) end
  if type(opts) ~= "table" then fail(fname, "options must be a table, got " .. type(opts)) end
  if series.y ~= nil then series = {series} end           -- a single series
  if #series == 0 then fail(fname, "no series to plot") end
  local list = {}
  for i = 1, #series do list[i] = normalise_series(fname, i, series[i]) end

  local output = opts.output or "plot.png"
  local width = check_size(fname, "width", opts.width, 800)
  local height = check_size(fname, "height", opts.height, 500)
  local L = {"# written by moongrad.plot", "set encoding utf8",
             terminal_for(fname, output, width, height), "set output " .. M.quote(output)}
  local function add(s) L[#L + 1] = s end
  if opts.title then add("set title " .. M.quote(opts.title)) end
  if opts.xlabel then add("set xlabel " .. M.quote(opts.xlabel)) end
  if opts.ylabel then add("set ylabel " .. M.quote(opts.ylabel)) end
  local uses_y2 = false
  for _, s in ipairs(list) do uses_y2 = uses_y2 or s.axis == "y2" end
  if uses_y2 then
    add("set ytics nomirror")
    add("set y2tics")
    if opts.y2label then add("set y2label " .. M.quote(opts.y2label)) end
  end
  if opts.grid ~= false then add("set grid") end
  if opts.key == false then
    add("unset key")
  else
    add("set key " .. check_word(fname, "key", opts.key or "top right") .. " box opaque")
  end
  if opts.xlog then add("set logscale x") end
  if opts.ylog then add("set logscale y") end
  local xr = check_range(fname, "xrange", opts.xrange)
  if xr then add(string.format("set xrange [%s:%s]", num(xr[1]), num(xr[2]))) end
  local yr = check_range(fname, "yrange", opts.yrange)
  if yr then add(string.format("set yrange [%s:%s]", num(yr[1]), num(yr[2]))) end

  for i, s in ipairs(list) do
    add(string.format("$mg%d << EOD", i))
    for k = 1, #s.x do add(num(s.x[k]) .. " " .. num(s.y[k])) end
    add("EOD")
  end

  local clauses = {}
  for i, s in ipairs(list) do
    local c = {string.format("$mg%d using 1:2 with %s", i, s.style)}
    if s.style ~= "points" then c[#c + 1] = string.format("linewidth %s", num(s.linewidth)) end
    if s.style ~= "lines" then c[#c + 1] = "pointtype 7 pointsize 0.6" end
    if s.dash then c[#c + 1] = "dashtype 2" end
    if math.type(s.color) == "integer" then
      c[#c + 1] = "linecolor " .. s.color                    -- gnuplot's n-th colour
    elseif s.color then
      c[#c + 1] = "linecolor rgb " .. M.quote(s.color)
    end
    if s.axis == "y2" then c[#c + 1] = "axes x1y2" end
    c[#c + 1] = s.label ~= nil and ("title " .. M.quote(s.label)) or "notitle"
    clauses[i] = table.concat(c, " ")
  end
  add("plot " .. table.concat(clauses, ", \\\n     "))
  add("unset output")
  return table.concat(L, "\n") .. "\n", output
end

-- Running gnuplot ---------------------------------------------------------------------

--- Whether gnuplot can be run (mg.plot.gnuplot, "gnuplot" by default or
--- $MOONGRAD_GNUPLOT), so scripts can skip their plots.
function M.available()
  return os.execute("command -v " .. M.shell_quote(M.gnuplot) .. " >/dev/null 2>&1") == true
end

local function run(fname, script, output)
  if not M.available() then
    fail(fname, "gnuplot was not found (looked for " .. M.quote(M.gnuplot) .. "); install it with "
      .. "`apt-get install gnuplot-nox` (Debian/Ubuntu) or set mg.plot.gnuplot to its path; "
      .. "mg.plot.available() tells whether plots can be drawn")
  end
  local path = os.tmpname()
  local f, err = io.open(path, "w")
  if not f then fail(fname, "cannot write a temporary file: " .. tostring(err)) end
  f:write(script)
  f:close()
  local p = io.popen(M.shell_quote(M.gnuplot) .. " " .. M.shell_quote(path) .. " 2>&1", "r")
  local text = p:read("a")
  local ok, _, code = p:close()
  os.remove(path)
  if not ok then
    fail(fname, "gnuplot failed (exit status " .. tostring(code) .. ") writing " .. M.quote(output)
      .. ": " .. text:gsub("%s+$", ""))
  end
  return output
end

--- mg.plot.lines(series, opts): draws each {x = ..., y = ..., label = ...}
--- (x/y 1-d tensors or tables; x defaults to 1..n; style = "lines" |
--- "points" | "linespoints", dash = true, color = "red" or "#ff0000" or a
--- number (gnuplot's n-th colour), axis = "y2") into
--- opts.output (.png, .svg or .pdf; "plot.png" by default) and returns its path.
--- opts: title, xlabel, ylabel, y2label, width (800), height (500), key
--- ("top right"; false hides it), grid (true), xlog, ylog, xrange, yrange.
function M.lines(series, opts)
  local script, output = M.script(series, opts, "mg.plot.lines")
  return run("mg.plot.lines", script, output)
end

local function is_accuracy(name) return tostring(name):lower():find("acc") ~= nil end

-- Per-epoch history as series: {loss = {...}, accuracy = {...}} or a list of
-- per-epoch records { {loss = .., accuracy = ..}, ... }. Accuracy-like keys
-- go on the right axis; val_* curves are dashed.
local function training_series(fname, history)
  if type(history) ~= "table" then fail(fname, "expected a table such as {loss = {...}}, got " .. type(history)) end
  if type(history[1]) == "table" and not mg_ref.is_tensor(history[1]) then
    local cols = {}
    for e, rec in ipairs(history) do
      if type(rec) ~= "table" or mg_ref.is_tensor(rec) then
        fail(fname, "record " .. e .. " must be a table such as {loss = 0.5}, got " .. type(rec))
      end
      for k, v in pairs(rec) do
        cols[k] = cols[k] or {}
        if mg_ref.is_tensor(v) then
          local ok, x = pcall(function() return v:item() end)
          if not ok then
            fail(fname, "record " .. e .. ": " .. tostring(k) .. " must be a number or a one-element tensor")
          end
          v = x
        end
        cols[k][e] = type(v) == "number" and v or 0 / 0
      end
    end
    for _, c in pairs(cols) do
      for e = 1, #history do c[e] = c[e] or 0 / 0 end
    end
    history = cols
  end
  local names = {}
  for k in pairs(history) do
    if type(k) ~= "string" then fail(fname, "history keys must be names such as \"loss\"") end
    names[#names + 1] = k
  end
  if #names == 0 then fail(fname, "the history is empty") end
  table.sort(names, function(a, b)
    local ia, ib = is_accuracy(a), is_accuracy(b)
    if ia ~= ib then return ib end
    return a < b
  end)
  local series, any_acc, colors = {}, false, {}
  for _, k in ipairs(names) do
    local acc = is_accuracy(k)
    any_acc = any_acc or acc
    local base = k:gsub("^val_?", "")                       -- loss and val_loss share a colour
    if not colors[base] then colors[base] = #series + 1 end
    series[#series + 1] = {y = history[k], label = k, style = "linespoints", color = colors[base],
                           axis = acc and "y2" or "y1", dash = k:match("^val") ~= nil}
  end
  return series, any_acc
end

--- mg.plot.training(history, opts): per-epoch curves, e.g.
--- {loss = {...}, accuracy = {...}, val_loss = {...}}; losses on the left
--- axis, accuracies (names containing "acc") on the right, val_* dashed in
--- the colour of their training curve, the legend below; opts as for
--- mg.plot.lines ("training.png" by default). Returns the output path.
function M.training(history, opts)
  local fname = "mg.plot.training"
  opts = opts or {}
  if type(opts) ~= "table" then fail(fname, "options must be a table, got " .. type(opts)) end
  local series, any_acc = training_series(fname, history)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.title = o.title or "training"
  o.xlabel = o.xlabel or "epoch"
  o.ylabel = o.ylabel or "loss"
  if any_acc then o.y2label = o.y2label or "accuracy" end
  o.output = o.output or "training.png"
  if o.key == nil then o.key = "right center" end
  local script, output = M.script(series, o, fname)
  return run(fname, script, output)
end

return function(mg, core)
  mg_ref = mg
  mg.plot = M
end
