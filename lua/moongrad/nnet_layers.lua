-- moongrad.nnet_layers — initializers and functional layers of mg.nnet
-- written in Lua over the core ops (being written).
return function(mg, core)
  mg.nnet = mg.nnet or {}
end
