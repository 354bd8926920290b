-- gradcheck.lua — the specs' handle on moongrad's finite-difference checks
-- (require "gradcheck"); the logic lives in lua/moongrad/autograd.lua as
-- mg.autograd.gradcheck and mg.autograd.gradgradcheck.
--
--   gradcheck(f, inputs, opts)      first order: the gradient of sum(f(inputs...) * head)
--                                   (opts.head = "sum" for ones) against central differences
--   gradgradcheck(f, inputs, opts)  second order, through {create_graph = true}
--   fixed(shape, salt)              a fixed, well-spread constant float64 tensor
--
-- opts: eps (1e-6), atol (1e-5), rtol (1e-4), head. Both return true, or
-- false and a message naming the input, the element and the two values.
local mg = require("moongrad")

return {
  gradcheck = mg.autograd.gradcheck,
  gradgradcheck = mg.autograd.gradgradcheck,
  fixed = mg.autograd._fixed,
}
