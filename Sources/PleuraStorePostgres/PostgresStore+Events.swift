import Foundation
import PleuraCore
import PleuraStore
import PostgresNIO

/// Media, annotators and sessions: the same rows and rules as the SQLite store (Media.swift,
/// Annotators.swift), ids max + 1 under the write lock.
extension PostgresStore {
    @discardableResult
    public func registerMedia(sha256: String, path: String, facts: MediaFacts) throws -> MediaRegistration {
        let sha = sha256.lowercased()
        guard sha.count == 64, sha.allSatisfy({ $0.isHexDigit }) else {
            throw PleuraError(file: path, "'\(sha256)' is not a SHA-256 (64 hex digits)")
        }
        let now = StoreClock.now(), me = OSIdentity.current
        return try write(request: nil) { link in
            if let existing = try Self.fetchMedia(link, where: "m.sha256 = $1", [.text(sha)]) {
                if existing.path == path && !existing.pathSuperseded { return .unchanged(existing) }
                try Self.insertPath(link, mediaID: existing.id, path: path, now: now, me: me)
                var moved = existing
                moved.path = path
                moved.pathSuperseded = false
                return .moved(moved, from: existing.path)
            }
            let id = try link.query("SELECT coalesce(max(id), 0) + 1 FROM media")[0].at(0, Int64.self)
            try link.query("""
                INSERT INTO media (id, sha256, kind, container, codec, width, height, fps, frames, bytes, registered_at, os_user, uid)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                """, [.int(id), .text(sha), .text(facts.kind), .text(facts.container), .text(facts.codec),
                      .int(facts.width.map(Int64.init)), .int(facts.height.map(Int64.init)), .real(facts.fps),
                      .int(facts.frames.map(Int64.init)), .int(facts.bytes.map(Int64.init)), .text(now),
                      .text(me.user), .int(Int64(me.uid))])
            try Self.insertPath(link, mediaID: id, path: path, now: now, me: me)
            return .added(MediaRecord(id: id, sha256: sha, path: path, facts: facts, registeredAt: now))
        }
    }

    public func media(sha256: String) throws -> MediaRecord? {
        try read { link in try Self.fetchMedia(link, where: "m.sha256 = $1", [.text(sha256.lowercased())]) }
    }

    public func media(atPath path: String) throws -> MediaRecord? {
        try read { link in
            guard let row = try link.query("SELECT media_id FROM media_path WHERE path = $1 ORDER BY id DESC LIMIT 1",
                                           [.text(path)]).first else { return nil }
            return try Self.fetchMedia(link, where: "m.id = $1", [.int(try row.at(0, Int64.self))])
        }
    }

    public func annotator(named name: String, role: AnnotatorRole) throws -> Annotator {
        guard !name.isEmpty else { throw PleuraError(file: location, "an annotator needs a name") }
        if let known = try annotator(named: name) { return known }
        let me = OSIdentity.current, now = StoreClock.now()
        return try write(request: nil) { link in
            if let known = try Self.fetchAnnotator(link, name: name) { return known }   // created meanwhile
            let id = try link.query("SELECT coalesce(max(id), 0) + 1 FROM annotator")[0].at(0, Int64.self)
            try link.query("INSERT INTO annotator (id, name, role, created_at, os_user, uid) VALUES ($1, $2, $3, $4, $5, $6)",
                           [.int(id), .text(name), .text(role.rawValue), .text(now), .text(me.user), .int(Int64(me.uid))])
            return Annotator(id: id, name: name, role: role, osUser: me.user, uid: me.uid)
        }
    }

    public func annotator(named name: String) throws -> Annotator? {
        try read { link in try Self.fetchAnnotator(link, name: name) }
    }

    public func beginSession(annotator: Annotator, name: String, mode: String) throws -> StoreSession {
        let me = OSIdentity.current, now = StoreClock.now()
        return try write(request: nil) { link in
            let id = try link.query("SELECT coalesce(max(id), 0) + 1 FROM session")[0].at(0, Int64.self)
            try link.query("""
                INSERT INTO session (id, annotator_id, name, mode, started_at, os_user, uid, host, pid, pleura_version)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                """, [.int(id), .int(annotator.id), .text(name), .text(mode), .text(now), .text(me.user), .int(Int64(me.uid)),
                      .text(ProcessInfo.processInfo.hostName), .int(Int64(getpid())), .text(PleuraVersion.string)])
            return StoreSession(id: id, annotatorID: annotator.id, name: name, mode: mode, startedAt: now)
        }
    }

    // MARK: - Internals

    static func insertPath(_ link: PostgresLink, mediaID: Int64, path: String, now: String, me: OSIdentity) throws {
        try link.query("""
            INSERT INTO media_path (id, media_id, path, seen_at, os_user, uid)
            VALUES ((SELECT coalesce(max(id), 0) + 1 FROM media_path), $1, $2, $3, $4, $5)
            """, [.int(mediaID), .text(path), .text(now), .text(me.user), .int(Int64(me.uid))])
    }

    /// A media row with its newest path and whether other content was seen there since (as the
    /// SQLite store's `mediaSelect`).
    static func fetchMedia(_ link: PostgresLink, where condition: String, _ args: [PGArg]) throws -> MediaRecord? {
        guard let row = try link.query("""
            SELECT m.id, m.sha256, lp.path, m.kind, m.container, m.codec, m.width, m.height, m.fps, m.frames, m.bytes,
                   m.registered_at,
                   EXISTS (SELECT 1 FROM media_path q WHERE q.path = lp.path AND q.id > lp.id AND q.media_id != m.id)
            FROM media m JOIN media_path lp ON lp.id = (SELECT max(p.id) FROM media_path p WHERE p.media_id = m.id)
            WHERE \(condition)
            """, args).first else { return nil }
        func int(_ i: Int) throws -> Int? { try row.at(i, Int64?.self).map(Int.init) }
        return MediaRecord(id: try row.at(0), sha256: try row.at(1), path: try row.at(2),
                           facts: MediaFacts(kind: try row.at(3), container: try row.at(4), codec: try row.at(5),
                                             width: try int(6), height: try int(7), fps: try row.at(8),
                                             frames: try int(9), bytes: try int(10)),
                           registeredAt: try row.at(11), pathSuperseded: try row.at(12))
    }

    static func fetchAnnotator(_ link: PostgresLink, name: String) throws -> Annotator? {
        guard let row = try link.query("SELECT id, name, role, os_user, uid FROM annotator WHERE name = $1", [.text(name)]).first
        else { return nil }
        return Annotator(id: try row.at(0), name: try row.at(1),
                         role: AnnotatorRole(rawValue: try row.at(2, String.self)) ?? .labeller,
                         osUser: try row.at(3), uid: Int(try row.at(4, Int64.self)))
    }

    /// The row id of the media with this hash; throws when it was never registered.
    func mediaID(_ link: PostgresLink, sha256: String) throws -> Int64 {
        guard let row = try link.query("SELECT id FROM media WHERE sha256 = $1", [.text(sha256.lowercased())]).first else {
            throw PleuraError(file: location, "unknown media \(sha256.prefix(12))…: register it first with `pleura add FILE --store \(location)`")
        }
        return try row.at(0)
    }
}
