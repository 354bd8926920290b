/* b_nnet_layers.c — (being written) */
#include "binding.h"

const luaL_Reg lmg_nnet_layers_funcs[] = {{NULL, NULL}};
