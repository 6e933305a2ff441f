import Foundation
import PleuraCore
import PleuraMedia
import PleuraRender

/// Rendering benchmarks on 10 real POCUS frames at 480×480 (the same frames and commands as
/// Benchmarks/render.sh): pleura's sixel bytes and PSNR beside img2sixel's, in-process encode
/// time, and whole-process wall time of `pleura render` beside img2sixel and chafa.
extension BenchmarkSuite {
    static let render = BenchmarkSuite(
        name: "render",
        summary: "sixel bytes/PSNR vs img2sixel, encode time, whole-process render vs img2sixel and chafa (10 POCUS frames, 480×480)",
        run: RenderBench.run)
}

enum RenderBench {
    static let side = 480

    /// The clips: every 4th of the first 40 videos in the manifest (ten sources and scanners),
    /// frame 10 of each. Benchmarks/render.sh selects the same with awk.
    static func clips(_ pocus: URL) throws -> [String] {
        let path = pocus.appendingPathComponent("manifest.csv").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let records = try CSV.parse(text, file: path)
        guard let header = records.first?.fields, let p = header.firstIndex(of: "path"),
              let k = header.firstIndex(of: "kind") else {
            throw PleuraError(file: path, "manifest without path/kind columns")
        }
        let videos = records.dropFirst().filter { $0.fields.count > max(p, k) && $0.fields[k] == "video" }.map { $0.fields[p] }
        return Array(videos.prefix(40)).enumerated().filter { $0.offset % 4 == 0 }.map { $0.element }
    }

    /// Frame 10 of `clip`, scaled to fit 480×480 and padded (ffmpeg's area scaler), as a PNG:
    /// every tool reads the same file.
    static func extract(_ clip: URL, to png: URL) throws {
        let filter = "select=eq(n\\,10),scale=\(side):\(side):force_original_aspect_ratio=decrease:flags=area,"
            + "pad=\(side):\(side):(ow-iw)/2:(oh-ih)/2,format=rgb24"
        let r = try run("ffmpeg", ["-nostdin", "-v", "error", "-y", "-i", clip.path, "-vf", filter, "-frames:v", "1", png.path])
        guard r.status == 0 else { throw PleuraError(file: clip.path, "ffmpeg could not extract frame 10: \(r.stderr)") }
    }

    static func run(_ context: BenchContext) throws -> [BenchResult] {
        guard let pocus = context.pocusDirectory else {
            context.progress("skipped: no POCUS data (../shared/data/pocus or $PLEURA_POCUS)")
            return []
        }
        for tool in ["ffmpeg", "img2sixel"] where MeasuredProcess.which(tool) == nil {
            throw PleuraError(file: nil, "the render benchmark needs \(tool) (make deps-test installs it)")
        }
        let suite = "render"
        var results: [BenchResult] = []
        let clipPaths = try clips(pocus)
        var frames: [(png: URL, image: PixelImage)] = []
        for (i, clip) in clipPaths.enumerated() {
            context.progress("extracting frame 10 of \(clip)")
            let png = context.scratch.appendingPathComponent("frame\(i).png")
            try extract(pocus.appendingPathComponent(clip), to: png)
            frames.append((png, try MediaReader(path: png.path, cacheBytes: 0).frame(0)))
        }

        // 1. Bytes and quality, frame by frame, against img2sixel's default output.
        var ours: [Double] = [], theirs: [Double] = [], ratios: [Double] = [], psnrs: [Double] = [], theirPSNR: [Double] = []
        var firstEncode: [Double] = []
        for (png, image) in frames {
            let encoder = SixelEncoder()
            var bytes: [UInt8] = []
            firstEncode.append(try Measure.seconds { bytes = try encoder.encode(image) })
            let reference = try run("img2sixel", [png.path])
            let psnr = ImageMetrics.psnr(try SixelDecoder.decode(bytes), image)
            let refPSNR = ImageMetrics.psnr(try SixelDecoder.decode([UInt8](reference.output)), image)
            ours.append(Double(bytes.count)); theirs.append(Double(reference.output.count))
            ratios.append(Double(bytes.count) / Double(reference.output.count))
            psnrs.append(psnr); theirPSNR.append(refPSNR)
        }
        let meanRatio = ours.reduce(0, +) / theirs.reduce(0, +)
        results.append(BenchResult(suite: suite, name: "sixel bytes/frame, pleura", value: mean(ours) / 1024, unit: "KiB",
                                   note: "min \(kib(ours.min()!)) max \(kib(ours.max()!))"))
        results.append(BenchResult(suite: suite, name: "sixel bytes/frame, img2sixel default", value: mean(theirs) / 1024, unit: "KiB",
                                   note: "min \(kib(theirs.min()!)) max \(kib(theirs.max()!))"))
        results.append(BenchResult(suite: suite, name: "bytes pleura / img2sixel (total)", value: meanRatio, unit: "×",
                                   target: "≤ 0.7", pass: meanRatio <= 0.7))
        results.append(BenchResult(suite: suite, name: "bytes pleura / img2sixel (worst frame)", value: ratios.max()!, unit: "×",
                                   target: "≤ 0.7", pass: ratios.max()! <= 0.7))
        results.append(BenchResult(suite: suite, name: "PSNR pleura (worst frame)", value: psnrs.min()!, unit: "dB",
                                   target: "≥ 32", pass: psnrs.min()! >= 32, note: "mean \(fmt(mean(psnrs)))"))
        results.append(BenchResult(suite: suite, name: "PSNR img2sixel (worst frame)", value: theirPSNR.min()!, unit: "dB",
                                   note: "mean \(fmt(mean(theirPSNR)))"))

        // 2. With a heatmap overlay (a synthetic Grad-CAM-like blob through jet at 0.5).
        var overlayPSNR: [Double] = [], overlayBytes: [Double] = []
        let blob = Heatmap(width: 14, height: 14, values: (0..<196).map { i in
            let x = Double(i % 14) / 13 - 0.55, y = Double(i / 14) / 13 - 0.6
            return Float(exp(-(x * x + y * y) / 0.06))
        })
        for (_, image) in frames {
            let pane = Compositor.compose(frame: image, heatmap: blob, style: OverlayStyle(colormap: .jet, opacity: 0.5, threshold: 0.1),
                                          width: side, height: side)
            let bytes = try SixelEncoder().encode(pane)
            overlayBytes.append(Double(bytes.count))
            overlayPSNR.append(ImageMetrics.psnr(try SixelDecoder.decode(bytes), pane))
        }
        results.append(BenchResult(suite: suite, name: "PSNR with jet overlay (worst frame)", value: overlayPSNR.min()!, unit: "dB",
                                   target: "≥ 28", pass: overlayPSNR.min()! >= 28,
                                   note: "mean \(fmt(mean(overlayPSNR))), \(kib(mean(overlayBytes))) KiB/frame"))
        results.append(BenchResult(suite: suite, name: "largest sixel", value: (ours + overlayBytes).max()! / 1024, unit: "KiB",
                                   target: "< 1024", pass: (ours + overlayBytes).max()! < 1_048_576))

        // 3. In-process encode time: a new clip (palette fitted) and the steady state (palette reused).
        let repeats = context.quick ? 3 : 15
        var steady: [Double] = []
        for (_, image) in frames {
            let encoder = SixelEncoder()
            _ = try encoder.encode(image)
            for _ in 0..<repeats { steady.append(try Measure.seconds { _ = try encoder.encode(image) }) }
        }
        for (_, image) in frames {
            for _ in 0..<(repeats / 3) { firstEncode.append(try Measure.seconds { _ = try SixelEncoder().encode(image) }) }
        }
        let steadySummary = TimingSummary(steady), firstSummary = TimingSummary(firstEncode)
        results.append(BenchResult(suite: suite, name: "encode 480×480, palette reused, p50", value: steadySummary.p50 * 1000,
                                   unit: "ms", target: "≤ 10", pass: steadySummary.p50 * 1000 <= 10,
                                   note: "p99 \(fmt(steadySummary.p99 * 1000)) ms"))
        results.append(BenchResult(suite: suite, name: "encode 480×480, new clip (palette fit), p50", value: firstSummary.p50 * 1000,
                                   unit: "ms", target: "≤ 10", pass: firstSummary.p50 * 1000 <= 10,
                                   note: "p99 \(fmt(firstSummary.p99 * 1000)) ms"))
        // The PNG read as `pleura render` reads it (MediaReader: hash, cached index, decode, rgb24),
        // for the floor below.
        var decode: [Double] = []
        for (png, _) in frames {
            _ = try MediaReader(path: png.path, cacheBytes: 0).frame(0)   // index cached, FFmpeg loaded
            for _ in 0..<(repeats / 3) {
                decode.append(try Measure.seconds { _ = try MediaReader(path: png.path, cacheBytes: 0).frame(0) })
            }
        }
        let decodeP50 = TimingSummary(decode).p50
        results.append(BenchResult(suite: suite, name: "open + decode the 480×480 PNG in-process, p50", value: decodeP50 * 1000, unit: "ms"))
        var halfBlock: [Double] = []
        for (_, image) in frames {
            halfBlock.append(Measure.seconds { _ = HalfBlockRenderer.render(image, columns: 80, rows: 40, mode: .truecolor) })
        }
        results.append(BenchResult(suite: suite, name: "half-blocks 80×40 truecolor, p50", value: TimingSummary(halfBlock).p50 * 1000, unit: "ms"))

        // 4. Whole process, same PNG, output to /dev/null: pleura render vs img2sixel vs chafa.
        let runs = context.quick ? 3 : 10
        func wall(_ exe: String, _ args: [String], input: Bool = true) throws -> Double {
            var samples: [Double] = []
            for _ in 0..<runs {
                for (png, _) in frames.prefix(3) {
                    let outcome = try MeasuredProcess.run(exe, args + (input ? [png.path] : []))
                    guard outcome.status == 0 else {
                        throw PleuraError(file: exe, "exited with status \(outcome.status) on \(png.lastPathComponent)")
                    }
                    samples.append(outcome.seconds)
                }
            }
            return TimingSummary(samples).p50
        }
        context.progress("timing whole processes (\(runs) × 3 frames each)")
        let pleuraWall = try wall(context.pleuraExecutable.path, ["render", "--graphics", "sixel", "--width", "\(side)", "--height", "\(side)"])
        // The same executable doing nothing: its start-up without FFmpeg, which it opens only for media.
        let versionWall = try wall(context.pleuraExecutable.path, ["version"], input: false)
        let imgWall = try wall(MeasuredProcess.which("img2sixel")!, [])
        // What pleura render would take if loading FFmpeg cost nothing: start-up + decode + encode.
        let floor = versionWall + decodeP50 + firstSummary.p50
        results.append(BenchResult(suite: suite, name: "pleura render, whole process, p50", value: pleuraWall * 1000, unit: "ms"))
        results.append(BenchResult(suite: suite, name: "pleura version (start-up, FFmpeg not loaded), p50", value: versionWall * 1000, unit: "ms"))
        results.append(BenchResult(suite: suite, name: "img2sixel, whole process, p50", value: imgWall * 1000, unit: "ms"))
        results.append(BenchResult(suite: suite, name: "wall time pleura / img2sixel", value: pleuraWall / imgWall, unit: "×",
                                   target: "≤ 1.0", pass: pleuraWall <= imgWall))
        results.append(BenchResult(suite: suite, name: "floor without FFmpeg's load (start-up + decode + encode)", value: floor * 1000,
                                   unit: "ms", note: "\(fmt(floor / imgWall))× img2sixel; the rest of pleura render is loading FFmpeg"))
        if let chafa = MeasuredProcess.which("chafa") {
            let chafaWall = try wall(chafa, ["-f", "sixels", "-s", "48x24", "--animate", "off"])
            results.append(BenchResult(suite: suite, name: "chafa -f sixels, whole process, p50", value: chafaWall * 1000, unit: "ms"))
            results.append(BenchResult(suite: suite, name: "wall time pleura / chafa", value: pleuraWall / chafaWall, unit: "×",
                                       target: "≤ 1.0", pass: pleuraWall <= chafaWall))
        } else {
            context.progress("chafa is absent: no comparison with it (make deps-test installs it)")
        }
        return results
    }

    // MARK: helpers

    private static func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
    private static func kib(_ v: Double) -> String { String(format: "%.1f", v / 1024) }
    private static func fmt(_ v: Double) -> String { String(format: "%.2f", v) }

    /// Runs a program to completion and keeps its stdout and stderr (for outputs to compare, not
    /// for timing: see MeasuredProcess).
    static func run(_ program: String, _ args: [String]) throws -> (status: Int32, output: Data, stderr: String) {
        let exe = program.hasPrefix("/") ? program : (MeasuredProcess.which(program) ?? program)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let err = Pipe()
        let out = Pipe()
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = out
        try p.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (p.terminationStatus, output, errText)
    }
}
