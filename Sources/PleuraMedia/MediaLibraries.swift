import CFFmpeg

/// Versions of the FFmpeg libraries Pleura runs with, for `pleura doctor` and bug reports.
public enum MediaLibraries {
    /// e.g. `["avformat": "59.27.100", ...]`. Loads the libraries (they are opened on first use);
    /// throws the one-line reason when they cannot be loaded.
    public static func versions() throws -> [String: String] {
        try FFmpegSupport.load(for: nil)
        func v(_ n: UInt32) -> String { "\(n >> 16).\((n >> 8) & 0xFF).\(n & 0xFF)" }
        return ["avformat": v(avformat_version()), "avcodec": v(avcodec_version()),
                "swscale": v(swscale_version()), "avutil": v(avutil_version())]
    }
}
