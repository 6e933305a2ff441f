import Foundation
import GRDB
import Testing
import PleuraCore
import PleuraTestSupport
@testable @_spi(Fuzzing) import PleuraStore

// The import path of issue 15: rows checked and written as they are read, label events staged
// and appended in batches, still all or nothing and still through every protecting trigger;
// rating duplicates by the stored rating context; prediction uncertainty carried.

private struct Site {
    let dir: URL
    let store: AnnotationStore
    let sha: [String]

    /// `clips` clips of 100 frames each at /data/cNN.mp4.
    init(clips: Int = 3) throws {
        dir = try TestEnv.makeTempDirectory("pleura-import-path")
        store = try AnnotationStore.open(path: dir.appendingPathComponent("s.sqlite").path)
        sha = (0..<clips).map { SHA256.hex(of: Array("clip \($0)".utf8)) }
        for (i, s) in sha.enumerated() {
            try store.registerMedia(sha256: s, path: "/data/c\(i).mp4", facts: MediaFacts(kind: "video", frames: 100))
        }
    }

    static let header = "media,frame,annotator,a_lines,b1_lines,b2_lines,consolidation,severity,quality,note\n"

    /// Every frame of every clip for `annotators` annotators: 3 to 4 fields a row.
    func labelCSV(clips: Int, annotators: Int, severity: (Int, Int, Int) -> Int = { c, f, a in (c + f + a) % 4 }) -> String {
        var text = Self.header
        for c in 0..<clips { for f in 0..<100 { for a in 0..<annotators {
            text += "/data/c\(c).mp4,\(f),rater\(a),\((f + a) % 2),\(f % 3 == 0 ? "1" : ""),,0,\(severity(c, f, a)),,\n"
        } } }
        return text
    }

    func count(_ sql: String) throws -> Int { try store.pool.read { db in try Int.fetchOne(db, sql: sql) ?? -1 } }

    /// Every trigger's SQL, by name (the import suspends two of them inside its transaction).
    func triggers() throws -> [String: String] {
        try store.pool.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
                .map { ($0["name"] as String, $0["sql"] as String) })
        }
    }
}

@Suite struct StreamingImportTests {
    /// More rows than one staged batch: every event lands once, in id order, with the current
    /// state derived by the trigger, and the staging table is gone afterwards.
    @Test func largeImportCrossesBatchesAndMatchesTheLog() throws {
        let site = try Site(clips: 30)
        let triggersBefore = try site.triggers()
        let text = site.labelCSV(clips: 30, annotators: 5)   // 15,000 rows, ~60,000 events: several batches
        let summary = try site.store.importLabelCSV(text: text, file: "big.csv", root: "/")
        // The derivation triggers it suspended are back, exactly as they were, and still refuse a
        // forged current value.
        #expect(try site.triggers() == triggersBefore)
        #expect(throws: (any Error).self) {
            try site.store.pool.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO current_value SELECT media_id, frame, annotator_id, context_id, field, 'forged', event_id FROM current_value LIMIT 1")
            }
        }
        #expect(summary.rows == 15_000)
        #expect(summary.events > ImportWriter.derivedBatch * 2)
        #expect(try site.store.eventCount() == summary.events)
        #expect(try site.count("SELECT count(*) FROM current_value") == summary.events)
        #expect(try site.count("SELECT count(*) FROM event WHERE kind != 'import' OR context_id != 0 OR old_value IS NOT NULL") == 0)
        // Ids are dense and each action's events are contiguous, starting at the action id.
        #expect(try site.count("SELECT max(id) - min(id) + 1 FROM event") == summary.events)
        #expect(try site.count("SELECT count(*) FROM event e WHERE e.action_id > e.id OR NOT EXISTS (SELECT 1 FROM event a WHERE a.id = e.action_id)") == 0)
        #expect(try site.store.verify().problems.isEmpty)
        #expect(try site.store.pool.write { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_temp_master") } == 0)
        let item = ItemRef(mediaSHA256: site.sha[7], frame: 42)
        let rater3 = try #require(try site.store.annotator(named: "rater3"))
        let labels = try site.store.currentLabels(item: item, annotator: rater3)
        #expect(labels.severity?.rawValue == (7 + 42 + 3) % 4)
        #expect(labels[.aLines] == ((42 + 3) % 2 == 1))
        #expect(labels[.b1Lines] == true)

        // The same file again changes nothing; a changed file appends exactly the changes, with
        // the old values read from the current state.
        #expect(try site.store.importLabelCSV(text: text, file: "big.csv", root: "/").events == 0)
        let changed = site.labelCSV(clips: 30, annotators: 5) { c, f, a in c == 7 && f == 42 ? 3 - (c + f + a) % 4 : (c + f + a) % 4 }
        let second = try site.store.importLabelCSV(text: changed, file: "changed.csv", root: "/")
        #expect(second.events == 5)
        let updates = try site.store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT old_value, new_value FROM event WHERE id > ? ORDER BY id", arguments: [summary.events])
        }
        let oldValues: [String?] = updates.map { $0[0] }, newValues: [String?] = updates.map { $0[1] }
        let wasBefore: [String?] = (0..<5).map { (a: Int) -> String? in String((49 + a) % 4) }
        let isNow: [String?] = (0..<5).map { (a: Int) -> String? in String(3 - (49 + a) % 4) }
        #expect(oldValues == wasBefore)
        #expect(newValues == isNow)
        let severityNow = try site.store.currentLabels(item: item, annotator: rater3).severity?.rawValue
        #expect(severityNow == 3 - (49 + 3) % 4)
        #expect(try site.store.verify().problems.isEmpty)
    }

    /// A bad row after several appended batches: nothing at all is recorded (no events, no
    /// annotators, no import sessions), and the store can import again at once.
    @Test func aBadRowAfterManyBatchesRecordsNothing() throws {
        let site = try Site(clips: 30)
        let triggersBefore = try site.triggers()
        let good = site.labelCSV(clips: 30, annotators: 5)
        for (tail, reason) in [("/data/c0.mp4,100,rater0,1,,,,,,\n", "line 15002: frame 100 does not exist"),
                               ("/data/c0.mp4,5,rater1,1,,,,,,\n", "line 15002: duplicate row for the same media, frame and annotator as line 28"),
                               ("/data/c0.mp4,5,rater1,maybe,,,,,,\n", "line 15002: a_lines 'maybe'"),
                               ("/data/nowhere.mp4,5,rater1,1,,,,,,\n", "line 15002: unknown media")] {
            let error = try #require(throws: PleuraError.self) {
                try site.store.importLabelCSV(text: good + tail, file: "bad.csv", root: "/")
            }
            #expect(error.file == "bad.csv")
            #expect(error.reason.hasPrefix(reason), "\(error.reason)")
            #expect(try site.store.eventCount() == 0)
            #expect(try site.count("SELECT count(*) FROM current_value") == 0)
            #expect(try site.count("SELECT count(*) FROM annotator") == 0)
            #expect(try site.count("SELECT count(*) FROM session") == 0)
            #expect(try site.triggers() == triggersBefore)   // the rollback brought the suspended triggers back
        }
        #expect(try site.store.importLabelCSV(text: good, file: "good.csv", root: "/").rows == 15_000)
        #expect(try site.store.verify().problems.isEmpty)
    }

    /// Labels then a rating in one import: the rating's current value is kept by the triggers,
    /// which the label batches had suspended and the writer restored before the rating.
    @Test func aRatingAfterLabelBatchesIsDerivedByTheRestoredTriggers() throws {
        let site = try Site(clips: 30)
        var rows = ImportRows()
        try ExchangeReader.forEachLabelCSV(site.labelCSV(clips: 30, annotators: 5), file: "mixed", as: nil) { rows.labels.append($0) }
        let head = RatingRecord.header.joined(separator: ",") + "\n"
        try ExchangeReader.forEachRatingCSV(head + RatingImportKeyTests.row(opacity: "0.5"), file: "mixed", as: nil) { rows.ratings.append($0) }
        let summary = try site.store.importRows(rows, file: "mixed", root: "/", defaultRole: .labeller)
        #expect(summary.rows == 15_001)
        #expect(try site.count("SELECT count(*) FROM current_value WHERE context_id != 0 AND value = '2'") == 1)
        #expect(try site.store.verify().problems.isEmpty)
    }

    /// A label import mixed into a store that other writers use: events of an interactive
    /// session before and after keep their own ids and undo still works on them.
    @Test func importBetweenInteractiveChangesKeepsUndo() throws {
        let site = try Site(clips: 1)
        let me = try site.store.annotator(named: "rater0", role: .labeller)
        let s = try site.store.beginSession(annotator: me, name: "ward", mode: "label")
        let item = ItemRef(mediaSHA256: site.sha[0], frame: 3)
        try site.store.setLabel(item: item, field: .note, value: .note("before"), annotator: me, session: s)
        try site.store.importLabelCSV(text: site.labelCSV(clips: 1, annotators: 2), file: "x.csv", root: "/")
        try site.store.setLabel(item: item, field: .note, value: .note("after"), annotator: me, session: s)
        #expect(try site.store.currentLabels(item: item, annotator: me).severity?.rawValue == 3)
        try site.store.undo(annotator: me, session: s)
        // The import cleared the note (its row has none); undo goes back to that.
        #expect(try site.store.currentLabels(item: item, annotator: me).note == nil)
        #expect(try site.store.verify().problems.isEmpty)
    }
}

@Suite struct RatingImportKeyTests {
    static let model = String(repeating: "a", count: 64)

    static func row(opacity: String, threshold: String = "", rating: String = "2", trial: String = "t1", slot: String = "") -> String {
        "/data/c0.mp4,3,ann,\(model),gradcam,severity/2,\(rating),,features.3,\(String(repeating: "b", count: 64)),\(trial),\(slot),seven,jet,\(opacity),\(threshold),,,,,\n"
    }

    /// Two rows the store would keep as one rating (the same rating context: -0 and 0 are one
    /// canonical setting) are a duplicate, whatever their spelling; rows that differ in a part
    /// of the key are two ratings.
    @Test func duplicatesAreFoundByTheStoredRatingContext() throws {
        let site = try Site(clips: 1)
        let head = RatingRecord.header.joined(separator: ",") + "\n"
        for (a, b) in [(Self.row(opacity: "0"), Self.row(opacity: "-0", rating: "-1")),
                       (Self.row(opacity: "0.5", threshold: "0"), Self.row(opacity: "0.50", threshold: "-0.0", rating: "1")),
                       (Self.row(opacity: "1"), Self.row(opacity: "1.0", rating: "3"))] {
            let error = try #require(throws: PleuraError.self) {
                try site.store.importRatingCSV(text: head + a + b, file: "r.csv", root: "/")
            }
            #expect(error.reason == "line 3: duplicate rating of the same heatmap as line 2", "\(error.reason)")
            #expect(try site.store.eventCount() == 0)
            #expect(try site.count("SELECT count(*) FROM rating_context") == 0)
        }
        let distinct = head + Self.row(opacity: "0.5") + Self.row(opacity: "0.6") + Self.row(opacity: "0.5", trial: "t2")
            + Self.row(opacity: "0.5", threshold: "0.2") + Self.row(opacity: "0.5", slot: "A")
        let summary = try site.store.importRatingCSV(text: distinct, file: "r.csv", root: "/")
        #expect(summary.rows == 5)
        #expect(try site.count("SELECT count(*) FROM rating_context") == 5)
        #expect(try site.store.verify().problems.isEmpty)
    }
}

@Suite struct PredictionUncertaintyImportTests {
    /// JSON Lines predictions as `pleura export --kind predictions --format jsonl` writes them
    /// import with their uncertainty, and exporting again gives the same lines.
    @Test func jsonLinesPredictionsRoundTripWithUncertainty() throws {
        let site = try Site(clips: 1)
        let item = ItemRef(mediaSHA256: site.sha[0], frame: 4)
        try site.store.insertPredictions([
            Prediction(item: item, modelSHA256: "m", head: "severity", className: "2", probability: 0.75, uncertainty: 0.125),
            Prediction(item: item, modelSHA256: "m", head: "severity", className: "3", probability: 0.25),
            Prediction(item: ItemRef(mediaSHA256: site.sha[0], frame: nil), modelSHA256: "m", head: "findings",
                       className: "b_lines", probability: 1, uncertainty: 0),
        ])
        let sink = TextSink()
        try site.store.exportPredictions(root: "/", format: .jsonl, to: sink)
        let exported = sink.text
        #expect(exported.contains("\"uncertainty\":0.125"))

        let other = try Site(clips: 1)
        let summary = try other.store.importJSONLines(text: exported, file: "p.jsonl", root: "/")
        #expect(summary.predictions == 3 && summary.events == 0)
        let back = try other.store.predictions().sorted { ($0.head, $0.className) < ($1.head, $1.className) }
        #expect(back.map(\.uncertainty) == [0, 0.125, nil])
        #expect(back.map(\.probability) == [1, 0.75, 0.25])
        let again = TextSink()
        try other.store.exportPredictions(root: "/", format: .jsonl, to: again)
        #expect(again.text == exported)
    }

    /// Uncertainty and probability are validated like every other field: numbers 0…1, by line.
    @Test func badPredictionFieldsAreRefusedByLine() throws {
        let site = try Site(clips: 1)
        let base = #""kind":"prediction","media":"/data/c0.mp4","frame":1,"model":"m","head":"severity","label":"2""#
        for (fields, reason) in [(#""probability":0.5,"uncertainty":"0.1""#, "uncertainty must be a number 0…1"),
                                 (#""probability":0.5,"uncertainty":1.5"#, "uncertainty 1.5 is outside 0…1"),
                                 (#""probability":0.5,"uncertainty":-0.25"#, "uncertainty -0.25 is outside 0…1"),
                                 (#""probability":"0.5""#, "probability must be a number 0…1"),
                                 (#""uncertainty":0.1"#, "\"probability\" is missing"),
                                 (#""probability":0.5,"score":1"#, "unknown key \"score\"")] {
            let text = #"{"kind":"prediction","media":"/data/c0.mp4","frame":0,"model":"m","head":"h","label":"x","probability":0.1}"#
                + "\n{" + base + "," + fields + "}\n"
            let error = try #require(throws: PleuraError.self) { try site.store.importJSONLines(text: text, file: "p.jsonl", root: "/") }
            #expect(error.reason.hasPrefix("line 2: "), "\(error.reason)")
            #expect(error.reason.contains(reason), "\(error.reason) lacks \(reason)")
            #expect(try site.store.predictions().isEmpty)
        }
    }

    /// Label Studio predictions carry Pleura's `uncertainty` beside `score` both ways.
    @Test func labelStudioPredictionsCarryUncertainty() throws {
        let site = try Site(clips: 1)
        let task = #"[{"data":{"media":"/data/c0.mp4","frame":2},"predictions":[{"model_version":"m","result":[{"from_name":"severity","to_name":"video","type":"choices","score":0.6,"uncertainty":0.05,"value":{"choices":["1"]}}]}]}]"#
        #expect(try site.store.importLabelStudio(text: task, file: "t.json", root: "/").predictions == 1)
        #expect(try site.store.predictions().map(\.uncertainty) == [0.05])
        let bad = task.replacingOccurrences(of: "0.05", with: "2")
        let error = try #require(throws: PleuraError.self) { try Site(clips: 1).store.importLabelStudio(text: bad, file: "t.json", root: "/") }
        #expect(error.reason.contains("uncertainty 2.0 is outside 0…1"), "\(error.reason)")
    }
}
