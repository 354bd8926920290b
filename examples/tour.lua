-- examples/tour.lua — the README's tour, runnable: tensors, broadcasting,
-- backward, .grad on every variable, null_grad and a gradient-descent loop,
-- in the order the MyGrad autodiff lab teaches them.
local mg = require("moongrad")

local x = mg.tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}})    -- a float variable
print(x, x.shape[1], x.shape[2])                           -- 1-based axes
print(x:sum(1), x:mean({axis = 2, keepdims = true}))       -- reductions
print(x[{2, {2, -1}}])                                     -- row 2, columns 2..last
print(x + mg.tensor({10.0, 20.0, 30.0}))                   -- broadcasting

local w = mg.tensor(2.0)
local f = w^2 + 3*w + 2                                    -- f(w) = w² + 3w + 2
f:backward()
print("df/dw at 2:", w.grad)                               -- 7

local y = x * 2
local F = (y * y):sum()
F:backward()
print(F.grad, y.grad, x.grad)                              -- every variable holds .grad
x:null_grad()
print(x.grad)                                              -- nil

-- gradient descent on L(w) = (w - 3)²: each step uses w.grad from backward
w = mg.tensor(10.0)
for step = 1, 25 do
  local L = (w - 3)^2
  L:backward()
  w = w - 0.1 * w.grad
end
print("w after 25 steps:", w:item())                      -- close to 3
