// Thin shim over libsixel: the header plus the status macros Swift cannot import.
#ifndef PLEURA_CSIXEL_SHIM_H
#define PLEURA_CSIXEL_SHIM_H
#include <sixel/sixel.h>
static inline int pleura_sixel_failed(SIXELSTATUS s) { return SIXEL_FAILED(s); }
static inline int pleura_sixel_succeeded(SIXELSTATUS s) { return SIXEL_SUCCEEDED(s); }
#endif
