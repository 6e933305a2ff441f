import CFFmpeg
import Foundation
import PleuraCore

/// Writes frames to an H.264 MP4 file (libx264 through libavcodec, 4:2:0, BT.601 limited range).
///
/// The output is reproducible: the same frames give the same bytes on every run. That is why the
/// encoder runs on one thread (x264's frame and lookahead threads decide differently depending on
/// timing) and both the codec and the muxer are in bit-exact mode (no library version string, no
/// creation time). The phantom relies on this for "same seed, same bytes".
///
/// ```swift
/// let encoder = try VideoEncoder(path: "clip.mp4", width: 480, height: 384, fps: 20)
/// for frame in frames { try encoder.append(frame) }   // gray8 or rgb24, 480×384
/// try encoder.finish()
/// ```
///
/// x264's AVX-512 code is not used: on this project's machine (AMD EPYC, Zen 4) it made a clip
/// encoded while other threads of the same process worked come out a few bytes apart now and then
/// (4 concurrent encodes of one clip: 2–4 different files in 16, with identical input frames, even
/// with the encoders run one at a time), while with x264 limited to AVX2 every file is identical
/// (tested: `PhantomTests`). Separate processes were always identical.
///
/// Until ``finish()`` returns the file is incomplete; an encoder dropped without finishing releases
/// its resources and leaves the partial file for the caller to remove.
public final class VideoEncoder {
    /// Where the MP4 goes.
    public let path: String
    public let width: Int
    public let height: Int
    public let fps: Int
    /// Frames appended so far.
    public private(set) var frameCount = 0

    /// x264's speed/size trade-off. "veryfast" keeps a 480×384 speckle clip well under a second
    /// while the quality below keeps the speckle grain visible.
    private static let preset = "veryfast"
    /// Constant rate factor: 23 is x264's default; speckle is all high frequency, and a lower
    /// value mainly buys file size, not visible detail.
    private static let crf = "23"

    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var stream: UnsafeMutablePointer<AVStream>?
    private var picture: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var scaler: OpaquePointer?
    /// An RGB frame's pixels, copied into rows padded to 64 bytes with zeroed slack: swscale's
    /// SIMD reads past the end of a row, and past a Swift array's end is whatever the heap holds.
    private var source: UnsafeMutablePointer<UInt8>?
    private var sourceStride = 0
    private var fileOpen = false
    private var finished = false

    /// Opens `path` for writing (replacing any file there) and sets up the encoder.
    /// - Throws: ``PleuraError`` naming `path` when the size is not usable for 4:2:0 H.264, libx264
    ///   is missing, or the file cannot be created.
    public init(path: String, width: Int, height: Int, fps: Int) throws {
        self.path = path
        self.width = width
        self.height = height
        self.fps = fps
        guard width > 0, height > 0, width % 2 == 0, height % 2 == 0, width <= 8192, height <= 8192 else {
            throw PleuraError(file: path, "cannot encode \(width)×\(height): H.264 4:2:0 needs an even width and height between 2 and 8192")
        }
        guard (1...240).contains(fps) else {
            throw PleuraError(file: path, "cannot encode at \(fps) frames per second: use 1 to 240")
        }
        do {
            try open()
        } catch {
            release()
            throw error
        }
    }

    deinit { release() }

    private func fail(_ what: String, _ code: Int32) -> PleuraError {
        PleuraError(file: path, "\(what): \(FFmpegSupport.describe(code))")
    }

    private func open() throws {
        // libx264 prints its statistics straight to stderr; Pleura reports failures itself.
        try FFmpegSupport.load(for: path)
        guard let encoder = avcodec_find_encoder_by_name("libx264") else {
            throw PleuraError(file: path, "this FFmpeg has no libx264 encoder; install Debian's libavcodec59 (built with libx264)")
        }
        var formatContext: UnsafeMutablePointer<AVFormatContext>?
        var rc = avformat_alloc_output_context2(&formatContext, nil, "mp4", path)
        guard rc >= 0, let formatContext else { throw fail("cannot set up the MP4 writer", rc) }
        format = formatContext
        formatContext.pointee.flags |= AVFMT_FLAG_BITEXACT

        guard let context = avcodec_alloc_context3(encoder) else { throw PleuraError(file: path, "out of memory setting up the H.264 encoder") }
        codec = context
        context.pointee.width = Int32(width)
        context.pointee.height = Int32(height)
        context.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        context.pointee.time_base = AVRational(num: 1, den: Int32(fps))
        context.pointee.framerate = AVRational(num: Int32(fps), den: 1)
        context.pointee.sample_aspect_ratio = AVRational(num: 1, den: 1)
        // A keyframe every 2 s: frame-exact seeking never decodes more than 2 s of video.
        context.pointee.gop_size = Int32(2 * fps)
        context.pointee.thread_count = 1
        context.pointee.flags |= AV_CODEC_FLAG_BITEXACT
        context.pointee.color_range = AVCOL_RANGE_MPEG
        context.pointee.colorspace = AVCOL_SPC_SMPTE170M
        context.pointee.color_primaries = AVCOL_PRI_SMPTE170M
        context.pointee.color_trc = AVCOL_TRC_SMPTE170M
        if formatContext.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 {
            context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        av_opt_set(context.pointee.priv_data, "preset", Self.preset, 0)
        av_opt_set(context.pointee.priv_data, "crf", Self.crf, 0)
        av_opt_set(context.pointee.priv_data, "x264-params", Self.x264Params, 0)
        rc = avcodec_open2(context, encoder, nil)
        guard rc >= 0 else { throw fail("libx264 refused the settings", rc) }

        guard let newStream = avformat_new_stream(formatContext, nil) else { throw PleuraError(file: path, "out of memory adding the video stream") }
        stream = newStream
        newStream.pointee.time_base = context.pointee.time_base
        newStream.pointee.avg_frame_rate = context.pointee.framerate
        rc = avcodec_parameters_from_context(newStream.pointee.codecpar, context)
        guard rc >= 0 else { throw fail("cannot describe the video stream", rc) }

        rc = avio_open(&formatContext.pointee.pb, path, AVIO_FLAG_WRITE)
        guard rc >= 0 else { throw fail("cannot create the file", rc) }
        fileOpen = true
        // faststart puts the index (moov) before the data, so players and the decoder start
        // without seeking to the end of the file.
        var options: OpaquePointer?
        av_dict_set(&options, "movflags", "+faststart", 0)
        rc = avformat_write_header(formatContext, &options)
        av_dict_free(&options)
        guard rc >= 0 else { throw fail("cannot write the MP4 header", rc) }

        guard let frame = av_frame_alloc(), let pkt = av_packet_alloc() else { throw PleuraError(file: path, "out of memory allocating frame buffers") }
        picture = frame
        packet = pkt
        frame.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        frame.pointee.width = Int32(width)
        frame.pointee.height = Int32(height)
        frame.pointee.color_range = AVCOL_RANGE_MPEG
        frame.pointee.colorspace = AVCOL_SPC_SMPTE170M
        rc = av_frame_get_buffer(frame, 0)
        guard rc >= 0 else { throw fail("cannot allocate a frame", rc) }
        // The rows' alignment padding is never written by the colour conversion: zero it once so
        // nothing uninitialised can reach the encoder and make two runs differ.
        withUnsafePointer(to: &frame.pointee.buf) { tuple in
            tuple.withMemoryRebound(to: UnsafeMutablePointer<AVBufferRef>?.self, capacity: 8) { buffers in
                for i in 0..<8 {
                    if let b = buffers[i] { memset(b.pointee.data, 0, Int(b.pointee.size)) }
                }
            }
        }
    }

    /// One thread everywhere in x264, including the lookahead, so no decision depends on timing;
    /// and no AVX-512 (see above): x264 gets the AVX2 instruction set instead, which every
    /// AVX-512 CPU has. Other CPUs keep x264's own detection.
    static let x264Params: String = {
        let base = "threads=1:lookahead-threads=1:sliced-threads=0:sync-lookahead=0:deterministic=1"
        return av_get_cpu_flags() & AV_CPU_FLAG_AVX512 != 0 ? base + ":asm=AVX2" : base
    }()

    /// Encodes one frame (gray8 or rgb24, exactly `width`×`height`). Frames are shown at the
    /// encoder's frame rate in the order they are appended.
    public func append(_ image: PixelImage) throws {
        guard !finished else { throw PleuraError(file: path, "cannot add a frame: the video is already finished") }
        guard image.width == width, image.height == height else {
            throw PleuraError(file: path, "frame \(frameCount) is \(image.width)×\(image.height), the video is \(width)×\(height)")
        }
        guard let codec, let picture else { throw PleuraError(file: path, "the encoder is closed") }
        var rc = av_frame_make_writable(picture)
        guard rc >= 0 else { throw fail("cannot reuse the frame buffer", rc) }
        if image.format == .gray8 {
            writeGray(image, into: picture)
        } else {
            rc = try convertRGB(image, into: picture)
            guard rc == Int32(height) else { throw PleuraError(file: path, "colour conversion of frame \(frameCount) failed") }
        }
        picture.pointee.pts = Int64(frameCount)
        rc = avcodec_send_frame(codec, picture)
        guard rc >= 0 else { throw fail("cannot encode frame \(frameCount)", rc) }
        frameCount += 1
        try drainPackets()
    }

    /// Full-range grey 0–255 to limited-range luma 16–235 (BT.601), rounded.
    private static let limitedRangeLuma: [UInt8] = (0..<256).map { UInt8(16 + (219 * $0 + 127) / 255) }

    /// Grey frames are written straight into the YUV planes: luma through the table above, both
    /// chroma planes neutral (128), every byte of every row including the alignment padding.
    /// Nothing the encoder reads is left to chance, which keeps its output byte-identical from
    /// run to run (a generic colour conversion reads past row ends, into whatever memory holds).
    private func writeGray(_ image: PixelImage, into frame: UnsafeMutablePointer<AVFrame>) {
        withUnsafePointer(to: &frame.pointee.data) { dataTuple in
            dataTuple.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { planes in
                withUnsafePointer(to: &frame.pointee.linesize) { strideTuple in
                    strideTuple.withMemoryRebound(to: Int32.self, capacity: 8) { strides in
                        let luma = planes[0]!, lumaStride = Int(strides[0])
                        Self.limitedRangeLuma.withUnsafeBufferPointer { table in
                            image.pixels.withUnsafeBufferPointer { pixels in
                                for y in 0..<height {
                                    let row = luma + y * lumaStride
                                    let input = pixels.baseAddress! + y * width
                                    for x in 0..<width { row[x] = table[Int(input[x])] }
                                    if lumaStride > width { memset(row + width, 16, lumaStride - width) }
                                }
                            }
                        }
                        for plane in 1...2 {
                            memset(planes[plane]!, 128, Int(strides[plane]) * (height / 2))
                        }
                    }
                }
            }
        }
    }

    /// RGB frames go through swscale (BT.601, full-range RGB to limited-range YUV 4:2:0), from a
    /// copy with zeroed padding after every row.
    private func convertRGB(_ image: PixelImage, into picture: UnsafeMutablePointer<AVFrame>) throws -> Int32 {
        if scaler == nil {
            // Bit-exact, accurately rounded conversion: the same pixels always give the same YUV.
            let flags = SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT
            scaler = sws_getContext(Int32(width), Int32(height), AV_PIX_FMT_RGB24, Int32(width), Int32(height),
                                    AV_PIX_FMT_YUV420P, Int32(flags), nil, nil, nil)
            guard scaler != nil else { throw PleuraError(file: path, "cannot set up the colour conversion to YUV 4:2:0") }
            let coefficients = sws_getCoefficients(SWS_CS_ITU601)
            _ = sws_setColorspaceDetails(scaler, coefficients, 1, coefficients, 0, 0, 1 << 16, 1 << 16)
        }
        let rowBytes = width * 3
        if source == nil {
            sourceStride = (rowBytes + 63) / 64 * 64
            guard let buffer = calloc(sourceStride * (height + 2), 1) else { throw PleuraError(file: path, "out of memory for frame \(frameCount)") }
            source = buffer.assumingMemoryBound(to: UInt8.self)
        }
        guard let source else { throw PleuraError(file: path, "out of memory for frame \(frameCount)") }
        image.pixels.withUnsafeBufferPointer { pixels in
            for y in 0..<height {
                memcpy(source + y * sourceStride, pixels.baseAddress! + y * rowBytes, rowBytes)
            }
        }
        var sourcePlanes: [UnsafePointer<UInt8>?] = [UnsafePointer(source), nil, nil, nil]
        var sourceStrides: [Int32] = [Int32(sourceStride), 0, 0, 0]
        return withUnsafeMutablePointer(to: &picture.pointee.data) { dataTuple in
            dataTuple.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { planes in
                withUnsafeMutablePointer(to: &picture.pointee.linesize) { strideTuple in
                    strideTuple.withMemoryRebound(to: Int32.self, capacity: 8) { strides in
                        sws_scale(scaler, &sourcePlanes, &sourceStrides, 0, Int32(height), planes, strides)
                    }
                }
            }
        }
    }

    /// Flushes the encoder, writes the MP4 index and closes the file. Call once, after the last
    /// frame; a video needs at least one frame.
    public func finish() throws {
        guard !finished else { return }
        guard frameCount > 0 else { throw PleuraError(file: path, "cannot finish a video with no frames") }
        guard let codec, let format else { throw PleuraError(file: path, "the encoder is closed") }
        var rc = avcodec_send_frame(codec, nil)
        guard rc >= 0 else { throw fail("cannot flush the encoder", rc) }
        try drainPackets()
        rc = av_write_trailer(format)
        guard rc >= 0 else { throw fail("cannot write the MP4 index", rc) }
        finished = true
        rc = avio_closep(&format.pointee.pb)
        fileOpen = false
        guard rc >= 0 else { throw fail("cannot close the file", rc) }
        release()
    }

    /// Moves every packet the encoder has ready into the file.
    private func drainPackets() throws {
        guard let codec, let packet, let format, let stream else { return }
        while true {
            var rc = avcodec_receive_packet(codec, packet)
            if rc == pleura_averror_eagain() || rc == pleura_averror_eof() { return }
            guard rc >= 0 else { throw fail("encoding failed", rc) }
            av_packet_rescale_ts(packet, codec.pointee.time_base, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            rc = av_interleaved_write_frame(format, packet)
            guard rc >= 0 else { throw fail("cannot write to the file", rc) }
        }
    }

    private func release() {
        sws_freeContext(scaler)
        scaler = nil
        free(source)
        source = nil
        if picture != nil { av_frame_free(&picture) }
        if packet != nil { av_packet_free(&packet) }
        if codec != nil { avcodec_free_context(&codec) }
        if let format {
            if fileOpen { avio_closep(&format.pointee.pb); fileOpen = false }
            avformat_free_context(format)
            self.format = nil
        }
        stream = nil
    }
}
