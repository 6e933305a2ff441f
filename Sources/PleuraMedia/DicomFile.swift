import CPleuraDicomAPI
import Foundation
import PleuraCore

/// One DICOM file opened with DCMTK (through ``DicomShim``): its facts and exactly frame N as RGB.
///
/// Every frame of a DICOM file is stored on its own (native frames at fixed offsets, or one
/// encapsulated JPEG/RLE item per frame), so any frame decodes directly: no index, no seek, and
/// frame N is the same picture however it was reached. Internal to ``MediaReader``, which
/// serialises access.
final class DicomFile {
    let path: String
    let info: MediaInfo
    let facts: DicomInfo
    private let shim: DicomShim
    private let handle: OpaquePointer
    private let raw: pleura_dicom_info

    /// Whether `path` is read as DICOM: it carries the `DICM` magic after the 128-byte preamble,
    /// or it is named `.dcm`/`.dicom` (a bare dataset without preamble, which DCMTK recognises).
    static func isDicom(path: String) -> Bool {
        if let head = FileName.readPrefix(path, count: 132), head.count == 132, Array(head[128..<132]) == Array("DICM".utf8) {
            return true
        }
        return ["dcm", "dicom"].contains((path as NSString).pathExtension.lowercased())
    }

    /// `sha256`: the file's hash when the caller has it (nil: hashed here). `verify`: decode the
    /// last frame now (false only when the caller reads attributes, not pixels).
    init(path: String, sha256: String?, verify: Bool = true) throws {
        try DemuxedStream.checkReadableRegularFile(path)
        let shim = try DicomShim.get(for: path)
        var err = [CChar](repeating: 0, count: 512)
        guard let handle = FileName.withCString(path, { shim.open($0, &err, err.count) }) else {
            throw PleuraError(file: path, DicomShim.message(err) + "; check that the copy is complete, or convert it with dcmconv")
        }
        // Until every property is set, a throw must close the handle itself (deinit does after).
        var opened = false
        defer { if !opened { shim.close(handle) } }
        var raw = pleura_dicom_info()
        shim.info(handle, &raw)
        let syntax = Self.text(raw.transfer_syntax_name)
        let uid = Self.text(raw.transfer_syntax_uid)
        let frames = Int(raw.frames), width = Int(raw.width), height = Int(raw.height)
        guard frames > 0 else {
            throw PleuraError(file: path, "a DICOM file without pixel data (a DICOMDIR index or a report, not an image); give pleura the images, or the DICOMDIR's folder")
        }
        guard raw.decodable != 0 else {
            throw PleuraError(file: path, "DICOM transfer syntax \(syntax) (\(uid)) has no decoder in Pleura (it reads uncompressed, RLE, JPEG, JPEG-LS and JPEG 2000 DICOM); convert the file first, e.g. to explicit little endian with gdcmconv --raw (Debian: libgdcm-tools)")
        }
        try MediaLimits.checkDimensions(width: width, height: height, file: path)
        // Ultrasound pictures are 8-bit (some 16-bit palettes); 32-bit samples are dose maps and
        // other computed images, which DCMTK does not render consistently.
        guard raw.bits_allocated <= 16 && raw.bits_stored <= 16 else {
            throw PleuraError(file: path, "a DICOM image of \(raw.bits_stored)-bit samples; Pleura reads images of up to 16 bits per sample (ultrasound is 8)")
        }

        var regions: [UltrasoundRegion] = []
        for i in 0..<raw.region_count {
            var r = pleura_dicom_region()
            if shim.region(handle, i, &r) == 0 {
                regions.append(UltrasoundRegion(x0: Int(r.x0), y0: Int(r.y0), x1: Int(r.x1), y1: Int(r.y1),
                                                spatialFormat: Int(r.spatial_format), dataType: Int(r.data_type)))
            }
        }
        let (fps, fpsSource): (Double, String?) =
            raw.frame_time_ms > 0 ? (1000 / raw.frame_time_ms, "frame time")
            : raw.cine_rate > 0 ? (raw.cine_rate, "cine rate")
            : raw.recommended_display_rate > 0 ? (raw.recommended_display_rate, "recommended display rate") : (0, nil)
        let shown = { (g: UInt16, e: UInt16) in Self.string(shim, handle, g, e).map { String(SafeText.sanitize($0).prefix(64)) } }
        let facts = DicomInfo(transferSyntax: syntax, transferSyntaxUID: uid, photometric: Self.text(raw.photometric),
                              bitsStored: Int(raw.bits_stored), modality: shown(0x0008, 0x0060),
                              manufacturer: shown(0x0008, 0x0070), model: shown(0x0008, 0x1090),
                              fpsSource: fpsSource, ultrasoundRegions: regions)
        self.path = path
        self.shim = shim
        self.handle = handle
        self.raw = raw
        self.facts = facts
        info = MediaInfo(path: path, kind: frames > 1 ? "video" : "image", codec: Self.codecName(uid: uid),
                         width: width, height: height, fps: fps, frames: frames,
                         sha256: try sha256 ?? SHA256.hexOfFile(atPath: path), dicom: facts)
        opened = true
        // Decoding the last frame now makes a truncated or damaged file fail on opening, with one
        // line, rather than in the middle of a labelling session.
        if verify { _ = try frame(frames - 1) }
    }

    deinit { shim.close(handle) }

    /// Frame `n` as rgb24 (or gray8, BT.601 luma of it). The caller checks `n`.
    func frame(_ n: Int, format: PixelImage.Format = .rgb24) throws -> PixelImage {
        let width = Int(raw.width), height = Int(raw.height)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        var err = [CChar](repeating: 0, count: 512)
        let status = pixels.withUnsafeMutableBufferPointer { shim.decode(handle, Int32(n), $0.baseAddress!, $0.count, &err, err.count) }
        guard status == 0 else {
            throw PleuraError(file: path, DicomShim.message(err) + "; the file may be truncated or damaged")
        }
        let image = PixelImage(width: width, height: height, format: .rgb24, pixels: pixels)
        return format == .gray8 ? image.toGray() : image
    }

    /// Attribute (group,element) as text, top level or in item `item` of sequence `sequence`.
    func string(_ group: UInt16, _ element: UInt16, in sequence: (UInt16, UInt16)? = nil, item: Int = 0) -> String? {
        Self.string(shim, handle, group, element, in: sequence, item: item)
    }

    private static func string(_ shim: DicomShim, _ handle: OpaquePointer, _ group: UInt16, _ element: UInt16,
                               in sequence: (UInt16, UInt16)? = nil, item: Int = 0) -> String? {
        var buffer = [CChar](repeating: 0, count: 1024)
        let n = shim.string(handle, sequence?.0 ?? 0, sequence?.1 ?? 0, Int32(item), group, element, &buffer, buffer.count)
        guard n >= 0 else { return nil }
        let text = DicomShim.message(buffer).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    /// The identifiers for exam grouping (see ``ClinicalIdentifiers`` for what zone is read from).
    func clinicalIdentifiers() -> ClinicalIdentifiers {
        ClinicalIdentifiers(patientID: string(0x0010, 0x0020), studyInstanceUID: string(0x0020, 0x000D),
                            seriesInstanceUID: string(0x0020, 0x000E),
                            zone: string(0x0008, 0x0104, in: (0x0008, 0x2218)) ?? string(0x0018, 0x1030))
    }

    /// `MediaInfo.codec` for a DICOM file: `dicom-` and the transfer syntax's family.
    static func codecName(uid: String) -> String {
        switch uid {
        case "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99": return "dicom-raw"
        case "1.2.840.10008.1.2.5": return "dicom-rle"
        case "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51": return "dicom-jpeg"
        case "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70": return "dicom-jpeg-lossless"
        case "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81": return "dicom-jpeg-ls"
        case "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91": return "dicom-jpeg2000"
        default: return "dicom"
        }
    }

    private static func text<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
