import Foundation
import GRDB
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraStore
@testable import PleuraStorePostgres

// `pleura store copy SRC DST` (issue 14), driven through the built `pleura`: SQLite → PostgreSQL
// → SQLite gives the same canonical exports byte for byte and the same digest on all three, and
// every refusal is one line that leaves the destination as it was.

/// An SQLite store with rows in every carried table: two clips (one moved), three annotators,
/// frame and whole-video labels with a note that needs quoting, undo and redo, a rating outside
/// any trial and a paired rating trial with every answer.
private func richStore(in dir: URL, name: String = "a.sqlite") throws -> String {
    let path = dir.appendingPathComponent(name).path
    let store = try AnnotationStore.open(path: path)
    let one = SHA256.hex(of: Array("copy clip one".utf8)), two = SHA256.hex(of: Array("copy clip two".utf8))
    try store.registerMedia(sha256: one, path: dir.appendingPathComponent("clips/one.mp4").path,
                            facts: MediaFacts(kind: "video", container: "mp4", codec: "h264", width: 640, height: 480,
                                              fps: 29.97, frames: 120, bytes: 123_456))
    try store.registerMedia(sha256: two, path: dir.appendingPathComponent("clips/two.avi").path,
                            facts: MediaFacts(kind: "video", frames: 40))
    try store.registerMedia(sha256: two, path: dir.appendingPathComponent("moved/two.avi").path,
                            facts: MediaFacts(kind: "video", frames: 40))
    let alice = try store.annotator(named: "alice", role: .labeller)
    let bob = try store.annotator(named: "bob", role: .labeller)
    let rita = try store.annotator(named: "rita", role: .rater)
    let sa = try store.beginSession(annotator: alice, name: "ward 3", mode: "label")
    let sb = try store.beginSession(annotator: bob, name: "ward 3", mode: "label")
    let sr = try store.beginSession(annotator: rita, name: "panel", mode: "rate")
    let f0 = ItemRef(mediaSHA256: one, frame: 0), video = ItemRef(mediaSHA256: two, frame: nil)
    try store.setLabel(item: f0, field: .severity, value: .severity(Severity(rawValue: 2)!), annotator: alice, session: sa)
    try store.setLabel(item: f0, field: .aLines, value: .flag(true), annotator: alice, session: sa)
    try store.setLabels(item: video, to: LabelSet(findings: [.b1Lines: true, .consolidation: false], severity: Severity(rawValue: 3),
                                                  quality: .poor, note: "pleura, \"thick\" — é ✓"),
                        annotator: alice, session: sa)
    try store.undo(annotator: alice, session: sa)
    try store.redo(annotator: alice, session: sa)
    try store.setLabel(item: ItemRef(mediaSHA256: one, frame: 7), field: .b2Lines, value: .flag(true), annotator: bob, session: sb)
    try store.setLabel(item: f0, field: .severity, value: .severity(Severity(rawValue: 1)!), annotator: bob, session: sb)
    try store.undo(annotator: bob, session: sb)
    let model = String(repeating: "a", count: 64)
    func context(_ method: String, _ map: String) -> HeatmapContext {
        HeatmapContext(modelSHA256: model, method: method, layer: "features.3", target: "diagnosis/covid", heatmapSHA256: map)
    }
    try store.setRating(item: f0, context: context("gradcam", "h0"), rating: HeatmapRating(rawValue: 2), comment: "clear",
                        annotator: rita, session: sr)
    let jet = OverlaySettings(colormap: "jet", opacity: 0.5, threshold: nil)
    let trial = RatingTrial(id: "pair/3", item: ItemRef(mediaSHA256: one, frame: 3), scale: .born,
                            maps: [RatedMap(heatmap: context("gradcam", "g3"), overlay: jet, slot: .a),
                                   RatedMap(heatmap: context("layercam", "l3"), overlay: OverlaySettings(colormap: "jet", opacity: 0.3, threshold: 0.4), slot: .b)])
    try store.recordRating(TrialAnswers(maps: [MapAnswers(rating: HeatmapRating(rawValue: 3), highlighted: [.bLines]),
                                               MapAnswers(rating: HeatmapRating(rawValue: -2))],
                                        classGuess: "covid", visible: [.bLines, .pleuralLine], comment: "A is better", better: .a),
                           for: trial, secondsSpent: 9.5, annotator: rita, session: sr)
    return path
}

/// `pleura export` of one kind and format, as bytes.
private func exported(_ store: String, kind: String, format: String, root: URL) throws -> Data {
    let out = root.appendingPathComponent("export-\(UUID().uuidString.prefix(8)).\(format)")
    let r = try runPleura(["export", "--store", store, "--kind", kind, "--format", format, "--root", root.path, "-o", out.path])
    #expect(r.status == 0, "\(store): \(r.stderrText)")
    return try Data(contentsOf: out)
}

/// The digest `pleura store verify` prints (without the store's location).
private func verifiedDigest(_ store: String) throws -> String {
    let r = try runPleura(["store", "verify", "--store", store])
    #expect(r.status == 0, "\(store): \(r.stdoutText)\(r.stderrText)")
    let line = r.stdoutText.split(separator: "\n").first { $0.contains(": digest ") } ?? ""
    return line.components(separatedBy: ": digest ").last ?? ""
}

/// A refusal: exit 1 and exactly one `pleura: …` line on stderr containing `reason`.
private func expectRefused(_ arguments: [String], _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let r = try runPleura(arguments)
    #expect(r.status == 1, "\(arguments): \(r.stdoutText)\(r.stderrText)", sourceLocation: sourceLocation)
    let lines = r.stderrText.split(separator: "\n")
    #expect(lines.count == 1 && r.stderrText.hasPrefix("pleura: "), "\(r.stderrText)", sourceLocation: sourceLocation)
    #expect(r.stderrText.contains(reason), "\(r.stderrText)", sourceLocation: sourceLocation)
}

@Suite(.enabled(if: TestPostgres.adminURL != nil, "\(TestPostgres.missing)"))
struct PostgresCopyTests {
    @Test func sqliteToPostgresToSQLiteGivesByteIdenticalExportsAndOneDigest() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-copy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try richStore(in: dir)
        let url = try TestPostgres.freshDatabase()
        let last = dir.appendingPathComponent("b.sqlite").path

        let there = try runPleura(["store", "copy", first, url])
        #expect(there.status == 0 && there.stderrText.isEmpty, "\(there.stderrText)")
        #expect(there.stdoutText.contains("events) in") && there.stdoutText.contains("on both sides"), "\(there.stdoutText)")
        let back = try runPleura(["store", "copy", url, last])
        #expect(back.status == 0 && back.stderrText.isEmpty, "\(back.stderrText)")

        // One digest on all three, as each backend computes it.
        let digests = try [first, url, last].map(verifiedDigest)
        #expect(!digests[0].isEmpty && Set(digests).count == 1, "\(digests)")
        #expect(digests[0].contains("3 media_path") && digests[0].contains("3 annotator"), "\(digests[0])")

        // Byte-identical canonical exports of the first and last SQLite files.
        for (kind, format) in [("labels", "csv"), ("labels", "jsonl"), ("labels", "labelstudio"),
                               ("ratings", "csv"), ("ratings", "jsonl")] {
            let a = try exported(first, kind: kind, format: format, root: dir)
            let b = try exported(last, kind: kind, format: format, root: dir)
            #expect(a.count > 100 && a == b, "\(kind) \(format): \(a.count) and \(b.count) bytes differ")
        }

        // Events keep their ids; PostgreSQL's current state is derived from them and sound.
        let ids = try AnnotationStore.open(path: first).read { db in try Int64.fetchAll(db, sql: "SELECT id FROM event ORDER BY id") }
        let pgIDs = try TestPostgres.sql(url, "SELECT id FROM event ORDER BY id").split(separator: "\n").compactMap { Int64($0) }
        #expect(ids.count > 10 && ids == pgIDs)
        let pg = try PostgresStore.open(url: url)
        #expect(try pg.verify().problems.isEmpty)
        #expect(try pg.verifyCurrentState() == 0)
        let sha = SHA256.hex(of: Array("copy clip two".utf8))
        let alice = try #require(try pg.annotator(named: "alice"))
        #expect(try pg.currentLabels(item: ItemRef(mediaSHA256: sha, frame: nil), annotator: alice).note == "pleura, \"thick\" — é ✓")
        #expect(try pg.media(sha256: sha)?.path == dir.appendingPathComponent("moved/two.avi").path)
        // Undo/redo stacks are rebuilt from the copied log: bob's undone change can be redone there.
        let bob = try #require(try pg.annotator(named: "bob"))
        let bobSession = StoreSession(id: 2, annotatorID: bob.id, name: "ward 3", mode: "label", startedAt: "")
        #expect(try pg.undoState(annotator: bob, session: bobSession).canRedo)
    }

    @Test func copyRefusesInOneLineAndLeavesTheDestinationAsItWas() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-copy-refused")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try richStore(in: dir)
        let url = try TestPostgres.freshDatabase()
        #expect(try runPleura(["store", "copy", source, url]).status == 0)
        let events = try TestPostgres.sql(url, "SELECT count(*) FROM event")

        // Not empty: PostgreSQL and SQLite destinations.
        try expectRefused(["store", "copy", source, url], "is not empty")
        #expect(try TestPostgres.sql(url, "SELECT count(*) FROM event") == events)
        let copy = dir.appendingPathComponent("copy.sqlite").path
        #expect(try runPleura(["store", "copy", url, copy]).status == 0)
        try expectRefused(["store", "copy", url, copy], "is not empty")
        // The same store twice (also through another spelling of the path).
        try expectRefused(["store", "copy", source, source], "is the source store itself")
        try expectRefused(["store", "copy", source, dir.appendingPathComponent("./a.sqlite").path], "is the source store itself")
        // Unreachable servers, as source and as destination; a new file made for the copy is removed.
        let nowhere = "postgresql://pleura@127.0.0.1:1/nowhere"
        try expectRefused(["store", "copy", source, nowhere, "--wait", "1"], "unreachable")
        let fresh = dir.appendingPathComponent("fresh.sqlite").path
        try expectRefused(["store", "copy", nowhere, fresh, "--wait", "1"], "unreachable")
        #expect(!FileManager.default.fileExists(atPath: fresh))
        // A blinded rater's role would not see every rating: refused, not copied in part.
        #expect(try runPleura(["store", "init", url]).status == 0)
        let rater = "copy_blind_" + UUID().uuidString.prefix(8).lowercased()
        try TestPostgres.sql(url, "CREATE ROLE \(rater) LOGIN IN ROLE pleura_blind_rater")
        let blinded = dir.appendingPathComponent("blinded.sqlite").path
        try expectRefused(["store", "copy", try TestPostgres.url(url, user: rater), blinded], "is a blinded rater")
        #expect(!FileManager.default.fileExists(atPath: blinded))
        // What PostgreSQL cannot hold yet is refused, naming it, and nothing is written.
        let store = try AnnotationStore.open(path: source)
        _ = try store.insertPredictions([Prediction(item: ItemRef(mediaSHA256: SHA256.hex(of: Array("copy clip one".utf8)), frame: 0),
                                                modelSHA256: "m", head: "severity", className: "2", probability: 0.5)])
        let empty = try TestPostgres.freshDatabase()
        try expectRefused(["store", "copy", source, empty], "1 model predictions")
        #expect(try TestPostgres.sql(empty, "SELECT count(*) FROM event") == "0")
        // A row added behind the store's back changes the digest.
        let before = try verifiedDigest(url)
        try TestPostgres.sql(url, "INSERT INTO media_path (id, media_id, path, seen_at, os_user, uid) VALUES (100, 1, '/x', 'now', 'me', 0)")
        #expect(try verifiedDigest(url) != before)
    }
}
