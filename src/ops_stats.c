/* ops_stats.c — (being written) */
#include "internal.h"
