import CFFmpeg
import PleuraCore

/// Converts decoded frames to ``PixelImage`` with swscale, set up the way FFmpeg's command line
/// sets up its automatically inserted scale filter (libavfilter's vf_scale, FFmpeg 5.1): bicubic
/// flags (the CLI's `sws_flags` default), MPEG-2 chroma siting for yuv420p input, and the frame's
/// own colour matrix and range. That is why `pleura frame` matches
/// `ffmpeg -vf select=eq(n\,N) -pix_fmt rgb24` pixel for pixel.
final class PixelConverter {
    private struct Setup: Equatable {
        var width: Int32, height: Int32, source: Int32, target: Int32
    }
    private var sws: OpaquePointer?
    private var setup: Setup?
    /// Aligned, padded target frame, as libavfilter's frame pool provides: swscale's SIMD paths
    /// are chosen for aligned rows, so converting into it keeps the result identical to ffmpeg's.
    private var target: UnsafeMutablePointer<AVFrame>?
    /// (colour space, range) last given to swscale; its tables are rebuilt only when they change.
    private var colourDetails: (Int32, Int32)?

    deinit {
        sws_freeContext(sws)
        av_frame_free(&target)
    }

    func convert(_ frame: UnsafeMutablePointer<AVFrame>, to format: PixelImage.Format, file: String) throws -> PixelImage {
        let width = frame.pointee.width, height = frame.pointee.height
        let targetFormat = format == .rgb24 ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_GRAY8
        let wanted = Setup(width: width, height: height, source: frame.pointee.format, target: targetFormat.rawValue)
        if wanted != setup {
            try configure(wanted, file: file)
        }
        guard let sws, let target else { throw PleuraError(file: file, "cannot convert the picture") }
        applyColourDetails(of: frame)

        let status = withUnsafePointer(to: frame.pointee.data) { src in
            withUnsafePointer(to: frame.pointee.linesize) { srcStride in
                withUnsafePointer(to: target.pointee.data) { dst in
                    withUnsafePointer(to: target.pointee.linesize) { dstStride in
                        src.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { s in
                            srcStride.withMemoryRebound(to: Int32.self, capacity: 8) { ss in
                                dst.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { d in
                                    dstStride.withMemoryRebound(to: Int32.self, capacity: 8) { ds in
                                        sws_scale(sws, s, ss, 0, height, d, ds)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if status < 0 { throw PleuraError(file: file, "cannot convert the picture (\(FFmpegSupport.describe(status)))") }

        let rowBytes = Int(width) * format.channels
        let rows = Int(height)
        let stride = Int(target.pointee.linesize.0)
        let base = target.pointee.data.0!
        let pixels = [UInt8](unsafeUninitializedCapacity: rowBytes * rows) { buffer, count in
            for y in 0..<rows {
                (buffer.baseAddress! + y * rowBytes).update(from: base + y * stride, count: rowBytes)
            }
            count = rowBytes * rows
        }
        return PixelImage(width: Int(width), height: Int(height), format: format, pixels: pixels)
    }

    private func configure(_ s: Setup, file: String) throws {
        sws_freeContext(sws); sws = nil
        av_frame_free(&target)
        guard let ctx = sws_alloc_context(), let frame = av_frame_alloc() else {
            throw PleuraError(file: file, "out of memory")
        }
        let raw = UnsafeMutableRawPointer(ctx)
        av_opt_set_int(raw, "srcw", Int64(s.width), 0)
        av_opt_set_int(raw, "srch", Int64(s.height), 0)
        av_opt_set_int(raw, "src_format", Int64(s.source), 0)
        av_opt_set_int(raw, "dstw", Int64(s.width), 0)
        av_opt_set_int(raw, "dsth", Int64(s.height), 0)
        av_opt_set_int(raw, "dst_format", Int64(s.target), 0)
        av_opt_set_int(raw, "sws_flags", Int64(SWS_BICUBIC), 0)
        // vf_scale's chroma-position defaults: -513 means "unset", except that yuv420p input
        // is sited the MPEG-2 way (vertical 128/256).
        let sourceIs420 = s.source == AV_PIX_FMT_YUV420P.rawValue
        av_opt_set_int(raw, "src_h_chr_pos", -513, 0)
        av_opt_set_int(raw, "src_v_chr_pos", sourceIs420 ? 128 : -513, 0)
        av_opt_set_int(raw, "dst_h_chr_pos", -513, 0)
        av_opt_set_int(raw, "dst_v_chr_pos", -513, 0)
        let status = sws_init_context(ctx, nil, nil)
        if status < 0 {
            sws_freeContext(ctx)
            var f: UnsafeMutablePointer<AVFrame>? = frame
            av_frame_free(&f)
            let name = av_get_pix_fmt_name(AVPixelFormat(rawValue: s.source)).map { String(cString: $0) } ?? "?"
            throw PleuraError(file: file, "cannot convert pictures in pixel format \(name) (\(FFmpegSupport.describe(status)))")
        }
        frame.pointee.width = s.width
        frame.pointee.height = s.height
        frame.pointee.format = s.target
        if av_frame_get_buffer(frame, 0) < 0 {
            sws_freeContext(ctx)
            var f: UnsafeMutablePointer<AVFrame>? = frame
            av_frame_free(&f)
            throw PleuraError(file: file, "out of memory")
        }
        sws = ctx
        target = frame
        setup = s
        colourDetails = nil
    }

    /// vf_scale (FFmpeg 5.1): when the frame states its range, use the frame's colour matrix
    /// (in_color_matrix "auto") and range for the input side; otherwise keep swscale's defaults.
    private func applyColourDetails(of frame: UnsafeMutablePointer<AVFrame>) {
        guard frame.pointee.color_range != AVCOL_RANGE_UNSPECIFIED else { return }
        let details = (Int32(frame.pointee.colorspace.rawValue), Int32(frame.pointee.color_range.rawValue))
        if let colourDetails, colourDetails == details { return }
        colourDetails = details
        var invTable: UnsafeMutablePointer<Int32>?
        var table: UnsafeMutablePointer<Int32>?
        var srcRange: Int32 = 0, dstRange: Int32 = 0, brightness: Int32 = 0, contrast: Int32 = 0, saturation: Int32 = 0
        guard sws_getColorspaceDetails(sws, &invTable, &srcRange, &table, &dstRange, &brightness, &contrast, &saturation) >= 0 else { return }
        var space = Int32(frame.pointee.colorspace.rawValue)
        if space < 1 || space > 10 || space == 8 { space = Int32(AVCOL_SPC_BT470BG.rawValue) }
        let coefficients = sws_getCoefficients(space)
        let inFull: Int32 = frame.pointee.color_range == AVCOL_RANGE_JPEG ? 1 : 0
        sws_setColorspaceDetails(sws, coefficients, inFull, coefficients, dstRange, brightness, contrast, saturation)
    }
}
