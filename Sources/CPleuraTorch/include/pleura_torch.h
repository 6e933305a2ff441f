// extern "C" API of the libtorch shim. No C++ exception ever crosses it: every failure comes back
// as a message written into the caller's error buffer. (Filled by the model issue.)
#ifndef PLEURA_TORCH_H
#define PLEURA_TORCH_H
#ifdef __cplusplus
extern "C" {
#endif
/// Version of this C API, so the Swift side can refuse a mismatched shared library.
int pleura_torch_api_version(void);
#ifdef __cplusplus
}
#endif
#endif
