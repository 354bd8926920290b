/* einsum.c — (being written) */
#include "internal.h"
