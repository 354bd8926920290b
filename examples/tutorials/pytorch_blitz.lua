local here = (arg and arg[0] or ""):match("^(.-)[^/\\]*$")   -- run from anywhere:
package.path = here .. "../../lua/?.lua;" .. here .. "../../lua/?/init.lua;" .. package.path
package.cpath = here .. "../../lua/?.so;" .. package.cpath
-- examples/tutorials/pytorch_blitz.lua — the autograd part of PyTorch's
-- "60 minute blitz" in moongrad: a tensor that tracks its operations, grad_fn,
-- requires_grad_, backward of a mean (and what a second backward says), then
-- the vector-Jacobian product, no_grad and detach.
--   lua5.4 examples/tutorials/pytorch_blitz.lua
local mg = require("moongrad")
mg.random.seed(0)   -- randn below prints the same every run

local function section(title) print("\n== " .. title) end

section("Tracking operations")
local x = mg.ones(2, 2, {requires_grad = true})
print(x)

-- y was made by an operation, so it knows the function that made it.
local y = x + 2
print(y)
print(y.grad_fn)

local z = y * y * 3
local out = z:mean()
print(z, out)

section("requires_grad_ changes the flag in place")
-- PyTorch's randn gives a tensor that does not require grad; in moongrad float
-- tensors are variables unless made constant, so that is asked for here.
local a = mg.random.randn(2, 2, {constant = true})
a = a * 3
print(a.requires_grad)
a:requires_grad_(true)
print(a.requires_grad)
local b = a * a
print(b, b.grad_fn)

section("Gradients")
out:backward()   -- the same as out:backward(mg.tensor(1.0)): out is a scalar
-- The graph behind out is freed now; a second backward says how to keep it.
local ok, err = pcall(function() out:backward() end)
print(ok, (tostring(err):gsub("^[^:]*:%d+: ", "")))
-- out = mean(3 (x + 2)^2), so d out / dx = 3 (x + 2) / 2 = 4.5 at x = 1.
print(x.grad)

section("The vector-Jacobian product")
-- For a vector y, backward(v) computes v^T J, J the Jacobian of y wrt x.
x = mg.random.randn(3, {requires_grad = true})
y = x * 2
while y.data:norm():item() < 1000 do
  y = y * 2
end
print(y)
-- y = c * x with c a power of two, so J = c I and v^T J = c v.
local v = mg.tensor({0.1, 1.0, 0.0001})
y:backward(v)
print(x.grad)
print("c =", (y.data / x.data)[1]:item())

section("Stopping the tracking")
print(x.requires_grad)
print((x ^ 2).requires_grad)
-- Inside mg.no_grad (Python's `with torch.no_grad():`) nothing is recorded.
mg.no_grad(function()
  print((x ^ 2).requires_grad)
end)
-- detach gives the same values as a constant, outside the graph.
y = x:detach()
print(y.requires_grad)
print(x:eq(y):all())
