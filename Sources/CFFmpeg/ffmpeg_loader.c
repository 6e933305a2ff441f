// Forwarders for the FFmpeg functions Pleura calls, loading the libraries on first use (see shim.h
// for why). Each forwarder has the exact prototype of FFmpeg's header, so the compiler checks it.
// To call another FFmpeg function from Swift, add a line to PLEURA_FFMPEG_FUNCTIONS below with its
// prototype copied from the header; a function missing here is a link error, never a silent miss.
#include "shim.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libavutil/macros.h>

// X(library, kind, return type, name, (parameters), (arguments)). kind: VALUE or VOID, or RELEASE
// for the functions that free or close what FFmpeg allocated: without FFmpeg nothing was allocated,
// so they do nothing then (Swift deinitialisers call them on nil when an open failed).
#define PLEURA_FFMPEG_FUNCTIONS(X) \
    X(AVUTIL, VALUE, AVAdler, av_adler32_update, (AVAdler adler, const uint8_t *buf, size_t len), (adler, buf, len)) \
    X(AVUTIL, RELEASE, void, av_dict_free, (AVDictionary **m), (m)) \
    X(AVUTIL, VALUE, int, av_dict_set, (AVDictionary **pm, const char *key, const char *value, int flags), (pm, key, value, flags)) \
    X(AVFORMAT, VALUE, int, av_find_best_stream, (AVFormatContext *ic, enum AVMediaType type, int wanted_stream_nb, int related_stream, const AVCodec **decoder_ret, int flags), (ic, type, wanted_stream_nb, related_stream, decoder_ret, flags)) \
    X(AVUTIL, VALUE, AVFrame *, av_frame_alloc, (void), ()) \
    X(AVUTIL, RELEASE, void, av_frame_free, (AVFrame **frame), (frame)) \
    X(AVUTIL, VALUE, int, av_frame_get_buffer, (AVFrame *frame, int align), (frame, align)) \
    X(AVUTIL, VALUE, int, av_frame_make_writable, (AVFrame *frame), (frame)) \
    X(AVUTIL, VALUE, int, av_get_cpu_flags, (void), ()) \
    X(AVUTIL, RELEASE, void, av_frame_unref, (AVFrame *frame), (frame)) \
    X(AVUTIL, VALUE, const char *, av_get_pix_fmt_name, (enum AVPixelFormat pix_fmt), (pix_fmt)) \
    X(AVUTIL, VALUE, int, av_image_get_linesize, (enum AVPixelFormat pix_fmt, int width, int plane), (pix_fmt, width, plane)) \
    X(AVFORMAT, VALUE, int, av_interleaved_write_frame, (AVFormatContext *s, AVPacket *pkt), (s, pkt)) \
    X(AVUTIL, VOID, void, av_log_set_level, (int level), (level)) \
    X(AVUTIL, VALUE, int, av_opt_set, (void *obj, const char *name, const char *val, int search_flags), (obj, name, val, search_flags)) \
    X(AVUTIL, VALUE, int, av_opt_set_int, (void *obj, const char *name, int64_t val, int search_flags), (obj, name, val, search_flags)) \
    X(AVCODEC, VALUE, AVPacket *, av_packet_alloc, (void), ()) \
    X(AVCODEC, RELEASE, void, av_packet_free, (AVPacket **pkt), (pkt)) \
    X(AVCODEC, VOID, void, av_packet_rescale_ts, (AVPacket *pkt, AVRational tb_src, AVRational tb_dst), (pkt, tb_src, tb_dst)) \
    X(AVCODEC, RELEASE, void, av_packet_unref, (AVPacket *pkt), (pkt)) \
    X(AVUTIL, VALUE, int, av_pix_fmt_count_planes, (enum AVPixelFormat pix_fmt), (pix_fmt)) \
    X(AVUTIL, VALUE, const AVPixFmtDescriptor *, av_pix_fmt_desc_get, (enum AVPixelFormat pix_fmt), (pix_fmt)) \
    X(AVFORMAT, VALUE, int, av_read_frame, (AVFormatContext *s, AVPacket *pkt), (s, pkt)) \
    X(AVUTIL, VALUE, int, av_strerror, (int errnum, char *errbuf, size_t errbuf_size), (errnum, errbuf, errbuf_size)) \
    X(AVFORMAT, VALUE, int, av_write_trailer, (AVFormatContext *s), (s)) \
    X(AVCODEC, VALUE, AVCodecContext *, avcodec_alloc_context3, (const AVCodec *codec), (codec)) \
    X(AVCODEC, VALUE, const AVCodec *, avcodec_find_decoder, (enum AVCodecID id), (id)) \
    X(AVCODEC, VALUE, const AVCodec *, avcodec_find_encoder, (enum AVCodecID id), (id)) \
    X(AVCODEC, VALUE, const AVCodec *, avcodec_find_encoder_by_name, (const char *name), (name)) \
    X(AVCODEC, VOID, void, avcodec_flush_buffers, (AVCodecContext *avctx), (avctx)) \
    X(AVCODEC, RELEASE, void, avcodec_free_context, (AVCodecContext **avctx), (avctx)) \
    X(AVCODEC, VALUE, const char *, avcodec_get_name, (enum AVCodecID id), (id)) \
    X(AVCODEC, VALUE, int, avcodec_open2, (AVCodecContext *avctx, const AVCodec *codec, AVDictionary **options), (avctx, codec, options)) \
    X(AVCODEC, VALUE, AVCodecParameters *, avcodec_parameters_alloc, (void), ()) \
    X(AVCODEC, VALUE, int, avcodec_parameters_copy, (AVCodecParameters *dst, const AVCodecParameters *src), (dst, src)) \
    X(AVCODEC, RELEASE, void, avcodec_parameters_free, (AVCodecParameters **par), (par)) \
    X(AVCODEC, VALUE, int, avcodec_parameters_from_context, (AVCodecParameters *par, const AVCodecContext *codec), (par, codec)) \
    X(AVCODEC, VALUE, int, avcodec_parameters_to_context, (AVCodecContext *codec, const AVCodecParameters *par), (codec, par)) \
    X(AVCODEC, VALUE, int, avcodec_receive_frame, (AVCodecContext *avctx, AVFrame *frame), (avctx, frame)) \
    X(AVCODEC, VALUE, int, avcodec_receive_packet, (AVCodecContext *avctx, AVPacket *avpkt), (avctx, avpkt)) \
    X(AVCODEC, VALUE, int, avcodec_send_frame, (AVCodecContext *avctx, const AVFrame *frame), (avctx, frame)) \
    X(AVCODEC, VALUE, int, avcodec_send_packet, (AVCodecContext *avctx, const AVPacket *avpkt), (avctx, avpkt)) \
    X(AVCODEC, VALUE, unsigned, avcodec_version, (void), ()) \
    X(AVFORMAT, VALUE, int, avformat_alloc_output_context2, (AVFormatContext **ctx, const AVOutputFormat *oformat, const char *format_name, const char *filename), (ctx, oformat, format_name, filename)) \
    X(AVFORMAT, RELEASE, void, avformat_close_input, (AVFormatContext **s), (s)) \
    X(AVFORMAT, VALUE, int, avformat_find_stream_info, (AVFormatContext *ic, AVDictionary **options), (ic, options)) \
    X(AVFORMAT, RELEASE, void, avformat_free_context, (AVFormatContext *s), (s)) \
    X(AVFORMAT, VALUE, AVStream *, avformat_new_stream, (AVFormatContext *s, const AVCodec *c), (s, c)) \
    X(AVFORMAT, VALUE, int, avformat_open_input, (AVFormatContext **ps, const char *url, const AVInputFormat *fmt, AVDictionary **options), (ps, url, fmt, options)) \
    X(AVFORMAT, VALUE, unsigned, avformat_version, (void), ()) \
    X(AVFORMAT, VALUE, int, avformat_write_header, (AVFormatContext *s, AVDictionary **options), (s, options)) \
    X(AVFORMAT, VALUE, int, avio_closep, (AVIOContext **s), (s)) \
    X(AVFORMAT, VALUE, int, avio_open, (AVIOContext **s, const char *url, int flags), (s, url, flags)) \
    X(AVUTIL, VALUE, unsigned, avutil_version, (void), ()) \
    X(SWSCALE, VALUE, struct SwsContext *, sws_alloc_context, (void), ()) \
    X(SWSCALE, RELEASE, void, sws_freeContext, (struct SwsContext *swsContext), (swsContext)) \
    X(SWSCALE, VALUE, const int *, sws_getCoefficients, (int colorspace), (colorspace)) \
    X(SWSCALE, VALUE, int, sws_getColorspaceDetails, (struct SwsContext *c, int **inv_table, int *srcRange, int **table, int *dstRange, int *brightness, int *contrast, int *saturation), (c, inv_table, srcRange, table, dstRange, brightness, contrast, saturation)) \
    X(SWSCALE, VALUE, struct SwsContext *, sws_getContext, (int srcW, int srcH, enum AVPixelFormat srcFormat, int dstW, int dstH, enum AVPixelFormat dstFormat, int flags, SwsFilter *srcFilter, SwsFilter *dstFilter, const double *param), (srcW, srcH, srcFormat, dstW, dstH, dstFormat, flags, srcFilter, dstFilter, param)) \
    X(SWSCALE, VALUE, int, sws_init_context, (struct SwsContext *sws_context, SwsFilter *srcFilter, SwsFilter *dstFilter), (sws_context, srcFilter, dstFilter)) \
    X(SWSCALE, VALUE, int, sws_scale, (struct SwsContext *c, const uint8_t *const srcSlice[], const int srcStride[], int srcSliceY, int srcSliceH, uint8_t *const dst[], const int dstStride[]), (c, srcSlice, srcStride, srcSliceY, srcSliceH, dst, dstStride)) \
    X(SWSCALE, VALUE, int, sws_setColorspaceDetails, (struct SwsContext *c, const int inv_table[4], int srcRange, const int table[4], int dstRange, int brightness, int contrast, int saturation), (c, inv_table, srcRange, table, dstRange, brightness, contrast, saturation)) \
    X(SWSCALE, VALUE, unsigned, swscale_version, (void), ())

enum { AVUTIL, SWSCALE, AVCODEC, AVFORMAT, LIBRARY_COUNT };

// Sonames from the headers Pleura was compiled against: a library with another major version has
// another ABI and must not be loaded in its place.
static const char *const soname[LIBRARY_COUNT] = {
    "libavutil.so." AV_STRINGIFY(LIBAVUTIL_VERSION_MAJOR),
    "libswscale.so." AV_STRINGIFY(LIBSWSCALE_VERSION_MAJOR),
    "libavcodec.so." AV_STRINGIFY(LIBAVCODEC_VERSION_MAJOR),
    "libavformat.so." AV_STRINGIFY(LIBAVFORMAT_VERSION_MAJOR),
};

#define DECLARE_POINTER(lib, kind, ret, name, params, args) static __typeof__(name) *pointer_##name;
PLEURA_FFMPEG_FUNCTIONS(DECLARE_POINTER)

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded;
static char load_error[600];

static void load_libraries(void) {
    void *handle[LIBRARY_COUNT];
    for (int i = 0; i < LIBRARY_COUNT; i++) {
        handle[i] = dlopen(soname[i], RTLD_NOW | RTLD_LOCAL);
        if (!handle[i]) {
            const char *why = dlerror();
            snprintf(load_error, sizeof load_error, "%s", why ? why : soname[i]);
            return;
        }
    }
#define RESOLVE(lib, kind, ret, name, params, args) \
    pointer_##name = (__typeof__(name) *)dlsym(handle[lib], #name); \
    if (!pointer_##name) { \
        snprintf(load_error, sizeof load_error, "%s has no function %s", soname[lib], #name); \
        return; \
    }
    PLEURA_FFMPEG_FUNCTIONS(RESOLVE)
    loaded = 1;
}

int pleura_ffmpeg_load(void) {
    pthread_once(&load_once, load_libraries);
    return loaded;
}

const char *pleura_ffmpeg_load_error(void) {
    pthread_once(&load_once, load_libraries);
    return loaded ? NULL : load_error;
}

// Reached only if Swift called FFmpeg without FFmpegSupport.load() first: a programming error.
static void require_loaded(void) {
    if (__builtin_expect(pleura_ffmpeg_load(), 1)) return;
    static const char prefix[] = "pleura: FFmpeg libraries cannot be loaded: ";
    (void)!write(STDERR_FILENO, prefix, sizeof prefix - 1);
    (void)!write(STDERR_FILENO, load_error, strlen(load_error));
    (void)!write(STDERR_FILENO, "\n", 1);
    abort();
}

// Hidden: these definitions serve Pleura's own calls only and must never interpose on the symbols
// FFmpeg's libraries resolve among themselves.
#define FORWARD_VALUE(ret, name, params, args) \
    __attribute__((visibility("hidden"))) ret name params { require_loaded(); return pointer_##name args; }
#define FORWARD_VOID(ret, name, params, args) \
    __attribute__((visibility("hidden"))) void name params { require_loaded(); pointer_##name args; }
#define FORWARD_RELEASE(ret, name, params, args) \
    __attribute__((visibility("hidden"))) void name params { if (pleura_ffmpeg_load()) pointer_##name args; }
#define FORWARD(lib, kind, ret, name, params, args) FORWARD_##kind(ret, name, params, args)
PLEURA_FFMPEG_FUNCTIONS(FORWARD)
