// See jpeg2000.h. The fragment walking is DCMTK's data model; the decoding is OpenJPEG's, reading
// from memory (the frame is already in memory: DCMTK loaded its fragments).
#include "jpeg2000.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"

// openjpeg.h includes its own headers with quotes, so the versioned folder need not be on the path.
#include <openjpeg-2.5/openjpeg.h>

#include <algorithm>
#include <cstring>

namespace pleura_jpeg2000 {
namespace {

const uint8_t jp2Signature[12] = {0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A};

bool isJP2(const uint8_t *data, size_t size) { return size >= 12 && std::memcmp(data, jp2Signature, 12) == 0; }
/// SOC then SIZ: the first bytes of every J2K codestream.
bool isJ2K(const uint8_t *data, size_t size) {
    return size >= 4 && data[0] == 0xFF && data[1] == 0x4F && data[2] == 0xFF && data[3] == 0x51;
}

/// The value of pixel item `index` (loaded from the file on demand by DCMTK).
bool itemValue(DcmPixelSequence *sequence, unsigned long index, const Uint8 *&data, size_t &size) {
    DcmPixelItem *item = nullptr;
    if (sequence->getItem(item, index).bad() || item == nullptr) return false;
    Uint8 *bytes = nullptr;
    size = item->getLength();
    if (size == 0) { data = nullptr; return true; }
    if (item->getUint8Array(bytes).bad() || bytes == nullptr) return false;
    data = bytes;
    return true;
}

/// Frees an item's value again (DCMTK reloads it from the file when asked), so reading a clip
/// frame by frame does not keep every frame's codestream in memory.
void release(DcmPixelSequence *sequence, unsigned long index) {
    DcmPixelItem *item = nullptr;
    if (sequence->getItem(item, index).good() && item) item->compact();
}

struct Memory {
    const uint8_t *data;
    size_t size, at;
};

OPJ_SIZE_T readMemory(void *buffer, OPJ_SIZE_T count, void *user) {
    auto *m = static_cast<Memory *>(user);
    if (m->at >= m->size) return static_cast<OPJ_SIZE_T>(-1);
    size_t n = std::min(static_cast<size_t>(count), m->size - m->at);
    std::memcpy(buffer, m->data + m->at, n);
    m->at += n;
    return n;
}

OPJ_OFF_T skipMemory(OPJ_OFF_T count, void *user) {
    auto *m = static_cast<Memory *>(user);
    if (count < 0) {
        size_t back = std::min(static_cast<size_t>(-count), m->at);
        m->at -= back;
        return -static_cast<OPJ_OFF_T>(back);
    }
    size_t n = std::min(static_cast<size_t>(count), m->size - m->at);
    if (n == 0 && count > 0) return -1;
    m->at += n;
    return static_cast<OPJ_OFF_T>(n);
}

OPJ_BOOL seekMemory(OPJ_OFF_T position, void *user) {
    auto *m = static_cast<Memory *>(user);
    if (position < 0 || static_cast<size_t>(position) > m->size) return OPJ_FALSE;
    m->at = static_cast<size_t>(position);
    return OPJ_TRUE;
}

/// OpenJPEG's messages would go to stderr (over the TUI): the first error is kept for the one-line
/// message instead, warnings and information are dropped.
void keepFirstError(const char *message, void *user) {
    auto *error = static_cast<std::string *>(user);
    if (!error->empty() || message == nullptr) return;
    *error = message;
    while (!error->empty() && (error->back() == '\n' || error->back() == '\r' || error->back() == ' ')) error->pop_back();
}
void ignore(const char *, void *) {}

} // namespace

bool frameStarts(DcmPixelSequence *sequence, long frames, std::vector<unsigned long> &starts, std::string &error) {
    starts.clear();
    unsigned long items = sequence->card();
    if (items < 2 || frames < 1) {
        error = "the JPEG 2000 pixel data hold no fragment";
        return false;
    }
    unsigned long fragments = items - 1;
    if (frames == 1 || fragments == static_cast<unsigned long>(frames)) {
        for (long k = 0; k < frames; k++) starts.push_back(static_cast<unsigned long>(k) + 1);
        return true;
    }
    const Uint8 *table = nullptr;
    size_t tableSize = 0;
    if (itemValue(sequence, 0, table, tableSize) && tableSize == 4 * static_cast<size_t>(frames)) {
        // Offsets (little endian, PS3.5 A.4) from the first byte of the first fragment's item tag.
        std::vector<Uint32> offsets;
        for (long k = 0; k < frames; k++) {
            const Uint8 *p = table + 4 * k;
            offsets.push_back(p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<Uint32>(p[3]) << 24));
        }
        size_t position = 0;
        long next = 0;
        for (unsigned long i = 1; i < items && next < frames; i++) {
            DcmPixelItem *item = nullptr;
            if (sequence->getItem(item, i).bad() || item == nullptr) break;
            if (position == offsets[next]) starts.push_back(i), next++;
            position += 8 + item->getLength();
        }
        if (next == frames) return true;
        starts.clear();
    }
    // No usable offset table: a frame begins at each fragment that begins a codestream.
    for (unsigned long i = 1; i < items; i++) {
        const Uint8 *data = nullptr;
        size_t size = 0;
        if (!itemValue(sequence, i, data, size)) break;
        if (data && (isJ2K(data, size) || isJP2(data, size))) starts.push_back(i);
        release(sequence, i);
    }
    if (starts.size() == static_cast<size_t>(frames) && starts[0] == 1) return true;
    error = "the JPEG 2000 pixel data hold " + std::to_string(fragments) + " fragments for " +
            std::to_string(frames) + " frames and no offset table that says which belong to which";
    starts.clear();
    return false;
}

bool frameBytes(DcmPixelSequence *sequence, const std::vector<unsigned long> &starts, long index,
                std::vector<uint8_t> &out, std::string &error) {
    out.clear();
    unsigned long first = starts[index];
    unsigned long end = index + 1 < static_cast<long>(starts.size()) ? starts[index + 1] : sequence->card();
    for (unsigned long i = first; i < end; i++) {
        const Uint8 *data = nullptr;
        size_t size = 0;
        if (!itemValue(sequence, i, data, size)) {
            error = "fragment " + std::to_string(i) + " of frame " + std::to_string(index) + " cannot be read";
            return false;
        }
        if (data) out.insert(out.end(), data, data + size);
        release(sequence, i);
    }
    return true;
}

bool decode(const std::vector<uint8_t> &codestream, int width, int height, int samples, int bitsAllocated,
            std::vector<uint8_t> &out, std::string &error) {
    const uint8_t *data = codestream.data();
    size_t size = codestream.size();
    OPJ_CODEC_FORMAT format;
    if (isJ2K(data, size)) {
        format = OPJ_CODEC_J2K;
    } else if (isJP2(data, size)) {
        format = OPJ_CODEC_JP2;
    } else {
        error = "the frame is not a JPEG 2000 codestream";
        return false;
    }
    if (bitsAllocated != 8 && bitsAllocated != 16) {
        error = "JPEG 2000 with " + std::to_string(bitsAllocated) + " bits allocated is not read";
        return false;
    }
    Memory memory{data, size, 0};
    opj_stream_t *stream = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE);
    opj_codec_t *codec = opj_create_decompress(format);
    opj_image_t *image = nullptr;
    std::string opjError;
    bool ok = false;
    if (stream && codec) {
        opj_stream_set_user_data(stream, &memory, nullptr);
        opj_stream_set_user_data_length(stream, size);
        opj_stream_set_read_function(stream, readMemory);
        opj_stream_set_skip_function(stream, skipMemory);
        opj_stream_set_seek_function(stream, seekMemory);
        opj_set_error_handler(codec, keepFirstError, &opjError);
        opj_set_warning_handler(codec, ignore, nullptr);
        opj_set_info_handler(codec, ignore, nullptr);
        opj_dparameters_t parameters;
        opj_set_default_decoder_parameters(&parameters);
        ok = opj_setup_decoder(codec, &parameters) && opj_read_header(stream, codec, &image) && image &&
             opj_decode(codec, stream, image) && opj_end_decompress(codec, stream);
    }
    if (!ok) {
        error = "OpenJPEG cannot decode the frame (" + (opjError.empty() ? std::string("no reason given") : opjError) + ")";
    } else if (static_cast<int>(image->numcomps) < samples) {
        error = "the JPEG 2000 frame has " + std::to_string(image->numcomps) + " components for " +
                std::to_string(samples) + " samples per pixel";
        ok = false;
    } else {
        for (int c = 0; c < samples && ok; c++) {
            const opj_image_comp_t &comp = image->comps[c];
            if (comp.w != static_cast<OPJ_UINT32>(width) || comp.h != static_cast<OPJ_UINT32>(height) || comp.dx != 1 ||
                comp.dy != 1 || comp.data == nullptr) {
                error = "a JPEG 2000 component's size differs from Rows/Columns (subsampled components are not read)";
                ok = false;
            } else if (static_cast<int>(comp.prec) > bitsAllocated) {
                error = "JPEG 2000 samples of " + std::to_string(comp.prec) + " bits in " + std::to_string(bitsAllocated) +
                        " bits allocated";
                ok = false;
            }
        }
    }
    if (ok) {
        size_t n = static_cast<size_t>(width) * height;
        out.assign(n * samples * (bitsAllocated / 8), 0);
        // Signed samples keep their two's complement bits (Pixel Representation says how to read them).
        for (int c = 0; c < samples; c++) {
            const OPJ_INT32 *values = image->comps[c].data;
            if (bitsAllocated == 8) {
                for (size_t i = 0; i < n; i++) out[i * samples + c] = static_cast<uint8_t>(values[i]);
            } else {
                auto *words = reinterpret_cast<uint16_t *>(out.data());
                for (size_t i = 0; i < n; i++) words[i * samples + c] = static_cast<uint16_t>(values[i]);
            }
        }
    }
    if (image) opj_image_destroy(image);
    if (codec) opj_destroy_codec(codec);
    if (stream) opj_stream_destroy(stream);
    return ok;
}

} // namespace pleura_jpeg2000
