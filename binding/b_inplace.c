/* b_inplace.c — (being written) */
#include "binding.h"

const luaL_Reg lmg_inplace_funcs[] = {{NULL, NULL}};
const luaL_Reg lmg_inplace_methods[] = {{NULL, NULL}};
