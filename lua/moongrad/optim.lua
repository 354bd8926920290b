-- moongrad.optim — (being written)
return function(mg, core)
end
