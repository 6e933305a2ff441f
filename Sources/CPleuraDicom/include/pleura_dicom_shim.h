// The shim implements the API declared in CPleuraDicomAPI (pleura_dicom.h); nothing else is public.
#include "pleura_dicom.h"
