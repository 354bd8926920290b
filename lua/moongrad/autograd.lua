-- moongrad.autograd — the mg.autograd table (being written).
return function(mg, core)
  mg.autograd = mg.autograd or {}
end
