-- spec/memory_spec.lua — a loop of large temporaries with graphs and
-- backward passes keeps the process's memory bounded without any
-- collectgarbage() call (the binding reports C allocations to Lua's GC).
local mg = require("moongrad")

local rss_mb = require("helpers").rss_mb

describe("memory", function()
  it("stays bounded over 150 steps with 4 MB temporaries", function()
    if not rss_mb() then return pending("no /proc/self/status") end
    local w = mg.random.randn(1000, 1000)          -- 4 MB variable
    local x = mg.random.randn(1000, 1000, {constant = true})
    local start = rss_mb()
    for _ = 1, 150 do
      local y = ((x * w):tanh() * 2):sum()         -- three 4 MB intermediates
      y:backward()                                 -- and their 4 MB gradients
    end
    local grown = rss_mb() - start
    assert.is_true(grown < 300, ("RSS grew by %.0f MB"):format(grown))
  end)
end)
