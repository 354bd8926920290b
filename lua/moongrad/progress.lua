-- moongrad.progress — (being written)
return function(mg, core)
end
