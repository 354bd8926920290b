-- moongrad.data — (being written)
return function(mg, core)
end
