#include "pleura_torch.h"
#include <torch/script.h>

extern "C" int pleura_torch_api_version(void) { return 1; }
