import CFFmpeg
import Foundation
import PleuraCore

/// Opens one video or still image and returns exactly frame N (0-based, display order) as pixels.
///
/// ```swift
/// let reader = try MediaReader(path: "clip.mp4")
/// print(reader.info.frames)                    // what `ffmpeg -i clip.mp4 -f null -` decodes
/// let image = try reader.frame(42)              // PixelImage, rgb24
/// let grey = try reader.frame(42, format: .gray8)
/// ```
///
/// How it stays exact and fast:
/// - Opening reads the file's compressed video stream into memory (one demux pass) and loads the
///   file's frame index from the cache (building it with one full decode the first time; see
///   ``FrameIndex``). Every seek then feeds packets from the right keyframe to the decoder; no
///   container timestamp is trusted.
/// - A seek decodes at most from the keyframe preceding the frame (one GOP back for open-GOP
///   leading frames); every frame reached that way is checked against the fingerprint taken by
///   the full decode, and falls back to decoding from the start if it ever differs.
/// - Asking for the next frame after the last one continues the running decode (no seek).
/// - Converted pictures stay in an LRU cache bounded by bytes (``cacheCapacityBytes``).
///
/// DICOM files (`.dcm`, `.dicom`, or any file with the `DICM` preamble) are read by DCMTK
/// instead (``DicomFile``): every DICOM frame is stored on its own, so frame N is decoded directly
/// and none of the FFmpeg machinery below (packets, index, runs) is used for them.
///
/// Thread safety: all methods may be called from any thread; calls are serialised by a lock.
/// Errors are ``PleuraError`` with the file's path and one line saying what is wrong.
public final class MediaReader: @unchecked Sendable {
    /// Facts about the file (the same as ``probe(path:)`` returns).
    public let info: MediaInfo
    /// Problems that did not stop the file from opening (a truncated file that decodes partly),
    /// one line each; empty for healthy files.
    public let warnings: [String]

    /// Counters for tests and benchmarks.
    public struct Statistics: Sendable, Equatable {
        /// Decodes started at a keyframe (or the first packet) instead of continuing.
        public var seeks = 0
        /// Pictures that came out of the decoder (wanted or skipped on the way).
        public var decodedFrames = 0
        /// Requests answered from the LRU cache.
        public var cacheHits = 0
        /// Frames decoded from the start again because a seek did not reproduce them exactly.
        public var fallbacks = 0
        public var cachedFrames = 0
        public var cachedBytes = 0
    }

    /// The most bytes of converted pictures the LRU cache keeps.
    public let cacheCapacityBytes: Int

    private let path: String
    private let lock = NSLock()
    /// Set for DICOM files; then `stream`, `decoder` and `index` are nil and never touched.
    private let dicom: DicomFile?
    private let stream: DemuxedStream!
    private var decoder: VideoDecoder!
    private let threads: Int
    private let converter = PixelConverter()
    private var cache: FrameCache
    private let index: FrameIndex!
    /// Display indices of the frames each packet's picture became (usually exactly one).
    private let displayBySource: [Int: [Int]]
    private var run: Run?
    private var stats = Statistics()

    /// The decode in progress: where it started, what it fed, what it last produced.
    private struct Run {
        /// Frames are identified by counting (true only for a fresh decoder from the first packet)
        /// rather than by their packet tag.
        var byOrdinal: Bool
        var nextPacket: Int
        var lastDisplay = -1
        var produced = 0
        var seenPerSource: [Int: Int] = [:]
    }

    /// Opens `path`. `cacheBytes` bounds the decoded-frame cache (default 256 MiB); `threads` is
    /// the decoder's thread count (1: lowest seek latency, the right choice on a shared machine).
    /// A DICOMDIR folder that references one image opens that image.
    public convenience init(path: String, cacheBytes: Int = 256 << 20, threads: Int = 1) throws {
        var file = path
        if let images = try DicomDirectory.imagePaths(path) {
            guard images.count == 1 else {
                throw PleuraError(file: path, "a DICOMDIR folder of \(images.count) images; name one of them (pleura probe \(SafeText.sanitize(path)) lists them)")
            }
            file = images[0]
        }
        try self.init(path: file, cacheBytes: cacheBytes, threads: threads, knownSHA256: nil)
    }

    /// `knownSHA256`: the file's hash when the caller has just computed it (``probe(path:)``),
    /// so a file is hashed once per open.
    private init(path: String, cacheBytes: Int, threads: Int, knownSHA256: String?) throws {
        self.path = path
        self.threads = threads
        cacheCapacityBytes = cacheBytes
        cache = FrameCache(capacityBytes: cacheBytes)
        if DicomFile.isDicom(path: path) {
            let file = try DicomFile(path: path, sha256: knownSHA256)
            dicom = file
            stream = nil; decoder = nil; index = nil
            info = file.info
            warnings = []
            displayBySource = [:]
            return
        }
        dicom = nil
        // Demux first: it refuses what is not media (text, random bytes, too-large streams)
        // before the whole file is read again for its hash.
        stream = try DemuxedStream(path: path)
        let sha = try knownSHA256 ?? SHA256.hexOfFile(atPath: path)
        decoder = try VideoDecoder(parameters: stream.parameters, timeBase: stream.timeBase, threads: threads, file: path)
        if let cached = FrameIndex.load(sha256: sha), cached.packetCount == stream.packets.count {
            index = cached
        } else {
            index = try FrameIndex.build(stream: stream, decoder: decoder, sha256: sha, file: path)
            index.save()
        }
        info = index.info(path: path)
        warnings = index.warnings
        var bySource: [Int: [Int]] = [:]
        if index.tagged {
            for (n, s) in index.frameSources.enumerated() { bySource[s, default: []].append(n) }
        }
        displayBySource = bySource
    }

    /// The facts about a file, cheaply: the content hash plus the cached frame index when there
    /// is one (no decoding); otherwise the index is built (one full decode) and cached.
    public static func probe(path: String) throws -> MediaInfo {
        try probeWithWarnings(path: path).info
    }

    /// ``probe(path:)`` plus the problems found when the index was built (e.g. a truncated file
    /// that still decodes). The file is hashed once, and the warnings come from the same index
    /// as the facts, even when the cache folder cannot be written.
    public static func probeWithWarnings(path: String) throws -> (info: MediaInfo, warnings: [String]) {
        try DemuxedStream.checkReadableRegularFile(path)
        // DICOM needs no index: its header gives the frame count, and opening decodes one frame.
        if DicomFile.isDicom(path: path) { return (try DicomFile(path: path, sha256: nil).info, []) }
        // A cached index is valid only for the libavcodec that built it, so even a cache hit needs FFmpeg.
        try FFmpegSupport.load(for: path)
        let sha = try SHA256.hexOfFile(atPath: path)
        if let cached = FrameIndex.load(sha256: sha) { return (cached.info(path: path), cached.warnings) }
        let reader = try MediaReader(path: path, cacheBytes: 0, threads: 1, knownSHA256: sha)
        return (reader.info, reader.warnings)
    }

    /// Exactly frame `index` (0-based, display order), converted like FFmpeg's command line does
    /// (`-pix_fmt rgb24`). Throws when `index` is outside `0..<info.frames`.
    public func frame(_ index: Int, format: PixelImage.Format = .rgb24) throws -> PixelImage {
        lock.lock()
        defer { lock.unlock() }
        guard index >= 0 && index < info.frames else {
            throw PleuraError(file: path, "frame \(index) does not exist: the file has \(info.frames) frame\(info.frames == 1 ? "" : "s") (0–\(info.frames - 1))")
        }
        let key = FrameCache.Key(index: index, format: format)
        if let image = cache.get(key) {
            stats.cacheHits += 1
            return image
        }
        let image: PixelImage
        if let dicom {
            stats.decodedFrames += 1
            image = try dicom.frame(index, format: format)
        } else {
            image = try decodeFrame(index, format: format)
        }
        cache.insert(image, for: key)
        return image
    }

    /// Decodes every frame in order, from the first, calling `body(n, picture)`; with a nil
    /// `format` pictures are decoded but not converted (`picture` is nil), which measures the
    /// decoder alone. Does not touch the LRU cache. Throws what `body` throws.
    public func forEachFrame(format: PixelImage.Format?, _ body: (Int, PixelImage?) throws -> Void) throws {
        lock.lock()
        defer { lock.unlock() }
        run = nil
        if let dicom {
            for n in 0..<info.frames { try body(n, try decodeDicom(dicom, n, format)) }
            return
        }
        var n = 0
        try decoder.decodeAll(stream.packets) { frame in
            stats.decodedFrames += 1
            let image = try format.map { try converter.convert(frame, to: $0, file: path) }
            try body(n, image)
            n += 1
        }
    }

    /// Display indices where a decode can start (each frame's group of pictures begins at the
    /// largest of these not after it). Frame 0 is always one.
    public var keyframes: [Int] {
        if dicom != nil { return Array(0..<info.frames) }
        var out: [Int] = []
        for n in 0..<info.frames where !index.tagged ? n == 0 : index.seekStarts[n] == index.frameSources[n] {
            out.append(n)
        }
        if out.first != 0 { out.insert(0, at: 0) }
        return out
    }

    /// Decodes the frames of `range` in order, seeking once to the first (from its keyframe),
    /// calling `body(n, picture)` for each; with a nil `format` frames are decoded but not
    /// converted (`picture` is nil). Does not touch the LRU cache.
    public func forEachFrame(in range: Range<Int>, format: PixelImage.Format?,
                             _ body: (Int, PixelImage?) throws -> Void) throws {
        lock.lock()
        defer { lock.unlock() }
        guard range.lowerBound >= 0 && range.upperBound <= info.frames else {
            throw PleuraError(file: path, "frames \(range.lowerBound)..<\(range.upperBound) are outside 0..<\(info.frames)")
        }
        if let dicom {
            for n in range { try body(n, try decodeDicom(dicom, n, format)) }
            return
        }
        for n in range {
            if n == range.lowerBound || run == nil {
                startRun(at: index.tagged ? index.seekStarts[n] : 0, fresh: !index.tagged)
            }
            var delivered = false
            var picture: PixelImage?
            if try advance(to: n, format: format, acceptMismatch: false, deliver: { picture = $0; delivered = true }) == false {
                stats.fallbacks += 1
                startRun(at: 0, fresh: true)
                _ = try advance(to: n, format: format, acceptMismatch: true, deliver: { picture = $0; delivered = true })
            }
            guard delivered else { throw PleuraError(file: path, "frame \(n) could not be decoded again; the file may be damaged") }
            try body(n, picture)
        }
    }

    /// Counters since opening (seeks, decoded frames, cache hits and size).
    public var statistics: Statistics {
        lock.lock()
        defer { lock.unlock() }
        var s = stats
        s.cachedFrames = cache.count
        s.cachedBytes = cache.bytes
        return s
    }

    // MARK: Decoding

    /// A DICOM frame for the forEachFrame loops: decoded always, converted only when `format` is set.
    private func decodeDicom(_ file: DicomFile, _ n: Int, _ format: PixelImage.Format?) throws -> PixelImage? {
        stats.decodedFrames += 1
        let image = try file.frame(n, format: format ?? .rgb24)
        return format == nil ? nil : image
    }

    private func decodeFrame(_ n: Int, format: PixelImage.Format) throws -> PixelImage {
        let start = index.tagged ? index.seekStarts[n] : 0
        if let current = run, current.lastDisplay < n,
           start < current.nextPacket || n == current.lastDisplay + 1 {
            // Continue the running decode: sequential access never seeks.
        } else {
            startRun(at: start, fresh: !index.tagged)
        }
        var image: PixelImage?
        if try advance(to: n, format: format, deliver: { image = $0 }), let image { return image }

        // The seek did not reproduce the frame (a stream whose keyframes are not clean random
        // access points): decode from the start with a new decoder, as the index was built.
        stats.fallbacks += 1
        startRun(at: 0, fresh: true)
        if try advance(to: n, format: format, acceptMismatch: true, deliver: { image = $0 }), let image { return image }
        throw PleuraError(file: path, "frame \(n) could not be decoded again (the decoder stopped early); the file may be damaged")
    }

    private func startRun(at packet: Int, fresh: Bool) {
        stats.seeks += 1
        if fresh, let newDecoder = try? VideoDecoder(parameters: stream.parameters, timeBase: stream.timeBase,
                                                    threads: threads, file: path) {
            decoder = newDecoder
        }
        decoder.reset()
        run = Run(byOrdinal: fresh && packet == 0, nextPacket: packet)
    }

    /// Feeds packets until frame `n` comes out and hands it to `deliver` (converted to `format`,
    /// or nil when `format` is nil). False when the run passed it (or the stream ended) without
    /// producing it, or produced a picture different from the indexed one.
    private func advance(to n: Int, format: PixelImage.Format?, acceptMismatch: Bool = false,
                         deliver: (PixelImage?) -> Void) throws -> Bool {
        guard var current = run else { return false }
        defer { run = current }
        var found = false
        var missed = false
        while true {
            _ = try decoder.receive { frame in
                stats.decodedFrames += 1
                let display = identify(frame, in: &current)
                guard let display else { return true }
                current.lastDisplay = display
                if display == n {
                    if acceptMismatch || VideoDecoder.checksum(frame) == index.checksums[n] {
                        deliver(try format.map { try converter.convert(frame, to: $0, file: path) })
                        found = true
                    } else {
                        missed = true
                    }
                    return false
                }
                if display > n { missed = true; return false }
                return true
            }
            if found { return true }
            if missed || decoder.finished { current.lastDisplay = Int.max; return false }
            if current.nextPacket < stream.packets.count {
                if decoder.send(stream.packets[current.nextPacket], serial: current.nextPacket) {
                    current.nextPacket += 1
                }
            } else {
                decoder.sendEndOfStream()
            }
        }
    }

    /// The display index of a frame that came out of the decoder during `run`.
    private func identify(_ frame: UnsafeMutablePointer<AVFrame>, in run: inout Run) -> Int? {
        if run.byOrdinal {
            defer { run.produced += 1 }
            return run.produced < info.frames ? run.produced : nil
        }
        let source = Int(frame.pointee.pts)
        guard let displays = displayBySource[source] else { return nil }
        let seen = run.seenPerSource[source, default: 0]
        run.seenPerSource[source] = seen + 1
        return seen < displays.count ? displays[seen] : nil
    }
}
