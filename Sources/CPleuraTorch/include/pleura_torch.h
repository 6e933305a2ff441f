// extern "C" API of the libtorch shim (libPleuraTorchShim.so). PleuraModel opens it with dlopen, so
// commands that need no model never load libtorch.
//
// No C++ exception ever crosses this API: every failure returns NULL / a negative value and writes a
// one-line message into the caller's `err` buffer (always NUL-terminated).
//
// The shim only runs the model; the CAM arithmetic (weights, ReLU, normalisation, resize) lives in
// Swift. Per the model contract the TorchScript module exports `features(x) -> A` and
// `head(A) -> Dict[str, Tensor] | Tensor`; gradients are taken with respect to a detached copy of A
// (running `features` without grad), which side-steps the profiling executor's failure on the second
// `autograd::grad` call.
#ifndef PLEURA_TORCH_H
#define PLEURA_TORCH_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/// Version of this C API, so the Swift side can refuse a mismatched shared library.
int pleura_torch_api_version(void);

/// Intra-op threads libtorch uses (at::set_num_threads); process-wide.
void pleura_torch_set_threads(int threads);
int pleura_torch_get_threads(void);

typedef struct pleura_torch_model pleura_torch_model;
typedef struct pleura_torch_result pleura_torch_result;

/// Loads a TorchScript file on the CPU in eval mode and checks it has `features` and `head`.
pleura_torch_model *pleura_torch_load(const char *path, char *err, size_t err_len);
void pleura_torch_free(pleura_torch_model *model);

/// Runs one image (`input`: 1 x channels x height x width float32, contiguous).
/// For each of the `target_count` targets (head name, class index) the gradient of that raw logit
/// with respect to the features is computed as well. `target_count` may be 0 (predictions only).
/// A head name "" means the single unnamed output when `head` returns one tensor; class -1 means
/// the head's highest logit.
pleura_torch_result *pleura_torch_run(pleura_torch_model *model, const float *input, int channels, int height,
                                      int width, const char *const *target_heads, const int *target_classes,
                                      int target_count, char *err, size_t err_len);
void pleura_torch_result_free(pleura_torch_result *result);

/// The heads `head` returned, in its dict's order (one unnamed head "" for a plain tensor).
int pleura_torch_result_head_count(const pleura_torch_result *result);
const char *pleura_torch_result_head_name(const pleura_torch_result *result, int index);
int64_t pleura_torch_result_head_size(const pleura_torch_result *result, int index);
const float *pleura_torch_result_head_logits(const pleura_torch_result *result, int index);

/// The features A (channels x height x width of the batch's only image) and, per target, dY/dA
/// (same shape).
void pleura_torch_result_features_shape(const pleura_torch_result *result, int64_t *channels, int64_t *height,
                                        int64_t *width);
const float *pleura_torch_result_features(const pleura_torch_result *result);
const float *pleura_torch_result_gradient(const pleura_torch_result *result, int target);

#ifdef __cplusplus
}
#endif
#endif
