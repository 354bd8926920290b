-- spec/fuzz/files_env.lua — the file side of the fuzzer's environment
-- (prelude.lua adds it to the statements' env): a scratch directory and
-- helpers that write, read and corrupt files in it, build safetensors, IDX
-- and gzip bytes from Lua, and check mg.save/mg.load round trips, data
-- loaders and gnuplot scripts (a broken check raises a FUZZ-INVARIANT
-- error, a finding).
--
-- Files live only in one directory: $MG_FUZZ_DIR (run.lua makes
-- build/fuzz/tmp and passes it) or, without it, a fresh directory next to
-- os.tmpname() (one mkdir process, removed again at exit).  Statements name
-- files by P(name) with the names in NAMES only; F.clean_files() (called by
-- F.reset before every iteration) removes them all, so an iteration never
-- sees the files of another and replays alone.
local fmt = string.format

return function(F, env)
  local mg = F.mg

  local function invariant(f, ...)
    error("FUZZ-INVARIANT: " .. fmt(f, ...), 0)
  end

  -- ---- the scratch directory ---------------------------------------------------------
  local NAMES = {"a.safetensors", "b.safetensors", "c.idx", "d.idx.gz", "e.bin", "f.svg",
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}
  F.FILE_NAMES = NAMES

  local DIR = os.getenv("MG_FUZZ_DIR")
  local own_dir = false
  if not DIR or DIR == "" then
    DIR = os.tmpname()
    os.remove(DIR)
    if not os.execute("mkdir -m 700 '" .. DIR .. "' 2>/dev/null") then
      error("fuzz: cannot make the scratch directory " .. DIR, 0)
    end
    own_dir = true
  end
  env.DIR = DIR

  function F.clean_files()
    for _, n in ipairs(NAMES) do os.remove(DIR .. "/" .. n) end
  end

  -- removes the directory at exit (lua_close runs this finalizer)
  if own_dir then
    F._dir_guard = setmetatable({}, {__gc = function()
      F.clean_files()
      os.remove(DIR)
    end})
  end

  --- P(name): the path of a scratch file ("" is the directory itself).
  function env.P(name) return DIR .. "/" .. name end

  --- W(name, bytes): writes a scratch file.
  function env.W(name, bytes)
    local f = assert(io.open(env.P(name), "wb"))
    f:write(bytes)
    f:close()
  end

  --- BYTES(name): a scratch file's bytes ("" when it is missing).
  function env.BYTES(name)
    local f = io.open(env.P(name), "rb")
    if not f then return "" end
    local s = f:read("a") or ""
    f:close()
    return s
  end

  -- n pseudo-random bytes from salt (a small LCG: the same bytes each replay).
  local function noise(n, salt)
    local out, x = {}, (salt * 2654435761 + 12345) & 0xffffffff
    for i = 1, n do
      x = (x * 1103515245 + 12345) & 0x7fffffff
      out[i] = string.char((x >> 16) & 0xff)
    end
    return table.concat(out)
  end
  env.NOISE = noise

  --- MUT(name, op, a, b): corrupts a scratch file in place.  op: "cut"
  --- (keep a bytes, counted from the end when a < 0), "flip" (byte at a,
  --- modulo the size, xor b), "hlen" (the 8-byte header length := a),
  --- "append" (a bytes of noise), "zero" (a run of b zero bytes at a).
  function env.MUT(name, op, a, b)
    local s = env.BYTES(name)
    local n = #s
    if op == "cut" then
      local k = a >= 0 and math.min(a, n) or math.max(0, n + a)
      s = s:sub(1, k)
    elseif op == "flip" and n > 0 then
      local i = a % n + 1
      s = s:sub(1, i - 1) .. string.char(s:byte(i) ~ (b & 0xff)) .. s:sub(i + 1)
    elseif op == "hlen" then
      s = string.pack("<i8", a) .. s:sub(9)
    elseif op == "append" then
      s = s .. noise(a, b or 1)
    elseif op == "zero" and n > 0 then
      local i = a % n + 1
      s = s:sub(1, i - 1) .. ("\0"):rep(math.min(b, n - i + 1)) .. s:sub(i + b)
    end
    env.W(name, s)
  end

  --- ST(header, body, salt [, hlen]): safetensors bytes: the length, the
  --- JSON header text, then body (a string, or that many bytes of noise).
  function env.ST(header, body, salt, hlen)
    if type(body) == "number" then body = noise(body, salt or 1) end
    return string.pack("<i8", hlen or #header) .. header .. body
  end

  --- IDX(type, dims, delta, salt [, magic]): IDX bytes: 00 00 type #dims,
  --- big-endian dims, then the data bytes the header asks for plus delta
  --- (negative: truncated) of noise.  magic replaces the first two bytes.
  local ESIZE = {[0x08] = 1, [0x09] = 1, [0x0B] = 2, [0x0C] = 4, [0x0D] = 4, [0x0E] = 8}
  function env.IDX(type_byte, dims, delta, salt, magic)
    local parts = {magic or "\0\0", string.char(type_byte & 0xff, #dims & 0xff)}
    local n = ESIZE[type_byte] or 1
    for _, d in ipairs(dims) do
      parts[#parts + 1] = string.pack(">I4", d & 0xffffffff)
      n = n * d
    end
    n = math.max(0, math.min(n, 1 << 16) + (delta or 0))
    parts[#parts + 1] = noise(n, salt or 1)
    return table.concat(parts)
  end

  --- LABELS(n, hi): n IDX ubyte labels in 0..hi-1 (hi 11: some are out of range).
  function env.LABELS(n, hi, salt)
    local b = {}
    local raw = noise(n, salt or 1)
    for i = 1, n do b[i] = string.char(raw:byte(i) % hi) end
    return string.char(0, 0, 8, 1) .. string.pack(">I4", n) .. table.concat(b)
  end

  -- CRC-32 (gzip's), bit by bit: the files are small.
  local function crc32(s)
    local crc = 0xffffffff
    for i = 1, #s do
      crc = crc ~ s:byte(i)
      for _ = 1, 8 do crc = (crc >> 1) ~ (0xedb88320 & -(crc & 1)) end
    end
    return ~crc & 0xffffffff
  end

  -- One gzip member holding data in stored deflate blocks.
  local function gz_member(data, crc, size)
    local parts = {"\31\139\8\0\0\0\0\0\0\255"}
    local i = 1
    repeat
      local chunk = data:sub(i, i + 65534)
      i = i + #chunk
      local final = i > #data and 1 or 0
      parts[#parts + 1] = string.pack("<BI2I2", final, #chunk, ~#chunk & 0xffff) .. chunk
    until i > #data
    parts[#parts + 1] = string.pack("<I4I4", crc or crc32(data), (size or #data) & 0xffffffff)
    return table.concat(parts)
  end

  --- GZ(bytes, mode): bytes gzipped (stored blocks, written without zlib);
  --- mode "ok", "crc" (wrong checksum), "size" (wrong length), "cut" (the
  --- last 5 bytes missing), "two" (two members), "junk" (noise after it),
  --- "hdr" (a header flag that promises an extra field it lacks).
  function env.GZ(data, mode)
    if mode == "crc" then return gz_member(data, crc32(data) ~ 1) end
    if mode == "size" then return gz_member(data, nil, #data + 1) end
    if mode == "cut" then local g = gz_member(data); return g:sub(1, math.max(0, #g - 5)) end
    if mode == "two" then
      local h = #data // 2
      return gz_member(data:sub(1, h)) .. gz_member(data:sub(h + 1))
    end
    if mode == "junk" then return gz_member(data) .. noise(7, #data) end
    if mode == "hdr" then return "\31\139\8\4" .. gz_member(data):sub(5) end
    return gz_member(data)
  end

  -- ---- mg.save / mg.load round trips ----------------------------------------------------
  local RANK = {int64 = 3, float64 = 2, float32 = 1, bool = 0}

  -- name -> tensor as mg.save flattens it (only called after a save succeeded)
  local function flatten(prefix, t, out, seen)
    for k, v in pairs(t) do
      local name = prefix and prefix .. "." .. tostring(k) or tostring(k)
      if mg.is_tensor(v) then
        out[name] = v
      elseif type(v) == "table" and not seen[v] then
        seen[v] = true
        flatten(name, v, out, seen)
        seen[v] = nil
      end
    end
  end

  local function values(t)
    local v = t:totable()
    if type(v) ~= "table" then return {v} end
    local out = {}
    local function walk(x)
      if type(x) == "table" then for _, e in ipairs(x) do walk(e) end else out[#out + 1] = x end
    end
    walk(v)
    return out
  end

  local function same_value(u, w)
    if type(u) == "number" and u ~= u then return w ~= w end
    if math.type(u) == "float" and u == 0 then return w == 0 and 1 / u == 1 / w end
    return u == w
  end

  local function same_shape(a, b)
    if #a ~= #b then return false end
    for i = 1, #a do if a[i] ~= b[i] then return false end end
    return true
  end

  local SMALL = 4096

  --- same_tensor(name, want, got): got is a constant holding want's values.
  local function check_same(name, want, got)
    if not mg.is_tensor(got) then invariant("mg.load lost '%s'", name) end
    if got.dtype ~= want.dtype then
      invariant("'%s' saved as %s, loaded as %s", name, want.dtype, got.dtype)
    end
    if not same_shape(want.shape, got.shape) then invariant("'%s' changed shape", name) end
    if not got.constant then invariant("mg.load gave a variable for '%s'", name) end
    if want.size > SMALL then return end
    local a, b = values(want), values(got)
    for i = 1, #a do
      if not same_value(a[i], b[i]) then
        invariant("'%s' element %d saved as %s, loaded as %s", name, i, tostring(a[i]), tostring(b[i]))
      end
    end
  end

  --- RT(path, tensors, opts): mg.save then mg.load; the loaded names, order,
  --- dtypes, shapes, values and metadata must be what was saved.  Returns
  --- the loaded table (a save that raises is fine: the error propagates).
  function env.RT(path, tensors, opts)
    mg.save(path, tensors, opts)
    local got, meta, names = mg.load(path)
    local want = {}
    flatten(nil, tensors, want, {[tensors] = true})
    local n = 0
    for name, t in pairs(want) do
      n = n + 1
      check_same(name, t, got[name])
    end
    for name in pairs(got) do
      if not want[name] then invariant("mg.load gave '%s', which was not saved", tostring(name)) end
    end
    if #names ~= n then invariant("mg.load listed %d names for %d tensors", #names, n) end
    for i = 2, #names do
      local a, b = got[names[i - 1]], got[names[i]]
      if not a or not b then invariant("mg.load's name list holds an unknown name") end
      local ra, rb = RANK[a.dtype], RANK[b.dtype]
      if ra < rb or (ra == rb and names[i - 1] >= names[i]) then
        invariant("mg.save wrote '%s' before '%s'", names[i - 1], names[i])
      end
    end
    local md = type(opts) == "table" and opts.metadata or {}
    for k, v in pairs(md) do
      if meta[k] ~= tostring(v) then invariant("metadata '%s' came back as %s", k, tostring(meta[k])) end
    end
    for k in pairs(meta) do
      if md[k] == nil then invariant("mg.load gave metadata '%s', which was not saved", k) end
    end
    return got
  end

  --- KEEPD(tbl): every tensor of a name -> tensor table through keep()
  --- (invariants, every element read); returns the first by name.
  function env.KEEPD(tbl)
    if type(tbl) ~= "table" or mg.is_tensor(tbl) then return F.keep(tbl) end
    local names = {}
    for k, v in pairs(tbl) do
      if type(k) ~= "string" then invariant("a key of type %s in a loaded table", type(k)) end
      if not mg.is_tensor(v) then invariant("'%s' is a %s in a loaded table", k, type(v)) end
      names[#names + 1] = k
    end
    table.sort(names)
    local first
    for _, k in ipairs(names) do
      local t = F.keep(tbl[k])
      first = first or t
    end
    return first
  end

  -- ---- data loaders --------------------------------------------------------------------
  env.L = {} -- loaders (slots 1..4), cleared by F.reset

  --- DRAIN(loader, max, how): runs passes over a loader (at most max
  --- batches each) and checks them: #loader batches per full pass, batch
  --- sizes, x and y batches of the same length with the trailing shape of
  --- x and y; how = "perm" (x and y are arange(n) along axis 1, the same
  --- for both: a pass visits every sample once, x and y stay paired),
  --- "partial" (stop early, then a full pass: it starts from the start),
  --- "iter" (loader:iter()), "nested" (a pass inside a pass).
  function env.DRAIN(ld, max, how)
    local mt = getmetatable(ld)
    if type(mt) ~= "table" or mt.__name ~= "moongrad.DataLoader" then
      error("DRAIN: not a loader", 0)
    end
    local nb, bs, n = #ld, ld.batch_size, ld.n
    local xshape, yshape = ld.x.shape, ld.y and ld.y.shape
    local function check_batch(k, xb, yb)
      if not mg.is_tensor(xb) then invariant("batch %d: x is a %s", k, type(xb)) end
      F.keep(xb)
      local s = xb.shape
      if #s ~= #xshape then invariant("batch %d has %d axes, x has %d", k, #s, #xshape) end
      if s[1] > bs or s[1] < 1 then invariant("batch %d holds %d samples (batch_size %d)", k, s[1], bs) end
      if ld.drop_last and s[1] ~= bs then invariant("drop_last, but batch %d holds %d", k, s[1]) end
      for i = 2, #s do
        if s[i] ~= xshape[i] then invariant("batch %d: axis %d is %d, x's is %d", k, i, s[i], xshape[i]) end
      end
      if not xb.constant then invariant("batch %d is a variable", k) end
      if yshape then
        if not mg.is_tensor(yb) then invariant("batch %d: y is a %s", k, type(yb)) end
        F.keep(yb)
        if yb.shape[1] ~= s[1] or #yb.shape ~= #yshape then
          invariant("batch %d: x has %d samples, y %d", k, s[1], yb.shape[1])
        end
      elseif yb ~= nil then
        invariant("batch %d: a y batch without y", k)
      end
      return s[1]
    end
    local function pass(limit, seen)
      local k, total = 0, 0
      for xb, yb in ld do
        k = k + 1
        total = total + check_batch(k, xb, yb)
        if seen then
          local xs, ys = values(xb), yb and values(yb) or nil
          for i, v in ipairs(xs) do
            if math.type(v) ~= "integer" or v < 0 or v >= n or seen[v] then
              invariant("pass over arange(%d): sample %s is out of range or seen twice", n, tostring(v))
            end
            seen[v] = true
            if ys and ys[i] ~= v then
              invariant("x and y batches are not paired (%s, %s)", v, tostring(ys[i]))
            end
          end
        end
        if k >= limit then return k, total, false end
      end
      return k, total, true
    end
    local full_total = ld.drop_last and (n // bs) * bs or n
    if how == "iter" then
      local nextb = ld:iter()
      for k = 1, max do
        local xb, yb = nextb()
        if xb == nil then
          if k - 1 ~= nb then invariant("iter gave %d batches, #loader is %d", k - 1, nb) end
          break
        end
        check_batch(k, xb, yb)
      end
      return ld
    end
    if how == "nested" then
      for _ in ld do
        pass(max)
        break
      end
      return ld
    end
    if how == "partial" then pass(math.min(max, 1 + nb // 2)) end
    local seen = how == "perm" and n <= SMALL and {} or nil
    local k, total, done = pass(max, seen)
    if done then
      if k ~= nb then invariant("a pass gave %d batches, #loader is %d", k, nb) end
      if total ~= full_total then invariant("a pass gave %d samples of %d", total, full_total) end
      if seen then
        for v = 0, full_total - 1 do
          if not ld.drop_last and not seen[v] then invariant("sample %d was never visited", v) end
        end
      end
    end
    return ld
  end

  -- ---- checkpoints of mg.nn models ---------------------------------------------------
  env.M = {} -- models (slots 1..4), cleared by F.reset

  --- MODEL(kind, a, b, dtype): a small mg.nn model.
  function env.MODEL(kind, a, b, dtype)
    local nn, o = mg.nn, {dtype = dtype}
    if kind == "linear" then return nn.Linear(a, b, o) end
    if kind == "mlp" then return nn.Sequential{nn.Linear(a, b, o), nn.ReLU(), nn.Linear(b, a, o)} end
    if kind == "bn" then return nn.BatchNorm1d(a, o) end
    if kind == "conv" then return nn.Conv2d(a, b, 1 + b % 2, o) end
    if kind == "gru" then return nn.GRU(a, b, o) end
    if kind == "emb" then return nn.Embedding(a, b, o) end
    return nn.Sequential{nn.Linear(a, b, o), nn.BatchNorm1d(b, o), nn.Embedding(a, b, o)}
  end

  --- CKPT(model, path): saves model:state_dict(), loads it back into the
  --- model (strict): the state must come back bit for bit.
  function env.CKPT(m, path)
    local before = m:state_dict()
    local snap = {}
    for k, t in pairs(before) do snap[k] = t:clone() end
    env.RT(path, before)
    local missing, unexpected = m:load_state_dict((mg.load(path)))
    if #missing > 0 or #unexpected > 0 then invariant("a model's own checkpoint did not match it") end
    local after = m:state_dict()
    for k, t in pairs(snap) do check_same(k, t, after[k]) end
    return m
  end

  -- ---- plots ---------------------------------------------------------------------------
  -- What a line of a script from mg.plot.script may be: user text appears
  -- only inside single quotes, so no line may start otherwise.
  local LINE_OK = {"^# written by moongrad%.plot$", "^set ", "^unset ", "^plot ", "^%$mg%d+ << EOD$",
    "^EOD$", "^     %$mg%d+ using "}
  local NUM = "[%-%d%.eE+naNinf]+"

  --- PLOTCHECK(script): every line of a gnuplot script has a known form
  --- (user strings never start a line of their own) and every quote is
  --- closed; returns the script.
  function env.PLOTCHECK(script, output)
    if type(script) ~= "string" then invariant("mg.plot.script returned a %s", type(script)) end
    local in_data = false
    for line in script:gmatch("([^\n]*)\n") do
      if in_data then
        if line == "EOD" then in_data = false
        elseif not line:match("^" .. NUM .. " " .. NUM .. "$") then
          invariant("a data line %q in the script", line)
        end
      else
        local ok = false
        for _, p in ipairs(LINE_OK) do ok = ok or line:match(p) ~= nil end
        if not ok then invariant("a script line of unknown form: %q", line) end
        local unquoted = line:gsub("'[^']*'", "")
        if unquoted:find("'", 1, true) then invariant("an unclosed quote in %q", line) end
        if line:match("^%$mg%d+ << EOD$") then in_data = true end
      end
    end
    if in_data then invariant("a datablock without EOD") end
    if type(output) ~= "string" then invariant("mg.plot.script gave an output of type %s", type(output)) end
    return script
  end

  --- PLOTTED(f, ...): calls mg.plot.lines or training with gnuplot
  --- reported missing (mg.plot.available stubbed for the call, so no
  --- process starts): it must raise an error.
  function env.PLOTTED(f, ...)
    local plot = mg.plot
    local real = plot.available
    plot.available = function() return false end
    local ok, err = pcall(f, ...)
    plot.available = real
    if ok then invariant("a plot was drawn without gnuplot") end
    if type(err) ~= "string" then invariant("a plot raised a %s", type(err)) end
    error(err, 0)
  end
end
