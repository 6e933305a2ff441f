import Foundation
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraMedia

/// A private cache folder per test process, so tests build their own frame indexes.
let testCacheDirectory: URL = {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pleura-media-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    setenv("PLEURA_CACHE_DIR", dir.path, 1)
    atexit {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pleura-media-tests-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
    }
    return dir
}()

/// SHA-256 of a picture's pixels, to compare frames cheaply.
func fingerprint(_ image: PixelImage) -> String { SHA256.hex(of: image.pixels) }

/// Clips whose structure stresses seeking: B-frames (reordering), open GOPs, packed B-frames.
let seekClips: [(name: String, arguments: [String])] = [
    ("h264-bframes.mp4", ["-c:v", "libx264", "-g", "10", "-bf", "3", "-pix_fmt", "yuv420p"]),
    ("h264-444.mov", ["-c:v", "libx264", "-g", "12", "-bf", "2", "-pix_fmt", "yuv444p"]),
    ("mpeg2-opengop.mpeg", ["-c:v", "mpeg2video", "-g", "12", "-bf", "2", "-f", "mpeg"]),
    ("mpeg4-bframes.avi", ["-c:v", "mpeg4", "-g", "12", "-bf", "2", "-vtag", "DX50"]),
    ("anim.gif", ["-c:v", "gif"]),
]

@Suite("MediaReader on clips made by ffmpeg", .enabled(if: MediaFixtures.ffmpegAvailable, "\(MediaFixtures.ffmpegMissing)"))
final class MediaReaderTests {
    let dir: URL

    init() throws {
        _ = testCacheDirectory
        dir = try TestEnv.makeTempDirectory("pleura-media")
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    @Test(arguments: seekClips.map(\.name))
    func randomAccessEqualsSequentialDecode(_ name: String) throws {
        let clip = seekClips.first { $0.name == name }!
        let url = try MediaFixtures.clip(name, in: dir, frames: 60, arguments: clip.arguments)
        let reader = try MediaReader(path: url.path)
        #expect(reader.info.frames == (try MediaFixtures.ffmpegFrameCount(url)))

        var sequential: [String] = []
        try reader.forEachFrame(format: .rgb24) { n, image in
            #expect(n == sequential.count)
            sequential.append(fingerprint(try #require(image)))
        }
        #expect(sequential.count == reader.info.frames)

        // Every frame, in a shuffled order, from a reader with no cache: each one is a seek.
        let seeking = try MediaReader(path: url.path, cacheBytes: 0)
        var rng = SeededGenerator(seed: 7)
        for n in Array(0..<reader.info.frames).shuffled(using: &rng) {
            #expect(fingerprint(try seeking.frame(n)) == sequential[n], "frame \(n) of \(name)")
        }
        #expect(seeking.statistics.fallbacks == 0, "every seek reproduced its frame without decoding from the start")
    }

    @Test func sequentialAccessNeverSeeks() throws {
        let url = try MediaFixtures.clip("seq.mp4", in: dir, frames: 40, arguments: ["-c:v", "libx264", "-g", "8", "-bf", "2"])
        let reader = try MediaReader(path: url.path, cacheBytes: 0)
        for n in 0..<reader.info.frames { _ = try reader.frame(n) }
        let stats = reader.statistics
        #expect(stats.seeks == 1)
        #expect(stats.decodedFrames == reader.info.frames)
    }

    @Test func aSeekDecodesAtMostFromThePrecedingKeyframe() throws {
        let gop = 10
        let url = try MediaFixtures.clip("gop.mp4", in: dir, frames: 60,
                                         arguments: ["-c:v", "libx264", "-g", "\(gop)", "-keyint_min", "\(gop)", "-sc_threshold", "0", "-bf", "2"])
        for target in [5, 29, 37, 59] {
            let reader = try MediaReader(path: url.path, cacheBytes: 0)
            _ = try reader.frame(target)
            // From the keyframe at (target / gop) * gop up to the target, nothing earlier.
            let needed = target % gop + 1
            #expect(reader.statistics.decodedFrames <= needed, "frame \(target) took \(reader.statistics.decodedFrames) decodes")
            #expect(reader.statistics.seeks == 1)
        }
    }

    @Test func lruCacheIsBoundedByBytes() throws {
        let url = try MediaFixtures.clip("lru.mp4", in: dir, frames: 20, arguments: ["-c:v", "libx264", "-g", "5"])
        let frameBytes = 96 * 64 * 3
        let reader = try MediaReader(path: url.path, cacheBytes: 3 * frameBytes)
        for n in 0..<5 { _ = try reader.frame(n) }
        var stats = reader.statistics
        #expect(stats.cachedFrames == 3)
        #expect(stats.cachedBytes == 3 * frameBytes)
        #expect(stats.cacheHits == 0)

        _ = try reader.frame(4)                       // most recent: a hit
        _ = try reader.frame(2)                       // oldest kept: a hit, now most recent
        stats = reader.statistics
        #expect(stats.cacheHits == 2)
        _ = try reader.frame(0)                       // evicted long ago: decoded again
        #expect(reader.statistics.cacheHits == 2)
        _ = try reader.frame(5)                       // evicts 3 (least recent), keeps 2, 0, 5
        _ = try reader.frame(2)
        #expect(reader.statistics.cacheHits == 3)
        _ = try reader.frame(3)
        #expect(reader.statistics.cacheHits == 3)

        // Grey and RGB pictures of one frame are separate entries.
        let grey = try reader.frame(3, format: .gray8)
        #expect(grey.format == .gray8 && grey.pixels.count == 96 * 64)
    }

    @Test func frameIndexIsCachedByContentHash() throws {
        let url = try MediaFixtures.clip("cached.mp4", in: dir, arguments: ["-c:v", "libx264"])
        let info = try MediaReader.probe(path: url.path)
        let indexFile = testCacheDirectory.appendingPathComponent("index/\(info.sha256).json")
        #expect(FileManager.default.fileExists(atPath: indexFile.path))
        #expect(info.sha256 == (try SHA256.hexOfFile(atPath: url.path)))

        // A copy under another name is the same content: same index, same facts.
        let copy = dir.appendingPathComponent("renamed.mp4")
        try FileManager.default.copyItem(at: url, to: copy)
        let before = try FileManager.default.attributesOfItem(atPath: indexFile.path)[.modificationDate] as? Date
        var copied = try MediaReader.probe(path: copy.path)
        #expect(copied.path == copy.path)
        copied.path = info.path
        #expect(copied == info)
        let after = try FileManager.default.attributesOfItem(atPath: indexFile.path)[.modificationDate] as? Date
        #expect(before == after, "the cached index was reused, not rebuilt")

        // A damaged cache entry is ignored and rebuilt.
        try Data("{not json".utf8).write(to: indexFile)
        #expect(try MediaReader.probe(path: url.path) == info)
    }

    @Test func stillImagesAreOneFrameMedia() throws {
        let png = try MediaFixtures.clip("still.png", in: dir, frames: 1, arguments: ["-pix_fmt", "rgba"])
        let jpeg = try MediaFixtures.clip("still.jpg", in: dir, frames: 1, arguments: [])
        for url in [png, jpeg] {
            let reader = try MediaReader(path: url.path)
            #expect(reader.info.kind == "image")
            #expect(reader.info.frames == 1)
            #expect(reader.info.width == 96 && reader.info.height == 64)
            #expect(try reader.frame(0).pixels.count == 96 * 64 * 3)
            #expect(throws: PleuraError.self) { try reader.frame(1) }
        }
    }

    @Test func pngWriterRoundTrips() throws {
        var rgb = PixelImage(width: 7, height: 5, format: .rgb24)
        for i in rgb.pixels.indices { rgb.pixels[i] = UInt8(truncatingIfNeeded: i * 37) }
        var grey = PixelImage(width: 9, height: 3, format: .gray8)
        for i in grey.pixels.indices { grey.pixels[i] = UInt8(truncatingIfNeeded: i * 29) }
        for image in [rgb, grey] {
            let url = dir.appendingPathComponent("rt-\(image.format).png")
            try ImageFile.writePNG(image, to: url.path)
            #expect(try MediaReader(path: url.path).frame(0, format: image.format) == image)
        }
        #expect(throws: PleuraError.self) { try ImageFile.writePNG(rgb, to: "/nonexistent-folder/x.png") }
    }

    @Test func handBuiltPNGFixtureIsValid() throws {
        // The generator behind the 20000×20000 bad input, checked at a size FFmpeg decodes.
        let url = dir.appendingPathComponent("small-black.png")
        try MediaFixtures.hugePNG(width: 300, height: 200, at: url)
        let image = try MediaReader(path: url.path).frame(0)
        #expect(image.width == 300 && image.height == 200)
        #expect(image.pixels.allSatisfy { $0 == 0 })
    }
}

/// Core's seeded generator (the test support module has a non-RandomNumberGenerator namesake).
typealias SeededGenerator = PleuraCore.SplitMix64
