-- moongrad.graph — custom differentiable functions in Lua and the graph as DOT text (being written).
return function(mg, core)
  mg.autograd = mg.autograd or {}
end
