import Foundation
import GRDB
import PleuraCore

/// What a probe found out about a media file, as plain values (the store does not depend on
/// PleuraMedia; `pleura add` fills this from `MediaReader.probe`).
///
/// ```swift
/// let facts = MediaFacts(kind: "video", container: "mov,mp4", codec: "h264",
///                        width: 640, height: 480, fps: 30, frames: 120, bytes: 1_234_567)
/// ```
public struct MediaFacts: Equatable, Sendable, Codable {
    public var kind: String?
    public var container: String?
    public var codec: String?
    public var width: Int?
    public var height: Int?
    public var fps: Double?
    public var frames: Int?
    public var bytes: Int?

    public init(kind: String? = nil, container: String? = nil, codec: String? = nil, width: Int? = nil,
                height: Int? = nil, fps: Double? = nil, frames: Int? = nil, bytes: Int? = nil) {
        self.kind = kind; self.container = container; self.codec = codec; self.width = width
        self.height = height; self.fps = fps; self.frames = frames; self.bytes = bytes
    }
}

/// A registered media file: its content hash (its identity), where it was last seen, its facts.
public struct MediaRecord: Equatable, Sendable {
    public var id: Int64
    public var sha256: String
    /// The newest absolute path this content was registered or seen at.
    public var path: String
    public var facts: MediaFacts
    public var registeredAt: String
    /// True when other content was registered at ``path`` later (the file there changed), so
    /// this content has no known file. Exports then name it `sha256:HEX` instead of a path.
    public var pathSuperseded: Bool = false

    public init(id: Int64, sha256: String, path: String, facts: MediaFacts, registeredAt: String, pathSuperseded: Bool = false) {
        self.id = id; self.sha256 = sha256; self.path = path; self.facts = facts
        self.registeredAt = registeredAt; self.pathSuperseded = pathSuperseded
    }

    /// How exchange files name this media: its path relative to `root`, or `sha256:HEX` when
    /// the file at its last path now holds other content.
    public func exchangeName(root: String) -> String {
        pathSuperseded ? "sha256:" + sha256 : RootPaths.relative(path, to: root)
    }
}

/// What ``AnnotationStore/registerMedia(sha256:path:facts:)`` did.
public enum MediaRegistration: Equatable, Sendable {
    /// New content: a new media row.
    case added(MediaRecord)
    /// Known content at the same path: nothing written.
    case unchanged(MediaRecord)
    /// Known content at a new path (a moved or copied file): the path was recorded; labels stay.
    case moved(MediaRecord, from: String)

    public var record: MediaRecord {
        switch self { case .added(let r), .unchanged(let r), .moved(let r, _): return r }
    }
}

extension AnnotationStore {
    /// Registers a media file by content hash. The same content at a new path keeps its labels
    /// (``MediaRegistration/moved(_:from:)``). A path whose content changed since it was registered
    /// gets a new media row; ``changedContent(atPath:sha256:)`` lets the caller flag that first.
    ///
    /// ```swift
    /// let sha = try SHA256.hexOfFile(atPath: "/data/clip.mp4")
    /// let result = try store.registerMedia(sha256: sha, path: "/data/clip.mp4", facts: facts)
    /// if case .moved(_, let old) = result { print("moved from \(old)") }
    /// ```
    @discardableResult
    public func registerMedia(sha256: String, path: String, facts: MediaFacts) throws -> MediaRegistration {
        let sha = sha256.lowercased()
        guard sha.count == 64, sha.allSatisfy({ $0.isHexDigit }) else {
            throw PleuraError(file: path, "'\(sha256)' is not a SHA-256 (64 hex digits)")
        }
        let now = StoreClock.now(), me = OSIdentity.current
        return try write { db in
            if let existing = try Self.fetchMedia(db, sha256: sha) {
                if existing.path == path && !existing.pathSuperseded { return .unchanged(existing) }
                try db.execute(sql: "INSERT INTO media_path (media_id, path, seen_at, os_user, uid) VALUES (?, ?, ?, ?, ?)",
                               arguments: [existing.id, path, now, me.user, me.uid])
                var moved = existing
                moved.path = path
                moved.pathSuperseded = false
                return .moved(moved, from: existing.path)
            }
            let id = try self.insertMedia(db, sha256: sha, path: path, facts: facts, now: now, me: me)
            return .added(MediaRecord(id: id, sha256: sha, path: path, facts: facts, registeredAt: now))
        }
    }

    /// When `path` was registered before with other content, that earlier record (the file
    /// changed since: its labels belong to the old content). Nil when unknown or unchanged.
    ///
    /// ```swift
    /// if let old = try store.changedContent(atPath: p, sha256: newSHA) { warn("\(p) changed since \(old.registeredAt)") }
    /// ```
    public func changedContent(atPath path: String, sha256: String) throws -> MediaRecord? {
        guard let known = try media(atPath: path) else { return nil }
        return known.sha256 == sha256.lowercased() ? nil : known
    }

    /// The media with this content hash, or nil.
    public func media(sha256: String) throws -> MediaRecord? {
        try read { db in try Self.fetchMedia(db, sha256: sha256.lowercased()) }
    }

    /// The media most recently registered at this absolute path, or nil.
    public func media(atPath path: String) throws -> MediaRecord? {
        try read { db in try Self.fetchMedia(db, atPath: path) }
    }

    /// Every registered media, ordered by current path.
    public func allMedia() throws -> [MediaRecord] {
        try read { db in try Self.fetchAllMedia(db) }
    }

    // MARK: - Internals

    /// Columns of a media row with its newest path, and whether other content has been seen at
    /// that path since (the file there changed: this content is no longer at any known path).
    static let mediaSelect = """
        SELECT m.id, m.sha256, lp.path, m.kind, m.container, m.codec, m.width, m.height, m.fps, m.frames, m.bytes,
               m.registered_at,
               EXISTS (SELECT 1 FROM media_path q WHERE q.path = lp.path AND q.id > lp.id AND q.media_id != m.id) AS superseded
        FROM media m JOIN media_path lp ON lp.id = (SELECT max(p.id) FROM media_path p WHERE p.media_id = m.id)
        """

    static func mediaRecord(_ row: Row) -> MediaRecord {
        MediaRecord(id: row[0], sha256: row[1], path: row[2],
                    facts: MediaFacts(kind: row[3], container: row[4], codec: row[5], width: row[6], height: row[7],
                                      fps: row[8], frames: row[9], bytes: row[10]),
                    registeredAt: row[11], pathSuperseded: row[12])
    }

    static func fetchMedia(_ db: Database, sha256: String) throws -> MediaRecord? {
        try Row.fetchOne(db, sql: "\(mediaSelect) WHERE m.sha256 = ?", arguments: [sha256]).map(mediaRecord)
    }

    static func fetchMedia(_ db: Database, id: Int64) throws -> MediaRecord? {
        try Row.fetchOne(db, sql: "\(mediaSelect) WHERE m.id = ?", arguments: [id]).map(mediaRecord)
    }

    static func fetchMedia(_ db: Database, atPath path: String) throws -> MediaRecord? {
        guard let id = try Int64.fetchOne(db, sql: "SELECT media_id FROM media_path WHERE path = ? ORDER BY id DESC LIMIT 1",
                                          arguments: [path]) else { return nil }
        return try fetchMedia(db, id: id)
    }

    static func fetchAllMedia(_ db: Database) throws -> [MediaRecord] {
        try Row.fetchAll(db, sql: "\(mediaSelect) ORDER BY lp.path, m.id").map(mediaRecord)
    }

    /// The row id of the media with this hash; throws when it was never registered.
    func mediaID(_ db: Database, sha256: String) throws -> Int64 {
        if let id = mediaIDs.get(sha256) { return id }
        guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM media WHERE sha256 = ?", arguments: [sha256.lowercased()]) else {
            throw PleuraError(file: path, "unknown media \(sha256.prefix(12))…: register it first with `pleura add FILE --store \(path)`")
        }
        mediaIDs.set(sha256, id)
        return id
    }
}
