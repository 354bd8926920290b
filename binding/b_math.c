/* b_math.c — (being written) */
#include "binding.h"

const luaL_Reg lmg_math_funcs[] = {{NULL, NULL}};
const luaL_Reg lmg_math_methods[] = {{NULL, NULL}};
