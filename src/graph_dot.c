/* graph_dot.c — (being written) */
#include "internal.h"
