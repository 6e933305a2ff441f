import Foundation
import GRDB
import PleuraCore

extension AnnotationStore {
    /// Fills an empty store with synthetic label events for `pleura bench` only: `media` clips of
    /// `framesPerMedia` frames, each frame labelled by `annotators` annotators with
    /// `totalEvents` events in all (severity, A-lines, B1-lines, … for each item, one field more for
    /// a share of the items so the total is exact). Uses one transaction per clip and the same event insert (and
    /// so the same trigger-maintained current state) as ordinary writes; only the per-change
    /// round trips are skipped. Returns the number of events appended.
    @_spi(Benchmark)
    public func seedSyntheticLabels(media: Int, framesPerMedia: Int, annotators: Int, totalEvents: Int,
                                    progress: (Int) -> Void = { _ in }) throws -> Int {
        let me = OSIdentity.current, now = StoreClock.now()
        var people: [(Annotator, StoreSession)] = []
        for a in 0..<annotators {
            let who = try annotator(named: "bench-annotator-\(a + 1)", role: .labeller)
            people.append((who, try beginSession(annotator: who, name: "bench", mode: "label")))
        }
        let labelled = media * framesPerMedia * annotators
        // Each item gets `perItem` fields, the first `extra` items one more, so the total is exact.
        let perItem = max(1, min(5, totalEvents / max(1, labelled)))
        let extra = min(labelled, max(0, totalEvents - perItem * labelled))
        var nextID: Int64 = try read { db in try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) + 1 FROM event") ?? 1 }
        var written = 0
        var itemCounter = 0
        for m in 0..<media {
            let sha = SHA256.hex(of: Array("pleura bench clip \(m)".utf8))
            let record = try registerMedia(sha256: sha, path: "/bench/clips/clip\(String(format: "%04d", m)).mp4",
                                           facts: MediaFacts(kind: "video", codec: "h264", width: 640, height: 480, fps: 25,
                                                             frames: framesPerMedia)).record
            try write { db in
                let insert = try db.makeStatement(sql: """
                    INSERT INTO event (id, action_id, kind, reverts, at, annotator_id, session_id, os_user, uid,
                                       media_id, frame, context_id, field, old_value, new_value)
                    VALUES (?, ?, 'import', NULL, ?, ?, ?, ?, ?, ?, ?, 0, ?, NULL, ?)
                    """)
                for frame in 0..<framesPerMedia {
                    // A "true" severity per frame; annotators mostly agree, sometimes by one step off.
                    let truth = (frame / 20 + m) % 4
                    for (a, (who, session)) in people.enumerated() {
                        let h = (m &* 7919 &+ frame &* 104729 &+ a &* 1299709) % 100
                        let severity = h < 70 ? truth : min(3, max(0, truth + (h % 2 == 0 ? 1 : -1)))
                        let all: [(String, String)] = [("severity", String(severity)),
                                                       ("a_lines", severity == 0 || h < 10 ? "1" : "0"),
                                                       ("b1_lines", severity >= 1 && h % 3 != 0 ? "1" : "0"),
                                                       ("consolidation", severity >= 2 && h % 2 == 0 ? "1" : "0"),
                                                       ("b2_lines", severity == 3 ? "1" : "0")]
                        let fields = all.prefix(perItem + (itemCounter < extra ? 1 : 0))
                        itemCounter += 1
                        let actionID = nextID
                        for (field, value) in fields {
                            try insert.execute(arguments: [nextID, actionID, now, who.id, session.id, me.user, me.uid,
                                                           record.id, frame, field, value])
                            nextID += 1
                            written += 1
                        }
                    }
                }
            }
            progress(written)
        }
        return written
    }
}

extension AnnotationStore {
    /// What SQLite alone spends to write another store's label events into this one, the yardstick
    /// of `pleura import`'s speed: annotators, sessions, events and current values copied by one
    /// `INSERT … SELECT` per table in one transaction, with the store's schema, foreign keys,
    /// `synchronous=FULL` and the import's connection settings, the two derivation triggers
    /// suspended as the import suspends them (and re-created before the commit). No parsing, no
    /// checks, no binding: any import of those events into this schema costs at least this.
    /// This store must hold the same media ids and no annotators yet. Returns the seconds taken,
    /// commit included.
    @_spi(Benchmark)
    public func copyLabelEventsSetBased(from source: String) throws -> Double {
        try writeRaw { db in try db.execute(sql: "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY") }
        defer { _ = try? writeRaw { db in try db.execute(sql: "PRAGMA cache_size = -2000; PRAGMA temp_store = DEFAULT") } }
        let start = Measure.now()
        try writeRaw { db in
            try db.execute(sql: "ATTACH DATABASE ? AS source", arguments: [source])
            defer { try? db.execute(sql: "DETACH DATABASE source") }
            try db.inTransaction(.immediate) {
                let names = ImportWriter.derivationTriggerNames
                let triggers = try names.map { name in
                    try String.fetchOne(db, sql: "SELECT sql FROM main.sqlite_master WHERE type = 'trigger' AND name = ?", arguments: [name]) ?? ""
                }
                for name in names { try db.execute(sql: "DROP TRIGGER main.\(name)") }
                try db.execute(sql: """
                    INSERT INTO main.annotator SELECT * FROM source.annotator;
                    INSERT INTO main.session SELECT * FROM source.session;
                    INSERT INTO main.event SELECT * FROM source.event ORDER BY id;
                    INSERT INTO main.current_value SELECT * FROM source.current_value;
                    """)
                for sql in triggers { try db.execute(sql: sql) }
                return .commit
            }
        }
        return Measure.now() - start
    }
}
