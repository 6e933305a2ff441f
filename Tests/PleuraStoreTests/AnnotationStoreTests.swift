import Foundation
import GRDB
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraStore

/// A fresh store in a temp folder with one registered clip, one labeller and a session.
struct Fixture {
    let dir: URL
    let store: AnnotationStore
    let sha: String
    let alice: Annotator
    let session: StoreSession

    init() throws {
        dir = try TestEnv.makeTempDirectory("pleura-store")
        store = try AnnotationStore.open(path: dir.appendingPathComponent("s.sqlite").path)
        sha = SHA256.hex(of: Array("clip one".utf8))
        try store.registerMedia(sha256: sha, path: "/data/clip1.mp4", facts: MediaFacts(kind: "video", frames: 100))
        alice = try store.annotator(named: "alice", role: .labeller)
        session = try store.beginSession(annotator: alice, name: "test", mode: "label")
    }

    func item(_ frame: Int?) -> ItemRef { ItemRef(mediaSHA256: sha, frame: frame) }
}

@Test func openCreatesGroupWritableWALStoreWithFullSync() throws {
    let f = try Fixture()
    var st = stat()
    #expect(stat(f.store.path, &st) == 0)
    #expect(st.st_mode & 0o777 == 0o660)
    // SQLite gives the WAL and shared-memory files the database file's mode (docs/store.md).
    for suffix in ["-wal", "-shm"] {
        var side = stat()
        #expect(stat(f.store.path + suffix, &side) == 0, "\(suffix) exists")
        #expect(side.st_mode & 0o777 == 0o660, "\(suffix) mode")
    }
    let p = try f.store.pragmas()
    #expect(p["journal_mode"] == "wal")
    #expect(p["synchronous"] == "2")   // FULL
    #expect(p["user_version"] == String(Schema.currentVersion))
    #expect(try f.store.integrityCheck() == "ok")
}

@Test(arguments: StoreBackend.available)
func setLabelAndCurrentLabels(_ backend: StoreBackend) throws {
    let f = try BackendFixture(backend)
    let e = try f.store.setLabel(item: f.item(3), field: .b1Lines, value: .flag(true), annotator: f.alice, session: f.session)
    #expect(e?.oldValue == nil && e?.newValue == "1")
    try f.store.setLabel(item: f.item(3), field: .severity, value: .severity(Severity(rawValue: 2)!), annotator: f.alice, session: f.session)
    // Same value again: nothing appended.
    #expect(try f.store.setLabel(item: f.item(3), field: .b1Lines, value: .flag(true), annotator: f.alice, session: f.session) == nil)
    let labels = try f.store.currentLabels(item: f.item(3), annotator: f.alice)
    #expect(labels[.b1Lines] == true)
    #expect(labels.severity?.rawValue == 2)
    #expect(labels[.aLines] == nil)
    #expect(try f.store.currentLabels(item: f.item(4), annotator: f.alice).isEmpty)
    #expect(try f.store.currentLabels(item: f.item(nil), annotator: f.alice).isEmpty)
    #expect(try f.store.eventCount() == 2)
    #expect(try f.store.verifyCurrentState() == 0)
    // A value that does not fit its field is refused.
    #expect(throws: PleuraError.self) {
        try f.store.setLabel(item: f.item(3), field: .severity, value: .flag(true), annotator: f.alice, session: f.session)
    }
}

@Test(arguments: StoreBackend.available)
func undoRedoAppendInverseEvents(_ backend: StoreBackend) throws {
    let f = try BackendFixture(backend)
    let s = f.store
    try s.setLabel(item: f.item(1), field: .aLines, value: .flag(true), annotator: f.alice, session: f.session)
    try s.setLabel(item: f.item(1), field: .aLines, value: .flag(false), annotator: f.alice, session: f.session)
    let undone = try s.undo(annotator: f.alice, session: f.session)
    #expect(undone.count == 1 && undone[0].kind == .undo && undone[0].newValue == "1")
    #expect(try s.currentLabels(item: f.item(1), annotator: f.alice)[.aLines] == true)
    try s.undo(annotator: f.alice, session: f.session)
    #expect(try s.currentLabels(item: f.item(1), annotator: f.alice)[.aLines] == nil)
    #expect(try s.undo(annotator: f.alice, session: f.session).isEmpty)
    try s.redo(annotator: f.alice, session: f.session)
    #expect(try s.currentLabels(item: f.item(1), annotator: f.alice)[.aLines] == true)
    // A new change clears the redo stack.
    try s.setLabel(item: f.item(1), field: .quality, value: .quality(.poor), annotator: f.alice, session: f.session)
    #expect(try s.redo(annotator: f.alice, session: f.session).isEmpty)
    #expect(try s.undoState(annotator: f.alice, session: f.session) == (true, false))
    // Another session of the same annotator has its own (empty) stack.
    let other = try s.beginSession(annotator: f.alice, name: "other", mode: "label")
    #expect(try s.undo(annotator: f.alice, session: other).isEmpty)
    // History keeps everything: 2 sets + 2 undos + 1 redo + 1 set.
    #expect(try s.history(item: f.item(1)).count == 6)
    #expect(try s.verifyCurrentState() == 0)
}

@Test(arguments: StoreBackend.available)
func setLabelsIsOneUndoStep(_ backend: StoreBackend) throws {
    let f = try BackendFixture(backend)
    var l = LabelSet(); l[.aLines] = true; l.severity = Severity(rawValue: 0); l.note = "comma, \"quote\"\nline"
    let events = try f.store.setLabels(item: f.item(nil), to: l, annotator: f.alice, session: f.session)
    #expect(events.count == 3)
    #expect(Set(events.map(\.actionID)).count == 1)
    #expect(try f.store.currentLabels(item: f.item(nil), annotator: f.alice) == l)
    try f.store.undo(annotator: f.alice, session: f.session)
    #expect(try f.store.currentLabels(item: f.item(nil), annotator: f.alice).isEmpty)
}

@Test(arguments: StoreBackend.available)
func eventLogIsAppendOnly(_ backend: StoreBackend) throws {
    let f = try BackendFixture(backend)
    try f.store.setLabel(item: f.item(1), field: .aLines, value: .flag(true), annotator: f.alice, session: f.session)
    #expect(throws: (any Error).self) { try f.rawSQL("UPDATE event SET new_value = '0'") }
    #expect(throws: (any Error).self) { try f.rawSQL("DELETE FROM event") }
    #expect(throws: (any Error).self) { try f.rawSQL("DELETE FROM media") }
    #expect(try f.store.eventCount() == 1)
}

@Test(arguments: StoreBackend.available)
func unknownMediaIsAnError(_ backend: StoreBackend) throws {
    let f = try BackendFixture(backend)
    let unknown = ItemRef(mediaSHA256: String(repeating: "a", count: 64), frame: 0)
    let error = try #require(throws: PleuraError.self) {
        try f.store.setLabel(item: unknown, field: .aLines, value: .flag(true), annotator: f.alice, session: f.session)
    }
    #expect(error.reason.contains("unknown media"))
}

@Test(arguments: StoreBackend.available)
func mediaMovedKeepsIdentity(_ backend: StoreBackend) throws {
    let f = try BackendFixture(backend)
    let moved = try f.store.registerMedia(sha256: f.sha, path: "/elsewhere/clip1.mp4", facts: MediaFacts())
    guard case .moved(let record, let from) = moved else { Issue.record("expected moved"); return }
    #expect(from == "/data/clip1.mp4" && record.path == "/elsewhere/clip1.mp4")
    #expect(try f.store.media(atPath: "/elsewhere/clip1.mp4")?.sha256 == f.sha)
    #expect(try f.store.media(sha256: f.sha)?.facts.frames == 100)
    #expect(try f.store.registerMedia(sha256: f.sha, path: "/elsewhere/clip1.mp4", facts: MediaFacts()) == .unchanged(record))
    let newSHA = SHA256.hex(of: Array("edited".utf8))
    #expect(try f.store.changedContent(atPath: "/elsewhere/clip1.mp4", sha256: newSHA)?.sha256 == f.sha)
    #expect(try f.store.changedContent(atPath: "/elsewhere/clip1.mp4", sha256: f.sha) == nil)
}

@Test(arguments: StoreBackend.available)
func ratingsRecordTheExactHeatmapAndUndo(_ backend: StoreBackend) throws {
    let f = try BackendFixture(backend)
    let rater = try f.store.annotator(named: "rita", role: .rater)
    let s = try f.store.beginSession(annotator: rater, name: "rate", mode: "rate")
    let ctx = HeatmapContext(modelSHA256: "m1", method: "gradcam", layer: "features.3", target: "covid", heatmapSHA256: "h1")
    try f.store.setRating(item: f.item(5), context: ctx, rating: HeatmapRating(rawValue: -2), comment: "distracting", annotator: rater, session: s)
    try f.store.setRating(item: f.item(5), context: ctx, rating: HeatmapRating(rawValue: 3), comment: nil, annotator: rater, session: s)
    var current = try f.store.currentRating(item: f.item(5), context: ctx, annotator: rater)
    #expect(current.rating?.rawValue == 3 && current.comment == nil)
    try f.store.undo(annotator: rater, session: s)
    current = try f.store.currentRating(item: f.item(5), context: ctx, annotator: rater)
    #expect(current.rating?.rawValue == -2 && current.comment == "distracting")
    if let sqlite = f.store as? AnnotationStore {   // currentRatings is not on the LabelStore protocol yet
        let all = try sqlite.currentRatings()
        #expect(all.count == 1 && all[0].context == ctx && all[0].rating?.rawValue == -2)
    }
    // Ratings do not show up as labels.
    #expect(try f.store.currentLabels(item: f.item(5), annotator: rater).isEmpty)
}

@Test func predictionsAndHeatmapsRoundTrip() throws {
    let f = try Fixture()
    let preds = [Prediction(item: f.item(2), modelSHA256: "m", head: "severity", className: "0", probability: 0.25),
                 Prediction(item: f.item(2), modelSHA256: "m", head: "severity", className: "1", probability: 0.75)]
    #expect(try f.store.insertPredictions(preds) == 2)
    #expect(try f.store.insertPredictions(preds) == 0)   // kept as recorded
    #expect(try f.store.predictions(item: f.item(2)) == preds)
    #expect(throws: PleuraError.self) {
        try f.store.insertPredictions([Prediction(item: f.item(2), modelSHA256: "m", head: "h", className: "x", probability: 1.5)])
    }
    var pixels = [UInt8](repeating: 0, count: 64 * 48)
    for y in 0..<48 { for x in 0..<64 { pixels[y * 64 + x] = UInt8((x * 3 + y * 2) % 256) } }
    pixels[100] = 255
    let record = HeatmapRecord(item: f.item(2), modelSHA256: "m", method: "gradcam", target: "covid", layer: "l",
                               map: PixelImage(width: 64, height: 48, format: .gray8, pixels: pixels))
    let sha = try f.store.insertHeatmap(record)
    #expect(sha == record.sha256)
    #expect(try f.store.heatmap(sha256: sha) == record)
    #expect(try f.store.heatmap(item: f.item(2), modelSHA256: "m", method: "gradcam", target: "covid", layer: "l") == record)
    #expect(try f.store.heatmaps(item: f.item(2)).count == 1)
}

@Test func heatmapCodecIsLosslessAndCompressesSmoothMaps() throws {
    var rng = SystemRandomNumberGenerator()
    for (w, h) in [(1, 1), (7, 7), (224, 224), (3, 200)] {
        var px = [UInt8](repeating: 0, count: w * h)
        for i in px.indices { px[i] = UInt8.random(in: 0...255, using: &rng) }
        let img = PixelImage(width: w, height: h, format: .gray8, pixels: px)
        #expect(HeatmapCodec.decode(HeatmapCodec.encode(img), width: w, height: h) == px)
    }
    var smooth = [UInt8](repeating: 0, count: 224 * 224)
    for y in 0..<224 { for x in 0..<224 { smooth[y * 224 + x] = UInt8(min(255, (x / 32) * 30 + (y / 32) * 5)) } }
    let encoded = HeatmapCodec.encode(PixelImage(width: 224, height: 224, format: .gray8, pixels: smooth))
    #expect(encoded.count * 5 < smooth.count)
    #expect(HeatmapCodec.decode(encoded, width: 224, height: 224) == smooth)
    #expect(HeatmapCodec.decode(Data([5, 1]), width: 2, height: 2) == nil)
}

@Test func reviewsAreAppended() throws {
    let f = try Fixture()
    let trainee = try f.store.annotator(named: "tom", role: .trainee)
    let s = try f.store.beginSession(annotator: trainee, name: "review", mode: "review")
    let r = Review(item: f.item(9), field: "severity", firstSource: "model", firstValue: "3", secondSource: "alice",
                   secondValue: "1", ownValue: "2", verdict: .neither, comment: "small consolidation")
    let stored = try f.store.addReview(r, annotator: trainee, session: s)
    #expect(stored.id != nil)
    #expect(try f.store.reviews().map(\.comment) == ["small consolidation"])
    #expect(try f.store.reviews(item: f.item(9)).count == 1)
    #expect(try f.store.reviews(item: f.item(8)).isEmpty)
}

@Test func notADatabaseIsRefusedByName() throws {
    let dir = try TestEnv.makeTempDirectory("pleura-store")
    let path = dir.appendingPathComponent("notes.txt").path
    try Data("hello, this is not sqlite\n".utf8).write(to: URL(fileURLWithPath: path))
    let error = try #require(throws: PleuraError.self) { try AnnotationStore.open(path: path) }
    #expect(error.file == path)
    #expect(error.reason.contains("not an SQLite database"))
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "hello, this is not sqlite\n")
}

@Test func foreignSQLiteDatabaseIsRefused() throws {
    let dir = try TestEnv.makeTempDirectory("pleura-store")
    let path = dir.appendingPathComponent("other.sqlite").path
    try DatabaseQueue(path: path).write { try $0.execute(sql: "CREATE TABLE t (x)") }
    let error = try #require(throws: PleuraError.self) { try AnnotationStore.open(path: path) }
    #expect(error.reason.contains("not a Pleura store"))
}

@Test func newerStoreIsRefusedAndNotTouched() throws {
    let dir = try TestEnv.makeTempDirectory("pleura-store")
    let path = dir.appendingPathComponent("new.sqlite").path
    do { _ = try AnnotationStore.open(path: path) }
    try DatabaseQueue(path: path).write { try $0.execute(sql: "PRAGMA user_version = \(Schema.currentVersion + 1)") }
    let before = try Data(contentsOf: URL(fileURLWithPath: path))
    let error = try #require(throws: PleuraError.self) { try AnnotationStore.open(path: path) }
    #expect(error.reason.contains("newer Pleura"))
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
}

@Test func reopenKeepsDataAndMissingFolderIsAnError() throws {
    let f = try Fixture()
    try f.store.setLabel(item: f.item(0), field: .consolidation, value: .flag(true), annotator: f.alice, session: f.session)
    let again = try AnnotationStore.open(path: f.store.path)
    #expect(try again.currentLabels(item: f.item(0), annotator: f.alice)[.consolidation] == true)
    #expect(throws: PleuraError.self) { try AnnotationStore.open(path: "/nonexistent-folder-xyz/s.sqlite") }
    #expect(throws: PleuraError.self) { try AnnotationStore.open(path: f.dir.path) }
}

@Test func lockedDatabaseIsWaitedForThenReportedReadably() throws {
    let f = try Fixture()
    // Another connection holds the write lock for a moment: the write waits and succeeds.
    var holderConfig = Configuration()
    holderConfig.allowsUnsafeTransactions = true
    let holder = try DatabaseQueue(path: f.store.path, configuration: holderConfig)
    try holder.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
    let release = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        usleep(300_000)
        try? holder.writeWithoutTransaction { db in try db.execute(sql: "COMMIT") }
        release.signal()
    }
    try f.store.setLabel(item: f.item(0), field: .aLines, value: .flag(true), annotator: f.alice, session: f.session)
    release.wait()
    // Held for longer than the store's patience: a readable error, never "database is locked".
    let impatient = try AnnotationStore.open(path: f.store.path, busyTimeout: 0.5)
    try holder.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
    let error = try #require(throws: PleuraError.self) {
        try impatient.setLabel(item: f.item(0), field: .aLines, value: .flag(false), annotator: f.alice, session: f.session)
    }
    try holder.writeWithoutTransaction { db in try db.execute(sql: "COMMIT") }
    #expect(error.reason.contains("busy"))
    #expect(!error.description.contains("database is locked"))
}

@Test func olderStoreIsMigratedKeepingItsData() throws {
    // A store as Pleura with schema 1 wrote it.
    let dir = try TestEnv.makeTempDirectory("pleura-store")
    let path = dir.appendingPathComponent("v1.sqlite").path
    try DatabaseQueue(path: path).writeWithoutTransaction { db in
        try db.execute(sql: "PRAGMA application_id = \(Schema.applicationID)")
        try db.execute(sql: Schema.migrations[0])
        try db.execute(sql: "PRAGMA user_version = 1")
        try db.execute(sql: """
            INSERT INTO media (sha256, registered_at, os_user, uid) VALUES ('\(String(repeating: "b", count: 64))', 'x', 'u', 1);
            INSERT INTO media_path (media_id, path, seen_at, os_user, uid) VALUES (1, '/old/clip.mp4', 'x', 'u', 1);
            INSERT INTO annotator (name, role, created_at, os_user, uid) VALUES ('old', 'labeller', 'x', 'u', 1);
            INSERT INTO session (annotator_id, name, mode, started_at, os_user, uid, host, pid, pleura_version)
                VALUES (1, 's', 'label', 'x', 'u', 1, 'h', 1, '0.0.1');
            INSERT INTO event (action_id, kind, at, annotator_id, session_id, os_user, uid, media_id, frame, field, new_value)
                VALUES (1, 'set', 'x', 1, 1, 'u', 1, 1, 7, 'severity', '3');
            """)
    }
    let store = try AnnotationStore.open(path: path)
    #expect(try store.pragmas()["user_version"] == String(Schema.currentVersion))
    let old = try #require(try store.annotator(named: "old"))
    #expect(try store.currentLabels(item: ItemRef(mediaSHA256: String(repeating: "b", count: 64), frame: 7), annotator: old).severity?.rawValue == 3)
    let viewRow = try store.pool.read { db in try Row.fetchOne(db, sql: "SELECT media_path, frame, annotator, severity FROM frame_labels") }
    let row = try #require(viewRow)
    #expect(row["media_path"] as String? == "/old/clip.mp4")
    #expect(row["severity"] as String? == "3")
    #expect(row["frame"] as Int? == 7)
    #expect(try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM video_labels") } == 0)
}
