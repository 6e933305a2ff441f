// Thin shim over FFmpeg: headers, the function-like macros Swift cannot import, and the loader.
//
// Pleura does not link FFmpeg: Debian's libavformat/libavcodec pull in ~130 shared libraries
// (codecs, TLS, SSH, SVG, ...) whose loading alone takes 20 ms, paid by every process even when it
// never touches media. ffmpeg_loader.c defines each FFmpeg function Pleura calls as a forwarder
// that loads the libraries with dlopen on first use, so `pleura version`, the store commands and
// `pleura doctor` start without them, and a missing FFmpeg is an error message, not a loader crash.
#ifndef PLEURA_CFFMPEG_SHIM_H
#define PLEURA_CFFMPEG_SHIM_H
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/error.h>
#include <libavutil/adler32.h>
#include <libavutil/log.h>
#include <libavutil/cpu.h>
#include <errno.h>

static inline int pleura_averror(int e) { return AVERROR(e); }
static inline int pleura_averror_eof(void) { return AVERROR_EOF; }
static inline int pleura_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int64_t pleura_av_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline int pleura_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
static inline int pleura_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }

/// Loads FFmpeg's libraries (once per process; thread-safe). Returns 1 when every function Pleura
/// uses was found; otherwise 0, and `pleura_ffmpeg_load_error()` says which library or symbol failed.
/// Swift calls this (through PleuraMedia's FFmpegSupport) before the first FFmpeg call, so that a
/// missing library becomes a thrown error; the forwarders themselves exit with that message if
/// called without it.
int pleura_ffmpeg_load(void);
const char *pleura_ffmpeg_load_error(void);
#endif
