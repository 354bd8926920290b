-- extend_spec.lua — mg.autograd.Function (ops written in Lua: forward
-- without recording, one node named "<name>Backward", backward's gradients
-- checked, Lua errors from backward raised by y:backward() with the engine
-- left clean, higher order through a backward written with mg ops) and
-- mg.autograd.graph (the DOT text; rendering with Graphviz when it is there).
local mg = require("moongrad")
local H = require("helpers")
local near, raises = H.near_within(1e-6), H.raises
local check, check2, var = H.check, H.check2, H.f64

-- The Functions most specs use ---------------------------------------------
local Square = mg.autograd.Function{
  name = "Square",
  forward = function(ctx, x)
    ctx:save_for_backward(x)
    return x * x
  end,
  backward = function(ctx, g)
    local x = table.unpack(ctx.saved)
    return 2 * x * g
  end,
}

-- saves its output
local Exp = mg.autograd.Function{
  name = "Exp",
  forward = function(ctx, x)
    local y = mg.exp(x)
    ctx:save_for_backward(y)
    return y
  end,
  backward = function(ctx, g)
    local y = ctx.saved[1]
    return g * y
  end,
}

-- two inputs that broadcast; the gradients come back at the broadcast shape
local Mul = mg.autograd.Function{
  name = "Mul",
  forward = function(ctx, a, b)
    ctx:save_for_backward(a, b)
    return a * b
  end,
  backward = function(ctx, g)
    local a, b = table.unpack(ctx.saved)
    return g * b, g * a
  end,
}

-- a number argument passed through, kept on ctx
local Scale = mg.autograd.Function{
  name = "Scale",
  forward = function(ctx, x, k)
    ctx.k = k
    return x * k
  end,
  backward = function(ctx, g) return g * ctx.k end,
}

describe("autograd.Function", function()
  it("computes forward and names the node <name>Backward", function()
    local x = mg.tensor({1., 2., 3.})
    local y = Square(x)
    near({1, 4, 9}, y)
    assert.are.equal("SquareBackward", y.grad_fn)
    assert.is_true(y.requires_grad)
    assert.are.equal("float32", y.dtype)
    y:backward()
    near({2, 4, 6}, x.grad)
  end)

  it("is called as F(x), F:apply(x) and F.apply(x)", function()
    local x = mg.tensor({3.})
    for _, y in ipairs({Square(x), Square:apply(x), Square.apply(x)}) do
      near({9}, y)
      assert.are.equal("SquareBackward", y.grad_fn)
    end
  end)

  it("is named Function when no name is given", function()
    local Id = mg.autograd.Function{
      forward = function(ctx, x) return x + 0 end,
      backward = function(ctx, g) return g end,
    }
    local y = Id(mg.tensor({1.}))
    assert.are.equal("FunctionBackward", y.grad_fn)
    assert.are.equal("Function(Function)", tostring(Id))
    assert.are.equal("Function(Square)", tostring(Square))
  end)

  it("runs forward without recording, as one node over the tensor arguments", function()
    local seen_mode, inner
    local Poly = mg.autograd.Function{
      name = "Poly",
      forward = function(ctx, x)
        seen_mode = mg.is_grad_enabled()
        inner = x * x + x * 3 + 1
        return inner
      end,
      backward = function(ctx, g) return g end,
    }
    local x = mg.tensor({1., 2.})
    local y = Poly(x)
    assert.is_false(seen_mode)
    assert.is_true(mg.is_grad_enabled())
    assert.is_nil(inner.grad_fn)
    assert.is_true(inner.constant)
    assert.are.equal(table.concat({
      'digraph moongrad {',
      '  node [fontname="Helvetica", fontsize=11];',
      '  t0 [label="PolyBackward\\n{2}", shape=box];',
      '  t1 [label="variable\\n{2}", shape=ellipse, style=filled, fillcolor=lightblue];',
      '  t1 -> t0;',
      '}', ''}, "\n"), mg.autograd.graph(y))
  end)

  it("records a forward that returns its input as a new tensor", function()
    local Id = mg.autograd.Function{
      name = "Id",
      forward = function(ctx, x) return x end,
      backward = function(ctx, g) return g * 2 end,
    }
    local x = mg.tensor({1., 2.})
    local y = Id(x)
    assert.are_not.equal(x, y)
    assert.is_nil(x.grad_fn)
    assert.are.equal("IdBackward", y.grad_fn)
    y:backward()
    near({2, 2}, x.grad)
  end)

  it("passes non-tensor arguments through and keeps Lua values on ctx", function()
    local x = var({1., -2.})
    local y = Scale(x, 3)
    near({3, -6}, y)
    y:backward()
    near({3, 3}, x.grad)
    check(function(a) return Scale(a, 2.5) end, {var({0.5, 1.5, -1})})
  end)

  it("tells forward which tensor inputs need a gradient", function()
    local needs
    local F = mg.autograd.Function{
      forward = function(ctx, a, k, b)
        needs = ctx.needs_input_grad
        return a * k + b
      end,
      backward = function(ctx, g) return g, g end,
    }
    F(mg.tensor({1.}), 2, mg.tensor({1.}, {constant = true}))
    assert.are.same({true, false}, needs)
  end)

  it("gives a constant when no input is a variable or under no_grad", function()
    local c = Square(mg.tensor({2.}, {constant = true}))
    assert.is_true(c.constant)
    assert.is_nil(c.grad_fn)
    local x = mg.tensor({2.})
    local y = mg.no_grad(function() return Square(x) end)
    near({4}, y)
    assert.is_true(y.constant)
  end)

  it("takes constant and integer tensors among its inputs", function()
    local Weigh = mg.autograd.Function{
      name = "Weigh",
      forward = function(ctx, x, w, c)
        ctx:save_for_backward(w, c)
        return x * w + c
      end,
      backward = function(ctx, g)
        local w = ctx.saved[1]
        return g * w, nil, nil
      end,
    }
    local x = mg.tensor({10., 20., 30.})
    local y = Weigh(x, mg.tensor({3, 1, 2}), mg.tensor({1., 1., 1.}, {constant = true}))
    near({31, 21, 61}, y)
    assert.are.equal("WeighBackward", y.grad_fn)
    y:backward()
    near({3, 1, 2}, x.grad)
    local NoGrad = mg.autograd.Function{
      forward = function(ctx, x) return x * 2 end,
      backward = function(ctx, g) return nil end,
    }
    local z = mg.tensor({1.})
    NoGrad(z):backward()
    assert.is_nil(z.grad)
  end)

  it("leaves out the gradient of an input when backward returns nil for it", function()
    local First = mg.autograd.Function{
      forward = function(ctx, a, b) return a + b end,
      backward = function(ctx, g) return g, nil end,
    }
    local a, b = mg.tensor({1., 2.}), mg.tensor({3., 4.})
    First(a, b):backward()
    near({1, 1}, a.grad)
    assert.is_nil(b.grad)
  end)

  it("takes up to 8 tensor inputs", function()
    local Sum8 = mg.autograd.Function{
      name = "Sum8",
      forward = function(ctx, ...)
        local s = select(1, ...)
        for i = 2, select("#", ...) do s = s + select(i, ...) end
        return s
      end,
      backward = function(ctx, g) return g, 2 * g, g, g, g, g, g, 8 * g end,
    }
    local xs = {}
    for i = 1, 8 do xs[i] = mg.tensor({i + 0.0}) end
    local y = Sum8(table.unpack(xs))
    near({36}, y)
    y:backward()
    near({1}, xs[1].grad)
    near({2}, xs[2].grad)
    near({8}, xs[8].grad)
  end)

  it("composes with other ops and with itself", function()
    local x = var({0.5, -1.0, 2.0})
    local y = (Square(Exp(x)) * 2):sum()
    y:backward()
    local e = {math.exp(0.5), math.exp(-1), math.exp(2)}
    near({4 * e[1] ^ 2, 4 * e[2] ^ 2, 4 * e[3] ^ 2}, x.grad)
  end)

  it("keeps working inside and across coroutines", function()
    local x = mg.tensor({1., 2.})
    local y = coroutine.wrap(function() return Square(x) end)()
    collectgarbage() -- the coroutine that built the node is gone
    y:backward()
    near({2, 4}, x.grad)
    local z = Square(x)
    coroutine.wrap(function() z:backward() end)()
    near({2, 4}, x.grad)
  end)

  it("lets go of ctx when the graph is released", function()
    local weak = setmetatable({}, {__mode = "k"})
    local Keep = mg.autograd.Function{
      forward = function(ctx, x)
        weak[ctx] = true
        return x * 1
      end,
      backward = function(ctx, g) return g end,
    }
    do
      local y = Keep(mg.tensor({1.}))
      assert.are.equal("FunctionBackward", y.grad_fn)
    end
    collectgarbage()
    collectgarbage()
    assert.is_nil(next(weak))
  end)
end)

describe("autograd.Function gradients", function()
  it("pass gradcheck: Square, Exp (saves its output), Mul (two inputs, broadcasting)", function()
    check(function(a) return Square(a) end, {mg.random.randn({3, 4}, {dtype = "float64"})})
    check(function(a) return Exp(a) end, {var({{0.1, -0.3}, {0.7, 1.2}})})
    check(function(a, b) return Mul(a, b) end,
      {mg.random.randn({2, 3}, {dtype = "float64"}), var({0.5, -1.5, 2.0})})
    check(function(a, b) return Mul(a, b) end, {var({1.5}), mg.random.randn({2, 2}, {dtype = "float64"})})
  end)

  it("pass gradcheck on non-contiguous inputs", function()
    local t = mg.random.randn({4, 3}, {dtype = "float64", constant = true}).T:requires_grad_(true)
    check(function(a) return Square(a) end, {t})
  end)

  it("pass gradgradcheck through a backward written with mg ops", function()
    check2(function(a) return Square(a) end, {var({0.3, -1.2, 2.0})})
    check2(function(a) return Exp(a) end, {var({0.3, -0.4})})
    check2(function(a, b) return Mul(a, b) end, {var({0.5, 2.0}), var({-1.0, 1.5})})
  end)

  it("differentiate through a saved output under create_graph, then restore ctx.saved", function()
    local ctx_seen, out_seen, inside
    local E = mg.autograd.Function{
      name = "E",
      forward = function(ctx, x)
        local y = mg.exp(x)
        ctx:save_for_backward(y)
        ctx_seen, out_seen = ctx, y
        return y
      end,
      backward = function(ctx, g)
        inside = ctx.saved[1]
        return g * ctx.saved[1]
      end,
    }
    local x = var({0.5})
    E(x):backward(nil, {create_graph = true})
    assert.are.equal("EBackward", inside.grad_fn) -- the output as a variable
    assert.are.equal(out_seen, ctx_seen.saved[1])
    assert.are.equal(ctx_seen.saved, ctx_seen.saved_tensors)
    local gx = x.grad
    x:null_grad()
    gx:backward()
    near({math.exp(0.5)}, x.grad) -- d/dx e^x = e^x, through the saved output
    E(x):backward()
    assert.are.equal(out_seen, inside) -- a plain backward reads forward's tensor
  end)

  it("run backward with recording only under create_graph", function()
    local modes = {}
    local Spy = mg.autograd.Function{
      forward = function(ctx, x) ctx:save_for_backward(x); return x * x end,
      backward = function(ctx, g)
        modes[#modes + 1] = mg.is_grad_enabled()
        return 2 * ctx.saved[1] * g
      end,
    }
    local x = var({3.0})
    Spy(x):backward()
    Spy(x):sum():backward(nil, {create_graph = true})
    assert.are.same({false, true}, modes)
    -- d/dx (2x) = 2
    local gx = x.grad
    assert.is_false(gx.constant)
    x:null_grad()
    gx:backward()
    near({2}, x.grad)
  end)
end)

describe("autograd.Function errors", function()
  it("rejects a gradient of the wrong shape, naming the Function", function()
    local Bad = mg.autograd.Function{
      name = "BadShape",
      forward = function(ctx, x) return x + 1 end,
      backward = function(ctx, g) return mg.ones(5) end,
    }
    local y = Bad(mg.tensor({1., 2., 3.}))
    raises(function() y:backward() end, "BadShape.backward", "{5}", "{3}")
    assert.is_true(mg.is_grad_enabled())
  end)

  it("raises an error from inside backward from y:backward(), engine left clean", function()
    local Boom = mg.autograd.Function{
      name = "Boom",
      forward = function(ctx, x) return x * 2 end,
      backward = function(ctx, g) error("boom inside backward") end,
    }
    local x = mg.tensor({1., 2.})
    local y = Boom(x)
    raises(function() y:backward() end, "Boom.backward", "boom inside backward")
    assert.is_true(mg.is_grad_enabled())
    raises(function() (Boom(x) * 2):sum():backward(nil, {create_graph = true}) end, "boom")
    assert.is_true(mg.is_grad_enabled())
    local ok = pcall(mg.no_grad, function() Boom(x):backward() end)
    assert.is_true(ok) -- under no_grad the result is a constant: nothing to run
    -- a later backward works
    local z = (x * 3):sum()
    z:backward()
    near({3, 3}, x.grad)
    -- errors that are not strings are described
    local Obj = mg.autograd.Function{
      forward = function(ctx, a) return a + 0 end,
      backward = function(ctx, g) error({code = 1}) end,
    }
    raises(function() Obj(x):backward() end, "Function.backward", "table")
  end)

  it("keeps the gradients from before the failing node out of the inputs", function()
    local Boom = mg.autograd.Function{
      forward = function(ctx, a) return a + 0 end,
      backward = function(ctx, g) error("no") end,
    }
    local x = mg.tensor({1.})
    raises(function() Boom(x * 2):backward() end, "no")
    assert.is_nil(x.grad)
  end)

  it("rejects a backward that returns a non-tensor or too many values", function()
    local Str = mg.autograd.Function{
      name = "Str",
      forward = function(ctx, x) return x + 0 end,
      backward = function(ctx, g) return "gradient" end,
    }
    raises(function() Str(mg.tensor({1.})):backward() end, "Str.backward", "gradient 1",
      "must be a tensor or nil", "string")
    local Num = mg.autograd.Function{
      name = "Num",
      forward = function(ctx, x) return x + 0 end,
      backward = function(ctx, g) return 1 end,
    }
    raises(function() Num(mg.tensor({1.})):backward() end, "Num.backward", "number")
    local Many = mg.autograd.Function{
      name = "Many",
      forward = function(ctx, x) return x + 0 end,
      backward = function(ctx, g) return g, g end,
    }
    raises(function() Many(mg.tensor({1.})):backward() end, "Many.backward", "returned 2 values",
      "1 tensor input")
  end)

  it("notices saved tensors edited in place before backward", function()
    local x = mg.tensor({1., 2.}, {constant = true})
    local w = mg.tensor({1., 1.})
    local y = Mul(w, x)
    x[1] = 5
    raises(function() y:backward() end, "Mul.backward", "saved tensor 2", "modified in place")
  end)

  it("checks what forward returns", function()
    local Nothing = mg.autograd.Function{
      name = "Nothing", forward = function(ctx, x) end, backward = function(ctx, g) end}
    raises(function() Nothing(mg.tensor({1.})) end, "Nothing", "returned 0 values")
    local Two = mg.autograd.Function{
      name = "Two", forward = function(ctx, x) return x, x end, backward = function(ctx, g) end}
    raises(function() Two(mg.tensor({1.})) end, "Two", "returned 2 values", "one output")
    local Num = mg.autograd.Function{
      name = "NumOut", forward = function(ctx, x) return 3 end, backward = function(ctx, g) end}
    raises(function() Num(mg.tensor({1.})) end, "NumOut", "must return a tensor", "number")
  end)

  it("propagates errors raised by forward unchanged", function()
    local F = mg.autograd.Function{
      forward = function(ctx, x) error("forward failed") end, backward = function(ctx, g) end}
    raises(function() F(mg.tensor({1.})) end, "forward failed")
    assert.is_true(mg.is_grad_enabled())
  end)

  it("checks its definition, inputs and saved values", function()
    raises(function() mg.autograd.Function{forward = function() end} end, "autograd.Function",
      "backward must be a function")
    raises(function() mg.autograd.Function{backward = function() end} end, "forward must be a function")
    raises(function() mg.autograd.Function(3) end, "autograd.Function", "table")
    raises(function() mg.autograd.Function{name = 3, forward = print, backward = print} end,
      "name must be a non-empty string")
    local xs = {}
    for i = 1, 9 do xs[i] = mg.tensor({1.}) end
    raises(function() Square(table.unpack(xs)) end, "Square", "at most 8 tensor arguments, got 9")
    local SaveNum = mg.autograd.Function{
      forward = function(ctx, x) ctx:save_for_backward(x, 3); return x end,
      backward = function(ctx, g) return g end,
    }
    raises(function() SaveNum(mg.tensor({1.})) end, "save_for_backward", "argument #2", "ctx.k")
  end)
end)

describe("autograd.graph", function()
  local function dot(t) return table.concat(t, "\n") .. "\n" end
  local HEAD = {'digraph moongrad {', '  node [fontname="Helvetica", fontsize=11];'}
  local function with_head(body)
    local t = {HEAD[1], HEAD[2]}
    for _, l in ipairs(body) do t[#t + 1] = l end
    t[#t + 1] = "}"
    return dot(t)
  end

  it("describes each tensor once, ops by grad_fn and shape, edges from inputs", function()
    local x = mg.tensor({{1., 2., 3.}, {4., 5., 6.}})
    local y = (x * 2):sum()
    assert.are.equal(with_head{
      '  t0 [label="SumBackward\\n{}", shape=box];',
      '  t1 [label="MulBackward\\n{2, 3}", shape=box];',
      '  t2 [label="variable\\n{2, 3}", shape=ellipse, style=filled, fillcolor=lightblue];',
      '  t3 [label="constant\\n{}", shape=ellipse, style=filled, fillcolor=lightgray];',
      '  t1 -> t0;',
      '  t2 -> t1;',
      '  t3 -> t1;',
    }, mg.autograd.graph(y))
  end)

  it("shares nodes that are used twice and draws one edge per use", function()
    local x = mg.tensor({1., 2.})
    local h = mg.exp(x)
    local y = h * h + x
    assert.are.equal(with_head{
      '  t0 [label="AddBackward\\n{2}", shape=box];',
      '  t1 [label="MulBackward\\n{2}", shape=box];',
      '  t2 [label="variable\\n{2}", shape=ellipse, style=filled, fillcolor=lightblue];',
      '  t3 [label="ExpBackward\\n{2}", shape=box];',
      '  t1 -> t0;',
      '  t2 -> t0;',
      '  t3 -> t1;',
      '  t3 -> t1;',
      '  t2 -> t3;',
    }, mg.autograd.graph(y))
  end)

  it("shows a leaf alone, and custom ops by their name", function()
    assert.are.equal(with_head{
      '  t0 [label="variable\\n{3}", shape=ellipse, style=filled, fillcolor=lightblue];',
    }, mg.autograd.graph(mg.zeros(3)))
    assert.are.equal(with_head{
      '  t0 [label="constant\\n{2, 2}", shape=ellipse, style=filled, fillcolor=lightgray];',
    }, mg.autograd.graph(mg.zeros(2, 2, {constant = true})))
    local Q = mg.autograd.Function{
      name = 'My "op"', forward = function(ctx, x) return x + 0 end,
      backward = function(ctx, g) return g end}
    local s = mg.autograd.graph(Q(mg.zeros(1)))
    assert.is_truthy(s:find('t0 [label="My \\"op\\"Backward\\n{1}", shape=box];', 1, true))
  end)

  it("marks ops whose graph backward has freed", function()
    local x = mg.tensor({1.})
    local y = x * 2
    y:backward()
    assert.are.equal(with_head{
      '  t0 [label="MulBackward\\n{1}\\n(graph freed)", shape=box];',
    }, mg.autograd.graph(y))
  end)

  it("walks long chains without recursion", function()
    local x = mg.tensor({1.})
    local y = x
    for _ = 1, 20000 do y = y + 1 end
    local s = mg.autograd.graph(y)
    local _, nodes = s:gsub("shape=box", "")
    assert.are.equal(20000, nodes)
    local _, edges = s:gsub(" %-> ", "")
    assert.are.equal(40000, edges) -- each add has the previous sum and a constant 1
    local _, leaves = s:gsub("variable", "")
    assert.are.equal(1, leaves)
  end)

  it("writes the text itself to .dot and .gv files", function()
    local path = os.tmpname() .. ".dot"
    local y = mg.tensor({1.}) * 2
    local text = mg.autograd.graph(y, path)
    local f = assert(io.open(path))
    assert.are.equal(text, f:read("a"))
    f:close()
    os.remove(path)
  end)

  it("checks its arguments", function()
    raises(function() mg.autograd.graph(3) end, "autograd.graph", "must be a tensor")
    raises(function() mg.autograd.graph(mg.zeros(1), 5) end, "autograd.graph", "string")
    raises(function() mg.autograd.graph(mg.zeros(1), "graph.jpeg2") end, "autograd.graph",
      "cannot tell the format", ".svg")
  end)

  local have_dot = os.execute("command -v dot >/dev/null 2>&1")
  -- under `make sanitize` the dot process would inherit the ASan runtime
  -- (LD_PRELOAD) and fail on Graphviz's own leaks
  local sanitized = (os.getenv("LD_PRELOAD") or ""):find("asan", 1, true)

  if have_dot and sanitized then
    pending("renders svg, png and pdf with Graphviz's dot (not under the sanitizer)")
  elseif have_dot then
    it("renders svg, png and pdf with Graphviz's dot", function()
      local x = mg.tensor({1., 2.})
      local y = (mg.exp(x) * x):sum()
      local base = os.tmpname()
      for ext, magic in pairs({svg = "<svg", png = "\137PNG", pdf = "%PDF"}) do
        local path = base .. "." .. ext
        mg.autograd.graph(y, path)
        local f = assert(io.open(path, "rb"))
        local data = f:read("a")
        f:close()
        os.remove(path)
        assert.is_truthy(data:find(magic, 1, true), ext .. " file lacks " .. magic)
      end
      os.remove(base)
    end)
  else
    pending("renders svg, png and pdf with Graphviz's dot (dot is not installed)")
    it("says how to install Graphviz when dot is missing", function()
      raises(function() mg.autograd.graph(mg.zeros(1), os.tmpname() .. ".svg") end,
        "autograd.graph", "apt-get install graphviz")
    end)
  end
end)
