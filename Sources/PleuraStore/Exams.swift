import Foundation
import GRDB
import PleuraCore

/// Where a medium's exam and zone come from.
public enum ExamSource: String, Sendable {
    /// The session's `exam.pattern` applied to the file name.
    case pattern
    /// The DICOM header (patient ID, study instance UID; zone where the scanner records one).
    case dicom
}

/// Which exam a medium belongs to and at which zone it was taken, as the store has it now.
public struct MediaExam: Equatable, Sendable {
    public var mediaID: Int64
    public var mediaSHA256: String
    /// nil: no pattern or DICOM placed it (a zone may still be set by key).
    public var exam: ExamKey?
    public var zone: String?
    /// `pattern`, `dicom` or `key` (a zone key in the labelling screen, newest wins).
    public var zoneSource: String?
    /// The protocol the placement named (`iclus14`…), nil when unknown.
    public var zoneProtocol: String?
}

/// The event field a zone key writes (whole-clip item, like a label) and a Hu frame class's.
public enum ExamField {
    public static let zone = "zone"
    public static let frameClass = "frame_class"
}

extension AnnotationStore {
    // MARK: - Pseudonyms

    /// Makes the store's secret (32 random bytes, kept as hex) unless it has one. Called by
    /// ``open(path:busyTimeout:)``, so every store has its own from the start.
    func ensureStoreSecret() throws {
        if try read({ db in try Int.fetchOne(db, sql: "SELECT count(*) FROM store_secret") ?? 0 }) > 0 { return }
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        try write { db in
            try db.execute(sql: "INSERT INTO store_secret (id, secret, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING",
                           arguments: [hex, StoreClock.now()])
        }
    }

    private func storeSecret(_ db: Database) throws -> [UInt8] {
        guard let hex = try String.fetchOne(db, sql: "SELECT secret FROM store_secret WHERE id = 1"), hex.count == 64 else {
            throw PleuraError(file: path, "the store has no secret for pseudonyms; open it with this Pleura once to make one")
        }
        var bytes: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            bytes.append(UInt8(hex[i..<j], radix: 16) ?? 0)
            i = j
        }
        return bytes
    }

    /// HMAC-SHA256(store secret, identifier) as 64 hex digits: the only form in which a patient or
    /// study identifier is kept. The same identifier gives the same pseudonym in this store only.
    public func pseudonym(_ identifier: String) throws -> String {
        let key = try read { db in try self.storeSecret(db) }
        return HMACSHA256.hex(key: key, message: Array(identifier.utf8))
    }

    // MARK: - Exams and zones

    /// Places a registered medium in an exam: the raw `patientKey` and `studyKey` (a file name's
    /// captures, a DICOM patient ID and study instance UID) are pseudonymised here and never kept.
    /// Appends a row only when the placement differs from the newest one; true when it did.
    ///
    /// ```swift
    /// try store.assignExam(media: sha, patientKey: "12", studyKey: nil, zone: "R3", protocol: "iclus14")
    /// ```
    @discardableResult
    public func assignExam(media sha256: String, patientKey: String, studyKey: String?, zone: String?,
                           protocol zoneProtocol: String?, source: ExamSource = .pattern) throws -> Bool {
        guard !patientKey.isEmpty else { throw PleuraError(file: path, "an exam needs a patient identifier") }
        let patient = try pseudonym(patientKey)
        let study = try studyKey.map { try $0.isEmpty ? "" : pseudonym($0) } ?? ""
        let me = OSIdentity.current, now = StoreClock.now()
        return try write { db in
            let mediaID = try self.mediaID(db, sha256: sha256)
            if let row = try Row.fetchOne(db, sql: """
                SELECT patient, study, zone, protocol, source FROM media_exam WHERE media_id = ? ORDER BY id DESC LIMIT 1
                """, arguments: [mediaID]) {
                let same = (row[0] as String) == patient && (row[1] as String) == study && (row[2] as String?) == zone
                    && (row[3] as String?) == zoneProtocol && (row[4] as String) == source.rawValue
                if same { return false }
            }
            try db.execute(sql: """
                INSERT INTO media_exam (media_id, patient, study, zone, protocol, source, at, os_user, uid)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [mediaID, patient, study, zone, zoneProtocol, source.rawValue, now, me.user, me.uid])
            return true
        }
    }

    /// Sets a medium's zone by key (nil clears this annotator's): an event on the whole clip, one
    /// undo step like any label. Returns the event, nil when the zone was already that.
    @discardableResult
    public func setZone(media sha256: String, zone: String?, annotator: Annotator, session: StoreSession) throws -> LabelEvent? {
        if let zone, zone.isEmpty || zone.unicodeScalars.contains(where: SafeText.isUnsafe) {
            throw PleuraError(file: path, "a zone name cannot be empty or hold control characters")
        }
        return try write { db in
            let mediaID = try self.mediaID(db, sha256: sha256)
            return try self.appendAction(db, kind: .set, annotator: annotator, session: session, sha256ByMediaID: [mediaID: sha256],
                                         changes: [FieldChange(mediaID: mediaID, frame: -1, contextID: 0, field: ExamField.zone, value: zone)]).first
        }
    }

    /// Sets the Hu et al. class of a frame (nil: not assessed), one undo step.
    @discardableResult
    public func setFrameClass(item: ItemRef, to value: HuFrameClass?, annotator: Annotator, session: StoreSession) throws -> LabelEvent? {
        guard let frame = item.frame, frame >= 0 else { throw PleuraError(file: path, "a frame class belongs to one frame, not the whole clip") }
        return try write { db in
            let mediaID = try self.mediaID(db, sha256: item.mediaSHA256)
            return try self.appendAction(db, kind: .set, annotator: annotator, session: session, sha256ByMediaID: [mediaID: item.mediaSHA256],
                                         changes: [FieldChange(mediaID: mediaID, frame: frame, contextID: 0, field: ExamField.frameClass,
                                                               value: value?.rawValue)]).first
        }
    }

    /// One annotator's Hu classes of a medium's frames.
    public func frameClasses(mediaSHA256: String, annotator: Annotator) throws -> [Int: HuFrameClass] {
        try read { db in
            guard let mediaID = try Int64.fetchOne(db, sql: "SELECT id FROM media WHERE sha256 = ?", arguments: [mediaSHA256]) else { return [:] }
            var out: [Int: HuFrameClass] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT frame, value FROM current_value
                WHERE media_id = ? AND annotator_id = ? AND context_id = 0 AND field = ? AND value IS NOT NULL
                """, arguments: [mediaID, annotator.id, ExamField.frameClass]) {
                if let c = HuFrameClass(rawValue: row[1]) { out[row[0]] = c }
            }
            return out
        }
    }

    /// One medium's zone now (as ``examMembership()`` has it), by two indexed lookups.
    public func zone(ofMedia sha256: String) throws -> String? {
        try read { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM media WHERE sha256 = ?", arguments: [sha256]) else { return nil }
            if let key = try String.fetchOne(db, sql: """
                SELECT value FROM current_value WHERE media_id = ? AND frame = -1 AND context_id = 0 AND field = ? AND value IS NOT NULL
                ORDER BY event_id DESC LIMIT 1
                """, arguments: [id, ExamField.zone]) { return key }
            return try String.fetchOne(db, sql: "SELECT zone FROM media_exam WHERE media_id = ? ORDER BY id DESC LIMIT 1", arguments: [id])
        }
    }

    /// Every medium with an exam or a zone: the newest placement, and the zone a key set (newest
    /// over all annotators) over the placement's.
    public func examMembership() throws -> [MediaExam] {
        try read { db in
            var out: [Int64: MediaExam] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT x.media_id, m.sha256, x.patient, x.study, x.zone, x.protocol, x.source
                FROM media_exam x JOIN media m ON m.id = x.media_id
                WHERE x.id = (SELECT max(y.id) FROM media_exam y WHERE y.media_id = x.media_id)
                """) {
                let zone: String? = row[4]
                out[row[0]] = MediaExam(mediaID: row[0], mediaSHA256: row[1], exam: ExamKey(patient: row[2], study: row[3]), zone: zone,
                                        zoneSource: zone == nil ? nil : (row[6] as String), zoneProtocol: row[5])
            }
            for row in try Row.fetchAll(db, sql: """
                SELECT c.media_id, m.sha256, c.value FROM current_value c JOIN media m ON m.id = c.media_id
                WHERE c.context_id = 0 AND c.frame = -1 AND c.field = ? AND c.value IS NOT NULL
                ORDER BY c.event_id
                """, arguments: [ExamField.zone]) {
                let id: Int64 = row[0]
                var entry = out[id] ?? MediaExam(mediaID: id, mediaSHA256: row[1], exam: nil, zone: nil, zoneSource: nil, zoneProtocol: nil)
                entry.zone = row[2]
                entry.zoneSource = "key"
                out[id] = entry   // ordered by event: the newest key wins
            }
            return out.values.sorted { $0.mediaID < $1.mediaID }
        }
    }

    /// Every scored item of a medium with an exam and a zone: each annotator's severity (frames and
    /// whole clips) and Hu class, and each model's predicted severity per frame (rater
    /// `model:` + the model's first 12 hex digits).
    public func zoneItems(includeModels: Bool = true) throws -> [ZoneItem] {
        let placed = try examMembership().filter { $0.exam != nil && $0.zone != nil }
        let byID = Dictionary(uniqueKeysWithValues: placed.map { ($0.mediaID, $0) })
        let bySHA = Dictionary(uniqueKeysWithValues: placed.map { ($0.mediaSHA256, $0) })
        var names: [Int64: String] = [:]
        for a in try annotators() { names[a.id] = a.name }
        struct Key: Hashable { var media: Int64; var frame: Int; var annotator: Int64 }
        var severity: [Key: Int] = [:]
        var classes: [Key: HuFrameClass] = [:]
        try read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT media_id, frame, annotator_id, field, value FROM current_value
                WHERE context_id = 0 AND value IS NOT NULL AND field IN ('severity', ?)
                """, arguments: [ExamField.frameClass])
            while let row = try rows.next() {
                let key = Key(media: row[0], frame: row[1], annotator: row[2])
                guard byID[key.media] != nil else { continue }
                let field: String = row[3], value: String = row[4]
                if field == "severity", let s = Int(value), (0...3).contains(s) { severity[key] = s }
                else if let c = HuFrameClass(rawValue: value) { classes[key] = c }
            }
        }
        var items: [ZoneItem] = []
        for key in Set(severity.keys).union(classes.keys) {
            let m = byID[key.media]!
            items.append(ZoneItem(exam: m.exam!, zone: m.zone!, media: m.mediaSHA256, frame: key.frame,
                                  rater: names[key.annotator] ?? "annotator \(key.annotator)", severity: severity[key], huClass: classes[key]))
        }
        if includeModels {
            for (model, answers) in try modelAnswers(level: .frame) {
                for (item, answer) in answers {
                    guard let m = bySHA[item.mediaSHA256], let s = answer.severity?.value else { continue }
                    items.append(ZoneItem(exam: m.exam!, zone: m.zone!, media: m.mediaSHA256, frame: item.frame ?? -1,
                                          rater: "model:" + model.prefix(12), severity: s, huClass: nil))
                }
            }
        }
        return items.sorted { ($0.exam, $0.zone, $0.media, $0.frame, $0.rater) < ($1.exam, $1.zone, $1.media, $1.frame, $1.rater) }
    }
}
