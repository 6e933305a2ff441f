// JPEG 2000 frames of encapsulated DICOM pixel data, decoded with OpenJPEG (Debian libopenjp2-7):
// DCMTK 3.6.7 has no JPEG 2000 codec. Internal to the shim (not part of the C API).
#ifndef PLEURA_DICOM_JPEG2000_H
#define PLEURA_DICOM_JPEG2000_H
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

class DcmPixelSequence;

namespace pleura_jpeg2000 {

/// For each of `frames` frames, the index of the pixel item holding its first fragment (item 0 is
/// the Basic Offset Table): one frame per fragment, else the offset table, else the fragments
/// that begin a codestream. False with a message when neither fits.
bool frameStarts(DcmPixelSequence *sequence, long frames, std::vector<unsigned long> &starts, std::string &error);

/// Frame `index`'s codestream: its fragments joined.
bool frameBytes(DcmPixelSequence *sequence, const std::vector<unsigned long> &starts, long index,
                std::vector<uint8_t> &out, std::string &error);

/// Decodes one codestream (raw J2K, or a JP2 file) into samples laid out as uncompressed DICOM
/// pixel data: interleaved, `bitsAllocated` 8 (one byte) or 16 (host-order words) per sample.
bool decode(const std::vector<uint8_t> &codestream, int width, int height, int samples, int bitsAllocated,
            std::vector<uint8_t> &out, std::string &error);

} // namespace pleura_jpeg2000
#endif
