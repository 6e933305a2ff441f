import Foundation
import PleuraCore

/// pydicom as the oracle of the DICOM tests: a venv made by the tests (pydicom, pydicom-data, the
/// pylibjpeg decoders, numpy; from PyPI) running Scripts/dicom_reference.py. The venv is kept in
/// the temporary folder between runs and rebuilt when its imports fail. No pydicom-data file is
/// ever copied into the repository: tests read them where pip put them.
public enum DicomReference {
    public static let packages = ["pydicom", "pydicom-data", "pylibjpeg", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg",
                                  "pylibjpeg-rle", "numpy"]

    /// The venv's python, or nil and why it cannot be made here (no python3-venv, PyPI unreachable).
    public static let python = ReferenceVenv.python(name: "dicom-reference", packages: packages,
                                                    imports: ["pydicom", "data_store", "numpy", "pylibjpeg", "libjpeg", "openjpeg", "rle"])

    public static var available: Bool { python.path != nil }
    public static var missing: String { python.reason }

    static var script: String { TestEnv.packageRoot.appendingPathComponent("Scripts/dicom_reference.py").path }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        guard let python = python.path else { throw PleuraError(file: nil, python.reason) }
        let r = try runProgram(python, [script] + arguments)
        guard r.status == 0 else { throw PleuraError(file: script, "\(arguments.first ?? ""): \(r.stderrText)") }
        return r.stdoutText
    }

    /// What pydicom decodes from a file: every frame as 8-bit RGB, and the header facts.
    public struct Decoded {
        public let frames: Int
        public let rows: Int
        public let columns: Int
        public let fps: Double
        public let photometric: String
        public let transferSyntax: String
        public let rgb: [UInt8]

        public func frame(_ n: Int) -> PixelImage {
            let size = rows * columns * 3
            return PixelImage(width: columns, height: rows, format: .rgb24, pixels: Array(rgb[(n * size)..<((n + 1) * size)]))
        }
    }

    public static func decode(_ file: String, scratch: URL) throws -> Decoded {
        let out = scratch.appendingPathComponent("ref-\(UUID().uuidString)").path
        try run(["decode", file, out])
        defer { try? FileManager.default.removeItem(atPath: out + ".rgb"); try? FileManager.default.removeItem(atPath: out + ".json") }
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + ".json"))) as! [String: Any]
        return Decoded(frames: meta["frames"] as! Int, rows: meta["rows"] as! Int, columns: meta["columns"] as! Int,
                       fps: (meta["fps"] as! NSNumber).doubleValue, photometric: meta["photometric"] as! String,
                       transferSyntax: meta["transferSyntax"] as! String,
                       rgb: [UInt8](try Data(contentsOf: URL(fileURLWithPath: out + ".rgb"))))
    }

    /// The pydicom-data / pydicom test files that are ultrasound or multi-frame (paths in the venv).
    public static func testFiles() throws -> [String] {
        try run(["testdata"]).split(separator: "\n").map(String.init)
    }

    /// A copy of `file` (encapsulated pixel data) whose meta header names transfer syntax `uid`.
    public static func relabel(_ file: String, as uid: String, to out: URL) throws {
        try run(["relabel", file, out.path, uid])
    }

    /// Writes multi-frame ultrasound files of `frames` (rgb24, one size) into `dir`: explicit.dcm,
    /// implicit.dcm, rle.dcm, mono.dcm, and with `patient` (name, ID, birth date) patient.dcm; then
    /// with DCMTK's dcmcjpeg (when installed) jpeg.dcm (baseline, YBR_FULL_422) and
    /// jpeg-lossless.dcm (process 14 SV1). Returns the files written.
    @discardableResult
    public static func make(frames: [PixelImage], in dir: URL, patient: (String, String, String)? = nil) throws -> [String: URL] {
        let raw = dir.appendingPathComponent("frames.rgb")
        try Data(frames.flatMap { $0.toRGB().pixels }).write(to: raw)
        var args = ["make", raw.path, String(frames[0].width), String(frames[0].height), String(frames.count), dir.path]
        if let patient { args += ["--patient", patient.0, patient.1, patient.2] }
        try run(args)
        var files: [String: URL] = [:]
        for name in ["explicit", "implicit", "rle", "mono"] + (patient == nil ? [] : ["patient"]) {
            files[name] = dir.appendingPathComponent(name + ".dcm")
        }
        if let dcmcjpeg = TestEnv.which("dcmcjpeg") {
            for (name, option) in [("jpeg", "+eb"), ("jpeg-lossless", "+e1")] {
                let url = dir.appendingPathComponent(name + ".dcm")
                let r = try runProgram(dcmcjpeg, [option, files["explicit"]!.path, url.path])
                guard r.status == 0 else { throw PleuraError(file: url.path, "dcmcjpeg \(option): \(r.stderrText)") }
                files[name] = url
            }
        }
        return files
    }

    /// Peak signal-to-noise ratio of two same-sized pictures in dB (infinity when equal).
    public static func psnr(_ a: PixelImage, _ b: PixelImage) -> Double {
        precondition(a.pixels.count == b.pixels.count)
        var sum = 0.0
        for i in 0..<a.pixels.count {
            let d = Double(a.pixels[i]) - Double(b.pixels[i])
            sum += d * d
        }
        let mse = sum / Double(a.pixels.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }
}
