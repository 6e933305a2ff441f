import Foundation
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraPhantom
import PleuraMedia

/// One phantom set shared by the tests that only read it (generation is the slow part).
enum PhantomFixture {
    static let seed: UInt64 = 7
    static let count = PhantomInfo.countCoveringEverything
    static let folder: URL? = {
        guard let dir = try? TestEnv.makeTempDirectory("phantom-fixture") else { return nil }
        return (try? PhantomGenerator(seed: seed).makeClips(count: count, into: dir, progress: nil)) != nil ? dir : nil
    }()

    static func labels() throws -> [LabelRecord] {
        let folder = try #require(folder)
        let file = folder.appendingPathComponent(PhantomInfo.labelsFileName)
        return try LabelRecord.parseFile(String(contentsOf: file, encoding: .utf8), file: file.path)
    }
}

@Suite struct PhantomOutputTests {
    /// Same seed, same pictures and truth (same bytes: the next test, and across processes in
    /// PleuraCLITests).
    @Test func sameSeedGivesSamePicturesAndTruth() throws {
        let first = try #require(PhantomFixture.folder)
        let labels = try String(contentsOf: first.appendingPathComponent(PhantomInfo.labelsFileName), encoding: .utf8)
        let names = try FileManager.default.contentsOfDirectory(atPath: first.path).sorted()
        #expect(names == ((0..<PhantomFixture.count).map(PhantomInfo.clipFileName) + [PhantomInfo.labelsFileName]).sorted())
        var rows: [LabelRecord] = []
        for index in 0..<PhantomFixture.count {
            let a = PhantomGenerator(seed: PhantomFixture.seed).makeClip(index)
            let b = PhantomGenerator(seed: PhantomFixture.seed).makeClip(index)
            for t in stride(from: 0, to: a.frameCount, by: 7) {
                #expect(a.frame(t) == b.frame(t), "clip \(index) frame \(t) drawn differently")
            }
            for t in 0..<a.frameCount {
                rows.append(LabelRecord(media: PhantomInfo.clipFileName(index), frame: t, annotator: PhantomInfo.annotator, labels: a.truth(t).labels))
            }
        }
        let written = try LabelRecord.parseFile(labels, file: "labels.csv").filter { $0.frame != nil }
        #expect(written == rows)
    }

    /// Same seed, same bytes, also inside one process with encoders running on several threads at
    /// once: 3 rounds of 4 concurrent encodes of clip 0. (With x264's AVX-512 code this gave 2–4
    /// different files in 16; see VideoEncoder.)
    @Test func concurrentEncodesOfOneClipAreByteIdentical() throws {
        let root = try TestEnv.makeTempDirectory("pleura-phantom-concurrent")
        defer { try? FileManager.default.removeItem(at: root) }
        final class Hashes: @unchecked Sendable {
            private let lock = NSLock()
            private(set) var all: [String] = []
            func add(_ h: String) { lock.lock(); all.append(h); lock.unlock() }
        }
        let hashes = Hashes()
        for round in 0..<3 {
            DispatchQueue.concurrentPerform(iterations: 4) { i in
                let dir = root.appendingPathComponent("r\(round)-\(i)")
                do {
                    let urls = try PhantomGenerator(seed: 1).makeClips(count: 1, into: dir)
                    hashes.add(try SHA256.hexOfFile(atPath: urls[0].path))
                } catch {
                    hashes.add("error: \(error)")
                }
            }
        }
        #expect(hashes.all.count == 12)
        #expect(Set(hashes.all).count == 1, "\(Set(hashes.all).count) different files: \(Set(hashes.all))")
    }

    @Test func anotherSeedGivesOtherClips() throws {
        let clipA = PhantomGenerator(seed: 1).makeClip(0)
        let clipB = PhantomGenerator(seed: 2).makeClip(0)
        #expect(clipA.frame(0) != clipB.frame(0))
        // Clip i depends on the seed and i only, not on how many clips are made.
        #expect(PhantomGenerator(seed: 1).makeClip(1).frame(3) == PhantomGenerator(seed: 1).makeClip(1).frame(3))
    }

    @Test(.enabled(if: TestEnv.which("ffprobe") != nil, "skipped: ffprobe is not installed"))
    func clipsDecodeToTheLabelledFrameCountAndSize() throws {
        let folder = try #require(PhantomFixture.folder)
        let labels = try PhantomFixture.labels()
        for index in 0..<PhantomFixture.count {
            let name = PhantomInfo.clipFileName(index)
            let r = try runProgram(TestEnv.which("ffprobe")!, [
                "-v", "error", "-count_frames", "-select_streams", "v:0",
                "-show_entries", "stream=codec_name,pix_fmt,width,height,nb_read_frames,avg_frame_rate",
                "-of", "default=noprint_wrappers=1", folder.appendingPathComponent(name).path])
            #expect(r.status == 0, "\(r.stderrText)")
            let fields = Dictionary(uniqueKeysWithValues: r.stdoutText.split(separator: "\n").compactMap { line -> (String, String)? in
                let parts = line.split(separator: "=", maxSplits: 1)
                return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
            })
            let labelled = labels.filter { $0.media == name && $0.frame != nil }.count
            #expect(fields["codec_name"] == "h264")
            #expect(fields["pix_fmt"] == "yuv420p")
            #expect(fields["width"] == String(PhantomInfo.width))
            #expect(fields["height"] == String(PhantomInfo.height))
            #expect(fields["avg_frame_rate"] == "\(PhantomInfo.fps)/1")
            #expect(fields["nb_read_frames"] == String(labelled))
            #expect((60...120).contains(labelled))
        }
    }

    @Test(.enabled(if: TestEnv.which("ffmpeg") != nil, "skipped: ffmpeg is not installed"))
    func decodedFrameMatchesTheDrawnFrame() throws {
        let folder = try #require(PhantomFixture.folder)
        let index = 2, t = 10
        let r = try runProgram(TestEnv.which("ffmpeg")!, [
            "-v", "error", "-i", folder.appendingPathComponent(PhantomInfo.clipFileName(index)).path,
            "-vf", "select=eq(n\\,\(t))", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        #expect(r.status == 0, "\(r.stderrText)")
        let drawn = PhantomGenerator(seed: PhantomFixture.seed).makeClip(index).frame(t)
        let decoded = [UInt8](r.stdout)
        try #require(decoded.count == drawn.pixels.count)
        var squared = 0.0
        for i in 0..<decoded.count {
            let d = Double(decoded[i]) - Double(drawn.pixels[i])
            squared += d * d
        }
        let psnr = 10 * log10(255 * 255 / max(squared / Double(decoded.count), 1e-9))
        // Lossy H.264 of speckle: well above 25 dB means the grey levels (and the limited-range
        // YUV conversion) survive the round trip.
        #expect(psnr > 28, "PSNR \(psnr) dB")
    }

    @Test func pleuraMediaReadsEveryClipFrameExactly() throws {
        let folder = try #require(PhantomFixture.folder)
        let labels = try PhantomFixture.labels()
        let index = 1
        let name = PhantomInfo.clipFileName(index)
        let reader = try MediaReader(path: folder.appendingPathComponent(name).path)
        #expect(reader.info.frames == labels.filter { $0.media == name && $0.frame != nil }.count)
        #expect(reader.info.width == PhantomInfo.width && reader.info.height == PhantomInfo.height)
        #expect(reader.info.fps == Double(PhantomInfo.fps))
        let clip = PhantomGenerator(seed: PhantomFixture.seed).makeClip(index)
        // Out of order, as a labeller jumps around: each decoded frame is the one drawn.
        for t in [reader.info.frames - 1, 0, 41, 40, 7] {
            let decoded = try reader.frame(t, format: .gray8)
            let drawn = clip.frame(t)
            var squared = 0.0
            for i in 0..<drawn.pixels.count {
                let d = Double(decoded.pixels[i]) - Double(drawn.pixels[i])
                squared += d * d
            }
            let psnr = 10 * log10(255 * 255 / max(squared / Double(drawn.pixels.count), 1e-9))
            #expect(psnr > 28, "frame \(t): PSNR \(psnr) dB against the drawn frame")
        }
    }

    @Test func labelsParseAndCoverEveryFindingAndSeverity() throws {
        let labels = try PhantomFixture.labels()
        let frames = labels.filter { $0.frame != nil }
        for finding in Finding.allCases {
            #expect(frames.contains { $0.labels[finding] == true }, "no frame shows \(finding.csvName)")
            #expect(frames.contains { $0.labels[finding] == false }, "every frame shows \(finding.csvName)")
        }
        #expect(Set(frames.compactMap { $0.labels.severity?.rawValue }) == [0, 1, 2, 3])
        #expect(labels.allSatisfy { $0.annotator == PhantomInfo.annotator && $0.labels.quality == .ok })
        for index in 0..<PhantomFixture.count {
            let name = PhantomInfo.clipFileName(index)
            let rows = labels.filter { $0.media == name }
            let frameRows = rows.filter { $0.frame != nil }
            #expect(frameRows.map { $0.frame! } == Array(0..<frameRows.count), "\(name): frames not 0…n-1 in order")
            #expect(frameRows.allSatisfy { row in Finding.allCases.allSatisfy { row.labels[$0] != nil } })
            let video = try #require(rows.first { $0.frame == nil }, "\(name) has no whole-video row")
            #expect(video.labels.severity == frameRows.compactMap { $0.labels.severity }.max())
            for f in Finding.allCases {
                #expect(video.labels[f] == frameRows.contains { $0.labels[f] == true })
            }
            #expect(video.labels.note?.hasPrefix("phantom:") == true)
        }
        // Findings change with breathing inside a clip: B-lines come and go in the first clip.
        let first = frames.filter { $0.media == PhantomInfo.clipFileName(0) }
        #expect(Set(first.map { $0.labels[.b1Lines] }) == [true, false])
        #expect(Set(first.compactMap { $0.labels.severity?.rawValue }) == [0, 1])
    }

    @Test func severityFollowsTheFindings() throws {
        for r in try PhantomFixture.labels() where r.frame != nil {
            let s = try #require(r.labels.severity).rawValue
            let b1 = r.labels[.b1Lines]!, b2 = r.labels[.b2Lines]!, cons = r.labels[.consolidation]!
            switch s {
            case 0: #expect(!b1 && !b2 && !cons && r.labels[.aLines]!)
            case 1: #expect(b1 && !b2 && !cons)
            default: #expect(b2 || cons)
            }
        }
    }
}

@Suite struct DemoMediaTests {
    @Test func generatesOnceAndReuses() throws {
        let cache = try TestEnv.makeTempDirectory("phantom-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let folder = try DemoMedia.ensureClips(count: 1, seed: 5, cache: cache)
        #expect(folder.lastPathComponent == DemoMedia.folderName(count: 1, seed: 5))
        let labels = folder.appendingPathComponent(PhantomInfo.labelsFileName)
        let clip = folder.appendingPathComponent(PhantomInfo.clipFileName(0))
        #expect(FileManager.default.fileExists(atPath: clip.path))
        // Nothing but the finished folder is left in the cache.
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache.path) == [folder.lastPathComponent])
        let stamp = try #require(try FileManager.default.attributesOfItem(atPath: labels.path)[.modificationDate] as? Date)
        var calls = 0
        let again = try DemoMedia.ensureClips(count: 1, seed: 5, cache: cache) { _, _ in calls += 1 }
        #expect(again.path == folder.path)
        #expect(calls == 0, "clips were generated again")
        #expect(try FileManager.default.attributesOfItem(atPath: labels.path)[.modificationDate] as? Date == stamp)
    }

    @Test func replacesAnIncompleteFolder() throws {
        let cache = try TestEnv.makeTempDirectory("phantom-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        // A folder with a clip but no labels.csv (say, from a copy that was interrupted).
        let broken = cache.appendingPathComponent(DemoMedia.folderName(count: 1, seed: 6))
        try FileManager.default.createDirectory(at: broken, withIntermediateDirectories: true)
        try Data("junk".utf8).write(to: broken.appendingPathComponent(PhantomInfo.clipFileName(0)))
        let folder = try DemoMedia.ensureClips(count: 1, seed: 6, cache: cache)
        #expect(folder.standardizedFileURL.path == broken.standardizedFileURL.path)
        #expect(DemoMedia.isComplete(folder, count: 1))
        #expect(try Data(contentsOf: folder.appendingPathComponent(PhantomInfo.clipFileName(0))).count > 10_000)
    }

    @Test func removesWhatAKilledRunLeftBehind() throws {
        let cache = try TestEnv.makeTempDirectory("phantom-cache")
        defer { try? FileManager.default.removeItem(at: cache) }
        let name = DemoMedia.folderName(count: 1, seed: 8)
        // PID 0x7FFFFFF0 does not exist (pid_max is at most 2^22); our own PID does.
        let dead = cache.appendingPathComponent(".\(name).tmp-\(0x7FFF_FFF0)")
        let alive = cache.appendingPathComponent(".\(name).tmp-1")
        for dir in [dead, alive] { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        let folder = try DemoMedia.ensureClips(count: 1, seed: 8, cache: cache)
        let left = try FileManager.default.contentsOfDirectory(atPath: cache.path).sorted()
        #expect(left == [alive.lastPathComponent, folder.lastPathComponent].sorted())
    }

    @Test func refusesABadCount() {
        #expect(throws: PleuraError.self) { try DemoMedia.ensureClips(count: 0, seed: 1) }
    }
}
