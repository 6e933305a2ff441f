import Foundation
import Testing
import PleuraCore
import PleuraTestSupport

/// DICOM through the commands a user runs: patient attributes never leave the file (probe, add,
/// export in every format, the store's bytes, stderr of every command, errors of damaged
/// variants), and damaged files give one line, never a crash.
@Suite("DICOM through the commands", .serialized, .enabled(if: DicomReference.available, "\(DicomReference.missing)"))
struct DicomCLITests {
    static let patient = ("ZZPRIVATE^NAME", "ZZPID4711", "19010203")
    /// Everything that must never appear: the name (as stored and in its parts), the IDs, the
    /// birth date, and the study date written beside them.
    static let secrets = ["ZZPRIVATE", "ZZPID4711", "19010203", "20240229", "PRIVATE^NAME"]

    static func frames() -> [PixelImage] {
        (1...4).map { TestFrames.lung(width: 160, height: 120, seed: UInt64($0)).toRGB() }
    }

    func leaks(_ text: String) -> [String] { Self.secrets.filter { text.contains($0) } }

    func leaks(_ data: Data) -> [String] {
        Self.secrets.filter { data.range(of: Data($0.utf8)) != nil }
    }

    @Test func patientAttributesAppearInNoOutputExportStoreOrMessage() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-dicom-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = try DicomReference.make(frames: Self.frames(), in: dir, patient: Self.patient)
        let source = files["patient"]!
        #expect(leaks(try Data(contentsOf: source)).count == Self.secrets.count, "the test file lacks the patient attributes")
        let media = dir.appendingPathComponent("media")
        try FileManager.default.createDirectory(at: media, withIntermediateDirectories: true)
        let clip = media.appendingPathComponent("clip.dcm")
        let bare = media.appendingPathComponent("IM000001")   // a scanner's name: no extension, DICM preamble
        try FileManager.default.copyItem(at: source, to: clip)
        try FileManager.default.copyItem(at: files["rle"]!, to: bare)
        let env = ["PLEURA_CACHE_DIR": dir.appendingPathComponent("cache").path,
                   "XDG_CONFIG_HOME": dir.appendingPathComponent("config").path]
        let store = dir.appendingPathComponent("s.sqlite").path

        var runs: [(String, ProcessResult)] = []
        func run(_ args: [String]) throws -> ProcessResult {
            let r = try runPleura(args, cwd: dir, environment: env)
            runs.append((args.joined(separator: " "), r))
            return r
        }
        let probe = try run(["probe", clip.path, bare.path])
        #expect(probe.status == 0, "\(probe.stderrText)")
        #expect(probe.stdoutText.contains("\"codec\":\"dicom-raw\"") && probe.stdoutText.contains("\"codec\":\"dicom-rle\""))
        #expect(probe.stdoutText.contains("\"modality\":\"US\"") && probe.stdoutText.contains("Explicit"))
        let add = try run(["add", media.path, "--store", store])
        #expect(add.status == 0 && add.stdoutText.contains("2 added"), "\(add.stdoutText) \(add.stderrText)")
        // The file with a patient ID is placed in an exam by its keyed pseudonym (the identifiers
        // themselves stay out: see the greps below).
        #expect(add.stdoutText.contains("1 placed in exams"), "\(add.stdoutText)")
        let exams = try run(["exams", "--store", store, "--items", dir.appendingPathComponent("items.csv").path])
        #expect(exams.status == 0 && exams.stdoutText.hasPrefix("1 exam"), "\(exams.stdoutText) \(exams.stderrText)")
        #expect(leaks(try Data(contentsOf: dir.appendingPathComponent("items.csv"))).isEmpty, "pleura exams --items")
        #expect(try run(["frame", clip.path, "--index", "3", "-o", dir.appendingPathComponent("f.png").path]).status == 0)
        #expect(try run(["render", clip.path, "--index", "1", "--width", "160", "--height", "120", "--graphics", "sixel"]).status == 0)
        #expect(try run(["decode-all", clip.path]).status == 0)
        for format in ["csv", "jsonl", "labelstudio"] {
            let out = dir.appendingPathComponent("labels.\(format)").path
            let r = try run(["export", "--store", store, "--kind", "labels", "--format", format, "-o", out])
            #expect(r.status == 0, "\(r.stderrText)")
            #expect(leaks(try Data(contentsOf: URL(fileURLWithPath: out))).isEmpty, "export \(format)")
        }
        for (command, r) in runs {
            #expect(leaks(r.stdoutText + r.stderrText).isEmpty, "pleura \(command) printed \(leaks(r.stdoutText + r.stderrText))")
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasPrefix("s.sqlite") {
            #expect(leaks(try Data(contentsOf: dir.appendingPathComponent(name))).isEmpty, "\(name) holds a patient attribute")
        }
        // The decoded frame is the one written (the PNG of frame 3 equals the source frame).
        let png = try runPleura(["probe", dir.appendingPathComponent("f.png").path], cwd: dir, environment: env)
        #expect(png.status == 0 && png.stdoutText.contains("\"width\":160"))
    }

    @Test func damagedDicomGivesOneLineAndNoCrash() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-dicom-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = try DicomReference.make(frames: Self.frames(), in: dir, patient: Self.patient)
        var variants: [(String, Data)] = []
        for name in ["patient", "rle", "jpeg", "implicit"] {
            guard let url = files[name] else { continue }
            let bytes = try Data(contentsOf: url)
            for cut in [200, 700, bytes.count / 2, bytes.count - 10] { variants.append(("\(name)-cut\(cut).dcm", bytes.prefix(cut))) }
            var rng = SplitMix64(seed: 99)
            for k in 0..<12 {
                var flipped = bytes
                for _ in 0..<(1 + k % 4) {
                    let at = Int(rng.next() % UInt64(flipped.count))
                    flipped[at] ^= UInt8(1 << (rng.next() % 8))
                }
                variants.append(("\(name)-flip\(k).dcm", flipped))
            }
        }
        var failures = 0
        for (name, data) in variants {
            let url = dir.appendingPathComponent(name)
            try data.write(to: url)
            for args in [["probe", url.path], ["frame", url.path, "--index", "3", "-o", dir.appendingPathComponent("o.png").path]] {
                let r = try runPleura(args, cwd: dir, environment: ["PLEURA_CACHE_DIR": dir.appendingPathComponent("cache").path])
                #expect(r.status == 0 || r.status == 1, "pleura \(args[0]) \(name): status \(r.status) (a crash?) \(r.stderrText)")
                #expect(leaks(r.stdoutText + r.stderrText).isEmpty, "pleura \(args[0]) \(name): \(r.stderrText)")
                if r.status == 1 {
                    failures += 1
                    let lines = r.stderrText.split(separator: "\n")
                    #expect(lines.count == 1 && lines[0].hasPrefix("pleura: \(url.path): "), "pleura \(args[0]) \(name): \(r.stderrText)")
                }
            }
        }
        #expect(failures >= 16, "every truncated variant should fail (\(failures) failures)")
    }

    @Test(.enabled(if: TestEnv.which("dcmmkdir") != nil && TestEnv.which("dcmodify") != nil, "skipped: DCMTK's tools (Debian dcmtk) are missing"))
    func dicomdirFolderIsOneMediaItemPerReferencedImage() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-dicomdir")
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = try DicomReference.make(frames: Self.frames(), in: dir)
        let medium = dir.appendingPathComponent("medium")
        let images = medium.appendingPathComponent("IMAGES")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        for (source, name) in [("explicit", "IM0001"), ("mono", "IM0002")] {
            try FileManager.default.copyItem(at: files[source]!, to: images.appendingPathComponent(name))
        }
        // A DICOMDIR needs patient attributes in its records: placeholders (not the privacy test's).
        let ids = images.appendingPathComponent("IM0001").path, ids2 = images.appendingPathComponent("IM0002").path
        #expect(try runProgram(TestEnv.which("dcmodify")!, ["-nb", "-i", "(0010,0010)=ANON", "-i", "(0010,0020)=X1", ids, ids2]).status == 0)
        let made = try runProgram(TestEnv.which("dcmmkdir")!, ["--invent", "+r", "IMAGES"], cwd: medium)
        try #require(made.status == 0, "dcmmkdir: \(made.stderrText)")
        let env = ["PLEURA_CACHE_DIR": dir.appendingPathComponent("cache").path]
        let probe = try runPleura(["probe", medium.path], cwd: dir, environment: env)
        #expect(probe.status == 0, "\(probe.stderrText)")
        let lines = probe.stdoutText.split(separator: "\n")
        // One line per image the index references (in the index's order, which dcmmkdir chooses).
        #expect(lines.count == 2, "\(probe.stdoutText)")
        #expect(lines.contains { $0.contains("IMAGES/IM0001\"") && $0.contains("\"RGB\"") }, "\(probe.stdoutText)")
        #expect(lines.contains { $0.contains("IMAGES/IM0002\"") && $0.contains("MONOCHROME2") }, "\(probe.stdoutText)")
        let store = dir.appendingPathComponent("s.sqlite").path
        let add = try runPleura(["add", medium.path, "--store", store], cwd: dir, environment: env)
        #expect(add.status == 0 && add.stdoutText.contains("2 added"), "\(add.stdoutText) \(add.stderrText)")
        let frame = try runPleura(["frame", medium.path, "--index", "0", "-o", dir.appendingPathComponent("f.png").path], cwd: dir, environment: env)
        #expect(frame.status == 1 && frame.stderrText.contains("a DICOMDIR folder of 2 images"), "\(frame.stderrText)")
    }
}
