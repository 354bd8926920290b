-- lua_version_spec.lua — the suite runs under Lua 5.4 (moongrad's binding is
-- built for 5.4; plain `busted` would be Lua 5.1 and must fail loudly here).
describe("the interpreter", function()
  it("is Lua 5.4", function()
    assert.are.equal("Lua 5.4", _VERSION)
  end)

  it("has 5.4 integers and to-be-closed variables", function()
    assert.are.equal("integer", math.type(1))
    assert.are.equal("float", math.type(1.0))
    local closed = false
    do
      local _ <close> = setmetatable({}, {__close = function() closed = true end})
    end
    assert.is_true(closed)
  end)
end)
