-- spec/readme_spec.lua — the README's code runs as written: the tour is
-- examples/tour.lua word for word and prints what its comments promise, and
-- every block of "From the tutorials" prints each `--> ` result in order.
local read = require("helpers").read

-- Runs Lua source with print captured; returns the printed text.
local function run(src, name)
  local out = {}
  local env = setmetatable({print = function(...)
    local t = table.pack(...)
    for i = 1, t.n do t[i] = tostring(t[i]) end
    out[#out + 1] = table.concat(t, "\t", 1, t.n)
  end}, {__index = _G})
  local chunk = assert(load(src, name, "t", env))
  chunk()
  return table.concat(out, "\n")
end

describe("README tour", function()
  it("is examples/tour.lua verbatim", function()
    local block = read("README.md"):match("## A tour.-```lua\n(.-)```")
    local tour = read("examples/tour.lua"):gsub("^%-%-.-\n(local mg)", "%1")
    assert.is_truthy(block)
    assert.are.equal(tour, block)
  end)

  it("runs and reaches the tutorial's numbers", function()
    local text = run(read("examples/tour.lua"), "=tour")
    assert.is_truthy(text:find("df/dw at 2:\tTensor(7., constant=true)", 1, true))
    assert.is_truthy(text:find("\nnil\n", 1, true))
    local w = tonumber(text:match("w after 25 steps:\t(%S+)"))
    assert.is_true(math.abs(w - 3) < 0.05)
  end)
end)

describe("README tutorial flows", function()
  local section = read("README.md"):match("## From the tutorials(.-)\n## ")
  local blocks = {}
  for block in section:gmatch("```lua\n(.-)```") do blocks[#blocks + 1] = block end

  it("has the blocks", function() assert.is_true(#blocks >= 5) end)

  for i, block in ipairs(blocks) do
    it("block " .. i .. " prints its --> results", function()
      local text = run(block, "=README block " .. i)
      local pos = 1
      for want in block:gmatch("%-%-> ([^\n]+)") do
        local s, e = text:find(want, pos, true)
        assert(s, ("block %d: expected %q after position %d in:\n%s"):format(i, want, pos, text))
        pos = e + 1
      end
    end)
  end
end)
