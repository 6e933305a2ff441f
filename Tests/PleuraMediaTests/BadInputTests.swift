import Foundation
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraMedia

@Suite("Bad input: one clear PleuraError, never a crash", .enabled(if: MediaFixtures.ffmpegAvailable, "\(MediaFixtures.ffmpegMissing)"))
final class BadInputTests {
    let dir: URL
    let files: [String: URL]

    init() throws {
        _ = testCacheDirectory
        dir = try TestEnv.makeTempDirectory("pleura-bad")
        files = try MediaFixtures.badInputs(in: dir)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    /// The error opening `name` gives, checked to name the file and be one line.
    func failure(_ name: String) throws -> PleuraError {
        let url = try #require(files[name])
        do {
            _ = try MediaReader(path: url.path)
        } catch let error as PleuraError {
            #expect(error.file == url.path)
            #expect(!error.reason.contains("\n"))
            #expect(throws: PleuraError.self) { try MediaReader.probe(path: url.path) }
            return error
        }
        Issue.record("\(name) opened without an error")
        return PleuraError(file: nil, "")
    }

    @Test func zeroByteFile() throws { #expect(try failure("empty").reason.contains("empty")) }
    @Test func truncatedMP4() throws { #expect(try failure("truncated").reason.contains("incomplete")) }
    @Test func randomBytes() throws { #expect(try failure("random").reason.contains("not a video or image")) }
    @Test func textFile() throws { #expect(try failure("text").reason.contains("not a video or image")) }
    @Test func directory() throws { #expect(try failure("directory").reason.contains("directory")) }

    @Test func unreadableFile() throws {
        // chmod 000 does not stop root (tests usually run as root in CI); the CLI test runs this
        // case as an unprivileged user with setpriv instead.
        guard getuid() != 0 else {
            print("unreadableFile: running as root, which reads chmod-000 files; covered by the CLI test via setpriv")
            return
        }
        #expect(try failure("unreadable").reason.contains("cannot read"))
    }

    @Test func hugePNGIsRefusedBeforeDecoding() throws {
        let rssBefore = Measure.currentRSSBytes()
        let reason = try failure("huge").reason
        #expect(reason.contains("20000×20000"))
        #expect(reason.contains("64 Mpx"))
        // Nothing near the 400 Mpx picture was allocated.
        #expect(Measure.currentRSSBytes() - rssBefore < 64 << 20)
    }

    @Test func headerSizesAreReadBeforeFFmpegSeesTheFile() {
        // The PNG check also guards formats FFmpeg would size only while decoding.
        var gif = Array("GIF89a".utf8)
        gif += [0x20, 0x4E, 0x20, 0x4E] // 20000 × 20000, little-endian
        #expect(ImageHeader.dimensions(of: gif + [UInt8](repeating: 0, count: 10)).map { [$0.0, $0.1] } == [20000, 20000])
        let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00,
                             0xFF, 0xC0, 0x00, 0x11, 0x08, 0x4E, 0x20, 0x4E, 0x20, 0x03, 0, 0, 0, 0]
        #expect(ImageHeader.dimensions(of: jpeg).map { [$0.0, $0.1] } == [20000, 20000])
    }

    @Test func halfAnMP4WithItsIndexFirstOpensWithTheFramesThatDecode() throws {
        // With the index (moov) at the front, half a file still has frames: Pleura opens what
        // decodes, the count equals ffmpeg's, and a warning says the file is truncated.
        let whole = try MediaFixtures.clip("front.mp4", in: dir, frames: 50, arguments: ["-c:v", "libx264", "-g", "10", "-movflags", "+faststart"])
        let bytes = try Data(contentsOf: whole)
        let half = dir.appendingPathComponent("front-half.mp4")
        try bytes.prefix(bytes.count / 2).write(to: half)
        let reader = try MediaReader(path: half.path)
        #expect(reader.info.frames > 0 && reader.info.frames < 50)
        #expect(reader.info.frames == (try MediaFixtures.ffmpegFrameCount(half)))
        #expect(reader.warnings.contains { $0.contains("truncated") })
        _ = try reader.frame(reader.info.frames - 1)
    }

    @Test func frameOutOfRange() throws {
        let url = try MediaFixtures.clip("short.mp4", in: dir, frames: 10, arguments: ["-c:v", "libx264"])
        let reader = try MediaReader(path: url.path)
        for n in [-1, 10, 1000] {
            #expect { try reader.frame(n) } throws: { ($0 as? PleuraError)?.reason.contains("10 frames") == true }
        }
    }
}
