import Foundation
import PleuraCore
import PleuraMedia

extension BenchmarkSuite {
    /// Decoding throughput against ffmpeg (whole process, one decoder thread each), seek cost
    /// against decoding a GOP, and `pleura probe` start-to-exit time. Needs the POCUS data and
    /// the ffmpeg program; Benchmarks/media.sh runs the same comparisons with hyperfine.
    static let media = BenchmarkSuite(
        name: "media",
        summary: "decode throughput vs ffmpeg -threads 1, random seeks vs one GOP, probe time",
        run: { context in try MediaBench(context: context).run() })
}

struct MediaBench {
    let context: BenchContext

    /// The longest POCUS clip (495 frames, H.264 234×234, GOPs of 78/250/167 frames) and the
    /// largest-picture one (H.264 1080×1080, 100 frames).
    static let clips = ["pocus_videos/linear/Reg_Image_181206_crop.mp4",
                        "pocus_videos/convex/Cov-Atlas-suspectedCovid.mp4"]

    func run() throws -> [BenchResult] {
        guard let pocus = context.pocusDirectory else {
            context.progress("skipped: no POCUS data (../shared/data/pocus or $PLEURA_POCUS)")
            return []
        }
        guard let ffmpeg = Self.which("ffmpeg") else {
            context.progress("skipped: the ffmpeg program is not installed")
            return []
        }
        let clips = Self.clips.map { pocus.appendingPathComponent($0).path }
            .filter { FileManager.default.fileExists(atPath: $0) }
        guard let longest = clips.first else { return [] }
        let cache = context.scratch.appendingPathComponent("cache").path
        let env = ["PLEURA_CACHE_DIR": cache]
        let pleura = context.pleuraExecutable.path
        let repeats = context.quick ? 3 : 10
        var results: [BenchResult] = []

        // First probe builds the frame index (one full decode); later runs use the cached one.
        for clip in clips {
            let cold = try Self.time(pleura, ["probe", clip], env: env)
            results.append(BenchResult(suite: "media", name: "probe, first time (builds the index)", value: cold * 1000,
                                       unit: "ms", note: Self.describe(clip)))
        }
        for clip in clips {
            let name = Self.describe(clip)
            context.progress("decode throughput: \(name)")
            let frames = Double(try MediaReader.probe(path: clip).frames)
            for (pixels, ffArgs, label) in [("none", [String](), "decode"), ("rgb24", ["-pix_fmt", "rgb24"], "decode + rgb24")] {
                let ff = try Self.median(repeats) {
                    try Self.time(ffmpeg, ["-nostdin", "-v", "error", "-threads", "1", "-i", clip, "-map", "0:v:0"] + ffArgs + ["-f", "null", "-"])
                }
                let mine = try Self.median(repeats) {
                    try Self.time(pleura, ["decode-all", clip, "--threads", "1", "--pixels", pixels], env: env)
                }
                let ratio = ff / mine
                results.append(BenchResult(suite: "media", name: "\(label), whole process: pleura / ffmpeg throughput",
                                           value: ratio, unit: "×", target: "≥ 0.8", pass: ratio >= 0.8,
                                           note: "\(name): pleura \(Self.ms(mine)) vs ffmpeg \(Self.ms(ff)), \(Int(frames)) frames"))
            }
        }

        context.progress("200 random seeks in \(Self.describe(longest))")
        let reader = try MediaReader(path: longest, cacheBytes: 0)
        let keyframes = reader.keyframes + [reader.info.frames]
        var gopTimes: [Double] = []
        for _ in 0..<(context.quick ? 1 : 3) {
            for g in 0..<(keyframes.count - 1) {
                let range = keyframes[g]..<keyframes[g + 1]
                gopTimes.append(try Measure.seconds { try reader.forEachFrame(in: range, format: nil) { _, _ in } })
            }
        }
        var rng = SplitMix(seed: 2)
        var seekTimes: [Double] = []
        for _ in 0..<200 {
            let n = Int(rng.next() % UInt64(reader.info.frames))
            seekTimes.append(try Measure.seconds { _ = try reader.frame(n) })
        }
        let seek = TimingSummary(seekTimes), gop = TimingSummary(gopTimes)
        results.append(BenchResult(suite: "media", name: "random seek, mean (rgb24, no cache)", value: seek.mean * 1000, unit: "ms",
                                   note: "p50 \(Self.ms(seek.p50)), p99 \(Self.ms(seek.p99)), \(reader.statistics.seeks) seeks"))
        results.append(BenchResult(suite: "media", name: "decode one GOP from its keyframe, mean", value: gop.mean * 1000, unit: "ms",
                                   note: "\(keyframes.count - 1) GOPs"))
        results.append(BenchResult(suite: "media", name: "mean seek / mean GOP decode", value: seek.mean / gop.mean, unit: "×",
                                   target: "≤ 3", pass: seek.mean / gop.mean <= 3))

        context.progress("probe with a cached index")
        let probe = TimingSummary(try (0..<repeats).map { _ in try Self.time(pleura, ["probe", longest], env: env) })
        results.append(BenchResult(suite: "media", name: "pleura probe, whole process, cached index (p50)", value: probe.p50 * 1000,
                                   unit: "ms", target: "≤ 150 ms", pass: probe.p50 <= 0.150, note: Self.describe(longest)))
        let inProcess = TimingSummary(try (0..<repeats).map { _ in try Measure.seconds { _ = try MediaReader.probe(path: longest) } })
        results.append(BenchResult(suite: "media", name: "MediaReader.probe in process, cached index (p50)", value: inProcess.p50 * 1000, unit: "ms"))
        return results
    }

    static func describe(_ path: String) -> String { URL(fileURLWithPath: path).lastPathComponent }
    static func ms(_ s: Double) -> String { String(format: "%.1f ms", s * 1000) }

    static func median(_ n: Int, _ body: () throws -> Double) rethrows -> Double {
        _ = try body() // warm-up: page cache, index cache
        return TimingSummary(try (0..<n).map { _ in try body() }).p50
    }

    /// Seconds from launch to exit of a program whose output is discarded; throws if it fails.
    static func time(_ executable: String, _ arguments: [String], env: [String: String] = [:]) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(env) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let t0 = Measure.now()
        try process.run()
        process.waitUntilExit()
        let elapsed = Measure.now() - t0
        guard process.terminationStatus == 0 else {
            throw PleuraError(file: executable, "benchmark run failed (exit \(process.terminationStatus)): \(arguments.joined(separator: " "))")
        }
        return elapsed
    }

    static func which(_ program: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
