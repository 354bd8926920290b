local here = (arg and arg[0] or ""):match("^(.-)[^/\\]*$")   -- run from anywhere:
package.path = here .. "../lua/?.lua;" .. here .. "../lua/?/init.lua;" .. package.path
package.cpath = here .. "../lua/?.so;" .. package.cpath
-- examples/linear_regression.lua — fit y = w·x + b to data made from
-- y = 3x + 2 + noise (mg.random, seeded, so every run prints the same
-- numbers) by gradient descent on a mean squared error written with mg ops,
-- with an mg.progress bar over the steps; then compares with the
-- closed-form least-squares line.
--   lua5.4 examples/linear_regression.lua
local mg = require("moongrad")

mg.random.seed(0)
local n = 200
local x = mg.random.rand(n) * 4 - 2                          -- x in [-2, 2)
local y = 3 * x + 2 + 0.5 * mg.random.randn(n)               -- noise σ = 0.5
x, y = x:detach(), y:detach()                                -- data are constants

local w, b = mg.tensor(0.0), mg.tensor(0.0)                  -- the parameters
local lr, steps = 0.05, 200

local bar = mg.progress(steps, {desc = "fitting"})
for step = 1, steps do
  local pred = w * x + b
  local loss = ((pred - y) ^ 2):mean()                       -- MSE
  loss:backward()
  for _, p in ipairs({w, b}) do                              -- p.data -= lr * p.grad
    local d = p.data
    d[{}] = d - lr * p.grad
  end
  bar:step{loss = loss}
  if step == 1 or step % 40 == 0 then
    bar:write(string.format("step %3d  loss %.5f  w %.4f  b %.4f", step, loss:item(), w:item(), b:item()))
  end
end
bar:close()

-- the least-squares line: w* = cov(x, y) / var(x), b* = mean(y) − w*·mean(x)
local xm, ym = x:mean(), y:mean()
local w_star = (((x - xm) * (y - ym)):mean() / ((x - xm) ^ 2):mean()):item()
local b_star = ym:item() - w_star * xm:item()
local final = ((w * x + b - y) ^ 2):mean():item()
print(string.format("fitted      w = %.4f, b = %.4f (final MSE %.5f)", w:item(), b:item(), final))
print(string.format("least sq.   w = %.4f, b = %.4f", w_star, b_star))
print("true line   w = 3, b = 2 (the noise variance, 0.25, is the MSE to expect at the best fit)")
