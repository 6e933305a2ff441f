import CFFmpeg
import Foundation
import PleuraCore

/// Writing pictures to image files, with libavcodec's PNG encoder (so no second image library is
/// needed). Reading PNG and JPEG files is ``MediaReader`` on the file: a still image is
/// one-frame media.
///
/// ```swift
/// try ImageFile.writePNG(try MediaReader(path: "clip.mp4").frame(7), to: "frame7.png")
/// ```
public enum ImageFile {
    /// Encodes `image` (gray8 → 8-bit grey PNG, rgb24 → 24-bit RGB PNG) and writes it to `path`
    /// atomically. Throws ``PleuraError`` naming `path` when it cannot be written.
    public static func writePNG(_ image: PixelImage, to path: String) throws {
        let data = try encodePNG(image, file: path)
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw PleuraError(file: path, "cannot write the PNG file (\((error as NSError).localizedDescription)); check the folder exists and is writable")
        }
    }

    /// The PNG file's bytes for `image`.
    public static func encodePNG(_ image: PixelImage, file: String = "PNG") throws -> Data {
        try FFmpegSupport.load(for: file)
        guard image.width > 0, image.height > 0 else { throw PleuraError(file: file, "cannot write an empty (0×0) picture") }
        guard let codec = avcodec_find_encoder(AV_CODEC_ID_PNG) else {
            throw PleuraError(file: file, "this FFmpeg build has no PNG encoder")
        }
        guard let ctx = avcodec_alloc_context3(codec) else { throw PleuraError(file: file, "out of memory") }
        var context: UnsafeMutablePointer<AVCodecContext>? = ctx
        defer { avcodec_free_context(&context) }
        let pixelFormat = image.format == .rgb24 ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_GRAY8
        ctx.pointee.width = Int32(image.width)
        ctx.pointee.height = Int32(image.height)
        ctx.pointee.pix_fmt = pixelFormat
        ctx.pointee.time_base = AVRational(num: 1, den: 25)
        var status = avcodec_open2(ctx, codec, nil)
        guard status >= 0 else { throw PleuraError(file: file, "cannot start the PNG encoder (\(FFmpegSupport.describe(status)))") }

        guard let frame = av_frame_alloc() else { throw PleuraError(file: file, "out of memory") }
        var framePointer: UnsafeMutablePointer<AVFrame>? = frame
        defer { av_frame_free(&framePointer) }
        frame.pointee.width = ctx.pointee.width
        frame.pointee.height = ctx.pointee.height
        frame.pointee.format = pixelFormat.rawValue
        status = av_frame_get_buffer(frame, 0)
        guard status >= 0 else { throw PleuraError(file: file, "out of memory") }
        let rowBytes = image.width * image.channels
        let stride = Int(frame.pointee.linesize.0)
        image.pixels.withUnsafeBufferPointer { src in
            let dst = frame.pointee.data.0!
            for y in 0..<image.height {
                (dst + y * stride).update(from: src.baseAddress! + y * rowBytes, count: rowBytes)
            }
        }

        guard let packet = av_packet_alloc() else { throw PleuraError(file: file, "out of memory") }
        var packetPointer: UnsafeMutablePointer<AVPacket>? = packet
        defer { av_packet_free(&packetPointer) }
        var out = Data()
        for input in [frame, nil] as [UnsafeMutablePointer<AVFrame>?] {
            status = avcodec_send_frame(ctx, input)
            guard status >= 0 else { throw PleuraError(file: file, "PNG encoding failed (\(FFmpegSupport.describe(status)))") }
            while avcodec_receive_packet(ctx, packet) >= 0 {
                out.append(packet.pointee.data, count: Int(packet.pointee.size))
                av_packet_unref(packet)
            }
        }
        guard !out.isEmpty else { throw PleuraError(file: file, "PNG encoding produced no data") }
        return out
    }
}
