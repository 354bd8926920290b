/* nn_layers.c — (being written) */
#include "internal.h"
