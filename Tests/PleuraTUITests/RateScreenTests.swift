import Foundation
import Testing
import PleuraCore
import PleuraStore
import PleuraTestSupport

/// Two raters in the real `pleura rate` (tmux, half-blocks) on the same 12 phantom items: their
/// orders differ and are reproducible, every rating carries its provenance, the second rater's
/// screen never shows the first's ratings, file names, class names or probabilities, and a
/// SIGKILL after the 8th rating loses none the screen showed as saved.
@Suite(.serialized) struct RateScreenTests {
    static let model = TestEnv.packageRoot.appendingPathComponent("Models/pleura-lus-v1.pt")
    static let ready = LabellingScreenTests.toolsPresent && FileManager.default.fileExists(atPath: model.path)

    static func makeSession() throws -> (URL, URL) {
        let dir = try TestEnv.makeTempDirectory("pleura-rate-tmux")
        let session = dir.appendingPathComponent("study.toml")
        try """
        name = "panel study"
        mode = "rate"
        store = "ratings.sqlite"
        order = "shuffled"
        seed = 11
        [phantom]
        count = 4
        seed = 1
        [sampling]
        per_clip = 3
        [rate]
        questions = ["patterns_visible", "comment"]
        """.write(to: session, atomically: true, encoding: .utf8)
        return (dir, session)
    }

    static func start(_ dir: URL, _ session: URL, rater: String, store: String? = nil) throws -> TmuxDriver {
        let extra = store.map { " --store \"\($0)\"" } ?? ""
        let driver = try TmuxDriver(command: "exec \"\(TestEnv.pleuraBinary.path)\" rate \"\(session.path)\" --annotator \(rater) --graphics halfblock" + extra,
                                    environment: LabellingScreenTests.environment(dir), cwd: dir)
        guard driver.wait(timeout: 120, { $0.contains("Progress") && $0.contains("Item ") }) != nil else {
            throw DriverError("the rating screen did not appear:\n\(driver.screen())")
        }
        return driver
    }

    /// Rates `count` items from the one on screen: key = the scale position, waits for "saved",
    /// then `n`. Returns every screen seen (before and after each key) and the shown ratings.
    static func rate(_ driver: TmuxDriver, count: Int, key: (Int) -> Int) throws -> (screens: [String], shown: [Int]) {
        var screens: [String] = [], shown: [Int] = []
        for i in 0..<count {
            screens.append(driver.screen())
            let k = key(i)
            driver.send("\(k)")
            let saved = try #require(driver.wait(timeout: 10) { $0.contains("saved: rating") }, "no 'saved' for item \(i):\n\(driver.screen())")
            screens.append(saved)
            shown.append(k - 4)
            if i < count - 1 || count == 12 {
                let before = driver.screen()
                driver.send("n")
                _ = driver.wait(timeout: 10) { $0 != before && !$0.contains("saved: rating") }
            }
        }
        return (screens, shown)
    }

    /// The rater's items in the order they were rated (first event of each), with the rating.
    static func ratedOrder(_ store: AnnotationStore, _ rater: String) throws -> [(trial: String, rating: Int?, row: RatingRow)] {
        guard let who = try store.annotator(named: rater) else { return [] }
        return try store.ratings(annotator: who).map { row -> (Int64, RatingRow) in
            let first = try store.history(item: row.item).filter { $0.annotatorID == who.id }.map(\.id).min() ?? .max
            return (first, row)
        }.sorted { $0.0 < $1.0 }.map { ($0.1.trial, $0.1.rating?.rawValue, $0.1) }
    }

    /// Born et al.'s design on the real program: phantom ground truth imported `--as truth`, a
    /// session with `target = "reference:truth"` on the embedded model's severity head; every map
    /// rated explains the class of truth's label of that frame.
    @Test(.enabled(if: ready, "skipped: tmux/ffmpeg or the embedded model is missing"))
    func aReferenceTargetRatesTheMapsOfTheTruthsClass() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-rate-ref-tmux")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clips = dir.appendingPathComponent("clips")
        let made = try runPleura(["phantom", "-o", clips.path, "--count", "2", "--seed", "3"])
        #expect(made.status == 0, "\(made.stderrText)")
        let store = dir.appendingPathComponent("ratings.sqlite").path
        let added = try runPleura(["add", clips.path, "--store", store])
        #expect(added.status == 0, "\(added.stderrText)")
        let imported = try runPleura(["import", clips.appendingPathComponent("labels.csv").path, "--store", store, "--as", "truth", "--root", clips.path])
        #expect(imported.status == 0, "\(imported.stderrText)")
        let session = dir.appendingPathComponent("reference.toml")
        try """
        name = "reference study"
        mode = "rate"
        media = ["clips/*.mp4"]
        store = "ratings.sqlite"
        order = "shuffled"
        seed = 3
        [sampling]
        per_clip = 2
        [rate]
        target = "reference:truth"
        head = "severity"
        """.write(to: session, atomically: true, encoding: .utf8)
        let driver = try Self.start(dir, session, rater: "dora")
        _ = try Self.rate(driver, count: 4) { _ in 6 }
        driver.send("q")
        _ = driver.wait(timeout: 5) { _ in driver.paneDead }

        // truth's severity per (file, frame), from the phantom's labels.csv.
        let rows = try CSV.parse(String(contentsOf: clips.appendingPathComponent("labels.csv"), encoding: .utf8), file: "labels.csv")
        let header = try #require(rows.first?.fields)
        let (m, f, sev) = (header.firstIndex(of: "media")!, header.firstIndex(of: "frame")!, header.firstIndex(of: "severity")!)
        var truthByItem: [String: String] = [:]
        for r in rows.dropFirst() {
            let sha = try SHA256.hexOfFile(atPath: clips.appendingPathComponent(r.fields[m]).path)
            truthByItem["\(sha)@\(r.fields[f])"] = r.fields[sev]
        }
        let opened = try AnnotationStore.open(path: store)
        let rated = try opened.ratings(annotator: try #require(try opened.annotator(named: "dora")))
        #expect(rated.count == 4)
        for row in rated {
            let truth = try #require(truthByItem["\(row.item.mediaSHA256)@\(row.item.frame ?? -1)"], "\(row.trial)")
            #expect(row.map.heatmap.target == "severity/" + truth, "\(row.trial)")
            #expect(row.rating?.rawValue == 2)
        }
    }

    @Test(.enabled(if: ready, "skipped: tmux/ffmpeg or the embedded model (Models/pleura-lus-v1.pt) is missing"))
    func twoRatersBlindedOrdersProvenanceAndSigkill() throws {
        let (dir, session) = try Self.makeSession()
        defer { try? FileManager.default.removeItem(at: dir) }
        let storePath = dir.appendingPathComponent("ratings.sqlite").path

        // Rater 1 rates all 12.
        let alice = try Self.start(dir, session, rater: "alice")
        _ = try Self.rate(alice, count: 12) { 1 + $0 % 7 }
        alice.send("q")
        _ = alice.wait(timeout: 5) { _ in alice.paneDead }

        // Rater 2: 8 ratings, then SIGKILL.
        let bob = try Self.start(dir, session, rater: "bob")
        let (bobScreens, bobShown) = try Self.rate(bob, count: 8) { 7 - $0 % 7 }
        kill(bob.panePID, SIGKILL)
        #expect(bob.wait(timeout: 5) { _ in bob.paneDead } != nil)
        var store = try AnnotationStore.open(path: storePath)
        let afterKill = try Self.ratedOrder(store, "bob")
        #expect(afterKill.map(\.rating) == bobShown.map { Optional($0) }, "ratings shown as saved vs stored")

        // Rater 2 resumes at item 9 and finishes.
        let bob2 = try Self.start(dir, session, rater: "bob")
        #expect(bob2.screen().contains("continuing with item 9"), "\(bob2.screen())")
        let (bobScreens2, _) = try Self.rate(bob2, count: 4) { 7 - (8 + $0) % 7 }
        bob2.send("q")
        _ = bob2.wait(timeout: 5) { _ in bob2.paneDead }

        store = try AnnotationStore.open(path: storePath)
        let aliceOrder = try Self.ratedOrder(store, "alice"), bobOrder = try Self.ratedOrder(store, "bob")
        #expect(aliceOrder.count == 12 && bobOrder.count == 12)
        #expect(Set(aliceOrder.map(\.trial)) == Set(bobOrder.map(\.trial)), "the same 12 items")
        #expect(aliceOrder.map(\.trial) != bobOrder.map(\.trial), "the two raters' orders differ")

        // Provenance on every rating.
        for (_, _, row) in aliceOrder + bobOrder {
            let h = row.map.heatmap
            #expect(h.modelSHA256.count == 64 && h.method == "gradcam" && !h.layer.isEmpty)
            #expect(h.target.hasPrefix("diagnosis/") && h.heatmapSHA256.count == 64)
            #expect(row.map.overlay?.colormap == "jet" && row.map.overlay?.opacity == 0.5)
            #expect(row.scale == .seven && (row.seconds ?? -1) >= 0)
            #expect(try store.heatmap(sha256: h.heatmapSHA256) != nil, "the rated map is stored")
        }

        // Blinding: rater 2's screens show none of rater 1's ratings, no file names, no class
        // names or probabilities; each item first appears unrated.
        let forbidden = ["alice", ".mp4", "phantom-", "covid", "pneumonia", "healthy", "%"]
        for screen in bobScreens + bobScreens2 {
            for word in forbidden { #expect(!screen.contains(word), "rater 2 saw '\(word)':\n\(screen)") }
        }
        for screen in stride(from: 0, to: bobScreens.count, by: 2).map({ bobScreens[$0] }) {
            #expect(screen.contains("rating: –"), "an item was not blank for rater 2:\n\(screen)")
        }

        // Reproducible: alice again, on a fresh store, gets the same first items in the same order.
        let fresh = dir.appendingPathComponent("again.sqlite").path
        let again = try Self.start(dir, session, rater: "alice", store: fresh)
        _ = try Self.rate(again, count: 4) { _ in 5 }
        again.send("q")
        _ = again.wait(timeout: 5) { _ in again.paneDead }
        let second = try Self.ratedOrder(try AnnotationStore.open(path: fresh), "alice")
        #expect(second.map(\.trial) == Array(aliceOrder.prefix(4).map(\.trial)))
    }
}
