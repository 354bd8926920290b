-- errors_spec.lua — bad input gives a clear Lua error that names the function
-- and what was wrong (shapes, index, dtype...), never a crash or a silent
-- NaN: broadcasting and matmul shapes, indices, ragged tables, non-tensor
-- arguments, axes, reshape, integer division by zero, shapes and dtypes at
-- creation, item(), use after <close>, head gradients, requires_grad.
local mg = require("moongrad")
local H = require("helpers")
local raises = H.raises

describe("shape errors", function()
  it("adding shapes {5} and {3,4} names both shapes", function()
    local a, b = mg.ones(5), mg.ones(3, 4)
    raises(function() return a + b end, "add", "{5}", "{3, 4}", "broadcast")
    raises(function() return mg.multiply(b, a) end, "multiply", "{3, 4}", "{5}")
    raises(function() return a - b end, "subtract")
  end)

  it("matmul of {2,3} by {4,5}", function()
    raises(function() return mg.matmul(mg.ones(2, 3), mg.ones(4, 5)) end,
      "matmul", "{2, 3}", "{4, 5}")
    raises(function() return mg.matmul(mg.ones(3), mg.ones(4)) end, "matmul", "{3}", "{4}")
    raises(function() return mg.matmul(mg.ones(2, 3, 4), mg.ones(5, 4, 2)) end, "matmul")
    raises(function() return mg.matmul(mg.tensor(1.0), mg.ones(2)) end, "matmul", "0-d")
  end)

  it("a bad reshape", function()
    local x = mg.ones(2, 3)
    raises(function() return x:reshape(4, 2) end, "reshape", "{2, 3}", "{4, 2}")
    raises(function() return x:reshape(-1, -1) end, "reshape")
    raises(function() return x:reshape(4, -1) end, "reshape")
    raises(function() return x:reshape(2.5, 2) end, "reshape", "integer")
  end)

  it("broadcast_to and writes of an incompatible shape", function()
    raises(function() return mg.ones(3):broadcast_to(2, 4) end, "broadcast_to", "{3}", "{2, 4}")
    local x = mg.zeros(2, 2)
    raises(function() x[1] = mg.ones(3) end, "setitem", "{3}", "{2}")
  end)

  it("permute with the wrong number of axes", function()
    raises(function() return mg.ones(2, 3):permute(1) end, "permute")
    raises(function() return mg.ones(2, 3):permute(1, 1) end, "permute", "axis 1 is repeated", "1..2")
    raises(function() return mg.ones(2, 3, 4):transpose({3, 1, 3}) end, "transpose", "repeated")
  end)
end)

describe("index errors", function()
  local x = mg.tensor({1, 2, 3})

  it("indexing past the end", function()
    raises(function() return x[4] end, "index", "4", "out of range")
    raises(function() return x[-4] end, "index", "out of range")
    raises(function() return mg.ones(2, 3)[{1, 4}] end, "index", "axis 2")
  end)

  it("index 0 (indices are 1-based)", function()
    raises(function() return x[0] end, "index", "0", "1-based")
    raises(function() return x[{{0, 2}}] end, "index", "1-based")
  end)

  it("too many indices, a zero step, a non-integer index", function()
    raises(function() return x[{1, 1}] end, "index", "too many indices")
    raises(function() return x[{{1, 3, 0}}] end, "index", "step")
    raises(function() return x[1.5] end, "index")
    raises(function() return mg.tensor(1.0)[1] end, "index", "0-d")
  end)

  it("writing out of range", function()
    local y = mg.zeros(3)
    raises(function() y[5] = 1 end, "index", "out of range")
  end)

  it("an unknown property, and assigning to a property", function()
    raises(function() return x.nosuch end, "nosuch")
    raises(function() x.shape = {3} end, "shape")
  end)
end)

describe("argument errors", function()
  it("a ragged nested table", function()
    raises(function() return mg.tensor({1, {2}}) end, "tensor", "ragged")
    raises(function() return mg.tensor({{1, 2}, {3}}) end, "tensor", "ragged")
    raises(function() return mg.tensor({1, true}) end, "tensor", "booleans")
    raises(function() return mg.tensor({1, "a"}) end, "tensor")
  end)

  it("a string where a tensor is expected", function()
    raises(function() return mg.exp("abc") end, "exp", "string")
    local x = mg.tensor({1.0})
    raises(function() return x + "abc" end, "add", "string")
    raises(function() return x * "2" end, "multiply", "string")
    raises(function() return mg.matmul(x, "abc") end, "matmul", "string")
    raises(function() return mg.tensor("abc") end, "tensor", "string")
  end)

  it("a bad axis", function()
    local x = mg.ones(2, 3)
    raises(function() return x:sum(3) end, "sum", "axis 3", "2 axes")
    raises(function() return x:mean(-3) end, "mean", "axis -3")
    raises(function() return x:sum({1, 5}) end, "sum", "axis 5")
    raises(function() return x:sum({1, 1}) end, "sum", "repeated")
    raises(function() return x:sum("x") end, "sum", "axis")
    raises(function() return x:transpose(1, 4) end, "transpose", "axis 4")
  end)

  it("integer division by zero", function()
    raises(function() return mg.tensor({1, 2}) // 0 end, "floor_divide", "division by zero")
    raises(function() return mg.tensor({1, 2}) % mg.tensor({1, 0}) end, "mod", "division by zero")
  end)

  it("integers to negative integer powers", function()
    raises(function() return mg.tensor({1, 2}) ^ -1 end, "power", "negative")
  end)

  it("a negative shape", function()
    raises(function() return mg.zeros(-1, 2) end, "zeros", ">= 0")
    raises(function() return mg.ones({2, -3}) end, "ones", ">= 0")
    raises(function() return mg.random.rand(-2) end, "rand")
    raises(function() return mg.zeros(2.5) end, "zeros", "integer")
  end)

  it("an unknown dtype", function()
    raises(function() return mg.zeros(2, {dtype = "float16"}) end, "zeros", "float16")
    raises(function() return mg.tensor({1.0}, {dtype = "half"}) end, "tensor", "half")
    raises(function() return mg.ones(2):astype("complex") end, "astype", "complex")
    raises(function() return mg.set_default_dtype("int64") end, "set_default_dtype")
  end)

  it("bad ranges", function()
    raises(function() return mg.arange(0, 5, 0) end, "arange")
    raises(function() return mg.linspace(0, 1, -1) end, "linspace")
    raises(function() return mg.random.randint(5, 1, 3) end, "randint")
    raises(function() return mg.eye(-1) end, "eye")
  end)

  it("item() on a multi-element tensor", function()
    raises(function() return mg.tensor({1.0, 2.0}):item() end, "item", "2 elements")
    raises(function() return mg.zeros(0):item() end, "item", "0 elements")
  end)

  it("# of a 0-d tensor", function()
    raises(function() return #mg.tensor(1.0) end, "#", "0-d")
  end)

  it("float values that cannot become int64", function()
    raises(function() return mg.tensor({mg.nan}):long() end, "nan")
    raises(function() return mg.tensor({1e300}, {dtype = "int64"}) end, "int64")
  end)
end)

describe("use after <close>", function()
  local function closed()
    local keep
    do
      local t <close> = mg.tensor({1.0, 2.0})
      keep = t
    end
    return keep
  end

  it("raises an error naming the function", function()
    local t = closed()
    raises(function() return t + 1 end, "add", "closed")
    raises(function() return t:sum() end, "sum", "closed")
    raises(function() return mg.exp(t) end, "exp", "closed")
    raises(function() return t.shape end, "shape", "closed")
    raises(function() return t[1] end, "index", "closed")
    raises(function() return tostring(t) end, "tostring", "closed")
    raises(function() t:backward() end, "backward", "closed")
  end)

  it("closing a view leaves its base usable", function()
    local base = mg.tensor({1.0, 2.0, 3.0})
    do
      local v <close> = base[{{1, 2}}]
      assert.are.same({1, 2}, v:totable())
    end
    assert.are.same({1, 2, 3}, base:totable())
  end)
end)

describe("autograd errors", function()
  it("backward with a head gradient of the wrong shape", function()
    local x = mg.tensor({1.0, 2.0})
    local y = x * x
    raises(function() y:backward(mg.tensor({1.0, 2.0, 3.0})) end, "backward", "{3}", "{2}")
    raises(function() y:backward(mg.ones(2, 3)) end, "backward", "{2, 3}")
    y:backward(mg.tensor({1.0, 1.0})) -- the failed calls left the graph usable
    assert.are.same({2, 4}, x.grad:totable())
  end)

  it("a second backward through a freed graph", function()
    local y = (mg.tensor({1.0}) * 2):sum()
    y:backward()
    raises(function() y:backward() end, "backward", "retain_graph")
  end)

  it("requires_grad on an integer tensor or a non-leaf", function()
    raises(function() return mg.tensor({1, 2}, {requires_grad = true}) end, "tensor", "int64")
    raises(function() return mg.tensor({1, 2}):requires_grad_(true) end, "requires_grad_", "int64")
    local x = mg.tensor({1.0})
    raises(function() return (x * 2):requires_grad_(false) end, "requires_grad_", "MulBackward")
  end)

  it("writing a variable into an integer tensor", function()
    local k = mg.zeros(3, {dtype = "int64"})
    raises(function() k[1] = mg.tensor(1.5) end, "setitem", "int64")
  end)
end)

describe("huge empty shapes", function()
  local mg = require("moongrad")
  it("are refused before their strides could overflow", function()
    local ok, err = pcall(mg.zeros, 0, 1 << 40, 1 << 40)
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("too large", 1, true))
  end)
end)
