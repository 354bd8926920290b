/* nn_act.c — (being written) */
#include "internal.h"
