/* ops_join.c — (being written) */
#include "internal.h"
