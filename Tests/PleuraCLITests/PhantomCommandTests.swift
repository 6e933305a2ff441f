import Foundation
import Testing
import PleuraTestSupport

@Suite struct PhantomCommandTests {
    @Test func writesClipsLabelsAndProgress() throws {
        let dir = try TestEnv.makeTempDirectory("phantom-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("set")
        let r = try runPleura(["phantom", "-o", out.path, "--count", "2", "--seed", "3"])
        #expect(r.status == 0, "\(r.stderrText)")
        #expect(r.stderrText.contains("phantom: 1/2 clips"))
        #expect(r.stderrText.contains("phantom: 2/2 clips"))
        #expect(r.stdoutText.contains("wrote 2 clips and labels.csv"))
        let names = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(names == ["labels.csv", "phantom-000.mp4", "phantom-001.mp4"])
        let labels = try String(contentsOf: out.appendingPathComponent("labels.csv"), encoding: .utf8)
        #expect(labels.hasPrefix("media,frame,annotator,a_lines,b1_lines,b2_lines,consolidation,severity,quality,note\nphantom-000.mp4,0,phantom,"))
    }

    /// Same seed, same bytes: every clip and labels.csv, from two separate runs.
    @Test func sameSeedGivesSameBytes() throws {
        let dir = try TestEnv.makeTempDirectory("phantom-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        var sets: [[String: Data]] = []
        for run in 0..<2 {
            let out = dir.appendingPathComponent("run\(run)")
            let r = try runPleura(["phantom", "-o", out.path, "--count", "4", "--seed", "9"])
            #expect(r.status == 0, "\(r.stderrText)")
            var files: [String: Data] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: out.path) {
                files[name] = try Data(contentsOf: out.appendingPathComponent(name))
            }
            sets.append(files)
        }
        #expect(sets[0].keys.sorted() == ["labels.csv", "phantom-000.mp4", "phantom-001.mp4", "phantom-002.mp4", "phantom-003.mp4"])
        for (name, bytes) in sets[0] {
            #expect(sets[1][name] == bytes, "\(name) differs between two runs with the same seed")
        }
        // Another seed, other clips.
        let other = dir.appendingPathComponent("other")
        #expect(try runPleura(["phantom", "-o", other.path, "--count", "1", "--seed", "10"]).status == 0)
        #expect(try Data(contentsOf: other.appendingPathComponent("phantom-000.mp4")) != sets[0]["phantom-000.mp4"])
    }

    @Test func badArgumentsGiveOneClearLine() throws {
        let dir = try TestEnv.makeTempDirectory("phantom-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let zero = try runPleura(["phantom", "-o", dir.path, "--count", "0"])
        #expect(zero.status != 0)
        #expect(zero.stderrText.contains("--count must be between 1 and 1000"))
        // The output "folder" is a file.
        let file = dir.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        let r = try runPleura(["phantom", "-o", file.path, "--count", "1"])
        #expect(r.status == 1)
        #expect(r.stderrText.hasPrefix("pleura: \(file.path): cannot create the output folder"))
        #expect(r.stderrText.split(separator: "\n").count == 1)
    }
}
