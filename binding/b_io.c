/* b_io.c — (being written) */
#include "binding.h"

const luaL_Reg lmg_io_funcs[] = {{NULL, NULL}};
