import Foundation
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraMedia
@testable import PleuraPhantom

/// DICOM through DCMTK against pydicom's decode (Scripts/dicom_reference.py in a venv the tests
/// make): the real files of PyPI's pydicom-data, and multi-frame files written here from phantom
/// frames. Lossless transfer syntaxes must match pixel for pixel, lossy ones by PSNR >= 45 dB;
/// frame counts and fps must be equal.
@Suite("DICOM reading equals pydicom", .serialized, .enabled(if: DicomReference.available, "\(DicomReference.missing)"))
final class DicomReaderTests {
    let dir: URL

    init() throws {
        _ = testCacheDirectory
        dir = try TestEnv.makeTempDirectory("pleura-dicom")
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    /// JPEG baseline and extended, JPEG-LS near-lossless, JPEG 2000 (lossless or lossy).
    static let lossy = ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.91"]

    /// Every frame of `path`, read in a shuffled order from a reader without cache (so each frame
    /// is decoded on its own), compared with pydicom's; returns the worst PSNR.
    @discardableResult
    func compare(_ path: String, lossless: Bool, minimumPSNR: Double = 45) throws -> Double {
        let reference = try DicomReference.decode(path, scratch: dir)
        let reader = try MediaReader(path: path, cacheBytes: 0)
        let name = (path as NSString).lastPathComponent
        #expect(reader.info.frames == reference.frames, "\(name): frame count")
        #expect(abs(reader.info.fps - reference.fps) < 1e-9, "\(name): fps \(reader.info.fps) vs \(reference.fps)")
        #expect(reader.info.width == reference.columns && reader.info.height == reference.rows, "\(name): size")
        #expect(reader.info.dicom?.transferSyntaxUID == reference.transferSyntax, "\(name): transfer syntax")
        var worst = Double.infinity
        var rng = SeededGenerator(seed: 11)
        for n in Array(0..<min(reader.info.frames, reference.frames)).shuffled(using: &rng) {
            let mine = try reader.frame(n)
            let theirs = reference.frame(n)
            if lossless {
                let same = mine == theirs
                #expect(same, "\(name): frame \(n) differs from pydicom's (PSNR \(DicomReference.psnr(mine, theirs)) dB)")
            }
            worst = min(worst, DicomReference.psnr(mine, theirs))
        }
        #expect(worst >= minimumPSNR, "\(name): PSNR \(worst) dB")
        return worst
    }

    @Test func pydicomDataUltrasoundAndMultiFrameFilesDecodeAsPydicomDoes() throws {
        let files = try DicomReference.testFiles()
        let names = Set(files.map { ($0 as NSString).lastPathComponent })
        for wanted in ["US1_UNCR.dcm", "US1_J2KR.dcm", "US1_J2KI.dcm", "gdcm-US-ALOKA-16.dcm", "color3d_jpeg_baseline.dcm",
                       "OBXXXX1A_rle_2frame.dcm"] {
            #expect(names.contains(wanted), "pydicom-data lacks \(wanted)")
        }
        var compared = 0
        var jpeg2000: [String: Double] = [:]
        for path in files {
            let name = (path as NSString).lastPathComponent
            let reference = try? DicomReference.decode(path, scratch: dir)
            let syntax = reference?.transferSyntax ?? ""
            if name.hasSuffix("_too_short.dcm") {
                // A JPEG 2000 file cut short (pydicom cannot decode it either): one line, no crash.
                do {
                    _ = try MediaReader(path: path, cacheBytes: 0)
                    Issue.record("\(name): a truncated file opened")
                } catch let e as PleuraError {
                    #expect(e.description.hasPrefix(path + ": ") && !e.description.contains("\n"), "\(e)")
                }
                continue
            }
            if name.contains("32bit") || name.hasPrefix("rtdose") {
                // 32-bit samples (secondary captures, dose maps; never ultrasound): refused in one line.
                do {
                    _ = try MediaReader(path: path, cacheBytes: 0)
                    Issue.record("\(name): 32-bit samples opened, expected the refusal")
                } catch let e as PleuraError {
                    #expect(e.description.contains("32-bit samples"), "\(e)")
                }
                continue
            }
            // pydicom cannot decode some files (a deliberately short one, 1-bit segmentations
            // that are not media): nothing to compare with.
            guard let reference, !name.hasPrefix("liver") else { continue }
            if name.contains("_expb") && reference.photometric == "PALETTE COLOR" {
                // pydicom reads these big-endian palette tables byte-swapped (its own decode of
                // the little-endian twin differs); the twin is the reference.
                let twin = path.replacingOccurrences(of: "_expb", with: "")
                let a = try MediaReader(path: path, cacheBytes: 0), b = try MediaReader(path: twin, cacheBytes: 0)
                #expect(a.info.frames == b.info.frames)
                for n in 0..<a.info.frames { #expect(try a.frame(n) == (try b.frame(n)), "\(name) frame \(n) vs its twin") }
                compared += 1
                continue
            }
            let worst = try compare(path, lossless: !Self.lossy.contains(syntax))
            if syntax.hasPrefix("1.2.840.10008.1.2.4.9") {
                // JPEG 2000 (OpenJPEG in the shim; pydicom's pylibjpeg-openjpeg in the oracle).
                jpeg2000[name] = worst
                print("DICOM JPEG 2000 \(name) (\(syntax)) vs pydicom: worst PSNR \(worst.isInfinite ? "inf (identical)" : String(format: "%.1f", worst)) dB")
            }
            compared += 1
        }
        #expect(compared >= 20, "only \(compared) files compared")
        for wanted in ["US1_J2KR.dcm", "US1_J2KI.dcm", "emri_small_jpeg_2k_lossless.dcm"] {
            #expect(jpeg2000[wanted] != nil, "\(wanted) was not compared")
        }
    }

    /// What has no decoder (MPEG-4 in DICOM; HTJ2K, which DCMTK 3.6.7 does not know) is refused on
    /// opening, in one line naming the file and the transfer syntax.
    @Test func undecodableTransferSyntaxesAreRefusedInOneLine() throws {
        let files = try DicomReference.testFiles()
        let j2k = try #require(files.first { $0.hasSuffix("/US1_J2KR.dcm") })
        for (uid, named) in [("1.2.840.10008.1.2.4.102", "MPEG-4"), ("1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000")] {
            let out = dir.appendingPathComponent("relabelled-\(uid).dcm")
            try DicomReference.relabel(j2k, as: uid, to: out)
            do {
                _ = try MediaReader(path: out.path, cacheBytes: 0)
                Issue.record("\(uid): opened, expected the no-decoder error")
            } catch let e as PleuraError {
                #expect(e.description.hasPrefix(out.path + ": ") && !e.description.contains("\n"), "\(e)")
                #expect(e.description.contains(named) && e.description.contains("(\(uid))") &&
                        e.description.contains("has no decoder"), "\(e)")
            }
        }
    }

    @Test func ultrasoundRegionsAndFrameRateComeFromTheFile() throws {
        let files = try DicomReference.testFiles()
        let aloka = try #require(files.first { $0.hasSuffix("/gdcm-US-ALOKA-16.dcm") })
        let info = try MediaReader.probe(path: aloka)
        #expect(info.dicom?.ultrasoundRegions.count == 3)
        #expect(info.dicom?.scanRegion == UltrasoundRegion(x0: 32, y0: 24, x1: 335, y1: 415, spatialFormat: 1, dataType: 1))
        #expect(info.dicom?.manufacturer == "ALOKA CO., LTD.")
        let cine = try #require(files.first { $0.hasSuffix("/color3d_jpeg_baseline.dcm") })
        let clip = try MediaReader.probe(path: cine)
        #expect(clip.frames == 120 && clip.kind == "video" && clip.codec == "dicom-jpeg")
        #expect(abs(clip.fps - 1000 / 33.333) < 1e-9 && clip.dicom?.fpsSource == "frame time")
        #expect(clip.dicom?.photometric == "YBR_FULL_422")
    }

    /// Phantom frames, tinted so that colour conversion matters (the phantom itself is grey).
    static func phantomFrames(count: Int) -> [PixelImage] {
        let clip = PhantomGenerator(seed: 5).makeClip(1)
        return (0..<count).map { t in
            let grey = clip.frame(t).toGray()
            var rgb = [UInt8](repeating: 0, count: grey.width * grey.height * 3)
            for (i, v) in grey.pixels.enumerated() {
                rgb[3 * i] = v
                rgb[3 * i + 1] = UInt8(Int(v) * 7 / 8)
                rgb[3 * i + 2] = UInt8(min(255, Int(v) / 2 + 40))
            }
            return PixelImage(width: grey.width, height: grey.height, format: .rgb24, pixels: rgb)
        }
    }

    @Test func multiFrameFilesWrittenFromPhantomFramesDecodeAsPydicomDoes() throws {
        let frames = Self.phantomFrames(count: 12)
        let files = try DicomReference.make(frames: frames, in: dir)
        #expect(files["jpeg"] != nil, "dcmcjpeg (Debian dcmtk) is missing: the JPEG files were not written")
        for (name, url) in files.sorted(by: { $0.key < $1.key }) {
            let worst = try compare(url.path, lossless: name != "jpeg")
            let info = try MediaReader.probe(path: url.path)
            #expect(info.frames == 12 && info.fps == 20, "\(name)")
            #expect(info.dicom?.scanRegion == UltrasoundRegion(x0: 8, y0: 4, x1: frames[0].width - 9, y1: frames[0].height - 5,
                                                              spatialFormat: 1, dataType: 1), "\(name)")
            if name == "jpeg" {
                #expect(info.dicom?.photometric == "YBR_FULL_422")
                print("DICOM JPEG baseline YBR_FULL_422 of phantom frames vs pydicom: worst PSNR \(String(format: "%.1f", worst)) dB")
            }
        }
        // The uncompressed files hold exactly the frames they were made from.
        let explicit = try MediaReader(path: files["explicit"]!.path)
        for n in [0, 5, 11] { #expect(try explicit.frame(n) == frames[n]) }
        #expect(explicit.keyframes == Array(0..<12))
    }

    @Test func clinicalIdentifiersAreReadButNeverDescribed() throws {
        let files = try DicomReference.make(frames: Self.phantomFrames(count: 2), in: dir,
                                            patient: ("ZZPRIVATE^NAME", "ZZPID4711", "19010203"))
        let path = files["patient"]!.path
        let ids = try #require(try MediaReader.clinicalIdentifiers(path: path))
        #expect(ids.patientID == "ZZPID4711")
        #expect(ids.zone == "R3 lateral")
        #expect(ids.studyInstanceUID?.isEmpty == false && ids.seriesInstanceUID?.isEmpty == false)
        var dumped = ""
        dump(ids, to: &dumped)
        for text in [ids.description, String(reflecting: ids), "\(ids)", dumped] {
            #expect(!text.contains("ZZPID4711") && !text.contains(ids.studyInstanceUID!) && !text.contains("R3 lateral"), "\(text)")
        }
        let json = String(decoding: try JSONEncoder().encode(try MediaReader.probe(path: path)), as: UTF8.self)
        for secret in ["ZZPRIVATE", "ZZPID4711", "19010203", ids.studyInstanceUID!] { #expect(!json.contains(secret), "\(json)") }
        let png = dir.appendingPathComponent("still.png")
        try ImageFile.writePNG(Self.phantomFrames(count: 1)[0], to: png.path)
        #expect(try MediaReader.clinicalIdentifiers(path: png.path) == nil)
    }
}
