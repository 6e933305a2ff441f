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
        guard let ffmpeg = MeasuredProcess.which("ffmpeg") else {
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
            let cold = try Self.run(pleura, ["probe", clip], env: env).seconds
            results.append(BenchResult(suite: "media", name: "probe, first time (builds the index)", value: cold * 1000,
                                       unit: "ms", note: Self.describe(clip)))
        }
        for clip in clips {
            let name = Self.describe(clip)
            context.progress("decode throughput: \(name)")
            let frames = try MediaReader.probe(path: clip).frames
            for (pixels, ffArgs, label) in [("none", [String](), "decode"), ("rgb24", ["-pix_fmt", "rgb24"], "decode + rgb24")] {
                // Runs alternate between the two programs so a load change on the shared
                // machine hits both alike; CPU time (user + sys of the child) is the figure
                // judged, wall time is noted.
                var ff: [Run] = [], mine: [Run] = []
                for i in 0...repeats {
                    let a = try Self.run(ffmpeg, ["-nostdin", "-v", "error", "-threads", "1", "-i", clip, "-map", "0:v:0"] + ffArgs + ["-f", "null", "-"])
                    let b = try Self.run(pleura, ["decode-all", clip, "--threads", "1", "--pixels", pixels], env: env)
                    if i > 0 { ff.append(a); mine.append(b) } // the first pair warms the caches
                }
                let ffCPU = TimingSummary(ff.map(\.cpuSeconds)).p50, mineCPU = TimingSummary(mine.map(\.cpuSeconds)).p50
                let ffWall = TimingSummary(ff.map(\.seconds)).p50, mineWall = TimingSummary(mine.map(\.seconds)).p50
                let ratio = ffCPU / mineCPU
                results.append(BenchResult(suite: "media", name: "\(label), whole process: pleura / ffmpeg throughput (CPU time)",
                                           value: ratio, unit: "×", target: "≥ 0.8", pass: ratio >= 0.8,
                                           note: "\(name), \(frames) frames: CPU pleura \(Self.ms(mineCPU)) vs ffmpeg \(Self.ms(ffCPU)); wall \(Self.ms(mineWall)) vs \(Self.ms(ffWall))"))
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
        var rng = SplitMix64(seed: 2)
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
        var probeRuns: [Run] = []
        for _ in 0..<(repeats * 2) { probeRuns.append(try Self.run(pleura, ["probe", longest], env: env)) }
        let probeWall = TimingSummary(probeRuns.map(\.seconds)), probeCPU = TimingSummary(probeRuns.map(\.cpuSeconds))
        // Judged on the best run: on a shared machine the median mostly measures other people's
        // load (`pleura version` alone is the floor: process start and dynamic linking).
        results.append(BenchResult(suite: "media", name: "pleura probe, whole process, cached index (best of \(probeRuns.count))",
                                   value: probeWall.min * 1000, unit: "ms", target: "≤ 150 ms", pass: probeWall.min <= 0.150,
                                   note: "\(Self.describe(longest)); p50 \(Self.ms(probeWall.p50)), CPU p50 \(Self.ms(probeCPU.p50))"))
        let version = TimingSummary(try (0..<repeats).map { _ in try Self.run(pleura, ["version"]).seconds })
        results.append(BenchResult(suite: "media", name: "pleura version, whole process (start-up floor, best)", value: version.min * 1000, unit: "ms"))
        let inProcess = TimingSummary(try (0..<repeats).map { _ in try Measure.seconds { _ = try MediaReader.probe(path: longest) } })
        results.append(BenchResult(suite: "media", name: "MediaReader.probe in process, cached index (p50)", value: inProcess.p50 * 1000, unit: "ms"))
        // Every open and probe hashes the whole file (media are identified by content), so the
        // hash's throughput bounds probe time on large clips.
        let hashBytes = Double((try FileManager.default.attributesOfItem(atPath: longest)[.size] as? Int) ?? 0)
        let hashTime = TimingSummary(try (0..<repeats).map { _ in try Measure.seconds { _ = try SHA256.hexOfFile(atPath: longest) } })
        results.append(BenchResult(suite: "media", name: "SHA-256 of the clip (content identity), best", value: hashBytes / hashTime.min / 1e6,
                                   unit: "MB/s", note: "\(Int(hashBytes)) bytes in \(Self.ms(hashTime.min))"))
        return results
    }

    static func describe(_ path: String) -> String { URL(fileURLWithPath: path).lastPathComponent }
    static func ms(_ s: Double) -> String { String(format: "%.1f ms", s * 1000) }

    typealias Run = MeasuredProcess.Outcome

    /// Runs a program (output discarded) and throws if it fails.
    static func run(_ executable: String, _ arguments: [String], env: [String: String] = [:]) throws -> Run {
        let outcome = try MeasuredProcess.run(executable, arguments, environment: env)
        guard outcome.status == 0 else {
            throw PleuraError(file: executable, "benchmark run failed (exit \(outcome.status)): \(arguments.joined(separator: " ")): \(outcome.stderr)")
        }
        return outcome
    }
}
