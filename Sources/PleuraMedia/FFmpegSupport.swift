import CFFmpeg
import PleuraCore

/// Small helpers shared by the FFmpeg-facing files of this module. Internal: nothing here leaves
/// PleuraMedia.
enum FFmpegSupport {
    /// FFmpeg's text for an error code (`av_strerror`), e.g. "Invalid data found when processing input".
    static func describe(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        if av_strerror(code, &buffer, buffer.count) < 0 { return "FFmpeg error \(code)" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Loads FFmpeg's libraries (dlopen, once per process; see Sources/CFFmpeg/include/shim.h)
    /// and silences its logging. Every entry point of this module calls it before its first FFmpeg
    /// call, so a missing or wrong FFmpeg is one clear error instead of a crash. `file` is the file
    /// the caller was about to read or write, for the message.
    static func load(for file: String?) throws {
        guard pleura_ffmpeg_load() != 0 else {
            let why = pleura_ffmpeg_load_error().map { String(cString: $0) } ?? "unknown reason"
            throw PleuraError(file: file, "FFmpeg's libraries cannot be loaded (\(why)); install them with: apt-get install libavformat59 libavcodec59 libswscale6 (make deps does it)")
        }
        _ = silenceLogging
    }

    /// FFmpeg logs to stderr by default, which would scribble over the TUI and duplicate the
    /// one-line errors Pleura prints itself; silence it once per process (PLEURA_FFMPEG_LOG=1
    /// restores FFmpeg's own messages when debugging a file).
    private static let silenceLogging: Void = {
        let env = getenv("PLEURA_FFMPEG_LOG").map { String(cString: $0) } ?? ""
        av_log_set_level(env.isEmpty || env == "0" ? AV_LOG_QUIET : AV_LOG_INFO)
    }()
}

/// The largest picture Pleura decodes: 8192 × 8192 = 64 Mpx (256 MiB as RGBA). Checked against the
/// container's header before any frame buffer is allocated, and passed to FFmpeg's decoders as
/// `max_pixels` so a lying header cannot get past it either.
public enum MediaLimits {
    public static let maxPixels = 8192 * 8192
    /// The compressed video stream of one file is held in memory for exact seeking; files whose
    /// stream is larger than this are refused with a clear message instead of exhausting memory.
    public static let maxStreamBytes = 1 << 30

    static func checkDimensions(width: Int, height: Int, file: String) throws {
        guard width > 0, height > 0 else {
            throw PleuraError(file: file, "the picture size is unknown (\(width)×\(height)): the file is damaged or not a picture")
        }
        if width * height > maxPixels {
            throw PleuraError(file: file, "picture is \(width)×\(height) (\(width * height / 1_000_000) Mpx), above Pleura's limit of 64 Mpx (8192×8192); scale it down first, e.g. with ffmpeg -vf scale")
        }
    }
}
