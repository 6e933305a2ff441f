import Foundation
import PleuraCore
import PleuraMedia
import PleuraModel

extension BenchmarkSuite {
    /// The embedded model: in-process predict + Grad-CAM per 224-px frame on 1 and 2 threads,
    /// whole-process `pleura infer` frames/s on a POCUS clip beside the same work in Python
    /// (Scripts/infer_reference.py, Debian's torch, the same TorchScript file), and `pleura probe`
    /// start-up (which must not load libtorch).
    static let model = BenchmarkSuite(name: "model", summary: "embedded model: predict + Grad-CAM, infer vs Python, probe start-up") { ctx in
        var results: [BenchResult] = []
        guard let modelURL = Model.defaultModelURL else {
            throw PleuraError(file: Model.defaultModelName, "embedded model not found; set PLEURA_MODEL")
        }
        let clip = ctx.pocusDirectory?.appendingPathComponent("pocus_videos/convex/Cov_combatting_Image2.mp4").path
        // One real frame when the data is here, else a synthetic 640x480 grey frame.
        let frame: PixelImage
        if let clip { frame = try MediaReader(path: clip).frame(10) } else {
            var pixels = [UInt8](repeating: 0, count: 640 * 480)
            for i in 0..<pixels.count { pixels[i] = UInt8(truncatingIfNeeded: i / 640 * 7 + i % 640) }
            frame = PixelImage(width: 640, height: 480, format: .gray8, pixels: pixels)
        }
        let model = try ModelRuntime.load(modelURL)
        let head = model.card.defaultHead
        let n = ctx.quick ? 10 : 60
        for threads in [1, 2] {
            try ModelRuntime.setThreads(threads)
            _ = try model.analyse(frame, targets: [.top(head: head)], methods: [.gradcam])   // warm-up
            var predict: [Double] = [], cam: [Double] = [], forward: [Double] = [], prep: [Double] = []
            let input = model.inputTensor(for: frame)
            for _ in 0..<n {
                prep.append(Measure.seconds { _ = model.inputTensor(for: frame) })
                forward.append(try Measure.seconds { _ = try model.logits(input: input) })
                predict.append(try Measure.seconds { _ = try model.predict(frame) })
                cam.append(try Measure.seconds { _ = try model.analyse(frame, targets: [.top(head: head)], methods: [.gradcam]) })
            }
            ctx.progress("\(threads) thread(s): predict p50 \(TimingSummary(predict).p50 * 1000) ms")
            if threads == 1 {
                results.append(BenchResult(suite: "model", name: "preprocess p50", value: TimingSummary(prep).p50 * 1000, unit: "ms",
                                           note: "\(frame.width)x\(frame.height) \(frame.format == .rgb24 ? "RGB" : "grey") → \(model.card.input.channels)x\(model.card.input.height)x\(model.card.input.width)"))
            }
            results.append(BenchResult(suite: "model", name: "forward only (libtorch) p50, \(threads) thread\(threads == 1 ? "" : "s")",
                                       value: TimingSummary(forward).p50 * 1000, unit: "ms"))
            results.append(BenchResult(suite: "model", name: "predict p50, \(threads) thread\(threads == 1 ? "" : "s")",
                                       value: TimingSummary(predict).p50 * 1000, unit: "ms",
                                       note: "\(frame.width)x\(frame.height) frame → \(model.card.input.width) px, all heads"))
            results.append(BenchResult(suite: "model", name: "predict + Grad-CAM p50, \(threads) thread\(threads == 1 ? "" : "s")",
                                       value: TimingSummary(cam).p50 * 1000, unit: "ms", note: "top class of \(head), map at input size"))
        }
        try ModelRuntime.setThreads(1)

        if let clip {
            let store = ctx.scratch.appendingPathComponent("infer.db").path
            let every = ctx.quick ? 4 : 1
            var frames = 0
            let info = try MediaReader.probe(path: clip)
            frames = (info.frames + every - 1) / every
            let script = ctx.pleuraExecutable.deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("Scripts/infer_reference.py")
            let repoScript = FileManager.default.fileExists(atPath: script.path) ? script.path
                : FileManager.default.currentDirectoryPath + "/Scripts/infer_reference.py"
            let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") && FileManager.default.fileExists(atPath: repoScript)
            // Alternate the two programs and keep the median of each: whole-process runs on a shared
            // machine are noisy, and alternating spreads any change in load over both.
            var pleuraRuns: [Double] = [], pythonRuns: [Double] = []
            for run in 0..<(ctx.quick ? 1 : 3) {
                try? FileManager.default.removeItem(atPath: store)
                try? FileManager.default.removeItem(atPath: store + "-wal")
                try? FileManager.default.removeItem(atPath: store + "-shm")
                let r = try MeasuredProcess.run(ctx.pleuraExecutable.path, ["infer", "--store", store, "--model", modelURL.path, "--threads", "1",
                                                                            "--every", String(every), "--quiet", clip])
                if r.status != 0 { throw PleuraError(file: clip, "pleura infer failed: \(r.stderr)") }
                pleuraRuns.append(r.seconds)
                if python {
                    let r = try MeasuredProcess.run("/usr/bin/python3", [repoScript, modelURL.path, clip, "--every", String(every)])
                    if r.status != 0 { throw PleuraError(file: repoScript, "python reference failed: \(r.stderr)") }
                    pythonRuns.append(r.seconds)
                }
                ctx.progress("infer run \(run + 1): pleura \(pleuraRuns.last!) s" + (python ? ", python \(pythonRuns.last!) s" : ""))
            }
            let pleuraRate = Double(frames) / TimingSummary(pleuraRuns).p50
            results.append(BenchResult(suite: "model", name: "pleura infer, whole process, 1 thread", value: pleuraRate, unit: "frames/s",
                                       note: "median of \(pleuraRuns.count); \(frames) frames of \(URL(fileURLWithPath: clip).lastPathComponent), decode + predict + Grad-CAM + store"))
            if python {
                let pythonRate = Double(frames) / TimingSummary(pythonRuns).p50
                results.append(BenchResult(suite: "model", name: "Python (Debian torch) same work, whole process, 1 thread",
                                           value: pythonRate, unit: "frames/s", note: "median of \(pythonRuns.count); ffmpeg CLI decode, no store writes"))
                results.append(BenchResult(suite: "model", name: "pleura infer / Python", value: pleuraRate / pythonRate, unit: "x",
                                           target: "≥ 1", pass: pleuraRate >= pythonRate))
            }
            var probe: [Double] = []
            _ = try MeasuredProcess.run(ctx.pleuraExecutable.path, ["probe", clip])   // builds the frame index once
            for _ in 0..<(ctx.quick ? 5 : 20) {
                probe.append(try MeasuredProcess.run(ctx.pleuraExecutable.path, ["probe", clip]).seconds)
            }
            let p50 = TimingSummary(probe).p50 * 1000
            results.append(BenchResult(suite: "model", name: "pleura probe FILE, whole process p50", value: p50, unit: "ms",
                                       target: "≤ 150 ms", pass: p50 <= 150, note: "libtorch not loaded"))
        }
        return results
    }
}
