// extern "C" API of the DICOM shim (libPleuraDicomShim.so, over DCMTK). PleuraMedia opens it with
// dlopen on the first DICOM file, so commands that never read DICOM do not load DCMTK and the ~25
// libraries it pulls in (ICU, libxml2, libtiff, ...).
//
// No C++ exception crosses this API: failures return NULL / a negative value and write one line
// into the caller's `err` buffer (always NUL-terminated). Messages never carry attribute values:
// they are DCMTK's condition texts and the transfer syntax, nothing read from the patient module.
#ifndef PLEURA_DICOM_H
#define PLEURA_DICOM_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/// Version of this C API, so the Swift side can refuse a mismatched shared library.
int pleura_dicom_api_version(void);

typedef struct pleura_dicom pleura_dicom;

/// What the file says about its pixels (no patient attribute).
typedef struct {
    int32_t width, height, frames;
    int32_t samples_per_pixel, bits_allocated, bits_stored;
    /// Frame Time (0018,1063) in ms, Cine Rate (0018,0040), Recommended Display Frame Rate
    /// (0008,2144); 0 where absent.
    double frame_time_ms, cine_rate, recommended_display_rate;
    /// 1 when the shim decodes the transfer syntax (DCMTK's codecs, and JPEG 2000 with OpenJPEG;
    /// not HTJ2K, MPEG, HEVC, ...).
    int32_t decodable;
    int32_t region_count;
    char transfer_syntax_uid[72];
    char transfer_syntax_name[96];
    char photometric[24];
} pleura_dicom_info;

/// One item of the Sequence of Ultrasound Regions (0018,6011): its pixel bounds (inclusive),
/// Region Spatial Format (0018,6012; 1 = 2D) and Region Data Type (0018,6014; 1 = tissue).
typedef struct {
    int32_t x0, y0, x1, y1;
    int32_t spatial_format, data_type;
} pleura_dicom_region;

/// Opens a DICOM file (with or without the 128-byte preamble and meta header). Pixel data stay on
/// disk and are read frame by frame.
pleura_dicom *pleura_dicom_open(const char *path, char *err, size_t err_len);
void pleura_dicom_close(pleura_dicom *file);
void pleura_dicom_get_info(const pleura_dicom *file, pleura_dicom_info *out);
/// 0 on success, -1 when `index` is outside 0..<region_count.
int pleura_dicom_get_region(const pleura_dicom *file, int index, pleura_dicom_region *out);

/// The value of a top-level attribute (all values joined by '\'), or of attribute (group,element)
/// in item `item` of sequence (seq_group,seq_element) when seq_group is not 0. Returns the value's
/// length (it is cut to fit `out`), or -1 when absent or empty.
int pleura_dicom_get_string(const pleura_dicom *file, uint16_t seq_group, uint16_t seq_element, int item,
                            uint16_t group, uint16_t element, char *out, size_t out_len);

/// Decodes frame `index` (0-based) into `out` as 8-bit RGB, rows top to bottom (width*height*3
/// bytes): colour models converted to RGB (YBR_FULL, YBR_FULL_422, PALETTE COLOR, ...),
/// monochrome mapped over its full stored range without a VOI window, then copied to R, G and B.
/// Returns 0, or -1 with a message.
int pleura_dicom_decode_rgb(pleura_dicom *file, int index, uint8_t *out, size_t out_len, char *err, size_t err_len);

/// The files a DICOMDIR references from its IMAGE records, as paths relative to the DICOMDIR's
/// folder ('/' separated), one per line into `out`. Returns the length needed (call again with a
/// larger buffer when it exceeds out_len), or -1 with a message.
long pleura_dicomdir_image_files(const char *path, char *out, size_t out_len, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
