-- spec/fuzz/files.lua — the fuzzer's statements that touch files, for
-- fuzz.lua: mg.save / mg.load (random tensor tables, round trips checked
-- by RT, files cut, flipped and crafted from Lua), mg.data.read_idx (IDX
-- files of every element type, plain and gzipped, truncated and lying),
-- mg.data.mnist / fashion_mnist on a scratch directory, mg.data.loader
-- passes (random batch sizes, shuffle, drop_last; checked by DRAIN),
-- mg.nn checkpoints, and mg.plot (script checked line by line by
-- PLOTCHECK; lines / training with gnuplot missing).  The helpers the
-- statements call (P, W, ST, IDX, GZ, RT, ...) are in files_env.lua; every
-- file is a scratch file named P(name).
--
-- require("fuzz.files")(G) with G the generators of fuzz.lua; returns
-- statement(), which returns one statement's source text.
local fmt = string.format

return function(G)
  local random, chance, pick, weighted = G.random, G.chance, G.pick, G.weighted
  local lit, list_lit = G.lit, G.list_lit
  local env = G.F.env

  local function store(expr) return G.store(expr) end

  -- ---- paths --------------------------------------------------------------------------
  local ST_NAMES = {"a.safetensors", "b.safetensors", "e.bin"}

  -- A path for writing: a scratch file, sometimes one that cannot be written.
  local function write_path(name)
    local r = random()
    if r < 0.9 then return fmt("P(%q)", name or pick(ST_NAMES)) end
    return pick({"P(\"\")", "P(\"nodir/x.safetensors\")", "P(\"c.idx/x\")", "(P(\"a\") .. \"\\0b\")",
      "DIR", "nil", "42", "{}"})
  end

  -- A path for reading: also files that exist outside (read only) or do not.
  local function read_path(name)
    if chance(0.9) then return write_path(name) end
    return lit(pick({"/nonexistent/x.safetensors", "/dev/null", "/proc/self/status", "/", ""}))
  end

  -- ---- tensor tables for mg.save -------------------------------------------------------
  local KEYS = {"w", "b", "weight", "fc.weight", "a.b", "", "__metadata__", "\195\169t\195\169",
    "\255bad", ("k"):rep(300), "x y", "1", "a"}

  local function gen_key()
    local r = random()
    if r < 0.8 then return lit(pick(KEYS)) end
    if r < 0.95 then return lit(random(1, 3)) end
    return pick({"true", "1.5", "mg.ones(1)", "{}"})
  end

  local gen_table
  local function gen_value(depth, seen)
    local r = random()
    if r < 0.7 then
      local t = G.gen_tensor()
      seen[#seen + 1] = t
      return t
    elseif r < 0.8 and #seen > 0 then return pick(seen) -- the same tensor twice
    elseif r < 0.9 and depth < 2 then return gen_table(depth + 1, seen)
    elseif r < 0.95 then return G.gen_closed()
    end
    return G.gen_any(2)
  end

  -- A table of name -> tensor, nested sometimes; lists too.
  function gen_table(depth, seen)
    depth, seen = depth or 0, seen or {}
    if chance(0.15) then -- a list
      local items = {}
      for k = 1, random(0, 3) do items[k] = gen_value(depth, seen) end
      return list_lit(items)
    end
    local items, used = {}, {}
    for _ = 1, weighted({[0] = 1, [1] = 4, [2] = 4, [3] = 3, [4] = 1}) do
      local key = gen_key()
      if not used[key] then
        used[key] = true
        items[#items + 1] = "[" .. key .. "] = " .. gen_value(depth, seen)
      end
    end
    return list_lit(items)
  end

  local function gen_save_opts()
    if chance(0.6) then return "nil" end
    return pick({"{metadata = {k = \"v\", n = 3}}", "{metadata = {format = \"pt\", step = 1.5}}",
      "{metadata = {}}", "{metadata = {[1] = \"x\"}}", "{metadata = \"x\"}",
      "{metadata = {k = {}}}", "{metadata = {k = (\"v\"):rep(1000)}}", "{metadata = {k = \"\\255\"}}",
      "{metadata = {[\"\"] = \"\", [\"a b\"] = \"c\\nd\"}}", "{metadata = {k = NAN}}",
      "{metadata = {k = \"a\\0b\"}}", "{}", "3", G.gen_opts()})
  end

  -- A small tensor of any dtype, made in place (no pool entry needed).
  local function gen_small()
    local dims = {}
    for k = 1, weighted({[0] = 1, [1] = 3, [2] = 3, [3] = 1}) do dims[k] = random(0, 3) end
    local shape = G.shape_lit(dims)
    local r = random()
    if r < 0.5 then
      return fmt("mg.random.randn(%s, {dtype = %s})", shape, lit(pick({"float32", "float64"})))
    elseif r < 0.7 then return fmt("mg.random.randint(-5, 5, %s)", shape)
    elseif r < 0.85 then return fmt("mg.random.rand(%s):gt(0.5)", shape)
    end
    return fmt("mg.full(%s, %s, {dtype = %s})", shape, pick({"NAN", "INF", "-0.0", "1e-310", "2^60"}),
      lit(pick({"float32", "float64"})))
  end

  -- A table that mg.save accepts.
  local function gen_good_table()
    local items = {}
    local names = {"w", "b", "fc.weight", "z", "t"}
    for k = 1, random(1, 4) do items[k] = fmt("[%q] = %s", names[k], gen_small()) end
    if chance(0.2) then items[#items + 1] = "sub = {" .. gen_small() .. ", " .. gen_small() .. "}" end
    return list_lit(items)
  end

  local function save_stmt()
    local r = random()
    local path = write_path()
    if r < 0.3 then
      return store(fmt("KEEPD(RT(%s, %s, %s))", path, gen_good_table(), gen_save_opts()))
    elseif r < 0.6 then
      return store(fmt("KEEPD(RT(%s, %s, %s))", path, gen_table(), gen_save_opts()))
    elseif r < 0.85 then
      return fmt("mg.save(%s, %s, %s)", path, gen_table(), gen_save_opts())
    end
    return fmt("mg.save(%s, %s)", path, pick({G.gen_tensor(), "nil", "3", "\"x\"",
      "(function() local t = {w = mg.ones(2)}; t.self = t; return t end)()", G.gen_any()}))
  end

  local function load_stmt(name)
    return store(fmt("KEEPD(mg.load(%s))", read_path(name)))
  end

  -- A file mg.save wrote, then damaged, then loaded.
  local function corrupt_stmt()
    local name = pick(ST_NAMES)
    local r = random()
    local mut
    if r < 0.3 then
      mut = fmt("MUT(%q, \"cut\", %d)", name, pick({0, 4, 8, 9, 16, random(-40, -1), random(1, 200)}))
    elseif r < 0.6 then
      mut = fmt("MUT(%q, \"flip\", %d, %d)", name, random(0, 400), pick({1, 0x80, 0xff, random(1, 255)}))
    elseif r < 0.75 then
      mut = fmt("MUT(%q, \"hlen\", %s)", name, lit(pick({0, 1, 2, 7, 8, 1000, -1, math.maxinteger,
        math.mininteger, 100000001, random(0, 300)})))
    elseif r < 0.87 then mut = fmt("MUT(%q, \"append\", %d, %d)", name, pick({1, 8, 100}), random(100))
    else mut = fmt("MUT(%q, \"zero\", %d, %d)", name, random(0, 300), random(1, 16)) end
    local save = fmt("mg.save(P(%q), %s); ", name, chance(0.8) and gen_good_table() or gen_table())
    return save .. mut .. "; " .. load_stmt(name)
  end

  -- ---- crafted safetensors headers ---------------------------------------------------
  local ST_DTYPES = {F32 = 4, F64 = 8, I64 = 8, BOOL = 1, F16 = 2, BF16 = 2, I8 = 1, I16 = 2, I32 = 4,
    U8 = 1, U16 = 2, U32 = 4, U64 = 8, F8_E4M3 = 1, C64 = 8}
  local ST_DTYPE_NAMES = {}
  for k in pairs(ST_DTYPES) do ST_DTYPE_NAMES[#ST_DTYPE_NAMES + 1] = k end
  table.sort(ST_DTYPE_NAMES)

  local function json_str(s)
    return "\"" .. s:gsub("[%c\"\\]", function(ch) return fmt("\\u%04x", ch:byte()) end) .. "\""
  end

  local function json_list(items) return "[" .. table.concat(items, ",") .. "]" end

  -- A header JSON text and the size of the data area it describes.
  local function gen_header()
    local entries, at = {}, 0
    for i = 1, weighted({[0] = 1, [1] = 4, [2] = 3, [3] = 2}) do
      local dt = chance(0.93) and pick(ST_DTYPE_NAMES) or pick({"X", "f32", ""})
      local size = ST_DTYPES[dt] or 4
      local dims, n = {}, 1
      for k = 1, weighted({[0] = 2, [1] = 4, [2] = 3, [3] = 1}) do
        dims[k] = random(0, 3)
        n = n * dims[k]
      end
      local texts = {}
      for k, d in ipairs(dims) do texts[k] = tostring(d) end
      local shape = json_list(texts)
      if chance(0.08) then
        shape = pick({"[-1]", "[2.5]", "[\"a\"]", "[4611686018427387904,4]", "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]",
          "[4294967296,4294967296]", "3", "null", "[0,9223372036854775807]"})
      end
      local b, e = at, at + n * size
      at = e
      if chance(0.1) then
        local r = random()
        if r < 0.25 then b = b + 1 elseif r < 0.5 then e = e - 1 elseif r < 0.7 then b, e = e, b
        elseif r < 0.85 then e = 9223372036854775807 else b = -1 end
      end
      local offsets = chance(0.96) and fmt("[%d,%d]", b, e)
        or pick({"[0]", "[0,1,2]", "[0.5,1]", "\"0,1\"", "null"})
      local name = chance(0.8) and ("t" .. i) or pick({"t1", "", "__metadata__", "a.b", "\\u00e9"})
      local fields = {}
      if chance(0.97) then fields[#fields + 1] = "\"dtype\":" .. (dt == "" and "5" or json_str(dt)) end
      if chance(0.97) then fields[#fields + 1] = "\"shape\":" .. shape end
      if chance(0.97) then fields[#fields + 1] = "\"data_offsets\":" .. offsets end
      local key = json_str(name):gsub("\\u005c", "\\") -- ("\\u00e9" stays a JSON escape)
      entries[#entries + 1] = key .. ":{" .. table.concat(fields, ",") .. "}"
    end
    if chance(0.25) then
      entries[#entries + 1] = "\"__metadata__\":" .. pick({"{\"k\":\"v\"}", "null", "[1]", "{\"k\":1}",
        "{}", "{\"a\":\"b\",\"c\":\"\\u0000\"}"})
    end
    if chance(0.1) then table.insert(entries, random(#entries + 1), entries[#entries] or "\"x\":{}") end
    local text = "{" .. table.concat(entries, ",") .. "}"
    if chance(0.05) then text = pick({"[]", "1", "null", "\"s\"", "", "{", text:sub(1, #text - 1), "{\"a\":}"}) end
    if chance(0.2) then text = text .. (" "):rep(random(1, 7)) end
    return text, at
  end

  local function crafted_stmt()
    local header, size = gen_header()
    if chance(0.15) then size = math.max(0, size + pick({-1, 1, 8, -8})) end
    local hlen = chance(0.05) and lit(pick({0, 1, -1, 100000001, #header + 1, #header - 1})) or nil
    return fmt("W(\"e.bin\", ST(%s, %d, %d%s)); %s", lit(header), size, random(1000),
      hlen and ", " .. hlen or "", load_stmt("e.bin"))
  end

  -- ---- IDX ---------------------------------------------------------------------------
  local function gen_idx()
    local t = chance(0.92) and pick({0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E}) or pick({0x00, 0x0A, 0x0F, 0xFF})
    local dims = {}
    for k = 1, weighted({[0] = 1, [1] = 3, [2] = 3, [3] = 3, [4] = 1}) do dims[k] = random(0, 4) end
    if chance(0.05) then
      dims = pick({{4294967295}, {65536, 65536}, {4294967295, 4294967295, 4294967295},
        {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {0, 4294967295}, {2147483648, 2}})
    end
    local dl = {}
    for k, d in ipairs(dims) do dl[k] = tostring(d) end
    local delta = chance(0.85) and 0 or pick({-1, 1, -4, 7, -100})
    local magic = chance(0.04) and ", " .. lit(pick({"\1\0", "\0\1", "PK", "\31\139"})) or ""
    return fmt("IDX(%d, {%s}, %d, %d%s)", t, table.concat(dl, ", "), delta, random(1000), magic)
  end

  local function idx_dtype()
    if chance(0.5) then return "" end
    return ", " .. pick({"\"float32\"", "\"float64\"", "\"int64\"", "\"bool\"", "{dtype = \"float64\"}",
      "{dtype = \"int64\"}", "\"complex\"", "3", "{dtype = 5}", "{}", G.gen_opts()})
  end

  local GZ_MODES = {"ok", "ok", "ok", "crc", "size", "cut", "two", "junk", "hdr"}

  local function idx_stmt()
    local bytes = gen_idx()
    local name = "c.idx"
    if chance(0.3) then
      name = "d.idx.gz"
      bytes = fmt("GZ(%s, %q)", bytes, pick(GZ_MODES))
    end
    local mut = chance(0.1) and fmt("; MUT(%q, \"flip\", %d, %d)", name, random(0, 40), random(1, 255)) or ""
    return fmt("W(%q, %s)%s; %s", name, bytes, mut,
      store(fmt("mg.data.read_idx(%s%s)", read_path(name), idx_dtype())))
  end

  -- ---- MNIST-like directories ----------------------------------------------------------
  local function mnist_stmt()
    local split = chance(0.9) and pick({"train", "test"}) or pick({"valid", "nil", "1"})
    local prefix = split == "test" and "t10k" or "train"
    local gz = chance(0.3) and ".gz" or ""
    local n = random(0, 3)
    local dims = chance(0.85) and fmt("{%d, 28, 28}", n) or pick({fmt("{%d, 27, 28}", n), "{3, 784}",
      fmt("{%d, 28, 28, 1}", n)})
    local images = fmt("IDX(8, %s, %d, %d)", dims, chance(0.9) and 0 or -1, random(1000))
    local labels = fmt("LABELS(%d, %d, %d)", chance(0.9) and n or n + 1, chance(0.85) and 10 or 11, random(1000))
    if gz ~= "" then
      images = fmt("GZ(%s, \"ok\")", images)
      labels = fmt("GZ(%s, %q)", labels, chance(0.9) and "ok" or pick(GZ_MODES))
    end
    local writes = fmt("W(\"%s-images-idx3-ubyte%s\", %s); W(\"%s-labels-idx1-ubyte%s\", %s)",
      prefix, gz, images, prefix, gz, labels)
    if chance(0.1) then writes = fmt("W(\"%s-images-idx3-ubyte%s\", %s)", prefix, gz, images) end
    local q = lit(split)
    if split == "nil" or split == "1" then q = split end
    local call
    local r = random()
    if r < 0.45 then call = fmt("mg.data.mnist(%s, {dir = DIR%s})", q, chance(0.3) and ", dtype = \"float64\"" or "")
    elseif r < 0.75 then call = fmt("mg.data.fashion_mnist(%s)", q)
    elseif r < 0.9 then call = fmt("mg.data.fashion_mnist(%s, {dir = DIR, dtype = %s})", q,
      pick({"\"float32\"", "\"float64\"", "\"int64\"", "\"bool\""}))
    else
      call = fmt("mg.data.mnist(%s, %s)", q,
        pick({"nil", "{dir = P(\"nodir\")}", "{dir = 3}", "\"x\"", G.gen_opts()}))
    end
    return writes .. "; " .. store("{" .. call .. "}")
  end

  -- ---- loaders -------------------------------------------------------------------------
  local function gen_bs()
    if chance(0.85) then return lit(pick({1, 2, 3, 4, 7, 32})) end
    return lit(pick({0, -1, 2.5, "2", math.maxinteger, 1000, 2.0}))
  end

  local function loader_opts()
    if chance(0.1) then return pick({"nil", "3", "\"x\"", G.gen_opts()}) end
    local items = {}
    if chance(0.9) then items[#items + 1] = "batch_size = " .. gen_bs() end
    if chance(0.6) then items[#items + 1] = "shuffle = " .. lit(chance(0.5)) end
    if chance(0.5) then items[#items + 1] = "drop_last = " .. lit(chance(0.5)) end
    return list_lit(items)
  end

  local function used_slot(tbl)
    local s = {}
    for i = 1, 4 do if tbl[i] ~= nil then s[#s + 1] = i end end
    return #s > 0 and pick(s) or nil
  end

  local function loader_stmt()
    local i = random(4)
    local r = random()
    if r < 0.3 then -- x and y = arange(n): passes checked sample by sample
      local n = pick({0, 1, 2, 5, 7, 10, 33})
      return fmt("L[%d] = mg.data.loader(mg.arange(%d), mg.arange(%d), %s); "
        .. "v[%d] = keep(DRAIN(L[%d], 64, \"perm\"))", i, n, n, loader_opts(), G.free_slot(), i)
    elseif r < 0.75 then
      local x = G.gen_tensor()
      local y
      local yr = random()
      if yr < 0.3 then y = nil
      elseif yr < 0.7 then
        local ref = x:match("^v%[(%d+)%]$")
        local inf = ref and G.info(tonumber(ref))
        local n = inf and inf.shape and inf.shape[1]
        y = n and fmt("mg.random.randint(1, 4, {%d%s})", n, chance(0.5) and ", 2" or "") or G.gen_tensor()
      else y = G.gen_any() end
      local form = y and fmt("%s, %s, %s", x, y, loader_opts()) or fmt("%s, %s", x, loader_opts())
      local make = fmt("L[%d] = mg.data.loader(%s)", i, form)
      if chance(0.4) then return make end
      return make .. "; " .. store(fmt("DRAIN(L[%d], %d, %q)", i, pick({1, 3, 64}),
        pick({"full", "full", "partial", "iter", "nested"})))
    end
    local j = used_slot(env.L)
    if not j then return fmt("L[%d] = mg.data.loader(%s)", i, G.gen_tensor()) end
    local how = pick({"full", "full", "partial", "iter", "nested"})
    local k = random()
    if k < 0.8 then return store(fmt("DRAIN(L[%d], %d, %q)", j, pick({1, 3, 64}), how)) end
    if k < 0.9 then return store(fmt("tostring(L[%d])", j)) end
    return store(fmt("#L[%d]", j))
  end

  -- ---- checkpoints ---------------------------------------------------------------------
  local function model_stmt()
    local r = random()
    if r < 0.35 or not used_slot(env.M) then
      local a = chance(0.95) and random(1, 4) or pick({0, -1, 2.5})
      local i = random(4)
      local make = fmt("M[%d] = MODEL(%q, %s, %d, %s)", i,
        pick({"linear", "mlp", "bn", "conv", "gru", "emb", "mixed"}), lit(a), random(1, 4),
        lit(pick({"float32", "float64"})))
      if chance(0.3) then return make end
      return make .. "; " .. store(fmt("CKPT(M[%d], %s)", i, write_path("b.safetensors")))
    end
    local i = used_slot(env.M)
    if r < 0.65 then return store(fmt("CKPT(M[%d], %s)", i, write_path("b.safetensors"))) end
    local j = used_slot(env.M)
    local strict = chance(0.7) and "" or ", {strict = " .. lit(chance(0.3)) .. "}"
    if r < 0.85 then
      return fmt("mg.save(P\"b.safetensors\", M[%d]:state_dict()); %s", i,
        store(fmt("{M[%d]:load_state_dict(mg.load(%s)%s)}", j, read_path("b.safetensors"), strict)))
    end
    return store(fmt("{M[%d]:load_state_dict(%s%s)}", j, gen_table(), strict))
  end

  -- ---- plots ---------------------------------------------------------------------------
  local TEXTS = {"loss", "it's", "a\nset output '/tmp/x'", "`touch /tmp/mg`", "@macro", "\\", "x\0y",
    ("l"):rep(500), "\195\169", "'", "''", "\"", "$mg1"}

  local function gen_text()
    if chance(0.85) then return lit(pick(TEXTS)) end
    return pick({"3", "{}", "true", "mg.ones(1)"})
  end

  -- n numbers (a 1-d tensor or a table), sometimes something else.
  local VALUES = {"1", "2.5", "-3", "0", "NAN", "INF", "-INF", "1e308", "-0.0", "1e-300",
    "math.maxinteger", "math.mininteger"}
  local function gen_numbers(n)
    local r = random()
    if r < 0.25 then
      local ref = G.pool_ref(function(inf) return not inf.closed and inf.ndim == 1 and inf.size == n end)
      if ref then return ref end
    end
    if r < 0.5 then
      return pick({fmt("mg.random.randn({%d}, {dtype = %s})", n, lit(pick({"float32", "float64"}))),
        fmt("mg.arange(%d)", n), fmt("mg.random.rand({%d}):gt(0.5)", n), fmt("mg.linspace(-1, 1, %d)", n),
        fmt("mg.arange(%d):astype(\"float64\")", n)})
    end
    if r < 0.85 then
      local items = {}
      for k = 1, n do items[k] = pick(VALUES) end
      return list_lit(items)
    end
    return pick({"{}", "{1, \"a\"}", "{1, nil, 3}", "{{1, 2}}", "mg.ones(2, 2)", G.gen_any(2)})
  end

  local function gen_series()
    local n = pick({0, 1, 2, 3, 5, 8})
    local items = {"y = " .. gen_numbers(n)}
    if chance(0.5) then items[#items + 1] = "x = " .. gen_numbers(chance(0.9) and n or n + 1) end
    if chance(0.6) then items[#items + 1] = "label = " .. gen_text() end
    if chance(0.3) then
      local style = chance(0.9) and pick({"lines", "points", "linespoints"}) or pick({"bars", ""})
      items[#items + 1] = "style = " .. lit(style)
    end
    if chance(0.2) then items[#items + 1] = "dash = " .. lit(chance(0.5)) end
    if chance(0.2) then items[#items + 1] = "axis = " .. lit(chance(0.9) and pick({"y1", "y2"}) or pick({"y3", ""})) end
    if chance(0.2) then
      items[#items + 1] = "color = " .. pick({"3", "\"red\"", "\"#ff0000\"", "\"r'ed\"", "-1", "2.5", "{}"})
    end
    if chance(0.15) then
      items[#items + 1] = "linewidth = " .. pick({"1", "0.5", "3", "99.5", "1e-300", "0", "-1", "NAN", "100", "\"2\""})
    end
    return list_lit(items)
  end

  local function gen_plot_data()
    local r = random()
    if r < 0.3 then return gen_series() end
    if r < 0.9 then
      local items = {}
      for k = 1, random(1, 3) do items[k] = gen_series() end
      return list_lit(items)
    end
    return pick({"{}", "3", "nil", "{1, 2}", G.gen_tensor()})
  end

  local function gen_plot_opts(output)
    if chance(0.1) then return pick({"nil", "3", "\"x\""}) end
    local items = {}
    if output or chance(0.8) then
      items[#items + 1] = "output = " .. (output or pick({"\"plot.png\"", "\"x.svg\"", "\"x.PDF\"",
        "\"a'b.png\"", "\"a\\nb.svg\"", "\"`x`.pdf\"", "\"x.jpg\"", "\"noext\"", "5", "{}"}))
    end
    for _, k in ipairs({"title", "xlabel", "ylabel", "y2label"}) do
      if chance(0.3) then items[#items + 1] = k .. " = " .. gen_text() end
    end
    for _, k in ipairs({"width", "height"}) do
      if chance(0.2) then
        items[#items + 1] = k .. " = " .. pick({"800", "1", "20000", "20001", "0", "-5", "2.5", "NAN", "INF",
          "1e300", "\"800\"", "math.maxinteger", "640.0"})
      end
    end
    if chance(0.2) then
      items[#items + 1] = "key = " .. pick({"false", "true", "\"top left\"", "\"top; set output\"", "\"\"", "3"})
    end
    for _, k in ipairs({"grid", "xlog", "ylog"}) do
      if chance(0.1) then items[#items + 1] = k .. " = " .. lit(chance(0.5)) end
    end
    for _, k in ipairs({"xrange", "yrange"}) do
      if chance(0.15) then
        items[#items + 1] = k .. " = " .. pick({"{0, 1}", "{1, 0}", "{NAN, 1}", "{INF, 1}", "{1}", "\"a\"",
          "{0, \"1\"}", "{-1e308, 1e308}"})
      end
    end
    return list_lit(items)
  end

  local function gen_history()
    local r = random()
    if r < 0.5 then
      local items = {}
      for _, k in ipairs({"loss", "accuracy", "val_loss", "val_acc", "lr"}) do
        if chance(0.5) then items[#items + 1] = k .. " = " .. gen_numbers(random(0, 4)) end
      end
      return list_lit(items)
    elseif r < 0.85 then
      local recs = {}
      for e = 1, random(0, 4) do
        recs[e] = pick({"{loss = 1.5, accuracy = 0.5}", "{loss = NAN}", "{acc = mg.tensor(0.25)}",
          "{loss = mg.ones(2)}", "{loss = \"x\"}", "{}", "{val_loss = 2}"})
      end
      return list_lit(recs)
    end
    return pick({"{}", "{[true] = {1}}", "{loss = {1, 2}, [1] = {}}", "3", "nil", "{mg.ones(3)}"})
  end

  local function plot_stmt()
    local r = random()
    if r < 0.85 then
      return store(fmt("PLOTCHECK(mg.plot.script(%s, %s))", gen_plot_data(), gen_plot_opts()))
    end
    if r < 0.93 then return store(fmt("PLOTTED(mg.plot.lines, %s, %s)", gen_plot_data(),
      gen_plot_opts("P(\"f.svg\")"))) end
    if r < 0.98 then return store(fmt("PLOTTED(mg.plot.training, %s, %s)", gen_history(),
      gen_plot_opts("P(\"f.svg\")"))) end
    -- (available runs a shell: rare; gnuplot is pointed at a missing path)
    if r < 0.985 then return store("mg.plot.available()") end
    return store(fmt("mg.plot.%s(%s)", pick({"quote", "shell_quote"}), gen_text()))
  end

  -- ---- one statement -------------------------------------------------------------------
  local KINDS = {save = save_stmt, load = load_stmt, corrupt = corrupt_stmt, crafted = crafted_stmt,
    idx = idx_stmt, mnist = mnist_stmt, loader = loader_stmt, model = model_stmt, plot = plot_stmt}
  local WEIGHTS = {save = 5, load = 1, corrupt = 4, crafted = 5, idx = 5, mnist = 1, loader = 6,
    model = 3, plot = 5}
  return function() return KINDS[weighted(WEIGHTS)]() end
end
