-- printing_spec.lua — tostring(x): NumPy's repr layout (0-d to 4-d, blank
-- lines between blocks, "..." summaries beyond 1000 elements with 3 edge
-- items, rows wrapped at 75 columns with continuation lines aligned under the
-- first element) with PyTorch-like numbers (4 decimals at most, "7." for
-- integral floats, scientific for very large or small values).  Every
-- expected string is exact.
local mg = require("moongrad")

-- The lines joined by newlines (so the layout below reads as it prints).
local function lines(t) return table.concat(t, "\n") end

local function prints(expected, t)
  assert.are.equal(expected, tostring(t))
end

describe("tostring of 0-d tensors", function()
  it("prints the value alone", function()
    prints("Tensor(2.5)", mg.tensor(2.5))
    prints("Tensor(7.)", mg.tensor(7.0))
    prints("Tensor(-3.)", mg.tensor(-3.0))
    prints("Tensor(-3)", mg.tensor(-3))
    prints("Tensor(True)", mg.tensor(true))
    prints("Tensor(nan)", mg.tensor(mg.nan))
    prints("Tensor(2., constant=true)", mg.tensor(2.0, {constant = true}))
  end)
end)

describe("tostring of 1-d tensors", function()
  it("aligns elements to a common width", function()
    prints("Tensor([ 1.50, -2.25,  3.00])", mg.tensor({1.5, -2.25, 3}))
    prints("Tensor([-0.50,  0.25], dtype=float64)", mg.tensor({-0.5, 0.25}, {dtype = "float64"}))
    prints("Tensor([   -1,    20,   300, -4000])", mg.tensor({-1, 20, 300, -4000}))
    prints("Tensor([ True, False,  True])", mg.tensor({true, false, true}))
    prints("Tensor([1.])", mg.tensor({1.0}))
  end)

  it("prints nan and inf by name", function()
    prints("Tensor([  1.,  nan, -inf,  inf])", mg.tensor({1.0, mg.nan, -mg.inf, mg.inf}))
    prints("Tensor([ nan, -inf])", mg.tensor({mg.nan, -mg.inf}))
  end)

  it("uses scientific notation for very large or small magnitudes", function()
    prints("Tensor([1.0000e+10, 1.0000e+00])", mg.tensor({1e10, 1}))
    prints("Tensor([ 1.0000e-05, -2.0000e+00])", mg.tensor({1e-5, -2}))
  end)

  it("prints empty tensors as []", function()
    prints("Tensor([])", mg.zeros(0))
    prints("Tensor([])", mg.zeros(2, 0))
    prints("Tensor([], dtype=int64)", mg.tensor({}, {dtype = "int64"}))
  end)
end)

describe("tostring of 2-d to 4-d tensors", function()
  it("puts 2-d rows on lines under the first", function()
    prints(lines{
      "Tensor([[0., 1., 2.],",
      "        [3., 4., 5.]])"}, mg.arange(6.):reshape(2, 3))
    prints(lines{
      "Tensor([[ True, False],",
      "        [False,  True]])"}, mg.tensor({{true, false}, {false, true}}))
    prints(lines{
      "Tensor([[   -1,    20],",
      "        [  300, -4000]])"}, mg.tensor({{-1, 20}, {300, -4000}}))
  end)

  it("prints non-contiguous views in logical order", function()
    prints(lines{
      "Tensor([[0., 3.],",
      "        [1., 4.],",
      "        [2., 5.]])"}, mg.arange(6.):reshape(2, 3).T)
  end)

  it("separates 3-d blocks by one blank line", function()
    prints(lines{
      "Tensor([[[ 0,  1,  2],",
      "         [ 3,  4,  5]],",
      "",
      "        [[ 6,  7,  8],",
      "         [ 9, 10, 11]]])"}, mg.arange(12):reshape(2, 2, 3))
  end)

  it("separates 4-d blocks by two blank lines", function()
    prints(lines{
      "Tensor([[[[ 0.,  1.],",
      "          [ 2.,  3.]],",
      "",
      "         [[ 4.,  5.],",
      "          [ 6.,  7.]]],",
      "",
      "",
      "        [[[ 8.,  9.],",
      "          [10., 11.]],",
      "",
      "         [[12., 13.],",
      "          [14., 15.]]]])"}, mg.arange(16.):reshape(2, 2, 2, 2))
    prints(lines{
      "Tensor([[[[ 0,  1,  2,  3],",
      "          [ 4,  5,  6,  7],",
      "          [ 8,  9, 10, 11]],",
      "",
      "         [[12, 13, 14, 15],",
      "          [16, 17, 18, 19],",
      "          [20, 21, 22, 23]]]])"}, mg.arange(24):reshape(1, 2, 3, 4))
  end)
end)

describe("tostring of wide tensors", function()
  it("wraps a long row at 75 columns, continuation lines under the first element", function()
    prints(lines{
      "Tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12.,",
      "        13., 14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25.,",
      "        26., 27., 28., 29.])"}, mg.arange(30.))
    prints(lines{
      "Tensor([-20., -19., -18., -17., -16., -15., -14., -13., -12., -11., -10.,",
      "         -9.,  -8.,  -7.,  -6.,  -5.,  -4.,  -3.,  -2.,  -1.,   0.,   1.,",
      "          2.,   3.,   4.,   5.,   6.,   7.,   8.,   9.,  10.,  11.,  12.,",
      "         13.,  14.,  15.,  16.,  17.,  18.,  19.])"}, mg.arange(40.) - 20)
    prints(lines{
      "Tensor([          0,  1000000007,  2000000014,  3000000021,  4000000028,",
      "         5000000035,  6000000042,  7000000049,  8000000056,  9000000063,",
      "        10000000070, 11000000077, 12000000084, 13000000091, 14000000098,",
      "        15000000105, 16000000112])"}, mg.arange(17) * 1000000007)
  end)

  it("wraps the rows of 2-d and 3-d tensors one column further in per level", function()
    prints(lines{
      "Tensor([[ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12.,",
      "         13., 14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25.,",
      "         26., 27., 28., 29.],",
      "        [30., 31., 32., 33., 34., 35., 36., 37., 38., 39., 40., 41., 42.,",
      "         43., 44., 45., 46., 47., 48., 49., 50., 51., 52., 53., 54., 55.,",
      "         56., 57., 58., 59.]])"}, mg.arange(60.):reshape(2, 30))
    prints(lines{
      "Tensor([[           0,  -1000000007,  -2000000014,  -3000000021,",
      "          -4000000028,  -5000000035,  -6000000042,  -7000000049,",
      "          -8000000056,  -9000000063, -10000000070],",
      "        [-11000000077, -12000000084, -13000000091, -14000000098,",
      "         -15000000105, -16000000112, -17000000119, -18000000126,",
      "         -19000000133, -20000000140, -21000000147]])"},
      mg.arange(22):reshape(2, 11) * -1000000007)
    prints(lines{
      "Tensor([[[  0,  10,  20,  30,  40,  50,  60,  70,  80,  90, 100, 110,",
      "          120, 130, 140, 150, 160, 170, 180, 190]],",
      "",
      "        [[200, 210, 220, 230, 240, 250, 260, 270, 280, 290, 300, 310,",
      "          320, 330, 340, 350, 360, 370, 380, 390]]])"}, mg.arange(40):reshape(2, 1, 20) * 10)
  end)

  it("wraps floats with fractional digits", function()
    prints(lines{
      "Tensor([ 0.0,  0.5,  1.0,  1.5,  2.0,  2.5,  3.0,  3.5,  4.0,  4.5,  5.0,",
      "         5.5,  6.0,  6.5,  7.0,  7.5,  8.0,  8.5,  9.0,  9.5, 10.0, 10.5,",
      "        11.0, 11.5, 12.0, 12.5, 13.0, 13.5, 14.0, 14.5, 15.0, 15.5, 16.0,",
      "        16.5, 17.0, 17.5, 18.0, 18.5, 19.0, 19.5])"}, mg.arange(40.) * 0.5)
  end)

  it("keeps a single word on its line however wide", function()
    local t = mg.tensor({123456789012345, 1})
    prints("Tensor([123456789012345,               1])", t)
  end)
end)

describe("tostring of large tensors", function()
  it("shows 3 items at each end of every axis past 1000 elements", function()
    prints("Tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.])", mg.arange(2000.))
    prints("Tensor([   0.,    1.,    2., ...,  998.,  999., 1000.])", mg.arange(1001.))
    prints(lines{
      "Tensor([[   0,    1,    2, ...,   17,   18,   19],",
      "        [  20,   21,   22, ...,   37,   38,   39],",
      "        [  40,   41,   42, ...,   57,   58,   59],",
      "        ...,",
      "        [1940, 1941, 1942, ..., 1957, 1958, 1959],",
      "        [1960, 1961, 1962, ..., 1977, 1978, 1979],",
      "        [1980, 1981, 1982, ..., 1997, 1998, 1999]])"}, mg.arange(2000):reshape(100, 20))
  end)

  it("does not summarise 1000 elements", function()
    local s = tostring(mg.arange(1000))
    assert.is_nil(s:find("...", 1, true))
    assert.is_truthy(s:find("999]", 1, true))
  end)

  it("separates summarised 3-d blocks with blank lines", function()
    prints(lines{
      "Tensor([[[   0,    1,    2, ...,  197,  198,  199],",
      "         [ 200,  201,  202, ...,  397,  398,  399],",
      "         [ 400,  401,  402, ...,  597,  598,  599]],",
      "",
      "        [[ 600,  601,  602, ...,  797,  798,  799],",
      "         [ 800,  801,  802, ...,  997,  998,  999],",
      "         [1000, 1001, 1002, ..., 1197, 1198, 1199]]])"}, mg.arange(1200):reshape(2, 3, 200))
    local s = tostring(mg.arange(1100):reshape(10, 10, 11))
    assert.is_truthy(s:find("]],\n\n        ...,\n\n        [[ 770,  771,  772, ...,  778,  779,  780],",
      1, true))
    assert.is_truthy(s:find("\n         ...,\n         [  77,   78,   79, ...,   85,   86,   87],", 1,
      true))
  end)

  it("wraps a summarised row that is still too wide", function()
    prints(lines{
      "Tensor([        0,    123457,    246914, ..., 123210086, 123333543,",
      "        123457000])"}, mg.arange(1001) * 123457)
  end)

  it("chooses the number format from the shown elements only", function()
    local t = mg.zeros(2000)
    t[1000] = 0.123456 -- hidden by the summary
    prints("Tensor([0., 0., 0., ..., 0., 0., 0.])", t)
  end)
end)
