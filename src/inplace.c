/* inplace.c — (being written) */
#include "internal.h"
