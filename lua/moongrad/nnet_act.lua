-- moongrad.nnet_act — tensor methods for the common activations of mg.nnet:
-- x:relu(), x:sigmoid(), x:softmax(axis), x:logsoftmax(axis).  The
-- functions themselves are C (binding/b_nnet_act.c, in core.nnet).
return function(mg, core)
  for _, name in ipairs({"relu", "sigmoid", "softmax", "logsoftmax"}) do
    if mg.methods[name] == nil then mg.methods[name] = core.nnet[name] end
  end
end
