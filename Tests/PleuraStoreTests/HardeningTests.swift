import Foundation
import GRDB
import Testing
import PleuraCore
import PleuraTestSupport
@testable @_spi(Fuzzing) import PleuraStore

// The failure classes of issue 15 that live in the store: each with several inputs.

/// A store with a 30-frame clip, a 12-frame clip and a still image (registered without a frame
/// count, as only the API can: images count as one frame).
private struct Clips {
    let dir: URL
    let store: AnnotationStore
    let sha: [String]

    init() throws {
        dir = try TestEnv.makeTempDirectory("pleura-hardening")
        store = try AnnotationStore.open(path: dir.appendingPathComponent("s.sqlite").path)
        sha = ["thirty", "twelve", "image"].map { SHA256.hex(of: Array($0.utf8)) }
        try store.registerMedia(sha256: sha[0], path: "/data/thirty.mp4", facts: MediaFacts(kind: "video", frames: 30))
        try store.registerMedia(sha256: sha[1], path: "/data/twelve.mp4", facts: MediaFacts(kind: "video", frames: 12))
        try store.registerMedia(sha256: sha[2], path: "/data/still.png", facts: MediaFacts(kind: "image"))
    }

    static let header = "media,frame,annotator,a_lines,b1_lines,b2_lines,consolidation,severity,quality,note\n"

    /// Expects the import to fail with a PleuraError naming `file` and containing every `part`,
    /// and to record nothing.
    func refuses(_ parts: [String], file: String = "in", _ body: () throws -> Void) throws {
        let before = try store.eventCount()
        let error = try #require(throws: PleuraError.self) { try body() }
        #expect(error.file == file)
        for part in parts { #expect(error.reason.contains(part), "\(error.reason) lacks \(part)") }
        #expect(try store.eventCount() == before, "a refused import recorded events")
    }
}

@Suite struct ImportFrameRangeTests {
    @Test func framesAClipDoesNotHaveAreRefusedNamingLineAndFrameCount() throws {
        let c = try Clips()
        for (row, line, count) in [("thirty.mp4,30,alice,1,,,,,,", 2, "30 frames"),
                                   ("twelve.mp4,500,alice,,,,,2,,", 2, "12 frames"),
                                   ("still.png,1,alice,,,,,1,,", 2, "1 frame")] {
            try c.refuses(["line \(line)", "frame", count]) {
                try c.store.importLabelCSV(text: Clips.header + row + "\n", file: "in", root: "/data")
            }
        }
        // The bad row is found after good ones: still nothing recorded, the right line named.
        try c.refuses(["line 4", "frame 12", "twelve.mp4", "0–11"]) {
            try c.store.importLabelCSV(text: Clips.header + "thirty.mp4,29,alice,1,,,,,,\ntwelve.mp4,11,bob,,,,,3,,\ntwelve.mp4,12,bob,,,,,3,,\n",
                                       file: "in", root: "/data")
        }
        try c.refuses(["line 1", "frame 30", "30 frames"]) {
            try c.store.importJSONLines(text: #"{"annotator":"a","frame":30,"media":"thirty.mp4","severity":1}"#, file: "in", root: "/data")
        }
        try c.refuses(["task 2", "frame 12"]) {
            try c.store.importLabelStudio(text: """
                [{"data":{"media":"twelve.mp4","frame":0},"annotations":[{"completed_by":{"username":"a"},"result":[]}]},
                 {"data":{"media":"twelve.mp4","frame":12},"annotations":[{"completed_by":{"username":"a"},"result":[{"from_name":"severity","value":{"choices":["1"]}}]}]}]
                """, file: "in", root: "/data")
        }
        try c.refuses(["line 2", "frame 40"]) {
            try c.store.importRatingCSV(text: "media,frame,annotator,model,method,target,rating,comment\nthirty.mp4,40,r,m,gradcam,2,1,\n",
                                        file: "in", root: "/data")
        }
        // The last frame and whole-video rows are fine.
        let ok = try c.store.importLabelCSV(text: Clips.header + "thirty.mp4,29,alice,1,,,,,,\nthirty.mp4,,alice,,,,,2,,\nstill.png,0,alice,,,,,0,,\n",
                                            file: "in", root: "/data")
        #expect(ok.rows == 3 && ok.events == 3)
    }
}

@Suite struct ImportShapeTests {
    @Test func labelStudioFilesOfTheWrongShapeAreRefused() throws {
        let c = try Clips()
        let cases: [(String, String)] = [
            (#"{"data":{"media":"thirty.mp4"},"annotations":[]}"#, "expected a JSON array"),
            (#"{"tasks":[]}"#, "found an object"),
            ("[1, 2]", "task must be an object"),
            (#"[{"data":"thirty.mp4"}]"#, "no \"data\" object"),
            (#"[{"data":{"media":7}}]"#, "data.media must be a string"),
            (#"[{"data":{"media":"thirty.mp4","frame":"3"}}]"#, "data.frame"),
            (#"[{"data":{"media":"thirty.mp4"},"annotations":{"result":[]}}]"#, "annotations must be an array"),
            (#"[{"data":{"media":"thirty.mp4"},"annotations":[{"completed_by":1,"result":[{"from_name":"severity","value":{"choices":[2]}}]}]}]"#, "must be strings"),
            (#"[{"data":{"media":"thirty.mp4"},"annotations":[{"completed_by":1,"result":[{"from_name":"severity","value":{"choices":["7"]}}]}]}]"#, "severity"),
            (#"[{"data":{"media":"thirty.mp4"},"annotations":[{"completed_by":1,"result":[{"from_name":"a_lines","value":"present"}]}]}]"#, "value"),
            (#"[{"data":{"media":"thirty.mp4"},"annotations":[{"completed_by":1,"result":[{"from_name":"mood","value":{"choices":["x"]}}]}]}]"#, "no annotation uses a Pleura control"),
            (#"[{"data":{"media":"thirty.mp4"},"predictions":[{"result":[{"from_name":"severity","score":"high","value":{"choices":["1"]}}]}]}]"#, "score must be a number"),
            ("[]", "nothing to import"),
            ("", "not valid JSON"),
        ]
        for (text, reason) in cases {
            try c.refuses([reason]) { try c.store.importLabelStudio(text: text, file: "in", root: "/data") }
        }
    }

    @Test func jsonLinesValuesOfTheWrongTypeAreRefused() throws {
        let c = try Clips()
        let base = #""annotator":"a","media":"thirty.mp4","frame":1"#
        let cases: [(String, String)] = [
            (#"{\#(base),"severity":"2"}"#, "severity must be an integer"),
            (#"{\#(base),"severity":2.5}"#, "severity must be"),
            (#"{\#(base),"severity":4}"#, "severity must be"),
            (#"{\#(base),"a_lines":1}"#, "a_lines must be true, false or null"),
            (#"{\#(base),"b1_lines":"present"}"#, "b1_lines must be"),
            (#"{\#(base),"quality":5}"#, "quality must be"),
            (#"{\#(base),"note":["x"]}"#, "note must be a string"),
            (#"{\#(base),"severty":2}"#, "unknown key \"severty\""),
            (#"{"annotator":"a","media":"thirty.mp4","frame":"3","severity":1}"#, "\"frame\" must be a whole number"),
            (#"{"annotator":7,"media":"thirty.mp4","severity":1}"#, "\"annotator\" must be a string"),
            (#"{"annotator":"a","media":"thirty.mp4","kind":"rating","rating":"2","model":"m","method":"g","target":"t"}"#, "rating must be an integer"),
            (#"{"annotator":"a","media":"thirty.mp4","kind":"rating","rating":1,"method":"g","target":"t"}"#, "\"model\" is missing"),
            ("[1]", "expected a JSON object, found an array"),
            ("\n\n", "nothing to import"),
        ]
        for (text, reason) in cases {
            try c.refuses([reason]) { try c.store.importJSONLines(text: text, file: "in", root: "/data") }
        }
        // The exact types are accepted.
        let ok = try c.store.importJSONLines(text: #"{\#(base),"severity":2,"a_lines":true,"quality":"ok","note":"n"}"#, file: "in", root: "/data")
        #expect(ok.events == 4)
    }

    @Test func csvThatImportsNothingIsAnError() throws {
        let c = try Clips()
        try c.refuses(["nothing to import"]) { try c.store.importLabelCSV(text: Clips.header, file: "in", root: "/data") }
        try c.refuses(["empty file"]) { try c.store.importLabelCSV(text: "", file: "in", root: "/data") }
        try c.refuses(["nothing to import"]) {
            try c.store.importRatingCSV(text: "media,frame,annotator,model,method,target,rating,comment\n\n", file: "in", root: "/data")
        }
        try c.refuses(["line 2", "severity '2.0'"]) {
            try c.store.importLabelCSV(text: Clips.header + "thirty.mp4,1,a,,,,,2.0,,\n", file: "in", root: "/data")
        }
    }
}

@Suite struct DerivedStateProtectionTests {
    @Test func currentValueRefusesDirectChangesAndVerifyFindsTampering() throws {
        let c = try Clips()
        let a = try c.store.annotator(named: "alice", role: .labeller)
        let s = try c.store.beginSession(annotator: a, name: "t", mode: "label")
        let item = ItemRef(mediaSHA256: c.sha[0], frame: 3)
        try c.store.setLabel(item: item, field: .severity, value: .severity(Severity(rawValue: 1)!), annotator: a, session: s)
        try c.store.setLabel(item: item, field: .severity, value: .severity(Severity(rawValue: 2)!), annotator: a, session: s)
        try c.store.setLabel(item: item, field: .aLines, value: .flag(true), annotator: a, session: s)
        #expect(try c.store.verify().problems.isEmpty)

        let raw = try DatabaseQueue(path: c.store.path)
        for sql in ["UPDATE current_value SET value = '3' WHERE field = 'severity'",
                    "DELETE FROM current_value WHERE field = 'a_lines'",
                    // Restating an older event, or inventing one, is refused too.
                    "INSERT OR REPLACE INTO current_value SELECT media_id, frame, annotator_id, context_id, field, new_value, id FROM event WHERE new_value = '1' AND field = 'severity'",
                    "INSERT OR REPLACE INTO current_value VALUES (1, 3, 1, 0, 'severity', '0', 999)",
                    "INSERT INTO current_value VALUES (1, 4, 1, 0, 'severity', '0', 2)"] {
            #expect(throws: DatabaseError.self, "\(sql)") { try raw.write { try $0.execute(sql: sql) } }
        }
        #expect(try c.store.currentLabels(item: item, annotator: a).severity?.rawValue == 2)
        #expect(try c.store.verify().problems.isEmpty)

        // Someone drops the protection and edits the table: verify says so.
        try raw.write { db in
            try db.execute(sql: "DROP TRIGGER current_value_is_derived_update")
            try db.execute(sql: "UPDATE current_value SET value = '3' WHERE field = 'severity'")
        }
        let v = try c.store.verify()
        #expect(v.currentStateMismatches == 1)
        #expect(v.missingTriggers == ["current_value_is_derived_update"])
        #expect(v.problems.count == 2)
    }
}

@Suite struct RefusedStoreTests {
    /// Every file in the folder with its size, modification time and content hash.
    static func snapshot(_ dir: URL) throws -> [String: String] {
        var out: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            let path = dir.appendingPathComponent(name).path
            let attrs = try FileManager.default.attributesOfItem(atPath: path)
            out[name] = "\(attrs[.size] ?? 0) \(attrs[.modificationDate] ?? "") \(try SHA256.hexOfFile(atPath: path))"
        }
        return out
    }

    @Test func refusedStoresLeaveTheirFolderExactlyAsItWas() throws {
        var cases: [(String, String, (String) throws -> Void)] = []
        // A Pleura store written by a newer Pleura (WAL mode, like every store).
        cases.append(("newer.sqlite", "newer Pleura", { path in
            do { _ = try AnnotationStore.open(path: path) }
            try DatabaseQueue(path: path).write { try $0.execute(sql: "PRAGMA user_version = \(Schema.currentVersion + 5)") }
        }))
        // Another program's database in WAL mode, with and without an application id.
        cases.append(("other-wal.sqlite", "another program", { path in
            let q = try DatabaseQueue(path: path)
            _ = try q.writeWithoutTransaction { try String.fetchOne($0, sql: "PRAGMA journal_mode = WAL") }
            try q.write { try $0.execute(sql: "PRAGMA application_id = 42; CREATE TABLE t (x)") }
        }))
        cases.append(("tables.sqlite", "other tables", { path in
            let q = try DatabaseQueue(path: path)
            _ = try q.writeWithoutTransaction { try String.fetchOne($0, sql: "PRAGMA journal_mode = WAL") }
            try q.write { try $0.execute(sql: "CREATE TABLE notes (x)") }
        }))
        cases.append(("rollback.sqlite", "other tables", { path in
            try DatabaseQueue(path: path).write { try $0.execute(sql: "CREATE TABLE t (x)") }
        }))
        cases.append(("text.sqlite", "not an SQLite database", { path in
            try Data("SQLite format 2 — not really\n".utf8).write(to: URL(fileURLWithPath: path))
        }))
        cases.append(("short.sqlite", "cut short", { path in
            try Data("SQLite format 3\0 and nothing more".utf8).write(to: URL(fileURLWithPath: path))
        }))
        for (name, reason, make) in cases {
            let dir = try TestEnv.makeTempDirectory("pleura-refused")
            let path = dir.appendingPathComponent(name).path
            try make(path)
            let before = try Self.snapshot(dir)
            #expect(before.count == 1, "\(name): setting up left \(before.keys.sorted())")
            let error = try #require(throws: PleuraError.self) { try AnnotationStore.open(path: path) }
            #expect(error.reason.contains(reason), "\(name): \(error.reason)")
            #expect(try Self.snapshot(dir) == before, "\(name): the folder changed")
        }
    }
}

@Suite struct ReaderTests {
    /// The readers are pure: the same text gives the same rows without any store.
    @Test func readersProduceRowsWithoutAStore() throws {
        let rows = try ExchangeReader.labelCSV(Clips.header + "a.mp4,3,alice,1,0,,,2,ok,\"x, y\"\n", file: "f")
        #expect(rows.labels.count == 1 && rows.labels[0].place == "line 2" && rows.labels[0].frame == 3)
        #expect(rows.labels[0].labels.note == "x, y" && rows.labels[0].labels.severity?.rawValue == 2)
        let ls = try ExchangeReader.labelStudio(#"[{"data":{"media":"a.mp4","frame":null},"predictions":[{"model_version":"m","result":[{"from_name":"severity","score":0.5,"value":{"choices":["1"]}}]}]}]"#, file: "f")
        #expect(ls.predictions.count == 1 && ls.predictions[0].frame == nil && ls.predictions[0].probability == 0.5)
    }
}
