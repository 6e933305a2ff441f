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

        // 1. The bytes-vs-quality curve, every tool on the same frames: pleura's still quality and
        //    a ladder of playing qualities, img2sixel default and -p 16/64/256, chafa -f sixels.
        //    PSNR of each decoded sixel (libsixel's decoder) against the frame; banding = the
        //    largest brightness step shown (ImageMetrics.banding).
        struct Point { var bytes: [Double] = []; var psnr: [Double] = []; var step: [Int] = []; var levels: [Int] = [] }
        func measure(_ shown: PixelImage, _ source: PixelImage, _ count: Int, into point: inout Point) {
            let band = ImageMetrics.banding(shown: shown, source: source)
            point.bytes.append(Double(count)); point.psnr.append(ImageMetrics.psnr(shown, source))
            point.step.append(band.largestStep); point.levels.append(band.levels)
        }
        var curve: [(name: String, point: Point)] = []
        var firstEncode: [Double] = []
        let ladder: [(String, SixelEncoder.Options)] = [("pleura still (≥ 40 dB)", .still())]
            + PlaybackQuality.ladder.map { ("pleura playing \(fmt($0)) dB", .playing(targetPSNR: $0)) }
        for (name, options) in ladder {
            var point = Point()
            for (_, image) in frames {
                let encoder = SixelEncoder(options: options)
                var bytes: [UInt8] = []
                let t = try Measure.seconds { bytes = try encoder.encode(image) }
                if name.hasPrefix("pleura still") { firstEncode.append(t) }
                measure(try SixelDecoder.decode(bytes), image, bytes.count, into: &point)
            }
            curve.append((name, point))
        }
        for args in [[], ["-p", "16"], ["-p", "64"], ["-p", "256"]] {
            var point = Point()
            for (png, image) in frames {
                let r = try run("img2sixel", args + [png.path])
                measure(try SixelDecoder.decode([UInt8](r.output)), image, r.output.count, into: &point)
            }
            curve.append(("img2sixel " + (args.isEmpty ? "default" : args.joined(separator: " ")), point))
        }
        if MeasuredProcess.which("chafa") != nil {
            // 60×60 cells of 8×8 pixels with a square font ratio: a 480×480 sixel, like the others.
            var point = Point()
            for (png, image) in frames {
                let r = try run("chafa", ["-f", "sixels", "-s", "60x60", "--font-ratio", "1", "--animate", "off", png.path])
                let shown = try SixelDecoder.decode([UInt8](r.output))
                guard shown.width == image.width, shown.height == image.height else {
                    throw PleuraError(file: png.path, "chafa drew \(shown.width)×\(shown.height), not \(image.width)×\(image.height)")
                }
                measure(shown, image, r.output.count, into: &point)
            }
            curve.append(("chafa -f sixels", point))
        }
        let reference = curve.first { $0.name == "img2sixel default" }!.point
        let referenceTotal = reference.bytes.reduce(0, +)
        for (name, point) in curve {
            let total = point.bytes.reduce(0, +)
            let ratios = zip(point.bytes, reference.bytes).map { $0 / $1 }
            let isStill = name.hasPrefix("pleura still"), isPlaying = name.hasPrefix("pleura playing")
            let note = "PSNR worst \(fmt(point.psnr.min()!)) mean \(fmt(mean(point.psnr))) dB; "
                + "\(fmt(total / referenceTotal))× img2sixel (worst frame \(fmt(ratios.max()!))×); "
                + "banding: largest step \(point.step.max()!), levels \(point.levels.min()!)–\(point.levels.max()!)"
            results.append(BenchResult(suite: suite, name: "curve: \(name), bytes/frame", value: mean(point.bytes) / 1024, unit: "KiB",
                                       target: isStill ? "≥ 40 dB, ≤ 1.0× img2sixel" : (isPlaying ? "≥ 32 dB" : nil),
                                       pass: isStill ? (point.psnr.min()! >= 40 && total <= referenceTotal)
                                           : (isPlaying ? point.psnr.min()! >= 32 : nil),
                                       note: note))
        }
        let still = curve[0].point
        let ours = still.bytes

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
            let encoder = SixelEncoder(options: .playing(targetPSNR: PlaybackQuality.ladder[0]))
            _ = try encoder.encode(image)
            for _ in 0..<repeats { steady.append(try Measure.seconds { _ = try encoder.encode(image) }) }
        }
        for (_, image) in frames {
            for _ in 0..<(repeats / 3) { firstEncode.append(try Measure.seconds { _ = try SixelEncoder().encode(image) }) }
        }
        let steadySummary = TimingSummary(steady), firstSummary = TimingSummary(firstEncode)
        results.append(BenchResult(suite: suite, name: "encode 480×480 playing (best rung), palette reused, p50", value: steadySummary.p50 * 1000,
                                   unit: "ms", target: "≤ 10", pass: steadySummary.p50 * 1000 <= 10,
                                   note: "p99 \(fmt(steadySummary.p99 * 1000)) ms"))
        results.append(BenchResult(suite: suite, name: "encode 480×480 still, new clip (palette fit), p50", value: firstSummary.p50 * 1000,
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
