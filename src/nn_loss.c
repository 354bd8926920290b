/* nn_loss.c — (being written) */
#include "internal.h"
