/* ops_gather.c — (being written) */
#include "internal.h"
