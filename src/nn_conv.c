/* nn_conv.c — (being written) */
#include "internal.h"
