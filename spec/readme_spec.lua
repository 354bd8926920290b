-- spec/readme_spec.lua — the README's tour is examples/tour.lua, word for
-- word, and it runs and prints what its comments promise.
local function read(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end

describe("README tour", function()
  it("is examples/tour.lua verbatim", function()
    local readme = read("README.md")
    local block = readme:match("## A tour.-```lua\n(.-)```")
    local tour = read("examples/tour.lua"):gsub("^%-%-.-\n(local mg)", "%1")
    assert.is_truthy(block)
    assert.are.equal(tour, block)
  end)

  it("runs and reaches the tutorial's numbers", function()
    local out = {}
    local env = setmetatable({print = function(...)
      local t = table.pack(...)
      for i = 1, t.n do t[i] = tostring(t[i]) end
      out[#out + 1] = table.concat(t, "\t", 1, t.n)
    end}, {__index = _G})
    local chunk = assert(loadfile("examples/tour.lua", "t", env))
    chunk()
    local text = table.concat(out, "\n")
    assert.is_truthy(text:find("df/dw at 2:\tTensor(7., constant=true)", 1, true))
    assert.is_truthy(text:find("\nnil\n", 1, true))
    local w = tonumber(text:match("w after 25 steps:\t(%S+)"))
    assert.is_true(math.abs(w - 3) < 0.05)
  end)
end)
