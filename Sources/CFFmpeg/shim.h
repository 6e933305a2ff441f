// Thin shim over FFmpeg: headers plus the function-like macros Swift cannot import.
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
#include <errno.h>

static inline int pleura_averror(int e) { return AVERROR(e); }
static inline int pleura_averror_eof(void) { return AVERROR_EOF; }
static inline int pleura_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int64_t pleura_av_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline int pleura_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
static inline int pleura_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
#endif
