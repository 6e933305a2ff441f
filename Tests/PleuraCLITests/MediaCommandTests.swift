import Foundation
import Testing
import PleuraCore
import PleuraTestSupport

/// rgb24 pixels of every frame in `file` (a PNG written by `pleura frame`), decoded by ffmpeg.
private func ffmpegRGB(_ file: URL) throws -> [UInt8] {
    let r = try runProgram(TestEnv.which("ffmpeg")!, ["-nostdin", "-v", "error", "-i", file.path,
                                                      "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
    guard r.status == 0 else { throw FixtureError("ffmpeg cannot read \(file.path): \(r.stderrText)") }
    return [UInt8](r.stdout)
}

/// PSNR in dB between two equal-sized byte arrays (infinity when equal).
private func psnr(_ a: [UInt8], _ b: [UInt8]) -> Double {
    var sum = 0.0
    for i in a.indices { let d = Double(a[i]) - Double(b[i]); sum += d * d }
    if sum == 0 { return .infinity }
    return 10 * log10(255 * 255 / (sum / Double(a.count)))
}

private struct ProbeLine: Decodable {
    var path: String, kind: String, codec: String, width: Int, height: Int, fps: Double, frames: Int, sha256: String
}

@Suite("pleura probe / frame against ffmpeg on ../shared/data/pocus",
       .enabled(if: TestEnv.pocusDirectory != nil, "\(TestEnv.pocusMissing)"),
       .enabled(if: MediaFixtures.ffmpegAvailable, "\(MediaFixtures.ffmpegMissing)"))
struct PocusMediaCommandTests {
    /// For every file: `pleura probe`'s frame count equals the number of frames
    /// `ffmpeg -i F -map 0:v:0 -f null -` decodes, and `pleura frame` for the first, middle and
    /// last frame equals ffmpeg's `select=eq(n\,N)` frame as rgb24 (pixel-equal, or PSNR ≥ 45 dB).
    ///
    /// One ffmpeg run per file does both: output 0 is the null muxer (its `frame=` count is the
    /// decoded count; `-f null` implies passthrough timing, so no frame is dropped or duplicated),
    /// output 1 selects the three frames with `-fps_mode passthrough` into raw rgb24.
    @Test func everyFileMatchesFFmpeg() async throws {
        let files = try PocusManifest.entries()
        let scratch = try TestEnv.makeTempDirectory("pleura-pocus-cli")
        let cache = scratch.appendingPathComponent("cache").path
        defer { try? FileManager.default.removeItem(at: scratch) }
        let failures = await collectFailures(files) { entry in
            let probe = try runPleura(["probe", entry.url.path], environment: ["PLEURA_CACHE_DIR": cache])
            guard probe.status == 0 else { return ["\(entry.path): probe failed: \(probe.stderrText)"] }
            let info = try JSONDecoder().decode(ProbeLine.self, from: probe.stdout)
            let n = info.frames
            let targets = Array(Set([0, n / 2, n - 1])).sorted()
            let select = targets.map { "eq(n\\,\($0))" }.joined(separator: "+")
            let raw = scratch.appendingPathComponent(UUID().uuidString + ".rgb")
            let ff = try runProgram(TestEnv.which("ffmpeg")!, [
                "-nostdin", "-hide_banner", "-threads", "1", "-i", entry.url.path,
                "-map", "0:v:0", "-f", "null", "-",
                "-map", "0:v:0", "-vf", "select=\(select)", "-fps_mode", "passthrough",
                "-pix_fmt", "rgb24", "-f", "rawvideo", raw.path])
            var problems: [String] = []
            let decoded = try MediaFixtures.lastFrameCount(ff.stderrText)
            if decoded != n { problems.append("\(entry.path): probe says \(n) frames, ffmpeg decodes \(decoded)") }
            let reference = [UInt8](try Data(contentsOf: raw))
            try? FileManager.default.removeItem(at: raw)
            let frameBytes = info.width * info.height * 3
            guard reference.count == frameBytes * targets.count else {
                return problems + ["\(entry.path): ffmpeg gave \(reference.count) bytes for \(targets.count) frames"]
            }
            // pleura writes the frames as frame-0.png, frame-1.png, …; one ffmpeg run reads them back.
            let pngs = scratch.appendingPathComponent(UUID().uuidString)
            try FileManager.default.createDirectory(at: pngs, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: pngs) }
            for (i, index) in targets.enumerated() {
                let png = pngs.appendingPathComponent("frame-\(i).png")
                let r = try runPleura(["frame", entry.url.path, "--index", "\(index)", "-o", png.path],
                                      environment: ["PLEURA_CACHE_DIR": cache])
                guard r.status == 0 else { return problems + ["\(entry.path) #\(index): \(r.stderrText)"] }
            }
            let mine = try ffmpegRGB(pngs.appendingPathComponent("frame-%d.png"))
            guard mine.count == reference.count else {
                return problems + ["\(entry.path): pleura's PNGs hold \(mine.count) bytes, ffmpeg's frames \(reference.count)"]
            }
            for (i, index) in targets.enumerated() {
                let range = (i * frameBytes)..<((i + 1) * frameBytes)
                let a = Array(mine[range]), b = Array(reference[range])
                if a != b {
                    let db = psnr(a, b)
                    if db < 45 { problems.append("\(entry.path) #\(index): PSNR \(db) dB < 45") }
                }
            }
            return problems
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}

@Suite("pleura probe / frame on bad input", .enabled(if: MediaFixtures.ffmpegAvailable, "\(MediaFixtures.ffmpegMissing)"))
final class MediaCommandBadInputTests {
    let dir: URL
    let files: [String: URL]
    let good: URL
    let env: [String: String]

    init() throws {
        dir = try TestEnv.makeTempDirectory("pleura-cli-bad")
        files = try MediaFixtures.badInputs(in: dir)
        good = try MediaFixtures.clip("good.mp4", in: dir, frames: 12, arguments: ["-c:v", "libx264"])
        env = ["PLEURA_CACHE_DIR": dir.appendingPathComponent("cache").path]
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    /// The cases a root user can observe (root reads chmod-000 files).
    var observable: [String] { files.keys.sorted().filter { $0 != "unreadable" || getuid() != 0 } }

    @Test func probeReportsEachBadFileAndGoesOn() throws {
        let bad = observable.map { files[$0]!.path }
        let r = try runPleura(["probe", good.path] + bad + [good.path], environment: env)
        #expect(r.status != 0)
        let out = r.stdoutText.split(separator: "\n")
        #expect(out.count == 2, "the good file is reported before and after the bad ones")
        for line in out { #expect(line.contains("\"frames\":12")) }
        let errors = r.stderrText.split(separator: "\n")
        #expect(errors.count == bad.count, "one line per bad file:\n\(r.stderrText)")
        for path in bad { #expect(errors.contains { $0.hasPrefix("pleura: \(path): ") }, "\(path)") }
    }

    @Test(arguments: ["empty", "truncated", "random", "text", "directory", "huge"])
    func frameFailsWithOneLine(_ name: String) throws {
        let path = files[name]!.path
        let r = try runPleura(["frame", path, "--index", "0", "-o", dir.appendingPathComponent("out-\(name).png").path], environment: env)
        #expect(r.status == 1)
        #expect(r.stdoutText.isEmpty)
        let lines = r.stderrText.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("pleura: \(path): "), "\(r.stderrText)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out-\(name).png").path))
    }

    /// FFmpeg is opened on first use (dlopen), so a broken FFmpeg installation is one line naming
    /// the file and the library, while commands that need no media still work. A non-ELF file
    /// named libavcodec.so.59 first on LD_LIBRARY_PATH stands in for the broken library.
    @Test func brokenFFmpegIsOneLineAndOtherCommandsStillRun() throws {
        let libs = dir.appendingPathComponent("broken-libs")
        try FileManager.default.createDirectory(at: libs, withIntermediateDirectories: true)
        try Data("not a shared library\n".utf8).write(to: libs.appendingPathComponent("libavcodec.so.59"))
        let broken = env.merging(["LD_LIBRARY_PATH": libs.path]) { _, new in new }

        let probe = try runPleura(["probe", good.path], environment: broken)
        #expect(probe.status == 1)
        #expect(probe.stdoutText.isEmpty)
        let lines = probe.stderrText.split(separator: "\n")
        #expect(lines.count == 1, "\(probe.stderrText)")
        let line = String(lines.first ?? "")
        #expect(line.hasPrefix("pleura: \(good.path): FFmpeg's libraries cannot be loaded"), "\(line)")
        #expect(line.contains("libavcodec.so.59") && line.contains("apt-get install"), "\(line)")

        let version = try runPleura(["version"], environment: broken)
        #expect(version.status == 0, "\(version.stderrText)")
        let doctor = try runPleura(["doctor", "--graphics", "none"], environment: broken)
        #expect(doctor.stdoutText.contains("NOT USABLE: FFmpeg's libraries cannot be loaded"), "\(doctor.stdoutText)")

        // And with the real libraries, the same file opens.
        #expect(try runPleura(["probe", good.path], environment: env).status == 0)
    }

    @Test func unreadableFileAsAnUnprivilegedUser() throws {
        let path = files["unreadable"]!.path
        if getuid() != 0 {
            let r = try runPleura(["probe", path], environment: env)
            #expect(r.status == 1 && r.stderrText.hasPrefix("pleura: \(path): cannot read"))
            return
        }
        // Root reads chmod-000 files, so run pleura as `nobody` (setpriv, util-linux) when the
        // binary is reachable for that user; otherwise say why the case is skipped.
        guard let setpriv = TestEnv.which("setpriv") else {
            print("unreadableFileAsAnUnprivilegedUser: skipped (running as root and setpriv is missing)"); return
        }
        let probeAsNobody = try runProgram(setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", "--",
                                                     TestEnv.pleuraBinary.path, "version"])
        guard probeAsNobody.status == 0 else {
            print("unreadableFileAsAnUnprivilegedUser: skipped (the pleura binary is not executable by nobody: \(probeAsNobody.stderrText))"); return
        }
        chmod(dir.path, 0o755)
        let r = try runProgram(setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", "--",
                                         TestEnv.pleuraBinary.path, "probe", path],
                               environment: ["PLEURA_CACHE_DIR": "/tmp/pleura-nobody-cache-\(getpid())", "HOME": "/tmp"])
        #expect(r.status == 1)
        #expect(r.stderrText.hasPrefix("pleura: \(path): cannot read the file (Permission denied)"), "\(r.stderrText)")
    }

    @Test func probePrintsExactlyTheDocumentedFields() throws {
        let r = try runPleura(["probe", good.path], environment: env)
        #expect(r.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        #expect(Set(object.keys) == ["path", "kind", "codec", "width", "height", "fps", "frames", "sha256"])
        #expect(object["kind"] as? String == "video" && object["codec"] as? String == "h264")
        #expect(object["frames"] as? Int == 12 && object["width"] as? Int == 96 && object["height"] as? Int == 64)
        #expect((object["sha256"] as? String)?.count == 64)
    }

    @Test func probeWarnsAboutATruncatedFileThatStillDecodes() throws {
        let whole = try MediaFixtures.clip("front.mp4", in: dir, frames: 40, arguments: ["-c:v", "libx264", "-g", "10", "-movflags", "+faststart"])
        let bytes = try Data(contentsOf: whole)
        let half = dir.appendingPathComponent("front-half.mp4")
        try bytes.prefix(bytes.count / 2).write(to: half)
        // Also with a cache folder that cannot be made (under a regular file): the index is not
        // saved, and the warning must still come from the index just built.
        let blocker = dir.appendingPathComponent("not-a-folder")
        try Data("x".utf8).write(to: blocker)
        for environment in [env, ["PLEURA_CACHE_DIR": blocker.appendingPathComponent("cache").path]] {
            let r = try runPleura(["probe", half.path], environment: environment)
            #expect(r.status == 0, "readable frames are still usable")
            #expect(r.stdoutText.contains("\"frames\":\(try MediaFixtures.ffmpegFrameCount(half))"))
            #expect(r.stderrText.hasPrefix("pleura: \(half.path): warning: the container lists 40 frames but only"), "\(environment)")
        }
    }

    @Test func frameWritesThePNGAndRefusesAnIndexOutOfRange() throws {
        let out = dir.appendingPathComponent("f.png")
        var r = try runPleura(["frame", good.path, "--index", "11", "-o", out.path], environment: env)
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(try Data(contentsOf: out).prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        r = try runPleura(["frame", good.path, "--index", "12", "-o", out.path], environment: env)
        #expect(r.status == 1)
        #expect(r.stderrText.contains("frame 12 does not exist: the file has 12 frames (0–11)"))
    }
}
