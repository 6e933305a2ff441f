import ArgumentParser
import Foundation
import PleuraCore
import PleuraMedia
import PleuraStore

/// `pleura add FILE|DIR... --store DB`: registers media by content hash with their probe facts.
struct AddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Register media files (content hash and probe facts) in a store.",
        discussion: """
            Folders are searched recursively for videos and images (mp4, mov, m4v, avi, mpeg, mpg, \
            mkv, webm, gif, jpg, jpeg, png, bmp, and DICOM: dcm, dicom or no extension with the DICM \
            preamble); a DICOMDIR folder adds the images its index references. Files named directly \
            are always probed. For DICOM only pixel facts are stored, never a patient attribute. A file \
            already registered under another path is recorded as moved and keeps its labels; a \
            path whose content changed since it was registered is flagged (its old labels stay \
            with the old content). Unreadable files are reported and the rest still run (exit 1). \
            With --session, the session's exam.pattern places each file in its exam and zone \
            (identifiers pseudonymised by the store) and the store defaults to the session's.
            """)

    @Argument(help: "Media files or folders.")
    var paths: [String]

    @Option(help: "Store database (created when missing; default: the --session's).")
    var store: String?

    @Option(help: "A session whose [exam] pattern places the files in exams and zones.")
    var session: String?

    static let mediaExtensions: Set<String> = ["mp4", "mov", "m4v", "avi", "mpeg", "mpg", "mkv", "webm", "gif",
                                                "jpg", "jpeg", "png", "bmp"]

    func run() throws {
        var exam: ExamSettings? = nil
        var storePath = store
        if let session {
            let s = try Session.load(URL(fileURLWithPath: session).standardizedFileURL)
            exam = s.exam
            storePath = storePath ?? s.store.path
            if storePath == s.store.path {
                try? FileManager.default.createDirectory(at: s.store.deletingLastPathComponent(), withIntermediateDirectories: true)
            }
        }
        guard let storePath else { throw ValidationError("Missing expected argument '--store <store>'") }
        let db = try AnnotationStore.open(path: storePath)
        var placed = 0
        var files: [String] = []
        for path in paths {
            // By the name's bytes (FileName): a file name need not be UTF-8.
            guard let status = FileName.status(path) else {
                throw PleuraError(file: path, "no such file or folder")
            }
            if let images = try DicomDirectory.imagePaths(path) {
                files += images
            } else if (status.st_mode & S_IFMT) == S_IFDIR {
                files += try FileName.filesBelow(path).filter {
                    let ext = ($0 as NSString).pathExtension.lowercased()
                    return Self.mediaExtensions.contains(ext) || (ext.isEmpty || ext == "dcm" || ext == "dicom") && MediaReader.isDicomImageFile($0)
                }
            } else {
                files.append(path)
            }
        }
        var added = 0, moved = 0, unchanged = 0, failed = 0
        let showProgress = files.count > 1
        for (i, file) in files.enumerated() {
            let absolute = URL(fileURLWithPath: file).standardizedFileURL.path
            if showProgress {
                FileHandle.standardError.write(Data("\r\u{1B}[K[\(i + 1)/\(files.count)] \(SafeText.sanitize(file))".utf8))
            }
            do {
                let (info, identifiers) = try MediaReader.probeWithIdentifiers(path: absolute)
                let bytes = FileName.status(absolute).map { Int($0.st_size) }
                if let old = try db.changedContent(atPath: absolute, sha256: info.sha256) {
                    if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
                    reportError(PleuraError(file: file, "changed since it was registered on \(old.registeredAt) (was \(old.sha256.prefix(12))…): registered as new content; labels of the old content stay with it"))
                }
                let facts = MediaFacts(kind: info.kind, container: nil, codec: info.codec, width: info.width, height: info.height,
                                       fps: info.fps, frames: info.frames, bytes: bytes)
                switch try db.registerMedia(sha256: info.sha256, path: absolute, facts: facts) {
                case .added: added += 1
                case .moved(_, let from):
                    moved += 1
                    if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
                    FileHandle.standardError.write(Data("pleura: \(SafeText.sanitize(file)): same content as \(SafeText.sanitize(from)): recorded as moved, labels kept\n".utf8))
                case .unchanged: unchanged += 1
                }
                if let exam, let p = exam.placement(fileName: absolute) {
                    if try db.assignExam(media: info.sha256, patientKey: p.patientKey, studyKey: p.studyKey, zone: p.zone,
                                         protocol: exam.zoneProtocol.name) { placed += 1 }
                } else if let ids = identifiers, let patient = ids.patientID, !patient.isEmpty {
                    // A scanner's file names its patient and study: the store keeps only keyed
                    // pseudonyms of them (assignExam), so clips of one exam group together. The
                    // file's zone text counts only when it names a zone of the session's protocol.
                    let zone = ids.zone.flatMap { exam?.zoneProtocol.zone(matching: $0)?.name }
                    if try db.assignExam(media: info.sha256, patientKey: patient, studyKey: ids.studyInstanceUID, zone: zone,
                                         protocol: exam?.zoneProtocol.name, source: .dicom) { placed += 1 }
                }
            } catch let error as PleuraError {
                if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
                reportError(error)
                failed += 1
            }
        }
        if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        print("\(added) added, \(moved) moved, \(unchanged) already registered" + (failed > 0 ? ", \(failed) failed" : "")
              + (exam != nil || placed > 0 ? ", \(placed) placed in exams" : ""))
        if failed > 0 { throw ExitCode(1) }
    }
}
