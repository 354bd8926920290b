/* nn_pool.c — (being written) */
#include "internal.h"
