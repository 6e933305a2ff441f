import Foundation
import PleuraCore
import PleuraMedia
import PleuraPhantom

extension BenchmarkSuite {
    /// DICOM decoding (DCMTK and OpenJPEG behind PleuraMedia) against decoding the same frames
    /// from the H.264 MP4 they came from, and against DCMTK's own command-line decompressors.
    /// The files are made here: a phantom clip's frames written as a multi-frame ultrasound
    /// DICOM (``DicomBenchFile``), then compressed by DCMTK's `dcmcrle`, `dcmcjpeg`, `dcmcjpls`.
    static let dicom = BenchmarkSuite(
        name: "dicom",
        summary: "DICOM decode per frame (raw, RLE, JPEG, JPEG-LS) vs H.264 and vs DCMTK's dcmdrle/dcmdjpeg/dcmdjpls",
        run: { context in try DicomBench(context: context).run() })
}

struct DicomBench {
    let context: BenchContext

    func run() throws -> [BenchResult] {
        let tools = ["dcmcrle", "dcmdrle", "dcmcjpeg", "dcmdjpeg", "dcmcjpls", "dcmdjpls"]
        let found = Dictionary(uniqueKeysWithValues: tools.compactMap { t in MeasuredProcess.which(t).map { (t, $0) } })
        guard found.count == tools.count else {
            context.progress("skipped: DCMTK's programs are not installed (Debian: apt-get install dcmtk)")
            return []
        }
        let folder = context.scratch.appendingPathComponent("dicom")
        let clip = try PhantomGenerator(seed: 3).makeClips(count: 1, into: folder.appendingPathComponent("phantom"))[0]
        let reader = try MediaReader(path: clip.path, cacheBytes: 0)
        let frames = try (0..<reader.info.frames).map { try reader.frame($0, format: .rgb24) }
        let raw = folder.appendingPathComponent("raw.dcm").path
        try DicomBenchFile.write(frames: frames, frameTimeMilliseconds: 1000 / max(1, reader.info.fps), to: raw)

        // (name, file, DCMTK's decompressor for it)
        var files: [(String, String, String?)] = [("explicit little endian (uncompressed)", raw, nil)]
        for (name, encoder, options, decoder) in [("RLE", "dcmcrle", [String](), "dcmdrle"),
                                                  ("JPEG baseline", "dcmcjpeg", ["+eb"], "dcmdjpeg"),
                                                  ("JPEG lossless", "dcmcjpeg", ["+el"], "dcmdjpeg"),
                                                  ("JPEG-LS lossless", "dcmcjpls", ["+el"], "dcmdjpls")] {
            let out = folder.appendingPathComponent("\(encoder)\(options.joined()).dcm").path
            _ = try MediaBench.run(found[encoder]!, options + [raw, out])
            files.append((name, out, found[decoder]!))
        }

        let pleura = context.pleuraExecutable.path
        let env = ["PLEURA_CACHE_DIR": context.scratch.appendingPathComponent("cache").path]
        let repeats = context.quick ? 3 : 7
        let n = Double(frames.count)
        func perFrame(_ runs: [MediaBench.Run]) -> Double { TimingSummary(runs.map(\.cpuSeconds)).p50 / n * 1000 }
        // Start-up (dynamic linking, DCMTK's dictionary) is in every whole-process figure alike;
        // runs alternate between the programs so load changes hit them evenly.
        var results: [BenchResult] = []
        var h264: [MediaBench.Run] = []
        for i in 0...repeats {
            let r = try MediaBench.run(pleura, ["decode-all", clip.path, "--threads", "1", "--pixels", "rgb24"], env: env)
            if i > 0 { h264.append(r) }
        }
        let h264PerFrame = perFrame(h264)
        results.append(BenchResult(suite: "dicom", name: "pleura decode-all, H.264 MP4 of the same frames, CPU per frame", value: h264PerFrame,
                                   unit: "ms", note: "\(frames.count) frames \(frames[0].width)×\(frames[0].height), whole process, rgb24"))
        for (name, file, decoder) in files {
            context.progress("decode throughput: DICOM \(name)")
            var mine: [MediaBench.Run] = [], theirs: [MediaBench.Run] = []
            for i in 0...repeats {
                let b = try MediaBench.run(pleura, ["decode-all", file, "--threads", "1", "--pixels", "rgb24"], env: env)
                let a = try decoder.map { try MediaBench.run($0, [file, folder.appendingPathComponent("out.dcm").path]) }
                if i > 0 { mine.append(b); if let a { theirs.append(a) } }  // the first round warms the caches
            }
            let mineMS = perFrame(mine)
            let bytes = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
            // Opening hashes the whole file (media are identified by content): part of the figure.
            let hashMS = try Measure.seconds { _ = try SHA256.hexOfFile(atPath: file) } / n * 1000
            results.append(BenchResult(suite: "dicom", name: "pleura decode-all, DICOM \(name), CPU per frame", value: mineMS, unit: "ms",
                                       target: "≤ 33 ms (30 fps cine on one core)", pass: mineMS <= 33,
                                       note: String(format: "%.1f× the H.264 figure; %.1f MB; of it SHA-256 of the file %.2f ms",
                                                    mineMS / h264PerFrame, Double(bytes) / 1e6, hashMS)))
            if !theirs.isEmpty {
                let theirsMS = perFrame(theirs)
                // DCMTK's tool decompresses to a file; Pleura also converts to RGB24 and hashes.
                results.append(BenchResult(suite: "dicom", name: "  DCMTK's \((decoder! as NSString).lastPathComponent) of the same file (decompress all frames, no RGB), CPU per frame",
                                           value: theirsMS, unit: "ms", note: String(format: "pleura / DCMTK %.2f×", mineMS / theirsMS)))
            }
        }
        return results
    }
}

/// Writes frames as a multi-frame ultrasound DICOM file (US Multi-frame Image Storage, explicit
/// VR little endian, RGB, 8 bits): the bench's input, made from Pleura's own phantom frames. Only
/// the attributes a decoder needs, plus the frame time; no patient attributes at all.
enum DicomBenchFile {
    static func write(frames: [PixelImage], frameTimeMilliseconds: Double, to path: String) throws {
        guard let first = frames.first, frames.allSatisfy({ $0.width == first.width && $0.height == first.height && $0.format == .rgb24 }) else {
            throw PleuraError(file: path, "the bench's DICOM needs RGB frames of one size")
        }
        let sopClass = "1.2.840.10008.5.1.4.1.1.3.1", explicitLE = "1.2.840.10008.1.2.1"
        let instance = "2.25.\(UInt64.random(in: 1...UInt64.max))"
        var meta = Data()
        meta.element(0x0002, 0x0001, "OB", Data([0, 1]))
        meta.element(0x0002, 0x0002, "UI", uid: sopClass)
        meta.element(0x0002, 0x0003, "UI", uid: instance)
        meta.element(0x0002, 0x0010, "UI", uid: explicitLE)
        meta.element(0x0002, 0x0012, "UI", uid: "2.25.1")
        var out = Data(count: 128)
        out.append(contentsOf: Array("DICM".utf8))
        out.element(0x0002, 0x0000, "UL", UInt32(meta.count).littleEndianData)
        out.append(meta)
        out.element(0x0008, 0x0016, "UI", uid: sopClass)
        out.element(0x0008, 0x0018, "UI", uid: instance)
        out.element(0x0008, 0x0060, "CS", text: "US")
        out.element(0x0018, 0x1063, "DS", text: String(format: "%.3f", frameTimeMilliseconds))
        out.element(0x0028, 0x0002, "US", UInt16(3).littleEndianData)
        out.element(0x0028, 0x0004, "CS", text: "RGB")
        out.element(0x0028, 0x0006, "US", UInt16(0).littleEndianData)
        out.element(0x0028, 0x0008, "IS", text: String(frames.count))
        out.element(0x0028, 0x0009, "AT", UInt16(0x0018).littleEndianData + UInt16(0x1063).littleEndianData)
        out.element(0x0028, 0x0010, "US", UInt16(first.height).littleEndianData)
        out.element(0x0028, 0x0011, "US", UInt16(first.width).littleEndianData)
        for (element, value) in [(0x0100, 8), (0x0101, 8), (0x0102, 7), (0x0103, 0)] as [(UInt16, UInt16)] {
            out.element(0x0028, element, "US", value.littleEndianData)
        }
        var pixels = Data(capacity: frames.count * first.pixels.count)
        for f in frames { pixels.append(contentsOf: f.pixels) }
        out.element(0x7FE0, 0x0010, "OB", pixels)
        do { try out.write(to: URL(fileURLWithPath: path)) }
        catch { throw PleuraError(file: path, "cannot write the bench's DICOM file (\(error.localizedDescription))") }
    }
}

private extension FixedWidthInteger {
    var littleEndianData: Data { withUnsafeBytes(of: littleEndian) { Data($0) } }
}

private extension Data {
    /// One explicit-VR little-endian element, its value padded to an even length (UIDs with NUL,
    /// text with a space, as PS3.5 says).
    mutating func element(_ group: UInt16, _ element: UInt16, _ vr: String, _ value: Data) {
        var value = value
        if value.count % 2 == 1 { value.append(vr == "UI" || vr == "OB" ? 0 : 0x20) }
        append(group.littleEndianData); append(element.littleEndianData)
        append(contentsOf: Array(vr.utf8))
        if ["OB", "OW", "OF", "SQ", "UT", "UN"].contains(vr) {
            append(UInt16(0).littleEndianData); append(UInt32(value.count).littleEndianData)
        } else {
            append(UInt16(value.count).littleEndianData)
        }
        append(value)
    }
    mutating func element(_ group: UInt16, _ element: UInt16, _ vr: String, uid: String) {
        self.element(group, element, vr, Data(uid.utf8))
    }
    mutating func element(_ group: UInt16, _ element: UInt16, _ vr: String, text: String) {
        self.element(group, element, vr, Data(text.utf8))
    }
}
