/* custom.c — (being written) */
#include "internal.h"
