-- spec/helpers.lua — the small helpers the spec files share
-- (local H = require("helpers")): value comparisons, error expectations,
-- gradchecks that assert, float64 / int64 tensor makers and scratch files.
--
--   H.flat(v)                  the numbers of a nested table or tensor, row-major
--   H.near(expected, t, tol, what)
--                              every element of t (a tensor, table or number) within
--                              tol (1e-5) relative of expected's; NaN matches NaN, an
--                              infinity only itself; `what` labels the message
--   H.near_within(tol)         H.near with another default tolerance
--   H.raises(fn, ...)          fn raises an error mentioning every fragment; returns it
--   H.check(f, inputs, opts)   gradcheck (first order) that asserts
--   H.check2(f, inputs, opts)  gradgradcheck (second order) that asserts
--   H.f64(v, opts), H.i64(v)   float64 (a variable unless opts say otherwise) and
--                              int64 tensors from values
--   H.randn(shape)             a float64 variable drawn from N(0, 1)
--   H.transposed(shape)        a non-contiguous float64 leaf of that shape (a .T view)
--   H.fixed_var(shape, salt)   gradcheck's fixed float64 values as a variable
--   H.shape_is(expected, t)    t's shape is the table expected
--   H.all_finite(t)            no NaN or infinity in t
--   H.naive_conv2d(x, xs, w, ws, o)
--                              plain Lua 2-d convolution of flat row-major lists (x
--                              {N, C, H, W}, w {F, C/g, KH, KW}; o: stride, padding,
--                              dilation, groups, bias); its values and shape
--   H.map(list, f)             f applied to each element of a list
--   H.tmpdir(), H.rmdir(d)     a fresh scratch directory, and removing it
--   H.write(path, bytes), H.read(path)
--                              a whole file, written or read
--   H.rss_mb()                 this process's resident memory in MB (nil without /proc)
local mg = require("moongrad")
local gc = require("gradcheck")
local assert = require("luassert") -- (busted's assert lives in the spec files' environment)

local H = {}

function H.flat(v, out)
  out = out or {}
  if mg.is_tensor(v) then v = v:totable() end
  if type(v) ~= "table" then
    out[#out + 1] = v
  else
    for _, e in ipairs(v) do H.flat(e, out) end
  end
  return out
end

local function near(expected, t, tol, what)
  local e, a = H.flat(expected), H.flat(t)
  assert.are.equal(#e, #a, "number of elements")
  for i = 1, #e do
    local ok
    if e[i] ~= e[i] then ok = a[i] ~= a[i]
    elseif math.abs(e[i]) == math.huge then ok = a[i] == e[i]
    else ok = math.abs(e[i] - a[i]) <= tol * (1 + math.abs(e[i])) end
    if not ok then
      error(string.format("%selement %d: expected %.12g, got %.12g", what and what .. ": " or "",
        i, e[i], a[i]), 3)
    end
  end
end

function H.near(expected, t, tol, what) near(expected, t, tol or 1e-5, what) end

function H.near_within(default)
  return function(expected, t, tol, what) near(expected, t, tol or default, what) end
end

function H.raises(fn, ...)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error")
  err = tostring(err)
  for _, fragment in ipairs({...}) do
    if not err:find(fragment, 1, true) then
      error(string.format("error %q does not mention %q", err, fragment), 2)
    end
  end
  return err
end

function H.check(f, inputs, opts)
  local ok, msg = gc.gradcheck(f, inputs, opts)
  assert(ok, msg)
end

function H.check2(f, inputs, opts)
  local ok, msg = gc.gradgradcheck(f, inputs, opts)
  assert(ok, msg)
end

function H.f64(v, opts)
  local o = {dtype = "float64"}
  for k, x in pairs(opts or {}) do if k ~= "dtype" then o[k] = x end end
  return mg.tensor(v, o)
end

function H.i64(v) return mg.tensor(v, {dtype = "int64"}) end

function H.randn(shape) return mg.random.randn(shape, {dtype = "float64"}) end

function H.transposed(shape)
  local rev = {}
  for i = #shape, 1, -1 do rev[#rev + 1] = shape[i] end
  return mg.random.randn(rev, {dtype = "float64", constant = true}).T:requires_grad_(true)
end

function H.fixed_var(shape, salt) return gc.fixed(shape, salt):requires_grad_(true) end

function H.shape_is(expected, t) assert.are.same(expected, t.shape) end

function H.all_finite(t)
  for _, v in ipairs(H.flat(t)) do
    if v ~= v or math.abs(v) == math.huge then return false end
  end
  return true
end

function H.map(list, f)
  local out = {}
  for i, v in ipairs(list) do out[i] = f(v) end
  return out
end

function H.tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir " .. d))
  return d
end

function H.rmdir(d) os.execute("rm -rf " .. d) end

function H.write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end

function H.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function H.rss_mb()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local kb = f:read("a"):match("VmRSS:%s+(%d+)")
  f:close()
  return tonumber(kb) / 1024
end

-- Naive 2-d convolution (x {N, C, H, W}, w {F, C/g, KH, KW}) on flat lists;
-- 1-d inputs use H = KH = 1.
function H.naive_conv2d(x, xs, w, ws, o)
  local N, C, H, W = xs[1], xs[2], xs[3], xs[4]
  local F, CG, KH, KW = ws[1], ws[2], ws[3], ws[4]
  local s, p, d, g = o.stride, o.padding, o.dilation, o.groups
  local OH = (H + 2 * p[1] - d[1] * (KH - 1) - 1) // s[1] + 1
  local OW = (W + 2 * p[2] - d[2] * (KW - 1) - 1) // s[2] + 1
  local FG = F // g
  local out = {}
  for n = 0, N - 1 do
    for f = 0, F - 1 do
      local grp = f // FG
      for oh = 0, OH - 1 do
        for ow = 0, OW - 1 do
          local acc = o.bias and o.bias[f + 1] or 0
          for c = 0, CG - 1 do
            local ci = grp * CG + c
            for kh = 0, KH - 1 do
              local ih = oh * s[1] - p[1] + kh * d[1]
              if ih >= 0 and ih < H then
                for kw = 0, KW - 1 do
                  local iw = ow * s[2] - p[2] + kw * d[2]
                  if iw >= 0 and iw < W then
                    acc = acc + x[((n * C + ci) * H + ih) * W + iw + 1] *
                                w[((f * CG + c) * KH + kh) * KW + kw + 1]
                  end
                end
              end
            end
          end
          out[#out + 1] = acc
        end
      end
    end
  end
  return out, {N, F, OH, OW}
end

return H
