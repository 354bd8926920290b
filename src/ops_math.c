/* ops_math.c — (being written) */
#include "internal.h"
