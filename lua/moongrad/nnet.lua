-- moongrad.nnet — mg.nnet: activations, losses, initializers and functional
-- layers.  The C kernels are core.nnet (binding/b_nnet.c), copied in here:
--   conv_nd(x, w [, b] [, {stride, padding, dilation, groups}]) and the
--   aliases conv1d / conv2d / conv3d (which also check the filters' rank);
--   max_pool(x, pool [, stride] [, {padding}]), avg_pool(...) over the
--   trailing 1, 2 or 3 axes.
return function(mg, core)
  mg.nnet = mg.nnet or {}
  for k, v in pairs(core.nnet) do mg.nnet[k] = v end
end
