local here = (arg and arg[0] or ""):match("^(.-)[^/\\]*$")   -- run from anywhere:
package.path = here .. "../../lua/?.lua;" .. here .. "../../lua/?/init.lua;" .. package.path
package.cpath = here .. "../../lua/?.so;" .. package.cpath
-- examples/tutorials/mxnet_autograd.lua — the automatic-differentiation
-- chapter of "Dive into Deep Learning" (MXNet edition) in moongrad:
-- attach_grad, autograd.record, backward, training and predict mode, the
-- gradient through Lua control flow, and head gradients.
--   lua5.4 examples/tutorials/mxnet_autograd.lua
local mg = require("moongrad")
local autograd = mg.autograd
mg.random.seed(0)   -- randn below prints the same every run
-- MXNet records operations only inside autograd.record; moongrad records by
-- default. Turning recording off here gives this script MXNet's rule, so the
-- checks made outside record (x.grad - 4 * x, d / a) leave .grad in place:
-- a variable used in a recorded operation has its .grad cleared (MyGrad's rule).
autograd.set_recording(false)

local function section(title) print("\n== " .. title) end

section("A simple example: y = 2 x^T x")
-- MXNet's nd.arange gives floats; moongrad's arange(4) would give int64
-- (as NumPy's does), so the float form is used.
local x = mg.arange(4.0):reshape(4, 1)
print(x)

-- attach_grad marks x as a variable whose gradient we want.
x:attach_grad()

-- Inside record the operations are recorded (moongrad records by default;
-- record also switches to training mode, as MXNet's does).
local y
autograd.record(function()
  y = 2 * mg.dot(x.T, x)
end)
print(y)

y:backward()

-- The derivative of 2 x^T x is 4x.
print((x.grad - 4 * x):norm():item() == 0)
print(x.grad)

section("Training mode and predict mode")
print(autograd.is_training())
autograd.record(function()
  print(autograd.is_training())
end)

section("Gradients through Lua control flow")
-- How many times the loop runs, and which branch is taken, depend on a.
local function f(a)
  local b = a * 2
  while b:norm():item() < 1000 do
    b = b * 2
  end
  local c
  if b:sum():item() > 0 then
    c = b
  else
    c = 100 * b
  end
  return c
end

local a = mg.random.randn(1)
a:attach_grad()
local d
autograd.record(function()
  d = f(a)
end)
d:backward()

-- f(a) = k * a for a k that depends on a, so the gradient is k = d / a.
print(a.grad:eq(d / a))
print(a, d, a.grad)

section("Head gradients and the chain rule")
local z
autograd.record(function()
  y = x * 2
  z = y * x
end)

-- z = 2 x^2 and dz/dx = 4x; backward(head) gives head * dz/dx. The head must
-- have z's shape {4, 1} (MXNet takes the 4 values as they come).
local head_gradient = mg.tensor({10, 1.0, 0.1, 0.01}):reshape(4, 1)
z:backward(head_gradient)
print(x.grad)
