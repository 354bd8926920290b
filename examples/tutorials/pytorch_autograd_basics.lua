local here = (arg and arg[0] or ""):match("^(.-)[^/\\]*$")   -- run from anywhere:
package.path = here .. "../../lua/?.lua;" .. here .. "../../lua/?/init.lua;" .. package.path
package.cpath = here .. "../../lua/?.so;" .. package.cpath
-- examples/tutorials/pytorch_autograd_basics.lua — a PyTorch lesson on
-- autograd in moongrad: a tensor that requires grad, backward through a mean,
-- the derivative of x^2 + 3x + 2, partial derivatives of two-variable
-- functions, backward of a vector with an explicit gradient, and the
-- lesson's two exercises.
--   lua5.4 examples/tutorials/pytorch_autograd_basics.lua
local mg = require("moongrad")

local function section(title) print("\n== " .. title) end

section("requires_grad and a gradient through a mean")
-- Float tensors are variables (requires_grad = true) unless made constant;
-- the option is spelled out here as the lesson does.
local x = mg.tensor({1.0, 2.0, 3.0}, {requires_grad = true})
print(x, x.requires_grad)

local y = x + 2
local z = y * y * 2
local result = z:mean()   -- the mean

-- result = mean(2 (x + 2)^2), so d result / dx = 4 (x + 2) / 3.
result:backward()
print(x.grad)

section("The derivative of f(x) = x^2 + 3x + 2 at x = 2")
x = mg.tensor(2.0, {requires_grad = true})
y = x ^ 2 + 3 * x + 2
y:backward()
print(x.grad)   -- f'(x) = 2x + 3

section("f(x, y) = 3x^2 + 2xy + y^2 at (1, 2)")
x = mg.tensor(1.0, {requires_grad = true})
y = mg.tensor(2.0, {requires_grad = true})
z = 3 * x ^ 2 + 2 * x * y + y ^ 2
z:backward()
print(x.grad)   -- df/dx = 6x + 2y
print(y.grad)   -- df/dy = 2x + 2y

section("The graph: backward of a vector with an explicit gradient")
-- Every operation becomes a node; backward walks the nodes in reverse.
-- Q is a vector, so backward takes the gradient to start from (dQ/dQ = ones).
local a = mg.tensor({2.0, 3.0}, {requires_grad = true})
local b = mg.tensor({6.0, 4.0}, {requires_grad = true})
local Q = 3 * a ^ 3 - b ^ 2
print(Q.grad_fn)                 -- the node that made Q
print(mg.autograd.graph(Q))      -- the whole graph, as Graphviz DOT text
local external_grad = mg.tensor({1.0, 1.0})
Q:backward(external_grad)   -- Q.backward(gradient=external_grad)
print(a.grad)   -- 9 a^2
print(b.grad)   -- -2 b

section("Exercise: f(x) = 4x^3 + 2x^2 + x at x = 1")
x = mg.tensor(1.0, {requires_grad = true})
y = 4 * x ^ 3 + 2 * x ^ 2 + x
y:backward()
print(x.grad)   -- 12x^2 + 4x + 1

section("Exercise: f(x, y) = x^2 + y^3 at (2, 3)")
x = mg.tensor(2.0, {requires_grad = true})
y = mg.tensor(3.0, {requires_grad = true})
z = x ^ 2 + y ^ 3
z:backward()
print(x.grad)   -- 2x
print(y.grad)   -- 3y^2
