import Foundation
import PleuraCore

/// DICOMDIR folders (a DICOM medium: a `DICOMDIR` index file plus the images it references, as
/// scanners export them to USB sticks and CDs). Each referenced image is one media item.
public enum DicomDirectory {
    /// The image files a DICOMDIR references, as paths below its folder, in the index's order;
    /// nil when `path` is neither a file named `DICOMDIR` nor a folder holding one. Files the
    /// index names but that are missing are left out (a partly copied medium still opens).
    public static func imagePaths(_ path: String) throws -> [String]? {
        guard let status = FileName.status(path) else { return nil }
        let index: String
        if (status.st_mode & S_IFMT) == S_IFDIR {
            guard let found = ["DICOMDIR", "dicomdir"].map({ (path as NSString).appendingPathComponent($0) })
                .first(where: { FileName.status($0).map { ($0.st_mode & S_IFMT) == S_IFREG } ?? false }) else { return nil }
            index = found
        } else if (path as NSString).lastPathComponent.uppercased() == "DICOMDIR" {
            index = path
        } else {
            return nil
        }
        let shim = try DicomShim.get(for: index)
        var err = [CChar](repeating: 0, count: 512)
        var size = 64 << 10
        while true {
            var out = [CChar](repeating: 0, count: size)
            let needed = FileName.withCString(index) { shim.dicomdirImageFiles($0, &out, out.count, &err, err.count) }
            guard needed >= 0 else { throw PleuraError(file: index, DicomShim.message(err)) }
            if needed <= size {
                let folder = (index as NSString).deletingLastPathComponent
                return DicomShim.message(out).split(separator: "\n").map { relative in
                    Self.resolve(String(relative), in: folder)
                }.filter { FileName.exists($0) }
            }
            size = needed
        }
    }

    /// A referenced file ID below `folder`; media written on other systems often differ in case
    /// (IMAGES/IM0001 on disk as images/im0001), so a missing path is retried in lower case.
    private static func resolve(_ relative: String, in folder: String) -> String {
        let exact = (folder as NSString).appendingPathComponent(relative)
        if FileName.exists(exact) { return exact }
        return (folder as NSString).appendingPathComponent(relative.lowercased())
    }
}

extension MediaReader {
    /// The identifiers of a DICOM file for exam grouping (patient ID, study and series UIDs, the
    /// zone the file names); nil for files that are not DICOM. Reads attributes only (no pixels).
    /// The values identify a patient: keep them out of output, logs, messages and the store
    /// (store keyed pseudonyms of them instead).
    public static func clinicalIdentifiers(path: String) throws -> ClinicalIdentifiers? {
        guard DicomFile.isDicom(path: path) else { return nil }
        return try DicomFile(path: path, sha256: "", verify: false).clinicalIdentifiers()
    }

    /// ``probe(path:)`` and, for a DICOM file, its ``clinicalIdentifiers(path:)`` from the same
    /// opening (`pleura add` needs both; a DICOM header is parsed and a frame decoded on open).
    public static func probeWithIdentifiers(path: String) throws -> (info: MediaInfo, identifiers: ClinicalIdentifiers?) {
        try DemuxedStream.checkReadableRegularFile(path)
        guard DicomFile.isDicom(path: path) else { return (try probe(path: path), nil) }
        let file = try DicomFile(path: path, sha256: nil)
        return (file.info, file.clinicalIdentifiers())
    }

    /// `path` itself, or for a DICOMDIR folder (or index file) the images it references: how the
    /// commands that take several media expand their arguments.
    public static func mediaPaths(_ path: String) throws -> [String] {
        try DicomDirectory.imagePaths(path) ?? [path]
    }

    /// Whether `path` is read as DICOM (the `DICM` preamble, or a `.dcm`/`.dicom` name), so folder
    /// walks can pick up scanners' extension-less files. A `DICOMDIR` index is not an image.
    public static func isDicomImageFile(_ path: String) -> Bool {
        (path as NSString).lastPathComponent.uppercased() != "DICOMDIR" && DicomFile.isDicom(path: path)
    }
}
