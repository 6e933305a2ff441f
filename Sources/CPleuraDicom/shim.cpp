// DCMTK behind the C API of pleura_dicom.h. Thin on purpose: the choices (which frame rate, which
// region is the sector, what the zone is) are made in Swift (PleuraMedia/DicomFile.swift).
#include "pleura_dicom.h"
#include "jpeg2000.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/dcmimgle/dcmimage.h"
#include "dcmtk/dcmimage/diregist.h"
#include "dcmtk/oflog/oflog.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

struct pleura_dicom {
    DcmFileFormat file;
    E_TransferSyntax xfer = EXS_Unknown;
    pleura_dicom_info info{};
    std::string path;
    /// JPEG 2000 only (decoded here with OpenJPEG, not by DCMTK): the first pixel item of each
    /// frame, and the dataset without its pixel data, into which each decoded frame is put as
    /// uncompressed pixels so that DCMTK renders it like any other frame.
    std::vector<unsigned long> frameStarts;
    std::unique_ptr<DcmDataset> uncompressed;
};

namespace {

void setError(char *err, size_t len, const std::string &message) {
    if (err == nullptr || len == 0) return;
    std::snprintf(err, len, "%s", message.c_str());
}

void copyString(char *dst, size_t len, const char *src) {
    std::snprintf(dst, len, "%s", src ? src : "");
}

/// Codecs and logging, once per process. DCMTK logs warnings to stderr by default, which would
/// scribble over the TUI (and could echo a file's contents): logging is switched off. The codec
/// registrations are released at exit, as DCMTK asks (LeakSanitizer reported them as 9 leaked
/// objects at the end of the media fuzzer's first run with DICOM seeds). atexit from here runs
/// before the static destructors of DCMTK's libraries, which were initialised earlier.
void setUp() {
    static std::once_flag once;
    std::call_once(once, [] {
        OFLog::configure(OFLogger::OFF_LOG_LEVEL);
        DcmRLEDecoderRegistration::registerCodecs();
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        std::atexit([] {
            DJLSDecoderRegistration::cleanup();
            DJDecoderRegistration::cleanup();
            DcmRLEDecoderRegistration::cleanup();
        });
    });
}

double number(DcmItem *item, const DcmTagKey &key) {
    Float64 value = 0;
    if (item->findAndGetFloat64(key, value).good()) return value;
    OFString text;
    if (item->findAndGetOFString(key, text).good()) return std::atof(text.c_str());
    return 0;
}

bool decodable(E_TransferSyntax xfer) {
    switch (xfer) {
    case EXS_LittleEndianImplicit: case EXS_LittleEndianExplicit: case EXS_BigEndianExplicit:
    case EXS_DeflatedLittleEndianExplicit: case EXS_RLELossless:
    case EXS_JPEGProcess1: case EXS_JPEGProcess2_4: case EXS_JPEGProcess14: case EXS_JPEGProcess14SV1:
    case EXS_JPEGLSLossless: case EXS_JPEGLSLossy:
    case EXS_JPEG2000LosslessOnly: case EXS_JPEG2000:
        return true;
    default:
        return false;
    }
}

/// Expands Segmented Palette Color Lookup Table Data (PS3.3 C.7.9.2: discrete, linear and
/// indirect segments) into the plain table DCMTK's palette code reads; linear segments round like
/// pydicom (half to even). Returns false when the data are malformed.
bool expandSegments(const Uint16 *data, size_t count, std::vector<Uint16> &out, int depth = 0) {
    size_t i = 0;
    while (i + 1 < count) {
        Uint16 opcode = data[i], length = data[i + 1];
        if (opcode == 0) {
            if (i + 2 + length > count) return false;
            out.insert(out.end(), data + i + 2, data + i + 2 + length);
            i += 2 + length;
        } else if (opcode == 1) {
            if (out.empty() || i + 2 >= count) return false;
            double y0 = out.back(), y1 = data[i + 2];
            for (Uint16 k = 1; k <= length; k++) out.push_back(static_cast<Uint16>(std::nearbyint(y0 + (y1 - y0) * k / length)));
            i += 3;
        } else if (opcode == 2) {
            if (depth > 0 || i + 3 >= count) return false;
            size_t offset = data[i + 2] | (static_cast<size_t>(data[i + 3]) << 16);
            size_t at = offset;
            for (Uint16 s = 0; s < length; s++) {
                if (at + 1 >= count) return false;
                size_t size = data[at] == 1 ? 3 : 2 + data[at + 1];
                if (at + size > count || !expandSegments(data + at, size, out, depth + 1)) return false;
                at += size;
            }
            i += 4;
        } else {
            return false;
        }
        if (out.size() > 65536) return false;
    }
    return true;
}

/// DCMTK 3.6.7 reads only plain palette tables; scanners (e.g. ALOKA) send segmented ones. Put the
/// expanded tables into the dataset (in memory only) so DicomImage renders the colours.
void expandSegmentedPalette(DcmDataset *ds) {
    const DcmTagKey segmented[3] = {DCM_SegmentedRedPaletteColorLookupTableData,
                                    DCM_SegmentedGreenPaletteColorLookupTableData,
                                    DCM_SegmentedBluePaletteColorLookupTableData};
    const DcmTagKey plain[3] = {DCM_RedPaletteColorLookupTableData, DCM_GreenPaletteColorLookupTableData,
                                DCM_BluePaletteColorLookupTableData};
    const DcmTagKey descriptor[3] = {DCM_RedPaletteColorLookupTableDescriptor,
                                     DCM_GreenPaletteColorLookupTableDescriptor,
                                     DCM_BluePaletteColorLookupTableDescriptor};
    for (int c = 0; c < 3; c++) {
        const Uint16 *data = nullptr;
        unsigned long count = 0;
        if (ds->tagExists(plain[c]) || ds->findAndGetUint16Array(segmented[c], data, &count).bad() || !data) continue;
        std::vector<Uint16> table;
        if (!expandSegments(data, count, table) || table.empty()) continue;
        Uint16 entries = 0;
        ds->findAndGetUint16(descriptor[c], entries, 0);
        size_t want = entries == 0 ? 65536 : entries;
        table.resize(want, table.back());
        ds->putAndInsertUint16Array(plain[c], table.data(), static_cast<unsigned long>(table.size()));
    }
}

bool isJpeg2000(E_TransferSyntax xfer) { return xfer == EXS_JPEG2000LosslessOnly || xfer == EXS_JPEG2000; }

/// Frame `index` of a JPEG 2000 file, decoded by OpenJPEG into `file->uncompressed` (made on the
/// first frame). YBR_RCT and YBR_ICT name the colour transform the codestream undoes itself
/// (OpenJPEG's inverse MCT), so the decoded samples are RGB.
bool decodeJpeg2000(pleura_dicom *file, int index, std::string &error) {
    DcmDataset *ds = file->file.getDataset();
    DcmElement *element = nullptr;
    DcmPixelSequence *sequence = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, element).bad() || element == nullptr ||
        static_cast<DcmPixelData *>(element)->getEncapsulatedRepresentation(file->xfer, nullptr, sequence).bad() ||
        sequence == nullptr) {
        error = "the JPEG 2000 pixel data are not encapsulated";
        return false;
    }
    if (file->frameStarts.empty() && !pleura_jpeg2000::frameStarts(sequence, file->info.frames, file->frameStarts, error))
        return false;
    std::vector<uint8_t> codestream, samples;
    Uint16 allocated = static_cast<Uint16>(file->info.bits_allocated);
    if (!pleura_jpeg2000::frameBytes(sequence, file->frameStarts, index, codestream, error) ||
        !pleura_jpeg2000::decode(codestream, file->info.width, file->info.height, file->info.samples_per_pixel, allocated,
                                 samples, error))
        return false;
    if (!file->uncompressed) {
        auto copy = std::make_unique<DcmDataset>();
        for (unsigned long i = 0; i < ds->card(); i++) {
            DcmElement *e = ds->getElement(i);
            if (e && e->getTag() != DCM_PixelData) copy->insert(static_cast<DcmElement *>(e->clone()), true);
        }
        copy->putAndInsertString(DCM_NumberOfFrames, "1");
        copy->putAndInsertUint16(DCM_PlanarConfiguration, 0);
        std::string photometric = file->info.photometric;
        if (photometric == "YBR_RCT" || photometric == "YBR_ICT") copy->putAndInsertString(DCM_PhotometricInterpretation, "RGB");
        file->uncompressed = std::move(copy);
    }
    OFCondition put = allocated == 8
        ? file->uncompressed->putAndInsertUint8Array(DCM_PixelData, samples.data(), static_cast<unsigned long>(samples.size()))
        : file->uncompressed->putAndInsertUint16Array(DCM_PixelData, reinterpret_cast<const Uint16 *>(samples.data()),
                                                      static_cast<unsigned long>(samples.size() / 2));
    if (put.bad()) error = std::string("the decoded frame cannot be stored (") + put.text() + ")";
    return put.good();
}

/// `image` (one frame) as 8-bit RGB into `out`, which holds width*height*3 bytes.
int render(DicomImage &image, const pleura_dicom_info &info, int index, uint8_t *out, char *err, size_t err_len) {
    if (image.getStatus() != EIS_Normal) {
        setError(err, err_len, std::string("frame ") + std::to_string(index) + " cannot be decoded (" +
                 DicomImage::getString(image.getStatus()) + ")");
        return -1;
    }
    if (image.getWidth() != static_cast<unsigned long>(info.width) ||
        image.getHeight() != static_cast<unsigned long>(info.height)) {
        setError(err, err_len, "decoded frame size differs from Rows/Columns");
        return -1;
    }
    const auto *pixels = static_cast<const uint8_t *>(image.getOutputData(8, 0, 0));
    if (pixels == nullptr) {
        setError(err, err_len, std::string("frame ") + std::to_string(index) + " cannot be rendered (" +
                 DicomImage::getString(image.getStatus()) + ")");
        return -1;
    }
    size_t n = static_cast<size_t>(info.width) * info.height;
    if (image.isMonochrome()) {
        for (size_t i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = pixels[i];
    } else {
        std::memcpy(out, pixels, n * 3);
    }
    return 0;
}

template <typename Body> int guarded(char *err, size_t len, Body body) {
    try {
        return body();
    } catch (const std::exception &e) {
        setError(err, len, std::string("DCMTK failed: ") + e.what());
    } catch (...) {
        setError(err, len, "DCMTK failed with an unknown error");
    }
    return -1;
}

} // namespace

extern "C" int pleura_dicom_api_version(void) { return 1; }

extern "C" pleura_dicom *pleura_dicom_open(const char *path, char *err, size_t err_len) {
    setUp();
    pleura_dicom *result = nullptr;
    guarded(err, err_len, [&]() -> int {
        auto *file = new pleura_dicom();
        file->path = path;
        // Values above 4 KiB (the pixel data) stay on disk until a frame is asked for.
        OFCondition status = file->file.loadFile(path, EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect);
        if (status.bad()) {
            setError(err, err_len, std::string("not a readable DICOM file (") + status.text() + ")");
            delete file;
            return -1;
        }
        DcmDataset *ds = file->file.getDataset();
        file->xfer = ds->getOriginalXfer();
        expandSegmentedPalette(ds);
        DcmXfer xfer(file->xfer);
        pleura_dicom_info &info = file->info;
        Uint16 rows = 0, columns = 0, samples = 0, allocated = 0, stored = 0;
        ds->findAndGetUint16(DCM_Rows, rows);
        ds->findAndGetUint16(DCM_Columns, columns);
        ds->findAndGetUint16(DCM_SamplesPerPixel, samples);
        ds->findAndGetUint16(DCM_BitsAllocated, allocated);
        ds->findAndGetUint16(DCM_BitsStored, stored);
        Sint32 frames = 1;
        if (ds->findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1) frames = 1;
        info.width = columns;
        info.height = rows;
        info.frames = ds->tagExists(DCM_PixelData) ? frames : 0;
        info.samples_per_pixel = samples;
        info.bits_allocated = allocated;
        info.bits_stored = stored;
        info.frame_time_ms = number(ds, DCM_FrameTime);
        info.cine_rate = number(ds, DCM_CineRate);
        info.recommended_display_rate = number(ds, DCM_RecommendedDisplayFrameRate);
        info.decodable = decodable(file->xfer) ? 1 : 0;
        copyString(info.transfer_syntax_uid, sizeof info.transfer_syntax_uid, xfer.getXferID());
        copyString(info.transfer_syntax_name, sizeof info.transfer_syntax_name, xfer.getXferName());
        // A transfer syntax newer than DCMTK 3.6.7 (HTJ2K, JPEG XL, ...): DCMTK guesses the dataset's
        // encoding, so the file would open and fail on its frames; it is refused with its own UID.
        OFString metaUID;
        if (file->file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, metaUID).good() && !metaUID.empty() &&
            DcmXfer(metaUID.c_str()).getXfer() == EXS_Unknown) {
            std::string uid;
            for (char c : std::string(metaUID.c_str()).substr(0, 64)) if ((c >= '0' && c <= '9') || c == '.') uid += c;
            bool htj2k = uid.rfind("1.2.840.10008.1.2.4.20", 0) == 0;
            info.decodable = 0;
            copyString(info.transfer_syntax_uid, sizeof info.transfer_syntax_uid, uid.c_str());
            copyString(info.transfer_syntax_name, sizeof info.transfer_syntax_name,
                       htj2k ? "High-Throughput JPEG 2000 (unknown to DCMTK " OFFIS_DCMTK_VERSION ")"
                             : "unknown to DCMTK " OFFIS_DCMTK_VERSION);
        }
        OFString photometric;
        ds->findAndGetOFString(DCM_PhotometricInterpretation, photometric);
        copyString(info.photometric, sizeof info.photometric, photometric.c_str());
        DcmSequenceOfItems *regions = nullptr;
        if (ds->findAndGetSequence(DCM_SequenceOfUltrasoundRegions, regions).good() && regions)
            info.region_count = static_cast<int32_t>(regions->card());
        result = file;
        return 0;
    });
    return result;
}

extern "C" void pleura_dicom_close(pleura_dicom *file) { delete file; }

extern "C" void pleura_dicom_get_info(const pleura_dicom *file, pleura_dicom_info *out) { *out = file->info; }

extern "C" int pleura_dicom_get_region(const pleura_dicom *file, int index, pleura_dicom_region *out) {
    return guarded(nullptr, 0, [&]() -> int {
        DcmItem *item = nullptr;
        auto *ds = const_cast<DcmFileFormat &>(file->file).getDataset();
        if (ds->findAndGetSequenceItem(DCM_SequenceOfUltrasoundRegions, item, index).bad() || !item) return -1;
        Uint32 x0 = 0, y0 = 0, x1 = 0, y1 = 0;
        Uint16 format = 0, type = 0;
        item->findAndGetUint32(DCM_RegionLocationMinX0, x0);
        item->findAndGetUint32(DCM_RegionLocationMinY0, y0);
        item->findAndGetUint32(DCM_RegionLocationMaxX1, x1);
        item->findAndGetUint32(DCM_RegionLocationMaxY1, y1);
        item->findAndGetUint16(DCM_RegionSpatialFormat, format);
        item->findAndGetUint16(DCM_RegionDataType, type);
        *out = {static_cast<int32_t>(x0), static_cast<int32_t>(y0), static_cast<int32_t>(x1),
                static_cast<int32_t>(y1), format, type};
        return 0;
    });
}

extern "C" int pleura_dicom_get_string(const pleura_dicom *file, uint16_t seq_group, uint16_t seq_element, int item,
                                       uint16_t group, uint16_t element, char *out, size_t out_len) {
    return guarded(nullptr, 0, [&]() -> int {
        DcmItem *where = const_cast<DcmFileFormat &>(file->file).getDataset();
        if (seq_group != 0) {
            DcmItem *child = nullptr;
            if (where->findAndGetSequenceItem(DcmTagKey(seq_group, seq_element), child, item).bad() || !child) return -1;
            where = child;
        }
        OFString value;
        if (where->findAndGetOFStringArray(DcmTagKey(group, element), value).bad() || value.empty()) return -1;
        copyString(out, out_len, value.c_str());
        return static_cast<int>(value.length());
    });
}

extern "C" int pleura_dicom_decode_rgb(pleura_dicom *file, int index, uint8_t *out, size_t out_len, char *err,
                                       size_t err_len) {
    return guarded(err, err_len, [&]() -> int {
        const pleura_dicom_info &info = file->info;
        if (!info.decodable) {
            setError(err, err_len, std::string("transfer syntax ") + info.transfer_syntax_name + " (" +
                     info.transfer_syntax_uid + ") has no decoder in this build (DCMTK " OFFIS_DCMTK_VERSION ")");
            return -1;
        }
        if (index < 0 || index >= info.frames) {
            setError(err, err_len, "frame " + std::to_string(index) + " does not exist");
            return -1;
        }
        size_t need = static_cast<size_t>(info.width) * info.height * 3;
        if (out_len < need) {
            setError(err, err_len, "output buffer too small");
            return -1;
        }
        if (isJpeg2000(file->xfer)) {
            std::string error;
            if (!decodeJpeg2000(file, index, error)) {
                setError(err, err_len, "frame " + std::to_string(index) + ": " + error);
                return -1;
            }
            DicomImage image(static_cast<DcmObject *>(file->uncompressed.get()), EXS_LittleEndianExplicit, 0UL, 0UL, 1UL);
            return render(image, info, index, out, err, err_len);
        }
        // One DicomImage per frame with partial access: DCMTK reads (and decompresses) only that
        // frame's pixel data, so frame N costs the same whatever N is.
        DicomImage image(file->file.getDataset(), file->xfer, CIF_UsePartialAccessToPixelData, index, 1);
        return render(image, info, index, out, err, err_len);
    });
}

extern "C" long pleura_dicomdir_image_files(const char *path, char *out, size_t out_len, char *err, size_t err_len) {
    setUp();
    long result = -1;
    guarded(err, err_len, [&]() -> int {
        DcmFileFormat dir;
        OFCondition status = dir.loadFile(path, EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect);
        if (status.bad()) {
            setError(err, err_len, std::string("not a readable DICOMDIR (") + status.text() + ")");
            return -1;
        }
        std::string list;
        DcmItem *record = nullptr;
        for (unsigned long i = 0;
             dir.getDataset()->findAndGetSequenceItem(DCM_DirectoryRecordSequence, record, static_cast<int>(i)).good() && record;
             i++) {
            OFString type, fileID;
            record->findAndGetOFString(DCM_DirectoryRecordType, type);
            if (type != "IMAGE" || record->findAndGetOFStringArray(DCM_ReferencedFileID, fileID).bad()) continue;
            std::string relative(fileID.c_str());
            for (char &c : relative) if (c == '\\') c = '/';
            list += relative + "\n";
        }
        if (out != nullptr && out_len > 0) copyString(out, out_len, list.c_str());
        result = static_cast<long>(list.size()) + 1;
        return 0;
    });
    return result;
}
