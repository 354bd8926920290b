-- plot_spec.lua — mg.plot: the gnuplot script that mg.plot.script builds
-- (terminal from the extension, size, labels, inline data, series
-- options, two y axes for mg.plot.training), the quoting of labels and
-- paths (quotes, backquotes, newlines cannot escape the string), argument
-- errors, and real PNG/SVG files written when gnuplot is installed (pending
-- otherwise, and under the sanitizer).
local mg = require("moongrad")

local function has(text, piece)
  assert(text:find(piece, 1, true), "expected to find\n  " .. piece .. "\nin\n" .. text)
end

local function lines_of(text)
  local t = {}
  for l in text:gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

describe("mg.plot.script", function()
  it("builds the whole script for two series", function()
    local text, out = mg.plot.script({
      {x = {0, 1, 2}, y = {0.5, 1.5, -2}, label = "f(x)"},
      {x = {0, 1, 2}, y = {3, 4, 5}, label = "df/dx", dash = true},
    }, {title = "T", xlabel = "x", ylabel = "y", output = "fig.png", width = 640, height = 480})
    assert.are.equal("fig.png", out)
    assert.are.same({
      "# written by moongrad.plot",
      "set encoding utf8",
      "set terminal pngcairo size 640,480 noenhanced background rgb 'white'",
      "set output 'fig.png'",
      "set title 'T'",
      "set xlabel 'x'",
      "set ylabel 'y'",
      "set grid",
      "set key top right box opaque",
      "$mg1 << EOD",
      "0 0.5", "1 1.5", "2 -2",
      "EOD",
      "$mg2 << EOD",
      "0 3", "1 4", "2 5",
      "EOD",
      "plot $mg1 using 1:2 with lines linewidth 2 title 'f(x)', \\",
      "     $mg2 using 1:2 with lines linewidth 2 dashtype 2 title 'df/dx'",
      "unset output",
    }, lines_of(text))
  end)

  it("takes 1-d tensors, and x defaults to 1..n", function()
    local x = mg.linspace(0, 1, 3, {dtype = "float64"})
    local text = mg.plot.script({{x = x, y = x * 2}}, {output = "a.png"})
    has(text, "$mg1 << EOD\n0 0\n0.5 1\n1 2\nEOD\n")
    has(text, "notitle")
    text = mg.plot.script({{y = mg.tensor({5, 6}, {dtype = "float64"})}}, {output = "a.png"})
    has(text, "$mg1 << EOD\n1 5\n2 6\nEOD\n")
    text = mg.plot.script({y = {7, 8}, label = "one"}, {output = "a.png"})   -- a single series
    has(text, "title 'one'")
  end)

  it("writes non-finite values as NaN (a gap in the line)", function()
    local text = mg.plot.script({{y = {1, 0 / 0, math.huge, 4}}}, {output = "a.png"})
    has(text, "1 1\n2 NaN\n3 NaN\n4 4\n")
  end)

  it("picks the terminal from the extension, with the size", function()
    has(mg.plot.script({{y = {1}}}, {output = "p.PNG"}), "set terminal pngcairo size 800,500 ")
    has(mg.plot.script({{y = {1}}}, {output = "d/p.svg", width = 300, height = 200}),
      "set terminal svg size 300,200 noenhanced")
    has(mg.plot.script({{y = {1}}}, {output = "p.pdf"}), "set terminal pdfcairo size 8.00in,5.00in")
    has(mg.plot.script({{y = {1}}}, {}), "set output 'plot.png'")
  end)

  it("applies the series and plot options", function()
    local text = mg.plot.script({
      {y = {1, 2}, style = "points", color = "red", label = "a"},
      {y = {1, 2}, style = "linespoints", axis = "y2", linewidth = 1.5, label = "b"},
    }, {output = "o.svg", y2label = "acc", key = "bottom left", grid = false, ylog = true,
        xlog = true, xrange = {0, 3}, yrange = {-1, 2.5}})
    has(text, "$mg1 using 1:2 with points pointtype 7 pointsize 0.6 linecolor rgb 'red' title 'a'")
    has(text, "$mg2 using 1:2 with linespoints linewidth 1.5 pointtype 7 pointsize 0.6 axes x1y2 title 'b'")
    has(text, "set ytics nomirror\nset y2tics\nset y2label 'acc'\n")
    has(text, "set key bottom left box opaque")
    has(text, "set logscale x\nset logscale y\nset xrange [0:3]\nset yrange [-1:2.5]\n")
    assert.is_nil(text:find("set grid", 1, true))
    has(mg.plot.script({{y = {1}}}, {key = false}), "unset key")
  end)
end)

describe("mg.plot quoting", function()
  it("doubles single quotes and blanks control characters", function()
    assert.are.equal("'it''s'", mg.plot.quote("it's"))
    assert.are.equal("'a b c'", mg.plot.quote("a\nb\rc"))
    assert.are.equal("'`rm -rf x` @m \"q\" \\'", mg.plot.quote("`rm -rf x` @m \"q\" \\"))
    assert.are.equal("'a'\\''b'", mg.plot.shell_quote("a'b"))
  end)

  it("keeps hostile labels, titles and paths inside one single-quoted string", function()
    local evil = "x'; system 'touch /tmp/pwned'\nplot '"
    local text = mg.plot.script({{y = {1, 2}, label = evil}},
      {title = evil, xlabel = evil, output = "/tmp/it's dir/o'; x.png"})
    has(text, "set output '/tmp/it''s dir/o''; x.png'")
    has(text, "set title 'x''; system ''touch /tmp/pwned'' plot '''")
    has(text, "title 'x''; system ''touch /tmp/pwned'' plot '''\nunset output")
    -- every line outside the data holds an even number of quotes: no string is left open
    for _, l in ipairs(lines_of(text)) do
      local _, n = l:gsub("'", "")
      assert.are.equal(0, n % 2, l)
    end
    -- the label's newline did not start a new command
    for _, l in ipairs(lines_of(text)) do assert.is_nil(l:match("^plot '")) end
  end)

  it("rejects words that would go into the script unquoted", function()
    local ok, err = pcall(mg.plot.script, {{y = {1}}}, {key = "top; system 'ls'"})
    assert.is_false(ok)
    assert.matches("key must be words", err)
  end)
end)

describe("mg.plot.training", function()
  it("puts losses on the left axis and accuracies on the right, val_* dashed", function()
    local captured
    -- capture the script instead of running gnuplot
    local saved_script = mg.plot.script
    mg.plot.script = function(series, opts, fname)
      captured = saved_script(series, opts, fname)
      error("stop here", 0)
    end
    local ok, err = pcall(mg.plot.training,
      {loss = {1.0, 0.5}, accuracy = {0.6, 0.8}, val_loss = {1.2, 0.7}}, {output = "t.svg"})
    mg.plot.script = saved_script
    assert.is_false(ok)
    assert.are.equal("stop here", err)
    has(captured, "set title 'training'\nset xlabel 'epoch'\nset ylabel 'loss'\n")
    has(captured, "set y2label 'accuracy'")
    has(captured, "set key right center box opaque")
    has(captured, "$mg1 using 1:2 with linespoints linewidth 2 pointtype 7 pointsize 0.6 linecolor 1 title 'loss'")
    has(captured, "$mg2 using 1:2 with linespoints linewidth 2 pointtype 7 pointsize 0.6 dashtype 2 linecolor 1 "
                  .. "title 'val_loss'")
    has(captured, "$mg3 using 1:2 with linespoints linewidth 2 pointtype 7 pointsize 0.6 linecolor 3 axes x1y2 "
                  .. "title 'accuracy'")
    has(captured, "$mg1 << EOD\n1 1\n2 0.5\nEOD")
  end)
end)

describe("mg.plot errors", function()
  local function err_of(f, ...)
    local ok, e = pcall(f, ...)
    assert.is_false(ok)
    return e
  end

  it("names the function and what is wrong", function()
    assert.matches("mg.plot.lines: series 1 has no y", err_of(mg.plot.lines, {{x = {1}}}))
    assert.matches("series 1: x has 2 values and y has 3", err_of(mg.plot.lines, {{x = {1, 2}, y = {1, 2, 3}}}))
    assert.matches("series 1 y must be 1%-d, got a tensor of shape {2, 2}",
      err_of(mg.plot.lines, {{y = mg.zeros(2, 2)}}))
    assert.matches("series 1 y%[2%] must be a number, got string", err_of(mg.plot.lines, {{y = {1, "a"}}}))
    assert.matches("output must end in .png, .svg or .pdf", err_of(mg.plot.lines, {{y = {1}}}, {output = "a.gif"}))
    assert.matches("width must be a whole number", err_of(mg.plot.lines, {{y = {1}}}, {width = -3}))
    assert.matches("style must be", err_of(mg.plot.lines, {{y = {1}, style = "bars"}}))
    assert.matches("axis must be", err_of(mg.plot.lines, {{y = {1}, axis = "y3"}}))
    assert.matches("no series to plot", err_of(mg.plot.lines, {}))
    assert.matches("xrange must be", err_of(mg.plot.lines, {{y = {1}}}, {xrange = {0, math.huge}}))
    assert.matches("mg.plot.training: the history is empty", err_of(mg.plot.training, {}))
  end)

  it("names a closed tensor, a record that is not a table, a tensor that is no number (fuzz)", function()
    -- (these raised errors from inside plot.lua: "ndim: tensor used after...", "bad argument #1 to 'for iterator'")
    local shut = mg.ones(2)
    getmetatable(shut).__close(shut)
    assert.matches("mg.plot.script: series 1 y is a tensor used after it was closed",
      err_of(mg.plot.script, {{y = shut}}))
    assert.matches("mg.plot.training: record 2 must be a table", err_of(mg.plot.training, {{loss = 1}, 3}))
    assert.matches("mg.plot.training: record 1: loss must be a number or a one%-element tensor",
      err_of(mg.plot.training, {{loss = mg.ones(2)}}))
  end)

  it("says how to install gnuplot when it is missing", function()
    local saved = mg.plot.gnuplot
    mg.plot.gnuplot = "no-such-gnuplot-binary"
    local avail = mg.plot.available()
    local e = err_of(mg.plot.lines, {{y = {1, 2}}}, {output = os.tmpname() .. ".png"})
    mg.plot.gnuplot = saved
    assert.is_false(avail)
    assert.matches("mg.plot.lines: gnuplot was not found", e)
    assert.matches("apt%-get install gnuplot%-nox", e)
  end)
end)

describe("mg.plot with gnuplot", function()
  local have = mg.plot.available()
  local function tmp(ext)
    local base = os.tmpname()
    os.remove(base)
    return base .. ext
  end
  local read = require("helpers").read

  -- under `make sanitize` gnuplot would inherit the ASan runtime (LD_PRELOAD)
  -- and fail on its own libraries' leaks
  local sanitized = (os.getenv("LD_PRELOAD") or ""):find("asan", 1, true)
  if not have then
    pending("gnuplot is not installed (apt-get install gnuplot-nox): no files written")
    return
  elseif sanitized then
    pending("writes PNG and SVG files through gnuplot (not under the sanitizer)")
    return
  end

  it("writes a PNG and returns its path", function()
    local x = mg.linspace(0, 6, 50)
    local path = tmp(" it's.png")                       -- a quote and a space in the name
    local got = mg.plot.lines({{x = x, y = mg.sin(x), label = "sin"},
                               {x = x, y = mg.cos(x), label = "it's `cos`", dash = true}},
                              {title = "t", output = path})
    assert.are.equal(path, got)
    local data = read(path)
    os.remove(path)
    assert.are.equal("\137PNG\r\n\26\n", data:sub(1, 8))
    assert.is_true(#data > 1000)
  end)

  it("writes an SVG that holds the labels verbatim", function()
    local path = tmp(".svg")
    mg.plot.training({loss = {1, 0.5, 0.25}, accuracy = {0.5, 0.7, 0.9}}, {output = path})
    local data = read(path)
    os.remove(path)
    assert.matches("<svg", data)
    assert.matches("accuracy", data)
    assert.matches("epoch", data)
  end)

  it("reports gnuplot's own error when it fails", function()
    local ok, e = pcall(mg.plot.lines, {{y = {1, 2}}}, {output = "/nonexistent-dir/x.png"})
    assert.is_false(ok)
    assert.matches("mg.plot.lines: gnuplot failed", e)
    assert.matches("cannot open file", e)
  end)
end)
