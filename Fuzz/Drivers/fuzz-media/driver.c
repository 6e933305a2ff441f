// libFuzzer entry point of the 'media' harness (Fuzz/Harnesses/Harnesses.swift). A C executable
// target, so SwiftPM does not rename a Swift main that would clash with libFuzzer's own main.
#include <stddef.h>
#include <stdint.h>
int pleura_fuzz_media(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return pleura_fuzz_media(data, size); }
