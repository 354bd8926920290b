/* io_safetensors.c — (being written) */
#include "internal.h"
