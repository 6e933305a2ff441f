import Foundation
import PleuraCore
import PleuraMedia

extension BenchmarkSuite {
    /// Batch commands must not grow with the number of files: peak RSS of whole `pleura infer`
    /// processes (wait4) over 10 and over 300 small synthetic clips (160×128, 4 frames each,
    /// speckle with a per-clip seed so every clip is distinct content), each into a fresh store.
    static let batch = BenchmarkSuite(
        name: "batch",
        summary: "memory of batch commands over 10 vs 300 clips (pleura infer)",
        run: { context in
            var results: [BenchResult] = []
            let counts = context.quick ? [5, 50] : [10, 300]
            let folder = context.scratch.appendingPathComponent("batch-clips")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            context.progress("making \(counts.max()!) small clips")
            var clips: [String] = []
            for n in 0..<counts.max()! {
                let path = folder.appendingPathComponent(String(format: "clip-%03d.mp4", n)).path
                let encoder = try VideoEncoder(path: path, width: 160, height: 128, fps: 10)
                var state = UInt64(n + 1) &* 0x9E37_79B9_7F4A_7C15
                for f in 0..<4 {
                    var pixels = [UInt8](repeating: 0, count: 160 * 128 * 3)
                    for y in 0..<128 {
                        for x in 0..<160 {
                            state = state &* 6364136223846793005 &+ 1442695040888963407
                            let v = UInt8(truncatingIfNeeded: (y * 2 + f * 3) / 2 + Int(state >> 59) * 8)
                            let i = (y * 160 + x) * 3
                            pixels[i] = v; pixels[i + 1] = v; pixels[i + 2] = v
                        }
                    }
                    try encoder.append(PixelImage(width: 160, height: 128, format: .rgb24, pixels: pixels))
                }
                try encoder.finish()
                clips.append(path)
            }
            let exe = context.pleuraExecutable.path
            let cache = context.scratch.appendingPathComponent("batch-cache").path
            var peaks: [Int: Double] = [:]
            for count in counts {
                context.progress("pleura infer over \(count) clips")
                let store = context.scratch.appendingPathComponent("batch-\(count).sqlite").path
                let r = try MeasuredProcess.run(exe, ["infer", "--store", store, "--quiet"] + clips.prefix(count),
                                                environment: ["PLEURA_CACHE_DIR": cache, "PLEURA_THREADS": "1"])
                guard r.status == 0 else { throw PleuraError(file: store, "pleura infer failed (status \(r.status)): \(r.stderr)") }
                peaks[count] = Double(r.maxRSSBytes) / 1e6
                results.append(BenchResult(suite: "batch", name: "pleura infer over \(count) clips (\(count * 4) frames), peak RSS",
                                           value: peaks[count]!, unit: "MB", note: String(format: "%.1f s", r.seconds)))
            }
            let ratio = peaks[counts[1]]! / peaks[counts[0]]!
            results.append(BenchResult(suite: "batch", name: "infer peak RSS, \(counts[1]) clips / \(counts[0]) clips", value: ratio,
                                       unit: "×", target: "≤ 1.2×", pass: ratio <= 1.2))
            return results
        })
}
