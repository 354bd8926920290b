/* b_extend.c — (being written) */
#include "binding.h"

const luaL_Reg lmg_extend_funcs[] = {{NULL, NULL}};
const luaL_Reg lmg_extend_methods[] = {{NULL, NULL}};
