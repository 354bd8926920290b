-- moongrad.nnet — mg.nnet: activations, losses, initializers and functional
-- layers (being written).  The C kernels are core.nnet (binding/b_nnet.c).
return function(mg, core)
  mg.nnet = mg.nnet or {}
  for k, v in pairs(core.nnet) do mg.nnet[k] = v end
end
