/* b_shape.c — (being written) */
#include "binding.h"

const luaL_Reg lmg_shape_funcs[] = {{NULL, NULL}};
const luaL_Reg lmg_shape_methods[] = {{NULL, NULL}};
