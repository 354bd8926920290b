/* b_stats.c — (being written) */
#include "binding.h"

const luaL_Reg lmg_stats_funcs[] = {{NULL, NULL}};
const luaL_Reg lmg_stats_methods[] = {{NULL, NULL}};
