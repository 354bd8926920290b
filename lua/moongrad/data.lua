-- moongrad.data — mg.data: IDX datasets (Fashion-MNIST, MNIST, any IDX
-- file) and the mini-batch loader; mg.save / mg.load: checkpoints in the
-- safetensors format.  The C parts are core.io (binding/b_io.c over
-- src/io_idx.c and src/io_safetensors.c).
return function(mg, core)
  local cio = core.io
  local data = {}
  mg.data = data

  --- Where Debian's dataset-fashion-mnist package puts the files.
  data.FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

  -- Calls a core.io function; its error is raised at the given level
  -- (pcall makes the C error carry no position, error() adds the caller's).
  local function call(level, f, ...)
    local res = table.pack(pcall(f, ...))
    if not res[1] then error(res[2], level + 1) end
    return table.unpack(res, 2, res.n)
  end

  -- Whether t (a tensor) can still be used: not closed.
  local function usable(t) return (pcall(function() return t.ndim end)) end

  local function check_opts(fn, opts, pos)
    if opts ~= nil and (type(opts) ~= "table" or mg.is_tensor(opts)) then
      error(("%s: argument #%d must be an option table, got %s"):format(fn, pos, type(opts)), 3)
    end
    return opts or {}
  end

  --- mg.data.read_idx(path, {dtype = ...}): the tensor an IDX file holds
  --- (gzipped or plain); integer types read as int64, floats as float32,
  --- doubles as float64 unless dtype says otherwise.  A constant.
  function data.read_idx(path, opts)
    if type(opts) == "string" then opts = {dtype = opts} end
    opts = check_opts("mg.data.read_idx", opts, 2)
    return call(2, cio.read_idx, path, opts.dtype)
  end

  local function exists(path)
    local f = io.open(path, "rb")
    if f then f:close() end
    return f ~= nil
  end

  -- The path of base (or base.gz) in dir, or nil.
  local function find(dir, base)
    for _, name in ipairs{base .. ".gz", base} do
      local p = dir .. "/" .. name
      if exists(p) then return p end
    end
  end

  local FILES = {
    train = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
    test = {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
  }

  -- Images (N, 28, 28) float in [0, 1] and labels (N) int64 in 1..10.
  local function mnist_like(fn, split, dir, hint, opts)
    local files = FILES[split]
    if not files then
      error(("%s: split must be \"train\" or \"test\", got %s"):format(fn, tostring(split)), 3)
    end
    if type(dir) ~= "string" then
      error(("%s: dir must be a directory path (a string), got %s"):format(fn, type(dir)), 3)
    end
    local paths = {}
    for i, base in ipairs(files) do
      paths[i] = find(dir, base)
      if not paths[i] then
        error(("%s: cannot find %s(.gz) in %s; %s"):format(fn, base, dir, hint), 3)
      end
    end
    local images = call(3, cio.read_idx, paths[1], opts.dtype or "float32", 255)
    local labels = call(3, cio.read_idx, paths[2], "int64")
    local s = images.shape
    if images.ndim ~= 3 or s[2] ~= 28 or s[3] ~= 28 or labels.ndim ~= 1 or s[1] ~= #labels then
      error(("%s: %s and %s do not hold N 28x28 images and N labels"):format(fn, paths[1],
        paths[2]), 3)
    end
    if #labels > 0 and (labels:min():item() < 0 or labels:max():item() > 9) then
      error(("%s: %s holds labels outside 0..9"):format(fn, paths[2]), 3)
    end
    return images, labels + 1
  end

  --- mg.data.fashion_mnist(split, {dir = ..., dtype = "float32"}): split is
  --- "train" (60000) or "test" (10000).  Returns images (float32 in [0, 1],
  --- shape {N, 28, 28}, constant) and labels (int64 classes 1..10, constant).
  --- The files default to data.FASHION_MNIST_DIR (Debian's package).
  function data.fashion_mnist(split, opts)
    local fn = "mg.data.fashion_mnist"
    opts = check_opts(fn, opts, 2)
    local hint = opts.dir and "pass the directory holding the IDX files as {dir = ...}"
      or "install the dataset with `apt-get install dataset-fashion-mnist` or pass " ..
         "{dir = ...} naming a directory with the IDX files"
    return mnist_like(fn, split, opts.dir or data.FASHION_MNIST_DIR, hint, opts)
  end

  --- mg.data.mnist(split, {dir = ...}): the same for MNIST's files, which
  --- no Debian package ships: dir is required.
  function data.mnist(split, opts)
    local fn = "mg.data.mnist"
    opts = check_opts(fn, opts, 2)
    if not opts.dir then
      error(fn .. ": pass {dir = ...} naming a directory holding MNIST's IDX files " ..
            "(train-images-idx3-ubyte.gz, ...); there is no default location", 2)
    end
    return mnist_like(fn, split, opts.dir, "check {dir = ...}", opts)
  end

  -- The loader ---------------------------------------------------------------
  local Loader = {}
  Loader.__index = Loader

  -- (no n + batch_size - 1: batch_size may be as large as math.maxinteger)
  local function nbatches(self)
    local full = self.n // self.batch_size
    if self.drop_last or self.n % self.batch_size == 0 then return full end
    return full + 1
  end

  -- Starts a pass: a fresh permutation when shuffling.
  local function start(self)
    self.pos = 0
    if self.shuffle then self.perm = cio.randperm(self.n) end
  end

  local function take(t, self, a, b)
    if t == nil then return nil end
    if self.perm then return t[self.perm[{{a, b}}]] end
    return t[{{a, b}}]
  end

  -- The next batch of the pass, or nil at its end.
  local function next_batch(self)
    local a = self.pos + 1
    local b = self.pos + math.min(self.batch_size, self.n - self.pos)
    if a > self.n or (self.drop_last and b - a + 1 < self.batch_size) then
      self.pos, self.perm = self.n, nil
      return nil
    end
    self.pos = b
    return take(self.x, self, a, b), take(self.y, self, a, b)
  end

  --- `for xb, yb in loader do`: the loader itself is the iterator; each
  --- loop starts a new pass (the generic for first calls it with a nil
  --- control value), reshuffling when shuffle is on.
  function Loader.__call(self, _, control)
    if control == nil then start(self) end
    return next_batch(self)
  end

  --- #loader: the number of batches in a pass.
  function Loader.__len(self) return nbatches(self) end

  --- loader:iter(): an iterator over one fresh pass (for manual stepping).
  function Loader:iter()
    start(self)
    return function() return next_batch(self) end
  end

  Loader.__name = "moongrad.DataLoader"
  Loader.__tostring = function(self)
    return ("DataLoader(%d samples, batch_size=%d, shuffle=%s, drop_last=%s, %d batches)"):format(
      self.n, self.batch_size, tostring(self.shuffle), tostring(self.drop_last), nbatches(self))
  end

  --- mg.data.loader(x, y, {batch_size = 32, shuffle = false, drop_last = false}):
  --- mini-batches along axis 1 of x (and y, optional: loader(x, opts)).
  --- Batches are constants: views of x (no shuffle) or gathered copies
  --- (shuffle, through mg.random so mg.random.seed makes them reproducible).
  function data.loader(x, y, opts)
    local fn = "mg.data.loader"
    if opts == nil and type(y) == "table" and not mg.is_tensor(y) then y, opts = nil, y end
    if not mg.is_tensor(x) then
      error(("%s: argument #1 must be a tensor, got %s"):format(fn, type(x)), 2)
    end
    if y ~= nil and not mg.is_tensor(y) then
      error(("%s: argument #2 must be a tensor (or the options), got %s"):format(fn, type(y)), 2)
    end
    if not usable(x) or (y and not usable(y)) then
      error(("%s: argument #%d is a tensor used after it was closed"):format(fn, usable(x) and 2 or 1), 2)
    end
    opts = check_opts(fn, opts, 3)
    local bs = opts.batch_size or 32
    if math.type(bs) ~= "integer" or bs < 1 then
      error(("%s: batch_size must be a positive integer, got %s"):format(fn, tostring(bs)), 2)
    end
    if x.ndim < 1 then error(fn .. ": x must have at least one axis (the samples)", 2) end
    if y and (y.ndim < 1 or y.shape[1] ~= x.shape[1]) then
      error(("%s: x has %d samples but y has %s"):format(fn, x.shape[1],
        y.ndim < 1 and "no axis" or tostring(y.shape[1])), 2)
    end
    local self = setmetatable({
      x = x:detach(), y = y and y:detach(), n = x.shape[1], batch_size = bs,
      shuffle = opts.shuffle and true or false, drop_last = opts.drop_last and true or false,
    }, Loader)
    self.pos = self.n
    return self
  end

  -- Checkpoints ---------------------------------------------------------------
  -- name -> tensor, nested tables joined with "." (integer keys too).
  local function flatten(prefix, t, out, seen)
    for k, v in pairs(t) do
      if type(k) ~= "string" and math.type(k) ~= "integer" then
        error(("mg.save: keys must be strings or integers, got a %s"):format(type(k)), 4)
      end
      local name = prefix and prefix .. "." .. tostring(k) or tostring(k)
      if mg.is_tensor(v) then
        if not usable(v) then error(("mg.save: '%s' is a tensor used after it was closed"):format(name), 4) end
        if out[name] then error(("mg.save: the name '%s' appears twice"):format(name), 4) end
        out[name] = v
      elseif type(v) == "table" then
        if seen[v] then error(("mg.save: '%s' is a table that contains itself"):format(name), 4) end
        seen[v] = true
        flatten(name, v, out, seen)
        seen[v] = nil
      else
        error(("mg.save: '%s' is a %s; values must be tensors or tables of tensors"):format(
          name, type(v)), 4)
      end
    end
  end

  -- The reference implementation's order: largest alignment first, then by name.
  local RANK = {int64 = 3, float64 = 2, float32 = 1, bool = 0}

  --- mg.save(path, tensors, {metadata = {key = "value"}}): writes a
  --- safetensors file (atomically).  tensors maps names to tensors; nested
  --- tables are flattened with "."-joined keys ({fc = {weight = w}} saves
  --- "fc.weight"; list entries use their index: "layers.1.weight").
  function mg.save(path, tensors, opts)
    if type(tensors) ~= "table" or mg.is_tensor(tensors) then
      error(("mg.save: argument #2 must be a table of name -> tensor, got %s"):format(
        mg.is_tensor(tensors) and "a tensor" or type(tensors)), 2)
    end
    opts = check_opts("mg.save", opts, 3)
    local flat = {}
    flatten(nil, tensors, flat, {[tensors] = true})
    local names, ts = {}, {}
    for name in pairs(flat) do names[#names + 1] = name end
    table.sort(names, function(a, b)
      local ra, rb = RANK[flat[a].dtype], RANK[flat[b].dtype]
      if ra ~= rb then return ra > rb end
      return a < b
    end)
    for i, name in ipairs(names) do ts[i] = flat[name] end
    local keys, vals = {}, {}
    if opts.metadata ~= nil then
      if type(opts.metadata) ~= "table" then error("mg.save: metadata must be a table", 2) end
      for k, v in pairs(opts.metadata) do
        if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number") then
          error("mg.save: metadata must map strings to strings", 2)
        end
        keys[#keys + 1] = k
      end
      table.sort(keys)
      for i, k in ipairs(keys) do vals[i] = tostring(opts.metadata[k]) end
    end
    call(2, cio.save, path, names, ts, keys, vals)
  end

  --- mg.load(path): name -> tensor (constants, flat "."-joined names as
  --- saved), the metadata table (string -> string) and the names in the
  --- file's order.  The file is validated before anything is allocated.
  mg.load = cio.load
end
