local here = (arg and arg[0] or ""):match("^(.-)[^/\\]*$")   -- run from anywhere:
package.path = here .. "../../lua/?.lua;" .. here .. "../../lua/?/init.lua;" .. package.path
package.cpath = here .. "../../lua/?.so;" .. package.cpath
-- examples/tutorials/mygrad_lab.lua — Lab 3, "the AutoDiff library" (a MyGrad
-- notebook), cell by cell in moongrad: making and reshaping tensors, math with
-- axes, broadcasting, matmul and einsum, then backward, .grad on every
-- variable, constants, null_grad, the derivative of a vectorised function
-- (drawn with mg.plot) and gradient descent. The exercises are solved.
--   lua5.4 examples/tutorials/mygrad_lab.lua
-- The figure goes to $MOONGRAD_TUTORIAL_PLOT, or /tmp/mygrad_lab_derivative.png.
local mg = require("moongrad")
mg.set_default_dtype("float64")   -- MyGrad computes in NumPy's float64
mg.random.seed(0)                 -- the random cells print the same every run

local function section(title) print("\n== " .. title) end

-- Runs fn and prints the error it raises (the lab shows some failing cells).
local function show_error(fn)
  local ok, err = pcall(fn)
  print(ok and "no error" or "error: " .. tostring(err):gsub("^[^:]*:%d+: ", ""))
end

section("Step 1. Making tensors")
-- A single number gives a 0-d tensor.
print(mg.tensor(2.3))
-- A table of numbers; the dtype can be asked for (float32 prints its dtype,
-- since the default here is float64).
print(mg.tensor({1.0, 2.0, 3.0}, {dtype = "float32"}))
-- From another array-like: here a tensor of ones (NumPy's np.ones((3, 3))).
local arr = mg.ones(3, 3)
print(mg.tensor(arr))
-- Filled creation functions take a shape.
print(mg.zeros(2, 3, 4))
-- arange(start, stop, step): stop is excluded, as in NumPy.
print(mg.arange(-5, 15, 2))
-- A float argument gives floats; start defaults to 0 and step to 1.
print(mg.arange(9.0))
-- Uniform random numbers in [0, 1).
print(mg.random.rand(3, 4))
-- Exercise: 15 evenly spaced values on [0, pi].
print(mg.linspace(0, mg.pi, 15))

section("Changing a tensor's shape")
local x = mg.arange(9.0)
print(x:reshape(3, 3))
x = mg.tensor({{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {9, 10, 11}})
print(x:transpose())
-- Slicing: row 1, columns 3 to the end (Python's x[0, 2:]); slices are inclusive.
x = mg.tensor({{1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}})
print(x[{1, {3, -1}}])
-- The last three columns of row 1 (Python's x[0, -3:]).
print(x[{1, {-3, -1}}])

section("Standard math on tensors")
x = mg.tensor({0.0, 0.25, 0.5, 0.75, 1.0})
local y = mg.tensor({{0.0}, {1.0}, {2.0}})
local z = mg.tensor({{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}})
-- A unary function acts on every element.
print(mg.sin(x))
-- Reductions take an axis (1-based): axis 1 runs down the rows, axis 2 along them.
print(mg.sum(z))
print(mg.sum(z, {axis = 1}))
print(mg.sum(z, {axis = 2}))
-- Broadcasting: {5} with {3, 1} gives {3, 5}; {3, 1} with {3, 4} gives {3, 4}.
print(x + y)
print(y + z)
-- {5} and {3, 4} do not broadcast: the lab expects an error here.
show_error(function() return x + z end)
print(x * y)
print(y * z)
show_error(function() return x * z end)

section("Exercise: basic math")
x = mg.tensor({{0.0, 1.0, 2.0, 3.0},
               {4.0, 5.0, 6.0, 7.0},
               {8.0, 9.0, 10.0, 11.0},
               {12.0, 13.0, 14.0, 15.0}})
-- 1. The natural log of the first and third elements of the third row.
print(mg.log(x[{3, {1, -1, 2}}]))
-- 2. The four 2x2 corners added together.
print(x[{{1, 2}, {1, 2}}] + x[{{1, 2}, {3, -1}}] + x[{{3, -1}, {1, 2}}] + x[{{3, -1}, {3, -1}}])
-- 3. The mean of each column.
print(x:mean({axis = 1}))
-- 4. Each row scaled to length 1 (Lua has no /=, so x is rebound).
x = x / mg.sqrt(mg.sum(x ^ 2, {axis = 2, keepdims = true}))
print(x)
-- Every row's squares now add up to 1.
print((x ^ 2):sum({axis = 2}))

section("Linear algebra")
-- matmul of two vectors is their dot product.
x = mg.tensor({1.0, 2.0})
y = mg.tensor({-3.0, -4.0})
print(mg.matmul(x, y))
-- Of two matrices, the matrix product.
local a = mg.tensor({{1, 0}, {0, 1}, {2, 1}, {3, 4}})
local b = mg.tensor({{4, 1, 5}, {2, 2, 6}})
print(mg.matmul(a, b))
-- Of stacks of matrices, one product per pair: A is {4, 2, 3}, B is {4, 3, 3}.
-- A table of tensors makes a tensor, as a list of arrays does in NumPy.
local A1 = mg.arange(2 * 3):reshape(2, 3)
local A = mg.tensor({A1, A1 + 2, A1 + 4, A1 + 6})
local B1 = mg.arange(3 * 3):reshape(3, 3)
local B = mg.tensor({B1, B1 + 2, B1 + 4, B1 + 6})
print(A)
print(B)
print(mg.matmul(A, B))
-- Broadcasting in matmul: the {4, 2} matrix is used with each of the 5 {3, 4} ones.
x = mg.random.rand(5, 3, 4)
y = mg.random.rand(4, 2)
print(mg.matmul(x, y))

-- einsum: a whole family of products written as index strings.
a = mg.arange(25):reshape(5, 5)
b = mg.arange(15):reshape(5, 3)
local c = -mg.arange(15):reshape(5, 3)
print(mg.einsum("ii", a))            -- the trace of a
print(mg.einsum("ii->i", a))         -- the diagonal of a
print(mg.einsum("ji", b))            -- the transpose of b
print(mg.einsum("ij,jk->ik", a, b))  -- the matrix product ...
print(mg.matmul(a, b))               -- ... the same as matmul
print(mg.einsum("ij,ij->i", b, c))   -- the dot product of each row of b with c's

section("Step 2. backward()")
x = mg.tensor(2.0)
y = mg.tensor(3.0)
z = mg.tensor(4.0)
local f = x * y   -- mg.multiply(x, y)
f:backward()
print(x.grad)          -- df/dx = y
print(y.grad)          -- df/dy = x
print(z.grad == nil)   -- f does not depend on z

-- F(f(x, y), x, y): x reaches F along two paths, and its gradients add up.
x = mg.tensor(2.0)
y = mg.tensor(3.0)
f = x * y
local F = f + x - 2
F:backward()
print(f.grad)   -- dF/df
print(y.grad)   -- dF/df * df/dy
print(x.grad)   -- dF/df * df/dx + 1

section("Exercise: dF/dx at x = 2.5")
-- 1. F(x) = x^2
x = mg.tensor(2.5)
F = x ^ 2
F:backward()
print(x.grad)
-- 2. F(x) = cos(sqrt(x))
x = mg.tensor(2.5)
F = mg.cos(mg.sqrt(x))
F:backward()
print(x.grad)
-- 3. F(x) = 2 + 3x - 5x^2
x = mg.tensor(2.5)
F = 2 + 3 * x - 5 * x ^ 2
F:backward()
print(x.grad)
-- 4. F(x) = e^(ln x)
x = mg.tensor(2.5)
F = mg.exp(mg.log(x))
F:backward()
print(x.grad)
-- 5. F(x) = (2x f(x))^2 - f(x) with f(x) = x^2
x = mg.tensor(2.5)
f = x ^ 2
F = (2 * x * f) ^ 2 - f
F:backward()
print(x.grad)

section("Clearing .grad")
x = mg.tensor(2.0)
f = x ^ 2
f:backward()
print(x.grad)
-- Using x in a new operation clears the gradient it holds ...
print(x + 2)
print(x.grad == nil)
-- ... and null_grad clears it directly.
f = x ^ 2
f:backward()
x:null_grad()
print(x.grad == nil)

section("Tensors and their data (1)")
x = mg.tensor({0.0, 1.0, 2.0, 3.0})
print(x)
-- .data is the same memory seen as a constant, outside any graph.
print(x.data)
-- Lua's plain array is a table of numbers (np.asarray gives NumPy's plain array).
print(table.concat(x:totable(), ", "))
print(mg.asarray(x))

section("Tensors and their data (2)")
-- A Lua function written with operators works on numbers and on tensors alike,
-- and on tensors it builds a graph (the lab shows this with np.square).
local function square(v) return v * v end
print(square(3))
x = mg.tensor(3.0)
f = square(x)
print(f)
f:backward()
print(x.grad)

section("Constants")
-- Plain Lua numbers take no part in the graph: they have no .grad at all.
x = mg.tensor(1.0)
y = 2.0
F = x * y
F:backward()
print(x.grad)
show_error(function() return y.grad end)
-- A tensor made with constant = true is left out of backward.
x = mg.tensor(1.0)
y = mg.tensor(2.0, {constant = true})
print(x.constant)
print(y.constant)
F = x * y
F:backward()
print(F.grad)
print(x.grad)
print(y.grad == nil)
-- An operation on constants only gives a constant; backward on it does nothing.
x = mg.tensor(1.0, {constant = true})
y = mg.tensor(2.0, {constant = true})
F = x + y
print(F.constant)
F:backward()
print(F.grad == nil)

section("Step 3. Gradients of multivariate functions")
-- F = -x0^2 + 2 x1^2 + 0 x2^2: tensor.grad holds dF/dxi at each position.
local tensor = mg.tensor({2.0, 4.0, 8.0})
arr = {-1.0, 2.0, 0}   -- plain data, like the lab's NumPy array
F = (arr * tensor ^ 2):sum()
F:backward()
print(tensor.grad)

-- backward on a vector F seeds it with ones, the same as backward on F:sum():
-- for independent elements that is each element's own derivative, 2x.
tensor = mg.linspace(-5, 5, 20)
F = tensor ^ 2   -- shape {20}
F:backward()
print(tensor.grad)

section("Exercise: a function and its derivative, drawn")
-- Draws func(x) and dfunc/dx on the same axes; the derivative at every point
-- comes from one backward through the vectorised function.
local function plot_func_and_deriv(x, func, output)
  x = mg.tensor(x)
  local y = func(x)
  y:backward()

  if mg.plot == nil or not mg.plot.available or not mg.plot.available() then
    print("mg.plot or gnuplot is not available: no figure drawn")
    return nil, x, y
  end
  mg.plot.lines({
    {x = x.data, y = y.data, label = "f(x)"},
    {x = x.data, y = x.grad, label = "df/dx", dash = true},
  }, {title = "f(x) = sin(2x) cos(x) exp(-x/3) and its derivative",
      xlabel = "x", output = output})
  return output, x, y
end

local function fn(x)
  return mg.sin(2 * x) * mg.cos(x) * mg.exp(-x / 3)
end

x = mg.linspace(0, 10, 10000)
local output = os.getenv("MOONGRAD_TUTORIAL_PLOT") or "/tmp/mygrad_lab_derivative.png"
local written, xs = plot_func_and_deriv(x, fn, output)
if written then print("wrote " .. written) end
-- The derivative by hand, to check autodiff against at all 10,000 points.
local exact = mg.exp(-xs.data / 3) * (2 * mg.cos(2 * xs.data) * mg.cos(xs.data)
  - mg.sin(2 * xs.data) * mg.sin(xs.data) - mg.sin(2 * xs.data) * mg.cos(xs.data) / 3)
print("df/dx at 0:", xs.grad[1]:item())
print(string.format("largest |autodiff - exact|: %.1e", mg.abs(xs.grad - exact):max():item()))

section("Step 4. Gradient descent on L(w) = w^2")
local w = mg.tensor(10.0)
local learning_rate = 0.3
local num_steps = 5
for _ = 1, num_steps do
  local L = w ^ 2
  L:backward()
  w.data:sub_(learning_rate * w.grad)   -- w.data -= learning_rate * w.grad
  print(w)
end
-- The other spelling, w = w - learning_rate * w.grad, prints the same but
-- records each update as an operation: work that the .data form avoids.
w = mg.tensor(10.0)
for _ = 1, num_steps do
  local L = w ^ 2
  L:backward()
  w = w - learning_rate * w.grad
  print(w)
end

section("Gradient descent on L(w1, w2) = 2 w1^2 + 3 w2^2")
w = mg.tensor({2.0, 4.0})
learning_rate = 0.1
num_steps = 5
local const = {2.0, 3.0}
for _ = 1, num_steps do
  local L = const * w ^ 2
  L:backward()
  w.data:sub_(learning_rate * w.grad)
  print(w)
end

section("Exercise: a general gradient step")
-- Takes one tensor or a list of them; tensors without a gradient are skipped.
-- The update is written into each tensor's memory, so nothing is returned.
local function gradient_step(tensors, learning_rate)
  if mg.is_tensor(tensors) then
    tensors = {tensors}   -- a single tensor: make it a list to loop over
  end
  for _, t in ipairs(tensors) do
    if t.grad ~= nil then
      t.data:sub_(learning_rate * t.grad)
    end
  end
end

w = mg.tensor(10.0)
learning_rate = 0.3
num_steps = 5
for _ = 1, num_steps do
  local L = w ^ 2
  L:backward()
  gradient_step(w, learning_rate)
  print(w)
end
