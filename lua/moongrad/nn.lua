-- moongrad.nn — (being written)
return function(mg, core)
end
