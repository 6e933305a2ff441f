import PleuraCore

/// What `pleura probe` says about a DICOM file beyond ``MediaInfo``'s common facts. Never a
/// patient attribute (name, birth date, IDs, dates): see ``ClinicalIdentifiers`` for the few
/// identifiers Pleura reads, which stay out of probe output, the store's facts and messages.
public struct DicomInfo: Codable, Equatable, Sendable {
    /// DCMTK's name of the transfer syntax, e.g. `JPEG Baseline`, `RLE Lossless`, `Little Endian Implicit`.
    public var transferSyntax: String
    public var transferSyntaxUID: String
    /// Photometric Interpretation (0028,0004) as stored: `YBR_FULL_422`, `RGB`, `MONOCHROME2`, `PALETTE COLOR`, ...
    public var photometric: String
    public var bitsStored: Int
    /// Modality (0008,0060), Manufacturer (0008,0070), Manufacturer's Model Name (0008,1090),
    /// sanitised (SafeText) and cut to 64 characters.
    public var modality: String?
    public var manufacturer: String?
    public var model: String?
    /// Which attribute `fps` came from: `frame time`, `cine rate`, `recommended display rate` or nil.
    public var fpsSource: String?
    /// The Sequence of Ultrasound Regions (0018,6011), in file order; empty when absent.
    public var ultrasoundRegions: [UltrasoundRegion]

    /// The region that holds the scan image, used as the clip's scan sector: the first 2D tissue
    /// region, else the largest 2D one (nil when the file lists none).
    public var scanRegion: UltrasoundRegion? {
        let planar = ultrasoundRegions.filter { $0.spatialFormat == 1 && $0.width > 0 && $0.height > 0 }
        return planar.first { $0.dataType == 1 } ?? planar.max { $0.width * $0.height < $1.width * $1.height }
    }
}

/// One item of the Sequence of Ultrasound Regions: pixel bounds (inclusive) and what it holds.
public struct UltrasoundRegion: Codable, Equatable, Sendable {
    public var x0: Int
    public var y0: Int
    public var x1: Int
    public var y1: Int
    /// Region Spatial Format (0018,6012): 1 = 2D, 2 = M-mode, 3 = spectral, 4 = waveform, ...
    public var spatialFormat: Int
    /// Region Data Type (0018,6014): 1 = tissue, 2 = colour flow, 3 = PW spectral Doppler, ...
    public var dataType: Int

    public init(x0: Int, y0: Int, x1: Int, y1: Int, spatialFormat: Int, dataType: Int) {
        self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1
        self.spatialFormat = spatialFormat; self.dataType = dataType
    }

    public var width: Int { x1 - x0 + 1 }
    public var height: Int { y1 - y0 + 1 }
}

/// The identifiers a DICOM file carries that group clips into exams, read only by
/// ``MediaReader/clinicalIdentifiers(path:)`` for the store's keyed pseudonyms. They identify a
/// patient: never print, log, store or export them as they are. `description`, `debugDescription`
/// and the mirror (`dump`) say only which are present.
public struct ClinicalIdentifiers: Sendable, Equatable {
    /// Patient ID (0010,0020).
    public var patientID: String?
    /// Study Instance UID (0020,000D).
    public var studyInstanceUID: String?
    /// Series Instance UID (0020,000E).
    public var seriesInstanceUID: String?
    /// Where the clip was taken, as the file says it (raw text, trimmed): the Code Meaning
    /// (0008,0104) of the first Anatomic Region Sequence (0008,2218) item, else Protocol Name
    /// (0018,1030); nil when neither is present. Mapping it to a protocol's zone is the caller's job.
    public var zone: String?

    public init(patientID: String? = nil, studyInstanceUID: String? = nil, seriesInstanceUID: String? = nil,
                zone: String? = nil) {
        self.patientID = patientID; self.studyInstanceUID = studyInstanceUID
        self.seriesInstanceUID = seriesInstanceUID; self.zone = zone
    }
}

extension ClinicalIdentifiers: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        func mark(_ v: String?) -> String { v == nil ? "absent" : "<redacted>" }
        return "ClinicalIdentifiers(patientID: \(mark(patientID)), studyInstanceUID: \(mark(studyInstanceUID)), "
            + "seriesInstanceUID: \(mark(seriesInstanceUID)), zone: \(mark(zone)))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["redacted": description], displayStyle: .struct)
    }
}
