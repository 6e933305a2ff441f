import CFFmpeg
import PleuraCore

/// One FFmpeg decoder for one stream, fed packets by serial number.
///
/// Each packet's pts and dts are replaced by its serial before decoding, so every decoded frame
/// names the packet its picture came from (`frame.pts`), whatever the container's timestamps were
/// (missing in MPEG program streams, non-monotonic in some AVIs). That tag is how a frame decoded
/// after a seek is matched to its display index without trusting container timestamps.
final class VideoDecoder {
    private(set) var context: UnsafeMutablePointer<AVCodecContext>
    let frame: UnsafeMutablePointer<AVFrame>
    private let file: String
    /// True after the end-of-stream flush: the next packet needs a ``reset()`` first.
    private(set) var drained = false

    /// `threads`: 1 decodes with no extra latency (best for seeking and on a shared machine);
    /// more use slice threads (never frame threads, which delay output and raise seek cost).
    init(parameters: UnsafePointer<AVCodecParameters>, timeBase: AVRational, threads: Int, file: String) throws {
        self.file = file
        guard let codec = avcodec_find_decoder(parameters.pointee.codec_id) else {
            throw PleuraError(file: file, "no decoder for codec '\(String(cString: avcodec_get_name(parameters.pointee.codec_id)))' in this FFmpeg build")
        }
        guard let ctx = avcodec_alloc_context3(codec), let frame = av_frame_alloc() else {
            throw PleuraError(file: file, "out of memory")
        }
        var status = avcodec_parameters_to_context(ctx, parameters)
        ctx.pointee.pkt_timebase = timeBase
        ctx.pointee.thread_count = Int32(max(1, threads))
        ctx.pointee.thread_type = FF_THREAD_SLICE
        ctx.pointee.max_pixels = Int64(MediaLimits.maxPixels)
        if status >= 0 { status = avcodec_open2(ctx, codec, nil) }
        context = ctx
        self.frame = frame
        if status < 0 {
            throw PleuraError(file: file, "cannot open the \(String(cString: codec.pointee.name)) decoder (\(FFmpegSupport.describe(status)))")
        }
    }

    deinit {
        var f: UnsafeMutablePointer<AVFrame>? = frame
        av_frame_free(&f)
        var c: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&c)
    }

    /// Forgets all decoder state (reference frames, reorder buffer): the next packet starts afresh.
    func reset() {
        avcodec_flush_buffers(context)
        drained = false
        finished = false
    }

    /// Offers one packet, tagged with `serial`, to the decoder. Returns false when the decoder
    /// has output waiting and cannot take input yet: ``receive(_:)`` first, then offer it again.
    /// A damaged packet is accepted and skipped, as FFmpeg's command line does.
    func send(_ packet: UnsafeMutablePointer<AVPacket>, serial: Int) -> Bool {
        if drained { reset() }
        packet.pointee.pts = Int64(serial)
        packet.pointee.dts = Int64(serial)
        return avcodec_send_packet(context, packet) != pleura_averror_eagain()
    }

    /// Tells the decoder the stream ended, so it releases the frames it holds for reordering.
    func sendEndOfStream() {
        if !drained {
            avcodec_send_packet(context, nil)
            drained = true
        }
    }

    /// True once the decoder has delivered its last frame after ``sendEndOfStream()``.
    private(set) var finished = false

    /// Delivers the frames available now, in display order, to `onFrame` (which returns false to
    /// stop; the rest stay queued). Returns false when stopped by `onFrame`.
    func receive(_ onFrame: (UnsafeMutablePointer<AVFrame>) throws -> Bool) rethrows -> Bool {
        while true {
            let status = avcodec_receive_frame(context, frame)
            if status == pleura_averror_eof() { finished = true; return true }
            if status == pleura_averror_eagain() { return true }
            // A damaged picture: skip it, as ffmpeg does (the next call goes on with the stream).
            if status < 0 { if drained { finished = true }; return true }
            let keepGoing = try onFrame(frame)
            av_frame_unref(frame)
            if !keepGoing { return false }
        }
    }

    /// Decodes `packets` from the first to the last and then the end of stream, delivering
    /// every frame (used to build the frame index and for whole-file passes).
    func decodeAll(_ packets: [UnsafeMutablePointer<AVPacket>], onFrame: (UnsafeMutablePointer<AVFrame>) throws -> Void) throws {
        reset()
        for (serial, packet) in packets.enumerated() {
            while !send(packet, serial: serial) {
                _ = try receive { try onFrame($0); return true }
            }
            _ = try receive { try onFrame($0); return true }
        }
        sendEndOfStream()
        while !finished {
            _ = try receive { try onFrame($0); return true }
        }
    }

    /// Adler-32 over the visible bytes of every plane: a cheap fingerprint of a decoded picture,
    /// stored in the frame index so a frame decoded after a seek is checked against the one the
    /// full sequential decode produced.
    static func checksum(_ frame: UnsafeMutablePointer<AVFrame>) -> UInt32 {
        let format = AVPixelFormat(rawValue: frame.pointee.format)
        let width = frame.pointee.width, height = frame.pointee.height
        guard let desc = av_pix_fmt_desc_get(format) else { return 0 }
        var sum: AVAdler = 1
        withUnsafePointer(to: frame.pointee.data) { dataTuple in
            withUnsafePointer(to: frame.pointee.linesize) { lineTuple in
                dataTuple.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { data in
                    lineTuple.withMemoryRebound(to: Int32.self, capacity: 8) { lines in
                        let planes = Int(av_pix_fmt_count_planes(format))
                        for p in 0..<max(0, min(planes, 4)) {
                            guard let base = data[p] else { continue }
                            let rowBytes = Int(av_image_get_linesize(format, width, Int32(p)))
                            if rowBytes <= 0 { continue }
                            let chroma = p == 1 || p == 2
                            let rows = chroma ? Int(-((-height) >> Int32(desc.pointee.log2_chroma_h))) : Int(height)
                            for y in 0..<rows {
                                sum = av_adler32_update(sum, base + y * Int(lines[p]), rowBytes)
                            }
                        }
                    }
                }
            }
        }
        return sum
    }
}
