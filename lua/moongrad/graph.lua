-- moongrad.graph — mg.autograd.Function (differentiable ops written in Lua,
-- like PyTorch's torch.autograd.Function) and mg.autograd.graph (the
-- computation graph behind a tensor as Graphviz DOT text, or rendered to a
-- file by Graphviz's `dot`).  The C side is binding/b_extend.c.
return function(mg, core)
  mg.autograd = mg.autograd or {}
  local autograd = mg.autograd
  local custom_function, graph_dot = core._custom_function, core._graph_dot
  mg._custom_function, mg._graph_dot = nil, nil -- private: reached through core only

  local is_tensor = mg.is_tensor
  local MAXINPUTS = 8 -- MG_MAXINPUTS

  -- ctx: what forward hands to backward -------------------------------------
  -- A plain table (ctx.k = 3 works) with save_for_backward; ctx.saved (also
  -- ctx.saved_tensors) lists the saved tensors, ctx.needs_input_grad tells
  -- which tensor inputs are variables.
  local Ctx = {}
  Ctx.__index = Ctx
  Ctx.__name = "moongrad.FunctionCtx"

  function Ctx:save_for_backward(...)
    local saved = table.pack(...)
    for i = 1, saved.n do
      if not is_tensor(saved[i]) then
        error(string.format("save_for_backward: argument #%d must be a tensor, got %s "
          .. "(keep other values as fields of ctx, e.g. ctx.k = 3)", i, type(saved[i])), 2)
      end
    end
    saved.n = nil
    self.saved, self.saved_tensors = saved, saved
  end

  -- Function ---------------------------------------------------------------
  local Function = {}
  Function.__index = Function
  Function.__name = "moongrad.Function"

  function Function.__call(F, ...) return F.apply(F, ...) end
  function Function.__tostring(F) return "Function(" .. F.name .. ")" end

  local function run(F, ...)
    local args = table.pack(...)
    local tensors, needs = {}, {}
    for i = 1, args.n do
      if is_tensor(args[i]) then
        tensors[#tensors + 1] = args[i]
        needs[#needs + 1] = args[i].requires_grad
      end
    end
    if #tensors > MAXINPUTS then
      error(string.format("%s: a Function takes at most %d tensor arguments, got %d", F.name,
        MAXINPUTS, #tensors), 3)
    end
    local ctx = setmetatable({saved = {}, needs_input_grad = needs}, Ctx)
    ctx.saved_tensors = ctx.saved
    local res = table.pack(mg.no_grad(function()
      return F.forward(ctx, table.unpack(args, 1, args.n))
    end))
    if res.n ~= 1 then
      error(string.format("%s: forward must return one tensor, it returned %d values "
        .. "(a Function has exactly one output)", F.name, res.n), 3)
    end
    if not is_tensor(res[1]) then
      error(string.format("%s: forward must return a tensor, got %s", F.name, type(res[1])), 3)
    end
    return custom_function(res[1], tensors, F.name, F.backward, ctx)
  end

  --- mg.autograd.Function{name = "Square", forward = f, backward = b}: an op
  --- written in Lua.  forward(ctx, ...) gets the call's arguments (tensors and
  --- anything else) and runs without recording; its one output is recorded
  --- as a single node, grad_fn name .. "Backward", over the tensor arguments.
  --- backward(ctx, g) returns one gradient (a tensor or nil) per tensor
  --- argument, in order.  Call it as F(x), F:apply(x) or F.apply(x).
  function autograd.Function(def)
    if type(def) ~= "table" then
      error("autograd.Function: expected a table {name = ..., forward = ..., backward = ...}, got "
        .. type(def), 2)
    end
    local name = def.name == nil and "Function" or def.name
    if type(name) ~= "string" or name == "" then
      error("autograd.Function: name must be a non-empty string, got " .. type(name), 2)
    end
    for _, k in ipairs({"forward", "backward"}) do
      if type(def[k]) ~= "function" then
        error(string.format("autograd.Function: %s must be a function, got %s (in Function %s)",
          k, type(def[k]), name), 2)
      end
    end
    local F = setmetatable({name = name, forward = def.forward, backward = def.backward}, Function)
    -- F:apply(x) and F.apply(x) (PyTorch's spelling) both work
    F.apply = function(first, ...)
      if first == F then return run(F, ...) end
      return run(F, first, ...)
    end
    return F
  end

  -- graph --------------------------------------------------------------------
  local renderable = {svg = true, png = true, pdf = true}

  local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

  local function write_file(path, text)
    local f, err = io.open(path, "w")
    if not f then error("autograd.graph: cannot write " .. path .. ": " .. tostring(err), 3) end
    f:write(text)
    f:close()
  end

  --- mg.autograd.graph(y) returns the graph behind y as Graphviz DOT text;
  --- mg.autograd.graph(y, "graph.svg") (or .png, .pdf) also renders it with
  --- Graphviz's dot (.dot/.gv names get the text itself).  Returns the text.
  function autograd.graph(y, path)
    if not is_tensor(y) then
      error("autograd.graph: argument #1 must be a tensor, got " .. type(y), 2)
    end
    local text = graph_dot(y)
    if path == nil then return text end
    if type(path) ~= "string" then
      error("autograd.graph: the file name must be a string, got " .. type(path), 2)
    end
    local ext = (path:match("%.(%w+)$") or ""):lower()
    if ext == "dot" or ext == "gv" then
      write_file(path, text)
      return text
    end
    if not renderable[ext] then
      error("autograd.graph: cannot tell the format of '" .. path
        .. "' (name it .svg, .png or .pdf to render, .dot or .gv for the text)", 2)
    end
    if not os.execute("command -v dot >/dev/null 2>&1") then
      error("autograd.graph: writing " .. path .. " needs Graphviz's dot program, which was "
        .. "not found; install it with `apt-get install graphviz` (mg.autograd.graph(y) "
        .. "without a file name returns the DOT text)", 2)
    end
    local tmp = os.tmpname()
    write_file(tmp, text)
    local p = io.popen("dot -T" .. ext .. " -o " .. shell_quote(path) .. " "
      .. shell_quote(tmp) .. " 2>&1")
    local out = p:read("a")
    local ok = p:close()
    os.remove(tmp)
    if not ok then
      error("autograd.graph: dot could not write " .. path .. ": " .. out:gsub("%s+$", ""), 2)
    end
    return text
  end
end
