/* b_nnet.c — (being written) */
#include "binding.h"

const luaL_Reg lmg_nnet_funcs[] = {{NULL, NULL}};
