local here = (arg and arg[0] or ""):match("^(.-)[^/\\]*$")   -- run from anywhere:
package.path = here .. "../../lua/?.lua;" .. here .. "../../lua/?/init.lua;" .. package.path
package.cpath = here .. "../../lua/?.so;" .. package.cpath
-- examples/tutorials/pytorch_descent.lua — notes on torch.autograd in
-- moongrad: leaves and the root of the graph, backward of y - x, a linear
-- model matmul(x, W) + b with a mean-squared-error loss, and a hand-written
-- descent loop that cuts W and b from the old graph between steps with
-- detach_():requires_grad_(true) until the loss falls under a threshold.
--   lua5.4 examples/tutorials/pytorch_descent.lua
local mg = require("moongrad")
mg.random.seed(0)   -- rand below prints the same every run

local function section(title) print("\n== " .. title) end

section("Leaves and root: loss = y - x")
-- x and y are leaves (made by the user); loss is the root.
local x = mg.random.rand(1, {requires_grad = true})
local y = mg.random.rand(1, {constant = true})
y:requires_grad_(true)   -- y.requires_grad = True
local loss = y - x
print(x.is_leaf, y.is_leaf, loss.is_leaf)

-- dloss/dx = -1 and dloss/dy = 1, stored in each leaf's .grad.
loss:backward()
print(x.grad, y.grad)

section("A linear model and its loss")
x = mg.ones(4, {constant = true})    -- input: no gradient wanted
y = mg.zeros(3, {constant = true})   -- target
local W = mg.random.rand(4, 3, {requires_grad = true})
local b = mg.random.rand(3, {requires_grad = true})
local z = mg.matmul(x, W) + b
print(W, b, z)

-- mg.nnet holds the loss functions (PyTorch's torch.nn.functional).
local F = mg.nnet

loss = F.mse(z, y)   -- the mean of (z - y)^2
loss:backward()
-- dloss/db = 2 (z - y) / 3; every row of dloss/dW is the same, since x is all ones.
print(loss, W.grad, b.grad)

section("Descent until the loss is under the threshold")
-- Each step: z shrinks by the factor 1 - 0.1 * (4 + 1) * 2/3 = 2/3, so the
-- loss shrinks by 4/9 whatever the random start.
local threshold = 0.1
local learning_rate = 0.1
local iteration_num = 0

while loss:item() > threshold do
  iteration_num = iteration_num + 1
  W = W - learning_rate * W.grad
  b = b - learning_rate * b.grad
  print(iteration_num, loss, z, y)

  -- detach_ cuts W and b from the graph that made them; requires_grad_(true)
  -- makes them leaves again, so the next backward starts from them.
  W:detach_():requires_grad_(true)
  b:detach_():requires_grad_(true)

  z = mg.matmul(x, W) + b
  loss = F.mse(z, y)
  loss:backward()
end

print(iteration_num + 1, loss, z, y)
