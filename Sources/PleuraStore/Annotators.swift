import Foundation
import GRDB
import PleuraCore

/// A person (or the model, or imported ground truth) who gives labels, ratings or reviews.
/// Names are unique in a store; the OS user and uid of whoever created the annotator are kept.
public struct Annotator: Hashable, Sendable {
    public var id: Int64
    public var name: String
    public var role: AnnotatorRole
    public var osUser: String
    public var uid: Int

    public init(id: Int64, name: String, role: AnnotatorRole, osUser: String, uid: Int) {
        self.id = id; self.name = name; self.role = role; self.osUser = osUser; self.uid = uid
    }
}

/// One sitting of one annotator (a TUI run, an import): every change records its session, and
/// undo/redo stacks are per annotator and session.
public struct StoreSession: Hashable, Sendable {
    public var id: Int64
    public var annotatorID: Int64
    public var name: String
    public var mode: String
    public var startedAt: String

    public init(id: Int64, annotatorID: Int64, name: String, mode: String, startedAt: String) {
        self.id = id; self.annotatorID = annotatorID; self.name = name; self.mode = mode; self.startedAt = startedAt
    }
}

extension AnnotationStore {
    /// The annotator with this name, created with `role` when it does not exist yet. An existing
    /// annotator keeps the role it was created with (history is never rewritten).
    ///
    /// ```swift
    /// let alice = try store.annotator(named: "alice", role: .labeller)
    /// let truth = try store.annotator(named: "reference", role: .reference)
    /// ```
    public func annotator(named name: String, role: AnnotatorRole) throws -> Annotator {
        guard !name.isEmpty else { throw PleuraError(file: path, "an annotator needs a name") }
        if let known = try annotator(named: name) { return known }
        let me = OSIdentity.current, now = StoreClock.now()
        return try write { db in
            try self.ensureAnnotator(db, name: name, role: role, now: now, me: me)   // (or the one created meanwhile)
        }
    }

    /// The annotator with this name, or nil.
    public func annotator(named name: String) throws -> Annotator? {
        try read { db in try Self.fetchAnnotator(db, name: name) }
    }

    /// Every annotator, by name.
    public func annotators() throws -> [Annotator] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, name, role, os_user, uid FROM annotator ORDER BY name").map(Self.annotatorRecord)
        }
    }

    /// Starts a session for `annotator` (records host, pid, OS user and Pleura version).
    ///
    /// ```swift
    /// let session = try store.beginSession(annotator: alice, name: "demo", mode: "label")
    /// ```
    public func beginSession(annotator: Annotator, name: String, mode: String) throws -> StoreSession {
        let me = OSIdentity.current, now = StoreClock.now()
        return try write { db in
            try self.insertSession(db, annotator: annotator, name: name, mode: mode, now: now, me: me)
        }
    }

    static func fetchAnnotator(_ db: Database, name: String) throws -> Annotator? {
        try Row.fetchOne(db, sql: "SELECT id, name, role, os_user, uid FROM annotator WHERE name = ?", arguments: [name])
            .map(annotatorRecord)
    }

    static func annotatorRecord(_ row: Row) -> Annotator {
        Annotator(id: row[0], name: row[1], role: AnnotatorRole(rawValue: row[2]) ?? .labeller, osUser: row[3], uid: row[4])
    }
}
