-- moongrad.plot — (being written)
return function(mg, core)
end
