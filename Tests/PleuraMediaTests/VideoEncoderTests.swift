import Foundation
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraMedia

@Suite struct VideoEncoderTests {
    /// A moving colour gradient, different in every frame.
    static func gradient(_ t: Int, width: Int, height: Int) -> PixelImage {
        var px = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = 3 * (y * width + x)
                px[i] = UInt8((x + 4 * t) & 255); px[i + 1] = UInt8((y * 2) & 255); px[i + 2] = UInt8((x + y) & 255)
            }
        }
        return PixelImage(width: width, height: height, format: .rgb24, pixels: px)
    }

    @Test(.enabled(if: TestEnv.which("ffprobe") != nil, "skipped: ffprobe is not installed"))
    func writesAnH264MP4ThatFFmpegReads() throws {
        let dir = try TestEnv.makeTempDirectory("encoder")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("gradient.mp4").path
        let encoder = try VideoEncoder(path: path, width: 64, height: 48, fps: 25)
        for t in 0..<30 { try encoder.append(Self.gradient(t, width: 64, height: 48)) }
        try encoder.finish()
        #expect(encoder.frameCount == 30)
        let r = try runProgram(TestEnv.which("ffprobe")!, ["-v", "error", "-count_frames", "-show_entries",
            "stream=codec_name,width,height,nb_read_frames,pix_fmt,avg_frame_rate", "-of", "csv=p=0", path])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) == "h264,64,48,yuv420p,25/1,30")
        // Bit-exact muxing: no library version string in the file.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.range(of: Data("Lavf".utf8)) == nil)
    }

    @Test func refusesBadSizesFramesAndPaths() throws {
        let dir = try TestEnv.makeTempDirectory("encoder")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("x.mp4").path
        #expect(throws: PleuraError.self) { try VideoEncoder(path: path, width: 33, height: 32, fps: 10) }
        #expect(throws: PleuraError.self) { try VideoEncoder(path: path, width: 32, height: 32, fps: 0) }
        let missingFolder = dir.appendingPathComponent("no/such/folder/x.mp4").path
        do {
            _ = try VideoEncoder(path: missingFolder, width: 32, height: 32, fps: 10)
            Issue.record("opened a file in a missing folder")
        } catch let error as PleuraError {
            #expect(error.file == missingFolder)
            #expect(error.reason.contains("cannot create the file"))
        }
        let encoder = try VideoEncoder(path: path, width: 32, height: 32, fps: 10)
        #expect(throws: PleuraError.self) { try encoder.finish() }   // no frames yet
        #expect(throws: PleuraError.self) { try encoder.append(PixelImage(width: 16, height: 16, format: .gray8)) }
        try encoder.append(PixelImage(width: 32, height: 32, format: .gray8))
        try encoder.finish()
        #expect(throws: PleuraError.self) { try encoder.append(PixelImage(width: 32, height: 32, format: .gray8)) }
    }
}
