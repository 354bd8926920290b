local here = (arg and arg[0] or ""):match("^(.-)[^/\\]*$")   -- run from anywhere:
package.path = here .. "../lua/?.lua;" .. here .. "../lua/?/init.lua;" .. package.path
package.cpath = here .. "../lua/?.so;" .. package.cpath
-- examples/gradient_descent.lua — the MyGrad lab's descent loops with
-- autodiff: L(w) = w² from w = 10 (learning rate 0.3), L(w1, w2) = 2w1² + 3w2²
-- from (2, 4) (learning rate 0.1), then the lab's general gradient_step.
-- Each step updates w.data in place (no recording), as the lab's
-- `w.data -= learning_rate * w.grad` does; the next w² clears the old .grad.
--   lua5.4 examples/gradient_descent.lua
local mg = require("moongrad")

--- One descent step on each tensor that holds a gradient (the lab's
--- gradient_step: a single tensor or a list of tensors).
local function gradient_step(tensors, learning_rate)
  if mg.is_tensor(tensors) then tensors = {tensors} end
  for _, t in ipairs(tensors) do
    if t.grad ~= nil then
      local d = t.data
      d[{}] = d - learning_rate * t.grad
    end
  end
end

-- 1. L(w) = w²: w ← w − lr·2w = (1 − 2·lr)·w, so each step multiplies the
--    loss by (1 − 2·lr)², which is 0.16 for the lab's lr = 0.3.
print("L(w) = w^2, w = 10, learning rate 0.3 (the lab prints 4, 1.6, 0.64, 0.256, 0.1024)")
local w = mg.tensor(10.0)
local learning_rate, num_steps = 0.3, 5
local prev
for step = 1, num_steps do
  local L = w ^ 2
  L:backward()
  gradient_step(w, learning_rate)
  local loss = L:item()
  print(string.format("step %d  loss %-10.6g w = %s%s", step, loss, tostring(w),
    prev and string.format("  loss ratio %.4f", loss / prev) or ""))
  prev = loss
end
print(string.format("expected ratio (1 - 2*lr)^2 = %.4f", (1 - 2 * learning_rate) ^ 2))

-- 2. L(w1, w2) = 2w1² + 3w2², as a vector [2w1², 3w2²]: backward on a
--    non-scalar seeds with ones, i.e. differentiates the sum.
print()
print("L(w1, w2) = 2 w1^2 + 3 w2^2, w = (2, 4), learning rate 0.1")
w = mg.tensor({2.0, 4.0})
learning_rate = 0.1
local const = mg.tensor({2.0, 3.0}, {constant = true})
prev = nil
for step = 1, num_steps do
  local L = const * w ^ 2
  L:backward()
  gradient_step(w, learning_rate)
  local loss = L:sum():item()
  print(string.format("step %d  loss %-10.6g w = %s%s", step, loss, tostring(w),
    prev and string.format("  loss ratio %.4f", loss / prev) or ""))
  prev = loss
end
print(string.format("w1 shrinks by 1 - 4*lr = %.1f, w2 by 1 - 6*lr = %.1f per step", 1 - 4 * learning_rate,
  1 - 6 * learning_rate))

-- 3. the general step on a list of tensors, back on L(w) = w²
print()
print("gradient_step on a list: L = w^2 + v^2 from w = 10, v = -5, learning rate 0.3")
local v
w, v = mg.tensor(10.0), mg.tensor(-5.0)
for step = 1, num_steps do
  local L = w ^ 2 + v ^ 2
  L:backward()
  gradient_step({w, v}, 0.3)
  print(string.format("step %d  loss %-10.6g w = %s  v = %s", step, L:item(), tostring(w), tostring(v)))
end
