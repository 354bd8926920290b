/* b_linalg.c — (being written) */
#include "binding.h"

const luaL_Reg lmg_linalg_funcs[] = {{NULL, NULL}};
const luaL_Reg lmg_linalg_methods[] = {{NULL, NULL}};
