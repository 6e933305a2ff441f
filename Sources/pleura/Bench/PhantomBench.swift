import Foundation
import PleuraCore
import PleuraPhantom

extension BenchmarkSuite {
    /// Phantom generation speed: the demo session makes its clips on first start, so this is
    /// start-up time a new user waits through.
    static let phantom = BenchmarkSuite(
        name: "phantom",
        summary: "synthetic LUS clips: drawing + H.264 encoding, per clip"
    ) { context in
        let count = PhantomInfo.countCoveringEverything
        let rounds = context.quick ? 1 : 3
        var perClip: [Double] = []
        var cpuPerClip: [Double] = []
        func cpuSeconds() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        }
        var bytes = 0
        var frames = 0
        for round in 0..<rounds {
            let folder = context.scratch.appendingPathComponent("phantom-\(round)")
            context.progress("phantom round \(round + 1)/\(rounds): \(count) clips")
            let cpu0 = cpuSeconds()
            let seconds = try Measure.seconds {
                let urls = try PhantomGenerator(seed: 1).makeClips(count: count, into: folder, progress: nil)
                if round == 0 {
                    bytes = urls.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1.path)[.size] as? Int) ?? 0) }
                }
            }
            if round == 0 {
                let labels = try String(contentsOf: folder.appendingPathComponent(PhantomInfo.labelsFileName), encoding: .utf8)
                frames = try LabelRecord.parseFile(labels, file: PhantomInfo.labelsFileName).filter { $0.frame != nil }.count
            }
            perClip.append(seconds / Double(count))
            cpuPerClip.append((cpuSeconds() - cpu0) / Double(count))
            try? FileManager.default.removeItem(at: folder)
        }
        let summary = TimingSummary(perClip)
        let framesPerClip = Double(frames) / Double(count)
        return [
            BenchResult(suite: "phantom", name: "generate one clip (\(Int(framesPerClip.rounded())) frames, \(PhantomInfo.width)×\(PhantomInfo.height))",
                        value: summary.p50, unit: "s", target: "< 1 s", pass: summary.p50 < 1,
                        note: "median of \(rounds) × \(count) clips, seed 1"),
            BenchResult(suite: "phantom", name: "CPU time per clip (one thread)", value: TimingSummary(cpuPerClip).p50, unit: "s",
                        note: "wall time above includes waiting for a busy machine"),
            BenchResult(suite: "phantom", name: "frames drawn and encoded per second",
                        value: framesPerClip / summary.p50, unit: "frames/s"),
            BenchResult(suite: "phantom", name: "clip size", value: Double(bytes) / Double(count) / 1024, unit: "KiB",
                        note: "H.264 CRF 23, veryfast"),
        ]
    }
}
