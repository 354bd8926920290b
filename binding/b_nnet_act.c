/* b_nnet_act.c — (being written) */
#include "binding.h"

const luaL_Reg lmg_nnet_act_funcs[] = {{NULL, NULL}};
