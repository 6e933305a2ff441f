import CFFmpeg
import Foundation
import PleuraCore

/// The compressed video stream of one file, read completely into memory by one demux pass.
///
/// Holding the packets (a clip's compressed stream is a few MB) rather than seeking in the
/// container is what makes seeking exact for every container: MP4, AVI with non-monotonic
/// timestamps, MPEG program streams and GIF all become "feed packets k… to the decoder", with no
/// demuxer seek heuristics involved. Packets are numbered 0… in file (decode) order; that number
/// (the *serial*) is what the frame index refers to.
final class DemuxedStream {
    /// Refcounted packets in decode order; freed with the stream.
    private(set) var packets: [UnsafeMutablePointer<AVPacket>] = []
    /// Decoder parameters of the stream (owned copy).
    let parameters: UnsafeMutablePointer<AVCodecParameters>
    let timeBase: AVRational
    let kind: String
    let codecName: String
    let fps: Double
    let width: Int
    let height: Int
    /// Frames the container declares (0 when unknown), to notice truncated files.
    let declaredFrames: Int
    /// Set when reading stopped on an error rather than at the end of the file.
    private(set) var readError: String?
    private(set) var streamBytes = 0

    /// Demuxers Pleura accepts. FFmpeg reads many more formats (a `.txt` file opens as "tty" ANSI
    /// art, raw streams guess freely); limiting them keeps "not a video" an error instead of a
    /// one-frame picture of text.
    static let acceptedFormats: Set<String> = [
        "mov", "mp4", "m4a", "3gp", "3g2", "mj2", "avi", "mpeg", "mpegts", "matroska", "webm", "asf",
        "gif", "image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "tiff_pipe", "webp_pipe", "dicom", "apng",
    ]
    static let imageFormats: Set<String> = ["image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "tiff_pipe", "webp_pipe"]

    /// Opens `path` and reads its video packets into memory.
    init(path: String) throws {
        try FFmpegSupport.load(for: path)
        try Self.checkReadableRegularFile(path)
        try ImageHeader.check(path: path)

        var format: UnsafeMutablePointer<AVFormatContext>?
        let openStatus = FileName.withCString(path) { avformat_open_input(&format, $0, nil, nil) }
        guard openStatus >= 0, let format else {
            if openStatus == pleura_averror_invaliddata() && Self.startsLikeMP4(path) {
                throw PleuraError(file: path, "an MP4/MOV file whose index (moov atom) is missing or damaged: the file is incomplete — a truncated copy or an unfinished recording; copy it again from the source")
            }
            throw PleuraError(file: path, "not a video or image file Pleura can read (\(FFmpegSupport.describe(openStatus)))")
        }
        var fmt: UnsafeMutablePointer<AVFormatContext>? = format
        defer { avformat_close_input(&fmt) }

        let formatNames = String(cString: format.pointee.iformat.pointee.name)
        let names = Set(formatNames.split(separator: ",").map(String.init))
        guard !names.isDisjoint(with: Self.acceptedFormats) else {
            let long = format.pointee.iformat.pointee.long_name.map { String(cString: $0) } ?? formatNames
            throw PleuraError(file: path, "not a video or image file (FFmpeg reads it as '\(long)', which Pleura does not open)")
        }

        // Pass max_pixels to the decoders avformat_find_stream_info opens, so a huge picture
        // is refused before its frame buffer is allocated.
        let streamCount = Int(format.pointee.nb_streams)
        var options = [OpaquePointer?](repeating: nil, count: max(streamCount, 1))
        for i in 0..<streamCount { av_dict_set(&options[i], "max_pixels", String(MediaLimits.maxPixels), 0) }
        let infoStatus = options.withUnsafeMutableBufferPointer { avformat_find_stream_info(format, $0.baseAddress) }
        for i in 0..<options.count { av_dict_free(&options[i]) }

        var decoder: UnsafePointer<AVCodec>?
        let streamIndex = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0)
        if streamIndex < 0 {
            if infoStatus < 0 {
                throw PleuraError(file: path, "not a video or image file Pleura can read (\(FFmpegSupport.describe(infoStatus)))")
            }
            throw PleuraError(file: path, streamIndex == pleura_averror_decoder_not_found()
                              ? "no decoder for its video codec in this FFmpeg build (or its header is damaged)"
                              : "has no video stream (audio or data only)")
        }
        let stream = format.pointee.streams[Int(streamIndex)]!
        let par = stream.pointee.codecpar!
        width = Int(par.pointee.width)
        height = Int(par.pointee.height)
        try MediaLimits.checkDimensions(width: width, height: height, file: path)

        codecName = String(cString: avcodec_get_name(par.pointee.codec_id))
        kind = names.isDisjoint(with: Self.imageFormats) ? "video" : "image"
        timeBase = stream.pointee.time_base
        func rate(_ r: AVRational) -> Double? { r.num > 0 && r.den > 0 ? Double(r.num) / Double(r.den) : nil }
        fps = rate(stream.pointee.avg_frame_rate) ?? rate(stream.pointee.r_frame_rate) ?? 0
        declaredFrames = Int(stream.pointee.nb_frames)
        guard let copy = avcodec_parameters_alloc() else { throw PleuraError(file: path, "out of memory") }
        avcodec_parameters_copy(copy, par)
        parameters = copy

        // Only the chosen stream is demuxed into packets; the others are discarded by the demuxer.
        for i in 0..<streamCount where i != Int(streamIndex) { format.pointee.streams[i]!.pointee.discard = AVDISCARD_ALL }
        while true {
            guard let packet = av_packet_alloc() else { throw PleuraError(file: path, "out of memory") }
            let status = av_read_frame(format, packet)
            if status < 0 {
                var p: UnsafeMutablePointer<AVPacket>? = packet
                av_packet_free(&p)
                if status != pleura_averror_eof() { readError = FFmpegSupport.describe(status) }
                break
            }
            if packet.pointee.stream_index != streamIndex {
                var p: UnsafeMutablePointer<AVPacket>? = packet
                av_packet_free(&p)
                continue
            }
            streamBytes += Int(packet.pointee.size)
            packets.append(packet)
            if streamBytes > MediaLimits.maxStreamBytes {
                throw PleuraError(file: path, "video stream is larger than \(MediaLimits.maxStreamBytes >> 20) MiB; Pleura holds a clip's compressed stream in memory for exact seeking — cut the clip into shorter parts")
            }
        }
        if packets.isEmpty {
            throw PleuraError(file: path, "contains no video data" + (readError.map { " (\($0))" } ?? ""))
        }
    }

    deinit {
        for packet in packets {
            var p: UnsafeMutablePointer<AVPacket>? = packet
            av_packet_free(&p)
        }
        var par: UnsafeMutablePointer<AVCodecParameters>? = parameters
        avcodec_parameters_free(&par)
    }

    /// True when the file begins with an ISO media `ftyp` box (MP4, MOV, 3GP).
    static func startsLikeMP4(_ path: String) -> Bool {
        guard let head = FileName.readPrefix(path, count: 12) else { return false }
        return head.count == 12 && Array(head[4..<8]) == Array("ftyp".utf8)
    }

    /// Clear messages for the cases FFmpeg would describe confusingly (a directory, an empty file).
    static func checkReadableRegularFile(_ path: String) throws {
        guard let st = FileName.status(path) else {
            throw PleuraError(file: path, errno == ENOENT ? "no such file" : "cannot open (\(String(cString: strerror(errno))))")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw PleuraError(file: path, "is a directory, not a video or image file") }
        if (st.st_mode & S_IFMT) != S_IFREG { throw PleuraError(file: path, "is not a regular file") }
        if st.st_size == 0 { throw PleuraError(file: path, "is empty (0 bytes)") }
        if FileName.withCString(path, { access($0, R_OK) }) != 0 {
            throw PleuraError(file: path, "cannot read the file (\(String(cString: strerror(errno)))); check its permissions")
        }
    }
}
