import Foundation
import GRDB
import PleuraCore

extension AnnotationStore {
    /// Imports the POCUS data set's `manifest.csv` (../shared/data/pocus/README.md) as video-level
    /// labels of one annotator (default `reference`, role reference), registering each file it
    /// lists (content hash, and the ffprobe facts the manifest carries). All or nothing.
    ///
    /// How the manifest maps onto Pleura's labels:
    /// - `severity_score` 0–3 → severity; empty → not assessed. A `0` here is a real score (the
    ///   data set gives it to regular lungs), unlike the finding flags.
    /// - finding flags: `1` → present; `0` and empty → **not assessed**, because the README says a
    ///   `0` often means "not annotated", so it cannot be read as "absent".
    /// - `a_lines` → A-lines, `consolidation` → consolidation, `b_lines` → **B1**: the data set
    ///   does not separate separate from confluent B-lines, and a B-line flag asserts at least
    ///   separate B-lines; B2 (confluent) stays not assessed.
    /// - the diagnosis `class` and the flags Pleura has no field for (effusion, pleural
    ///   irregularities, air bronchogram) go into the note, e.g. `pocus class: covid; also: effusion`.
    ///
    /// ```swift
    /// try store.importPocusManifest(text: text, file: "/data/pocus/manifest.csv", root: "/data/pocus")
    /// ```
    @discardableResult
    public func importPocusManifest(text: String, file: String, root: String, as annotatorName: String = "reference") throws -> ImportSummary {
        let records = try CSV.parse(text, file: file)
        guard let head = records.first else { throw PleuraError(file: file, "empty file: expected the POCUS manifest header") }
        var column: [String: Int] = [:]
        for (i, name) in head.fields.enumerated() {
            if column[name] != nil { throw PleuraError(file: file, "line \(head.line): column '\(name)' appears twice") }
            column[name] = i
        }
        let required = ["path", "class", "kind", "severity_score", "a_lines", "b_lines", "consolidation"]
        for name in required where column[name] == nil {
            throw PleuraError(file: file, "line \(head.line): not a POCUS manifest: no '\(name)' column (needs \(required.joined(separator: ", ")))")
        }
        let rootPath = URL(fileURLWithPath: root).standardizedFileURL.path
        var register: [(sha: String, path: String, facts: MediaFacts)] = []
        var shaSeen: [String: Int] = [:]
        var pendingMedia: [(line: Int, sha: String, labels: LabelSet)] = []
        for record in records.dropFirst() {
            let line = record.line
            func fail(_ what: String) -> PleuraError { PleuraError(file: file, "line \(line): \(what)") }
            guard record.fields.count == head.fields.count else {
                throw fail("expected \(head.fields.count) fields like the header, found \(record.fields.count)")
            }
            func cell(_ name: String) -> String { column[name].map { record.fields[$0] } ?? "" }
            let relative = cell("path")
            guard !relative.isEmpty else { throw fail("path is empty") }
            let absolute = URL(fileURLWithPath: rootPath).appendingPathComponent(relative).standardizedFileURL.path
            guard FileManager.default.fileExists(atPath: absolute) else {
                throw fail("\(relative) does not exist under \(rootPath) (give --root the data set folder)")
            }
            let sha = try SHA256.hexOfFile(atPath: absolute)
            if let first = shaSeen[sha] { throw fail("same file content as line \(first): each file may appear once") }
            shaSeen[sha] = line
            var set = LabelSet()
            let severity = cell("severity_score")
            if !severity.isEmpty {
                // Some exports write 2.0 for 2.
                guard let d = Double(severity), d == d.rounded(), let s = Severity(rawValue: Int(d)) else {
                    throw fail("severity_score '\(severity)' must be 0, 1, 2, 3 or empty")
                }
                set.severity = s
            }
            func flag(_ name: String) throws -> Bool {
                switch cell(name) {
                case "1", "1.0": return true
                case "", "0", "0.0": return false
                case let other: throw fail("\(name) '\(other)' must be 1, 0 or empty")
                }
            }
            if try flag("a_lines") { set[.aLines] = true }
            if try flag("b_lines") { set[.b1Lines] = true }
            if try flag("consolidation") { set[.consolidation] = true }
            var extras: [String] = []
            for (name, words) in [("effusion", "effusion"), ("pleural_irregularities", "pleural irregularities"),
                                  ("air_bronchogram", "air bronchogram")] where column[name] != nil {
                if try flag(name) { extras.append(words) }
            }
            var note = cell("class").isEmpty ? "" : "pocus class: \(cell("class"))"
            if !extras.isEmpty { note += (note.isEmpty ? "" : "; ") + "also: " + extras.joined(separator: ", ") }
            set.note = note.isEmpty ? nil : note
            let facts = MediaFacts(kind: cell("kind").isEmpty ? nil : cell("kind"),
                                   container: cell("container").isEmpty ? nil : cell("container"),
                                   codec: cell("codec").isEmpty ? nil : cell("codec"),
                                   width: Int(cell("width")), height: Int(cell("height")), fps: Double(cell("fps")),
                                   frames: Int(cell("frames")), bytes: Int(cell("bytes")))
            if try media(sha256: sha) == nil { register.append((sha, absolute, facts)) }
            pendingMedia.append((line, sha, set))
        }
        // Register new media and apply the labels in one transaction (all or nothing); media ids
        // are looked up inside it.
        return try applyPocus(file: file, register: register, rows: pendingMedia, annotator: annotatorName)
    }

    private func applyPocus(file: String, register: [(sha: String, path: String, facts: MediaFacts)],
                            rows: [(line: Int, sha: String, labels: LabelSet)], annotator: String) throws -> ImportSummary {
        let now = StoreClock.now(), me = OSIdentity.current
        return try write { db in
            var summary = ImportSummary()
            for m in register where try Self.fetchMedia(db, sha256: m.sha) == nil {
                _ = try self.insertMedia(db, sha256: m.sha, path: m.path, facts: m.facts, now: now, me: me)
                summary.mediaAdded += 1
            }
            let who = try self.ensureAnnotator(db, name: annotator, role: .reference, now: now, me: me)
            let session = try self.insertSession(db, annotator: who, name: "import \((file as NSString).lastPathComponent)",
                                                 mode: "import", now: now, me: me)
            for row in rows {
                let mediaID = try self.mediaID(db, sha256: row.sha)
                summary.events += try self.appendAction(db, kind: .import, annotator: who, session: session, sha256ByMediaID: [:],
                                                        changes: Self.changes(mediaID: mediaID, frame: -1, labels: row.labels)).count
            }
            summary.rows = rows.count
            summary.annotators = [annotator]
            return summary
        }
    }
}
