import CFFmpeg
import Foundation
import PleuraCore

/// Everything learnt about a file by decoding it once from start to end: how many frames FFmpeg
/// decodes, which packet each frame (in display order) came from, where a decode must start to
/// reach each frame, and a fingerprint of each decoded picture.
///
/// Built once per file content and cached on disk as JSON under
/// `AppPaths.cacheSubdirectory("index")/<sha256>.json`; the key is the content hash, so a renamed
/// or moved file reuses its index and a changed file gets a new one. An index written with another
/// libavcodec version (major.minor.micro: any decoder change may alter frames) is rebuilt.
struct FrameIndex: Codable, Equatable {
    /// 2: `keyPackets` (never read: seeks use `seekStarts`) dropped; older indexes are rebuilt.
    static let currentVersion = 2

    var version: Int
    /// `libavcodec` version that produced it.
    var avcodec: String
    var sha256: String
    var kind: String
    var codec: String
    var width: Int
    var height: Int
    var fps: Double
    var packetCount: Int
    /// For frame N (display order): the serial of the packet its picture was coded in.
    var frameSources: [Int]
    /// For frame N: the packet serial a decode starts from to reach it (a keyframe, or 0).
    var seekStarts: [Int]
    /// For frame N: Adler-32 of the decoded picture's planes (see ``VideoDecoder/checksum(_:)``).
    var checksums: [UInt32]
    /// True when every decoded frame carried its packet's serial, so frames decoded after a seek
    /// can be told apart by it. When false, every decode starts from the first packet.
    var tagged: Bool
    /// Things a user should know (truncated file, damaged packets), one line each.
    var warnings: [String]

    var frames: Int { frameSources.count }

    func info(path: String) -> MediaInfo {
        MediaInfo(path: path, kind: kind, codec: codec, width: width, height: height, fps: fps,
                  frames: frames, sha256: sha256)
    }

    static var avcodecVersion: String {
        let v = avcodec_version()
        return "\(v >> 16).\((v >> 8) & 0xFF).\(v & 0xFF)"
    }

    // MARK: Building

    /// Decodes every packet of `stream` once with `decoder` (left drained afterwards).
    static func build(stream: DemuxedStream, decoder: VideoDecoder, sha256: String, file: String) throws -> FrameIndex {
        var sources: [Int] = []
        var checksums: [UInt32] = []
        var untagged = false
        try decoder.decodeAll(stream.packets) { frame in
            let pts = frame.pointee.pts
            if pts == pleura_av_nopts_value() || pts < 0 || pts >= Int64(stream.packets.count) { untagged = true }
            sources.append(Int(pts))
            checksums.append(VideoDecoder.checksum(frame))
        }
        if sources.isEmpty {
            throw PleuraError(file: file, "no frame of its \(stream.codecName) stream could be decoded; the file is damaged"
                              + (stream.readError.map { " (\($0))" } ?? ""))
        }

        let keys = stream.packets.indices.filter { (stream.packets[$0].pointee.flags & AV_PKT_FLAG_KEY) != 0 }
        var seekStarts = [Int](repeating: 0, count: sources.count)
        if !untagged {
            // The first display position each packet's picture has.
            var firstDisplay: [Int: Int] = [:]
            for (n, s) in sources.enumerated() where firstDisplay[s] == nil { firstDisplay[s] = n }
            // Frame N starts from the latest keyframe at or before its packet whose own picture
            // is not shown after N. That rule steps back one GOP for open-GOP leading frames
            // (MPEG-2 B-frames shown before their I-frame), which need the previous GOP.
            for n in sources.indices {
                let s = sources[n]
                // Index of the last keyframe serial <= s (binary search in the ascending list).
                var lo = 0, hi = keys.count
                while lo < hi { let mid = (lo + hi) / 2; if keys[mid] <= s { lo = mid + 1 } else { hi = mid } }
                var j = lo - 1
                var start = 0
                while j >= 0 {
                    if let d = firstDisplay[keys[j]], d <= n { start = keys[j]; break }
                    j -= 1
                }
                seekStarts[n] = start
            }
        }

        var warnings: [String] = []
        if let error = stream.readError { warnings.append("reading stopped early (\(error)); \(sources.count) frames decode") }
        if stream.declaredFrames > sources.count {
            warnings.append("the container lists \(stream.declaredFrames) frames but only \(sources.count) decode (truncated or damaged file)")
        }
        return FrameIndex(version: currentVersion, avcodec: avcodecVersion, sha256: sha256, kind: stream.kind,
                          codec: stream.codecName, width: stream.width, height: stream.height, fps: stream.fps,
                          packetCount: stream.packets.count, frameSources: sources,
                          seekStarts: seekStarts, checksums: checksums, tagged: !untagged, warnings: warnings)
    }

    // MARK: Disk cache

    static func cacheURL(sha256: String) -> URL? {
        try? AppPaths.cacheSubdirectory("index").appendingPathComponent(sha256 + ".json")
    }

    /// The cached index for this content, when present and made by this FFmpeg.
    static func load(sha256: String) -> FrameIndex? {
        guard let url = cacheURL(sha256: sha256), let data = try? Data(contentsOf: url),
              let index = try? JSONDecoder().decode(FrameIndex.self, from: data),
              index.version == currentVersion, index.sha256 == sha256, index.avcodec == avcodecVersion,
              index.frameSources.count == index.seekStarts.count, index.checksums.count == index.frameSources.count
        else { return nil }
        return index
    }

    /// Writes atomically (temp file + rename), so concurrent readers never see half an index. A
    /// cache that cannot be written only costs speed, so failures are ignored.
    func save() {
        guard let url = Self.cacheURL(sha256: sha256), let data = try? JSONEncoder().encode(self) else { return }
        try? data.write(to: url, options: .atomic)
    }
}
