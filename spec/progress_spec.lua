-- progress_spec.lua — mg.progress: the text of the bar in plain and terminal
-- modes with an injected clock and output (percent, counts, rate, elapsed,
-- ETA, smoothed loss and its formatting), the \r redraw throttling, plain
-- lines every 10% and at close, mg.progress.wrap / bar:iter (counts,
-- arrays, iterator functions, break closing the bar), mode selection
-- (options, MOONGRAD_PROGRESS) and error messages.
local mg = require("moongrad")

-- A bar whose output goes to a table and whose clock is a variable.
local function fake(total, opts)
  local rec = {chunks = {}, t = 0.0}
  opts = opts or {}
  opts.out = function(s) rec.chunks[#rec.chunks + 1] = s end
  opts.clock = function() return rec.t end
  rec.bar = mg.progress(total, opts)
  function rec.text() return table.concat(rec.chunks) end
  function rec.lines()
    local out = {}
    for line in rec.text():gmatch("([^\n]*)\n") do out[#out + 1] = line end
    return out
  end
  return rec
end

describe("mg.progress formatting helpers", function()
  it("formats times as MM:SS and H:MM:SS", function()
    assert.are.equal("00:00", mg.progress.format_time(0))
    assert.are.equal("00:07", mg.progress.format_time(6.6))
    assert.are.equal("01:05", mg.progress.format_time(65))
    assert.are.equal("1:01:01", mg.progress.format_time(3661))
    assert.are.equal("?", mg.progress.format_time(nil))
    assert.are.equal("?", mg.progress.format_time(math.huge))
    assert.are.equal("?", mg.progress.format_time(0 / 0))
  end)

  it("formats rates as it/s, or s/it below one per second", function()
    assert.are.equal("12.50it/s", mg.progress.format_rate(12.5))
    assert.are.equal("2.50s/it", mg.progress.format_rate(0.4))
    assert.are.equal("3.00batch/s", mg.progress.format_rate(3, "batch"))
    assert.are.equal("?it/s", mg.progress.format_rate(nil))
    assert.are.equal("?it/s", mg.progress.format_rate(0))
  end)

  it("formats values: 4 decimals, scientific when tiny or huge, integers as is", function()
    assert.are.equal("0.4321", mg.progress.format_value(0.43211))
    assert.are.equal("2.3026", mg.progress.format_value(2.302585))
    assert.are.equal("0.0000", mg.progress.format_value(0.0))
    assert.are.equal("1.235e-04", mg.progress.format_value(1.2346e-4))
    assert.are.equal("1.235e+05", mg.progress.format_value(123456.0))
    assert.are.equal("42", mg.progress.format_value(42))
    assert.are.equal("nan", mg.progress.format_value(0 / 0))
    assert.are.equal("inf", mg.progress.format_value(math.huge))
    assert.are.equal("adam", mg.progress.format_value("adam"))
  end)

  it("draws the bar with eighth blocks, or ASCII", function()
    assert.are.equal("█████     ", mg.progress.format_bar(0.5, 10))
    assert.are.equal("██▌       ", mg.progress.format_bar(0.25, 10))
    assert.are.equal("██████████", mg.progress.format_bar(1, 10))
    assert.are.equal("          ", mg.progress.format_bar(0, 10))
    assert.are.equal("##........", mg.progress.format_bar(0.25, 10, true))
    assert.are.equal("##########", mg.progress.format_bar(2, 10, true))
  end)
end)

describe("mg.progress in plain mode", function()
  it("prints one line every 10% and nothing in between", function()
    local r = fake(100, {desc = "epoch 1", mode = "plain"})
    assert.are.equal("", r.text())                       -- no line at the start
    for _ = 1, 9 do r.t = r.t + 0.5; r.bar:update() end
    assert.are.equal("", r.text())
    r.t = r.t + 0.5; r.bar:update()                      -- 10 items in 5 s
    assert.are.same({"epoch 1:  10% 10/100 [00:05<00:45, 2.00it/s]"}, r.lines())
    for _ = 11, 100 do r.t = r.t + 0.5; r.bar:update() end
    local lines = r.lines()
    assert.are.equal(10, #lines)
    assert.are.equal("epoch 1:  50% 50/100 [00:25<00:25, 2.00it/s]", lines[5])
    assert.are.equal("epoch 1: 100% 100/100 [00:50<00:00, 2.00it/s]", lines[10])
    r.bar:close()                                        -- the end was printed already
    assert.are.equal(10, #r.lines())
    assert.is_nil(r.text():find("\r", 1, true))
  end)

  it("prints once when an update jumps over several marks, and the last line at close", function()
    local r = fake(100, {mode = "plain"})
    r.t = r.t + 2; r.bar:update(45)
    r.t = r.t + 1; r.bar:update(3)                       -- 48: below the 50% mark
    assert.are.same({" 45% 45/100 [00:02<00:02, 22.50it/s]"}, r.lines())
    r.t = r.t + 93; r.bar:close()                        -- stopped early: a final line
    assert.are.same({" 45% 45/100 [00:02<00:02, 22.50it/s]", " 48% 48/100 [01:36<01:44, 2.00s/it]"},
      r.lines())
  end)

  it("shows the smoothed loss: the first value as is, then an exponential average", function()
    local r = fake(2, {mode = "plain", every = 0.5})
    r.t = r.t + 1; r.bar:step{loss = 2.0}
    assert.are.equal(" 50% 1/2 [00:01<00:01, 1.00it/s, loss=2.0000]", r.lines()[1])
    r.t = r.t + 1; r.bar:step{loss = 1.0}
    -- bias-corrected EMA with smoothing 0.1: (0.9*0.1*2 + 0.1*1) / (1 - 0.81)
    local expected = (0.9 * 0.1 * 2 + 0.1 * 1) / (1 - 0.81)
    assert.are.equal(string.format("100%% 2/2 [00:02<00:00, 1.00it/s, loss=%.4f]", expected), r.lines()[2])
    assert.is_true(math.abs(r.bar:value("loss") - expected) < 1e-12)
    assert.are.equal(1.5, r.bar:mean("loss"))
  end)

  it("smoothing = 0 shows the running mean; smoothing = 1 the last value", function()
    local r = fake(3, {mode = "off", smoothing = 0})
    r.bar:step{loss = 3}; r.bar:step{loss = 1}; r.bar:step{loss = 2}
    assert.are.equal(2, r.bar:value("loss"))
    local s = fake(3, {mode = "off", smoothing = 1})
    s.bar:step{loss = 3}; s.bar:step{loss = 1}
    assert.are.equal(1, s.bar:value("loss"))
  end)

  it("accepts one-element tensors as values and set_postfix values unsmoothed", function()
    local r = fake(4, {mode = "plain", every = 0.25})
    r.t = r.t + 1
    r.bar:update(1, {loss = mg.tensor(0.25, {dtype = "float64"})})
    r.bar:set_postfix{lr = 0.01, opt = "sgd"}
    r.t = r.t + 1
    r.bar:update(1, {loss = mg.tensor(0.75, {dtype = "float64"})})
    local expected = (0.9 * 0.1 * 0.25 + 0.1 * 0.75) / (1 - 0.81)
    assert.are.equal(string.format(" 50%% 2/4 [00:02<00:02, 1.00it/s, loss=%.4f, lr=0.0100, opt=sgd]", expected),
      r.lines()[2])
  end)

  it("orders postfix keys by first appearance (alphabetically within one call)", function()
    local r = fake(1, {mode = "plain"})
    r.bar:set_postfix{zeta = 1}
    r.bar:update(1, {loss = 0.5, acc = 0.25})
    assert.matches("zeta=1, acc=0.2500, loss=0.5000%]$", r.lines()[1])
  end)

  it("without a total counts items and prints every plain_interval seconds", function()
    local r = fake(nil, {mode = "plain", unit = "batch", plain_interval = 10})
    for _ = 1, 5 do r.t = r.t + 3; r.bar:update() end     -- a line at 12 s
    assert.are.same({"4 batch [00:12, 3.00s/batch]"}, r.lines())
    r.bar:close()
    assert.are.equal("5 batch [00:15, 3.00s/batch]", r.lines()[2])
  end)

  it("prints nothing in mode off but still counts", function()
    local r = fake(5, {mode = "off"})
    r.bar:update(5, {loss = 1})
    r.bar:close()
    assert.are.equal("", r.text())
    assert.are.equal(5, r.bar.n)
  end)
end)

describe("mg.progress in terminal mode", function()
  it("draws at once, then redraws in place with \\r at most every interval", function()
    local r = fake(100, {desc = "train", mode = "tty", width = 10})
    assert.are.equal("\rtrain:   0%|          | 0/100 [00:00<?, ?it/s]", r.text())
    r.t = r.t + 0.05; r.bar:update(5)                    -- 0.05 s later: not redrawn
    assert.are.equal(1, #r.chunks)
    r.t = r.t + 0.05; r.bar:update(5, {loss = 0.5})      -- 0.1 s: redrawn
    assert.are.equal(2, #r.chunks)
    assert.are.equal("\rtrain:  10%|█         | 10/100 [00:00<00:01, 100.00it/s, loss=0.5000]", r.chunks[2])
    for _ = 1, 10 do r.t = r.t + 0.01; r.bar:update(1) end  -- 0.1 s of updates: one redraw
    assert.are.equal(3, #r.chunks)
    assert.is_nil(r.text():find("\n", 1, true))
  end)

  it("draws on reaching the total even within the interval, and ends the line at close", function()
    local r = fake(4, {mode = "tty", width = 4, ascii = true})
    r.t = r.t + 1; r.bar:update(3)
    r.t = r.t + 0.01; r.bar:update(1)
    local last = r.chunks[#r.chunks]
    assert.are.equal("\r100%|####| 4/4 [00:01<00:00, 3.96it/s]", last)
    local n = #r.chunks
    r.bar:close()
    assert.are.equal("\n", r.chunks[#r.chunks])        -- same text: only the newline
    assert.are.equal(n + 1, #r.chunks)
    r.bar:close()                                      -- idempotent
    assert.are.equal(n + 1, #r.chunks)
    r.bar:update(1)                                    -- ignored after close
    assert.are.equal(n + 1, #r.chunks)
  end)

  it("pads over a longer previous line", function()
    local r = fake(10, {mode = "tty", width = 4, ascii = true})
    r.t = r.t + 1; r.bar:set_postfix{note = "a long note"}
    r.t = r.t + 1; r.bar:set_postfix{note = "x"}
    local prev, cur = r.chunks[#r.chunks - 1], r.chunks[#r.chunks]
    assert.are.equal(#prev, #cur)
    assert.matches("note=x%]%s+$", cur)
  end)

  it("bar:write prints a message above the bar and redraws it", function()
    local r = fake(10, {mode = "tty", width = 4, ascii = true})
    r.bar:write("hello")
    local line = "  0%|....| 0/10 [00:00<?, ?it/s]"
    assert.are.same({"\r" .. line, "\r" .. string.rep(" ", #line) .. "\rhello\n", "\r" .. line}, r.chunks)
  end)

  it("closes at the end of a <close> scope", function()
    local r
    do
      r = fake(3, {mode = "tty"})
      local bar <close> = r.bar
      bar:update(2)
    end
    assert.is_true(r.bar.closed)
    assert.are.equal("\n", r.chunks[#r.chunks])
  end)
end)

describe("mg.progress.wrap and bar:iter", function()
  it("iterates a count, counting each item when the next is asked for", function()
    local seen, chunks, t = {}, {}, 0
    for i, v in mg.progress.wrap(3, {mode = "plain", every = 1 / 3, out = function(s) chunks[#chunks + 1] = s end,
                                      clock = function() return t end}) do
      seen[#seen + 1] = {i, v}
      t = t + 1
    end
    assert.are.same({{1, 1}, {2, 2}, {3, 3}}, seen)
    assert.are.same({" 33% 1/3 [00:01<00:02, 1.00it/s]\n", " 66% 2/3 [00:02<00:01, 1.00it/s]\n",
                     "100% 3/3 [00:03<00:00, 1.00it/s]\n"}, chunks)
  end)

  it("iterates an array, yielding index and value", function()
    local out = {}
    for i, v in mg.progress.wrap({"a", "b"}, {mode = "off"}) do out[i] = v end
    assert.are.same({"a", "b"}, out)
  end)

  it("iterates an iterator function with several values (total from opts)", function()
    local k = 0
    local function batches()
      k = k + 1
      if k <= 2 then return "x" .. k, "y" .. k end
    end
    local got = {}
    local r = fake(nil, {mode = "off"})
    for i, x, y in r.bar:iter(batches) do got[#got + 1] = i .. x .. y end
    assert.are.same({"1x1y1", "2x2y2"}, got)
    assert.are.equal(2, r.bar.n)
    assert.is_true(r.bar.closed)
  end)

  it("iterates an object with :iter() and # for the total", function()
    local loader = setmetatable({}, {__len = function() return 2 end, __index = {
      iter = function()
        local i = 0
        return function() i = i + 1; if i <= 2 then return i * 10 end end
      end}})
    local r = fake(nil, {mode = "plain", every = 0.5})
    local got = {}
    for _, b in r.bar:iter(loader) do got[#got + 1] = b end
    assert.are.same({10, 20}, got)
    assert.are.equal(2, r.bar.total)
    assert.are.equal(2, #r.lines())
  end)

  it("closes the bar when the loop breaks, without counting the broken item", function()
    local r = fake(10, {mode = "tty"})
    for i in r.bar:iter(10) do
      r.bar:record{loss = i}
      if i == 3 then break end
    end
    assert.is_true(r.bar.closed)
    assert.are.equal(2, r.bar.n)
    assert.are.equal(3, r.bar:mean("loss") + 1)        -- 1, 2, 3 recorded: mean 2
    assert.are.equal("\n", r.chunks[#r.chunks])
  end)
end)

describe("mg.progress mode selection", function()
  it("plain = true and mode force the mode; an output function defaults to plain", function()
    assert.are.equal("plain", fake(1, {plain = true}).bar.mode)
    assert.are.equal("tty", fake(1, {mode = "tty"}).bar.mode)
    assert.are.equal("off", fake(1, {disable = true}).bar.mode)
    if os.getenv("MOONGRAD_PROGRESS") == nil then
      assert.are.equal("plain", fake(1, {}).bar.mode)
    end
  end)

  it("is_terminal answers a boolean for stdout and stderr", function()
    assert.is_boolean(mg.progress.is_terminal(1))
    assert.is_boolean(mg.progress.is_terminal(2))
  end)

  it("reads MOONGRAD_PROGRESS when no mode is given; options win over it", function()
    local saved = mg.progress.getenv
    local env = {}
    mg.progress.getenv = function(k) return env[k] end
    local ok, err = pcall(function()
      env.MOONGRAD_PROGRESS = "tty"
      assert.are.equal("tty", fake(1, {}).bar.mode)
      env.MOONGRAD_PROGRESS = "off"
      assert.are.equal("off", fake(1, {}).bar.mode)
      assert.are.equal("plain", fake(1, {plain = true}).bar.mode)
      env.MOONGRAD_PROGRESS = "plain"
      assert.are.equal("plain", mg.progress(1, {out = io.stdout}).mode)   -- even on a terminal
      assert.are.equal("tty", fake(1, {mode = "tty"}).bar.mode)
      env.MOONGRAD_PROGRESS = "bogus"                                   -- ignored
      assert.are.equal("plain", fake(1, {}).bar.mode)
    end)
    mg.progress.getenv = saved
    assert(ok, err)
  end)

  it("the default clock is a wall clock that moves forward", function()
    local a = mg.progress.clock()
    local b = mg.progress.clock()
    assert.is_number(a)
    assert.is_true(b >= a)
  end)
end)

describe("mg.progress errors", function()
  it("rejects a bad total, mode, width, output and count", function()
    assert.has_error(function() mg.progress(-1) end, "mg.progress: total must be a non-negative integer or nil")
    assert.has_error(function() mg.progress(2.5) end, "mg.progress: total must be a non-negative integer or nil")
    local ok, err = pcall(mg.progress, 3, {mode = "fancy"})
    assert.is_false(ok); assert.matches("mg.progress: mode must be", err)
    ok, err = pcall(mg.progress, 3, {width = 0, mode = "off"})
    assert.is_false(ok); assert.matches("width must be a positive number", err)
    ok, err = pcall(mg.progress, 3, {smoothing = 2, mode = "off"})
    assert.is_false(ok); assert.matches("smoothing must be a number in %[0, 1%]", err)
    ok, err = pcall(mg.progress, 3, {interval = "fast", mode = "off"})
    assert.is_false(ok); assert.matches("interval must be a number >= 0", err)
    ok, err = pcall(mg.progress, 3, {out = 42})
    assert.is_false(ok); assert.matches("out must be a function or a file", err)
    local bar = fake(3, {mode = "off"}).bar
    ok, err = pcall(bar.update, bar, "two")
    assert.is_false(ok); assert.matches("bar:update: the count must be a whole number", err)
    ok, err = pcall(bar.update, bar, 0.5)
    assert.is_false(ok); assert.matches("bar:update: the count must be a whole number, got 0.5", err)
    ok, err = pcall(bar.update, bar, 1, "loss")
    assert.is_false(ok); assert.matches("values must be a table", err)
    ok, err = pcall(bar.set_postfix, bar, 3)
    assert.is_false(ok); assert.matches("bar:set_postfix: expected a table", err)
    ok, err = pcall(mg.progress.wrap, true)
    assert.is_false(ok); assert.matches("mg.progress.wrap: expected a count", err)
    ok, err = pcall(mg.progress.wrap, -2)
    assert.is_false(ok); assert.matches("mg.progress.wrap: a count must be a non%-negative integer", err)
  end)
end)
