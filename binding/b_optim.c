/* b_optim.c — (being written) */
#include "binding.h"

const luaL_Reg lmg_optim_funcs[] = {{NULL, NULL}};
