-- threads_spec.lua — the thread pool (src/parallel.c) and the split matrix
-- product (src/gemm.c): matmul at 2 and 3 threads against 1 thread for
-- every layout BLAS reads in place (plain and transposed views), products
-- split by columns and by rows, batched and float64; long element-wise ops
-- and sums give the same bits at any count; many back-to-back small splits
-- and changes of the count in between.
local mg = require("moongrad")
local H = require("helpers")
local flat = H.flat

local function with_threads(n, fn)
  local before = mg.get_num_threads()
  mg.set_num_threads(n)
  local ok, err = pcall(fn)
  mg.set_num_threads(before)
  if not ok then error(err, 0) end
end

-- the largest |a - b| / (1 + |b|) over two flat lists
local function max_rel(a, b)
  assert(#a == #b, "lengths " .. #a .. " and " .. #b)
  local m = 0
  for i = 1, #a do
    local d = math.abs(a[i] - b[i]) / (1 + math.abs(b[i]))
    if d > m then m = d end
  end
  return m
end

-- a (m x k) and b (k x n), each either plain or a transposed view
local function operands(m, k, n, ta, tb, dtype)
  mg.random.seed(m * 7 + k * 3 + n)
  local ctor = {dtype = dtype}
  local a = ta and mg.random.randn({k, m}, ctor):transpose(1, 2) or mg.random.randn({m, k}, ctor)
  local b = tb and mg.random.randn({n, k}, ctor):transpose(1, 2) or mg.random.randn({k, n}, ctor)
  return a, b
end

describe("matmul split over threads", function()
  local shapes = {
    {128, 784, 256}, -- split by columns (n > m)
    {200, 64, 200},  -- square: split by rows
    {300, 129, 67},  -- split by rows (m > n), odd sizes
    {256, 128, 784},
    {33, 2000, 65},  -- just enough rows/columns for two blocks
    {8, 8, 8},       -- too small to split
  }
  for _, dtype in ipairs({"float32", "float64"}) do
    local tol = dtype == "float32" and 1e-4 or 1e-12 -- (kernels differ: under valgrind, AVX2 not AVX-512)
    for _, s in ipairs(shapes) do
      for _, t in ipairs({{false, false}, {true, false}, {false, true}, {true, true}}) do
        local name = ("%dx%dx%d%s%s %s"):format(s[1], s[2], s[3], t[1] and " a.T" or "",
                                                 t[2] and " b.T" or "", dtype)
        it(name .. ": 2 and 3 threads agree with 1", function()
          local a, b = operands(s[1], s[2], s[3], t[1], t[2], dtype)
          local ref
          with_threads(1, function() ref = flat(mg.matmul(a, b)) end)
          for _, n in ipairs({2, 3}) do
            with_threads(n, function()
              local got = mg.matmul(a, b)
              assert.are.same({s[1], s[3]}, {got.shape[1], got.shape[2]})
              local d = max_rel(flat(got), ref)
              assert(d <= tol, ("%d threads: max relative difference %g"):format(n, d))
            end)
          end
        end)
      end
    end
  end

  it("batched products and the gradients of a dense layer agree", function()
    mg.random.seed(5)
    local x = mg.random.randn({4, 96, 200})
    local w = mg.tensor(mg.random.randn({200, 150}), {requires_grad = true})
    local function run()
      w:null_grad()
      local y = mg.matmul(x, w)
      y:sum():backward()
      return flat(y), flat(w.grad)
    end
    local y1, g1, y2, g2
    with_threads(1, function() y1, g1 = run() end)
    with_threads(2, function() y2, g2 = run() end)
    assert(max_rel(y2, y1) <= 1e-4, "y")
    assert(max_rel(g2, g1) <= 1e-4, "w.grad")
  end)
end)

describe("the thread pool", function()
  it("gives long element-wise ops and sums the same bits at 1, 2 and 3 threads", function()
    mg.random.seed(9)
    local a = mg.random.rand(3 * (1 << 20) + 17) - 0.5
    local results = {}
    for _, n in ipairs({1, 2, 3}) do
      with_threads(n, function()
        results[n] = {(a:exp() + a):sum():item(), (a * a):sum():item(), a:tanh():sum():item()}
      end)
    end
    assert.are.same(results[1], results[2])
    assert.are.same(results[1], results[3])
  end)

  it("survives many back-to-back small splits and count changes in between", function()
    mg.random.seed(3)
    local a, b = mg.random.randn(64, 512), mg.random.randn(512, 96)
    local ref = flat(mg.matmul(a, b))
    for i = 1, 300 do
      if i % 50 == 0 then mg.set_num_threads(i % 100 == 0 and 3 or 2) end
      local y = mg.matmul(a, b)
      if i % 60 == 0 then assert(max_rel(flat(y), ref) <= 1e-4) end
    end
    mg.set_num_threads(1)
  end)
end)
