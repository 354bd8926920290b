/* ops_linalg.c — (being written) */
#include "internal.h"
