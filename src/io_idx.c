/* io_idx.c — (being written) */
#include "internal.h"
