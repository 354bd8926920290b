local here = (arg and arg[0] or ""):match("^(.-)[^/\\]*$")   -- run from anywhere:
package.path = here .. "../lua/?.lua;" .. here .. "../lua/?/init.lua;" .. package.path
package.cpath = here .. "../lua/?.so;" .. package.cpath
-- examples/derivative_plot.lua — the MyGrad lab's "graph of the derivative":
-- f(x) = sin(2x)·cos(x)·e^(−x/3) and df/dx on [0, 10], the whole derivative
-- from ONE vectorised backward (f(x) is a vector of independent values, so
-- backward gives df/dx at every point at once), checked against the
-- analytic derivative and drawn with mg.plot (gnuplot) into a PNG.
--   lua5.4 examples/derivative_plot.lua [output.png]
local mg = require("moongrad")

local function f(x)
  return mg.sin(2 * x) * mg.cos(x) * mg.exp(-x / 3)
end

local x = mg.linspace(0, 10, 1000)
local y = f(x)
y:backward()                         -- seeds with ones: the gradient of y:sum()
local dydx = x.grad                  -- df/dx at all 1000 points

-- f'(x) = e^(−x/3) · (2 cos 2x cos x − sin 2x sin x − sin 2x cos x / 3)
local exact = mg.no_grad(function()
  return mg.exp(-x / 3) * (2 * mg.cos(2 * x) * mg.cos(x) - mg.sin(2 * x) * mg.sin(x)
                           - mg.sin(2 * x) * mg.cos(x) / 3)
end)
local err = mg.abs(dydx - exact):max():item()
print(string.format("max |autodiff - analytic| over %d points: %.3g (%s)", x.size, err, x.dtype))
assert(err < 1e-4, "the derivative does not match the analytic one")

local output = arg[1] or "derivative_plot.png"
if not mg.plot.available() then
  print("gnuplot is not installed (apt-get install gnuplot-nox): no plot written")
  return
end
mg.plot.lines({
  {x = x, y = y, label = "f(x) = sin(2x)·cos(x)·e^(−x/3)"},
  {x = x, y = dydx, label = "df/dx", dash = true},
}, {title = "A function and its derivative from one backward pass",
    xlabel = "x", output = output, width = 800, height = 500})
print("wrote " .. output)
