import Foundation
import Testing
import PleuraCore
import PleuraRender
import PleuraStore
import PleuraTestSupport
@testable import PleuraTUI

/// A model stand-in for rating: the class follows the frame's grey level (so items fall into
/// three classes), and each method's map is hot on its own side (gradcam left, layercam right),
/// so the pane shows which map sits in which slot.
final class FakeRatingModel: RatingModel {
    let sha256 = String(repeating: "f", count: 64)
    let layer = "features.fake"
    let head: String
    let classes: [String]
    let isMultilabel: Bool
    /// As the embedded card's `pleura_labels`: diagnosis → the (non-Pleura) diagnosis label,
    /// severity → severity, findings → flags.
    var labelField: String? { head }
    var heatmapCalls = 0
    /// Microseconds each map takes (a slow model: a clip's maps need several idle steps).
    var delay: useconds_t = 0
    /// The classes asked for, in call order (which class each map explains).
    var explainedClasses: [String] = []
    init(head: String = "diagnosis") {
        self.head = head
        switch head {
        case "severity": classes = ["0", "1", "2", "3"]; isMultilabel = false
        case "findings": classes = ["a_lines", "b_lines", "consolidation"]; isMultilabel = true
        default: classes = ["covid", "pneumonia", "healthy"]; isMultilabel = false
        }
    }
    func className(forLabel text: String) -> String? {
        head == "diagnosis" ? ["COVID-19": "covid", "bacterial pneumonia": "pneumonia", "healthy": "healthy"][text]
                            : classes.contains(text) ? text : nil
    }
    func probabilities(of image: PixelImage, in clip: ClipReader) throws -> [Float] {
        let c = Int(image.pixels[0]) % 3
        return classes.indices.map { $0 == c ? 0.8 : 0.1 }
    }
    func onFrame(_ map: Heatmap, of clip: ClipReader) throws -> Heatmap { map }
    func heatmap(of image: PixelImage, in clip: ClipReader, className: String, method: HeatmapMethod) throws -> Heatmap {
        heatmapCalls += 1
        explainedClasses.append(className)
        if delay > 0 { usleep(delay) }
        return method == .layercam ? Heatmap(width: 2, height: 1, values: [0, 1]) : Heatmap(width: 2, height: 1, values: [1, 0])
    }
}

@Suite struct RateModeTests {
    static let keymap = try! Keymap.load(TestEnv.packageRoot.appendingPathComponent("Keymaps/default.toml"))

    /// Four clips of 9 frames (3 sampled each: 12 items) in a real store in a temp folder.
    static func make(rater: String, rate: String = "", dir: URL, model: FakeRatingModel = FakeRatingModel(),
                     before: (AnnotationStore, [ShiftedClip]) throws -> Void = { _, _ in }) throws -> (Shell, RateMode, AnnotationStore) {
        let text = "name = \"study\"\nmode = \"rate\"\norder = \"shuffled\"\nseed = 5\n[phantom]\ncount = 4\n[sampling]\nper_clip = 3\n[rate]\n" + rate
        let session = try Session.parse(text, file: dir.appendingPathComponent("s.toml"))
        let store = try AnnotationStore.open(path: dir.appendingPathComponent("r.sqlite").path)
        let backend = try StoreRatingBackend(store: store, rater: rater, sessionName: session.name)
        let urls = (0..<4).map { URL(fileURLWithPath: "/clips/c\($0).mp4") }
        // Frame f of clip i is grey (i + f): items of one clip fall into different classes.
        let readers = urls.indices.map { i in ShiftedClip(frames: 9, sha: String(repeating: "\(i)", count: 64), shift: i) }
        for r in readers { try backend.register(sha256: r.sha256, path: "/clips/\(r.sha256.prefix(4)).mp4", kind: "video", width: 4, height: 4, fps: 10, frames: 9) }
        try before(store, readers)
        let mode = try RateMode(settings: session.rate!, session: session, clips: readers.map { ($0.sha256, $0 as ClipReader) },
                                backend: backend, models: ["embedded": model], rater: rater)
        let shell = Shell(session: session, keymap: keymap, media: urls, mode: mode) { url in readers[urls.firstIndex(of: url)!] }
        try mode.start(shell)
        return (shell, mode, store)
    }

    /// PleuraCore checks session colormap names without depending on the renderer: the lists match.
    @Test func sessionColormapsAreTheRenderersColormaps() {
        #expect(RateSettings.validColormaps == Colormap.allCases.map(\.rawValue))
    }

    @Test func orderIsPerRaterReproducibleAndBalanced() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-rate")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, alice, _) = try Self.make(rater: "alice", dir: dir)
        let (_, again, _) = try Self.make(rater: "alice", dir: dir)
        let (_, bob, _) = try Self.make(rater: "bob", dir: dir)
        #expect(alice.items.count == 12)
        #expect(alice.items.map(\.trialID) == again.items.map(\.trialID))
        #expect(alice.items.map(\.trialID) != bob.items.map(\.trialID))
        #expect(Set(alice.items.map(\.trialID)) == Set(bob.items.map(\.trialID)))
        // Balanced: every run of three consecutive items holds each class once (4 per class).
        for start in stride(from: 0, to: 12, by: 3) {
            #expect(Set(alice.items[start..<start + 3].map(\.balanceClass)).count == 3, "items \(start)…")
        }
    }

    @Test func aRatingIsCommittedBeforeItIsShownAndARevisionIsANewEvent() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-rate")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (shell, mode, store) = try Self.make(rater: "alice", rate: "questions = [\"patterns_visible\", \"comment\"]\n", dir: dir)
        try shell.perform(.ratePoint6)
        #expect(shell.message.text.hasPrefix("saved: rating +2"))
        let rater = try #require(try store.annotator(named: "alice"))
        var rows = try store.ratings(annotator: rater)
        #expect(rows.count == 1 && rows[0].rating?.rawValue == 2)
        let p = rows[0].map
        #expect(p.heatmap.modelSHA256 == String(repeating: "f", count: 64) && p.heatmap.method == "gradcam")
        #expect(p.heatmap.layer == "features.fake" && p.heatmap.target.hasPrefix("diagnosis/") && p.heatmap.heatmapSHA256.count == 64)
        #expect(p.overlay == OverlaySettings(colormap: "jet", opacity: 0.5, threshold: nil))
        #expect(rows[0].seconds != nil)
        // The stored map is the one the rating names.
        #expect(try store.heatmap(sha256: p.heatmap.heatmapSHA256) != nil)
        let item = rows[0].item
        let before = try store.history(item: item).count
        try shell.perform(.ratePoint2)                     // revision
        #expect(try store.history(item: item).count > before)
        rows = try store.ratings(annotator: rater)
        #expect(rows.count == 1 && rows[0].rating?.rawValue == -2)
        // Visible checklist: focus the question, move to B-lines, toggle.
        try shell.perform(.nextQuestion); try shell.perform(.cursorRight); try shell.perform(.choose)
        #expect(try store.ratings(annotator: rater)[0].visible == [.bLines])
        try shell.answer(.comment, with: "pleural line only")
        #expect(try store.ratings(annotator: rater)[0].comment == "pleural line only")
        #expect(mode.finishedCount == 1)
        // Born's scale has no 0 and six points: key 7 is refused, 4 is +1.
        let (s2, _, _) = try Self.make(rater: "carol", rate: "scale = \"born\"\n", dir: dir)
        try s2.perform(.ratePoint7)
        #expect(s2.message.isWarning)
        try s2.perform(.ratePoint4)
        #expect(s2.message.text.hasPrefix("saved: rating +1"))
    }

    /// A clip's maps take one step per frame: the screen shows the raw clip with the progress,
    /// answers keys meanwhile, refuses a rating of maps not yet shown, and loops the clip with its
    /// maps once idle time has prepared them.
    @Test func aClipsMapsArePreparedInIdleTimeAndNothingIsRatedUnseen() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-rate")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = FakeRatingModel()
        model.delay = 80_000                               // 9 maps ≈ 0.7 s: more than the 0.2 s at entry
        let (shell, mode, store) = try Self.make(rater: "erin", rate: "unit = \"clip\"\n", dir: dir, model: model)
        let first = try #require(mode.preparedFraction(mode.item))
        #expect(first > 0 && first < 1)
        #expect(!shell.isPlaying)
        #expect(mode.panel(shell).contains { $0.text.hasPrefix("Maps   being prepared") })
        try shell.perform(.ratePoint6)
        #expect(shell.message.isWarning && shell.message.text.contains("being prepared"), "\(shell.message.text)")
        try shell.perform(.cursorRight)                    // other keys work meanwhile
        var seen = [first]
        while let f = mode.preparedFraction(mode.item), seen.count < 100 {
            _ = mode.idle(shell)
            seen.append(f)
        }
        #expect(mode.preparedFraction(mode.item) == nil, "not ready after \(seen.count) idle steps")
        #expect(seen == seen.sorted() && seen.count > 2, "\(seen)")
        #expect(shell.isPlaying, "the clip loops once its maps are ready")
        let rater = try #require(try store.annotator(named: "erin"))
        #expect(try store.ratings(annotator: rater).isEmpty)
        try shell.perform(.ratePoint6)
        #expect(shell.message.text.hasPrefix("saved: rating +2"), "\(shell.message.text)")
        #expect(try store.ratings(annotator: rater).count == 1)
    }

    @Test func aRaterResumesWhereTheyStopped() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-rate")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (shell, mode, _) = try Self.make(rater: "alice", dir: dir)
        for _ in 0..<5 { try shell.perform(.ratePoint5); try shell.perform(.nextItem) }
        #expect(mode.position == 5)
        let (s2, again, _) = try Self.make(rater: "alice", dir: dir)
        #expect(again.position == 5 && again.finishedCount == 5)
        #expect(s2.message.text.contains("continuing with item 6"))
        // Another rater sees none of it.
        let (_, bob, _) = try Self.make(rater: "bob", dir: dir)
        #expect(bob.position == 0 && bob.finishedCount == 0 && bob.answers.maps.allSatisfy { $0.rating == nil })
    }

    /// Paired trials: each rater's slots are drawn from seed + name, stored with the ratings, and
    /// "better = A" names the map drawn on the left for that rater.
    @Test func pairedSlotsDifferBetweenRatersAndBetterNamesTheMapOnTheLeft() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-rate")
        defer { try? FileManager.default.removeItem(at: dir) }
        var slotsByRater: [String: [String: String]] = [:]   // rater → trial → method in slot A
        for rater in ["alice", "bob"] {
            let (shell, mode, store) = try Self.make(rater: rater, rate: "methods = [\"gradcam\", \"layercam\"]\npaired = true\n", dir: dir)
            #expect(mode.items.count == 12)
            for _ in 0..<12 {
                // What the pane shows on the left: gradcam's map is hot on its left half, layercam's on its right.
                let content = try #require(try shell.displayContent())
                let img = content.frame
                #expect(content.overlay == nil && img.width > 8)
                let leftHalfOfLeftImage = Int(img.pixels[0]), rightHalfOfLeftImage = Int(img.pixels[(img.width / 2 - 3) * 3])
                let leftMethod = leftHalfOfLeftImage > rightHalfOfLeftImage ? "gradcam" : "layercam"
                try shell.perform(.ratePoint6)      // A
                try shell.perform(.ratePoint3)      // B
                try shell.perform(.nextQuestion)    // "which is better?"
                try shell.perform(.cursorLeft)      // from "same" to A
                try shell.perform(.choose)
                #expect(shell.message.text.hasPrefix("saved: better: A (left)"), "\(shell.message.text)")
                slotsByRater[rater, default: [:]][mode.item.trialID] = leftMethod
                try shell.perform(.nextItem)
            }
            let who = try #require(try store.annotator(named: rater))
            let rows = try store.ratings(annotator: who)
            #expect(rows.count == 24)
            for row in rows {
                let slot = try #require(row.map.slot)
                #expect(row.better == .a)
                // The stored slot A is the map this rater saw on the left, and it is the preferred one.
                #expect((slot == .a) == (row.map.heatmap.method == slotsByRater[rater]![row.trial]), "\(row.trial)")
                #expect(row.preferred == (slot == .a))
                #expect(row.rating?.rawValue == (slot == .a ? 2 : -1))
            }
        }
        let a = slotsByRater["alice"]!, b = slotsByRater["bob"]!
        #expect(a.keys.sorted() == b.keys.sorted())
        #expect(a.contains { b[$0.key] != $0.value }, "slots were the same for every item")
    }
}

/// `target = "reference:NAME"`: each map explains the class of NAME's label (Born et al. rated the
/// maps of the true class), items NAME did not label are left out, and heads that cannot be
/// matched to a Pleura label are refused with one line.
@Suite struct RateReferenceTargetTests {
    /// The reference's severity labels: clip 0 a video score 3; clip 1 two of its sampled frames
    /// 1 (the third unlabelled); clip 2 a video score 0 and its first sampled frame 2 (the frame's
    /// own label wins); clip 3 nothing.
    static func labelReference(_ store: AnnotationStore, _ clips: [ShiftedClip], sampled: [Int]) throws {
        let truth = try store.annotator(named: "truth", role: .reference)
        let s = try store.beginSession(annotator: truth, name: "import", mode: "label")
        func severity(_ n: Int) -> LabelValue { .severity(Severity(rawValue: n)!) }
        try store.setLabel(item: ItemRef(mediaSHA256: clips[0].sha256, frame: nil), field: .severity, value: severity(3), annotator: truth, session: s)
        for f in sampled.prefix(2) {
            try store.setLabel(item: ItemRef(mediaSHA256: clips[1].sha256, frame: f), field: .severity, value: severity(1), annotator: truth, session: s)
        }
        try store.setLabel(item: ItemRef(mediaSHA256: clips[2].sha256, frame: nil), field: .severity, value: severity(0), annotator: truth, session: s)
        try store.setLabel(item: ItemRef(mediaSHA256: clips[2].sha256, frame: sampled[0]), field: .severity, value: severity(2), annotator: truth, session: s)
        // A finding of clip 3 is not a severity: clip 3 stays unreferenced.
        try store.setLabel(item: ItemRef(mediaSHA256: clips[3].sha256, frame: nil), field: .aLines, value: .flag(true), annotator: truth, session: s)
    }

    static let sampled = Session.Sampling.perClip(3).frames(count: 9)

    @Test func eachMapExplainsTheReferencesClassAndUnlabelledItemsAreLeftOut() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-rate-ref")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = FakeRatingModel(head: "severity")
        let (shell, mode, store) = try RateModeTests.make(rater: "alice", rate: "target = \"reference:truth\"\nhead = \"severity\"\n", dir: dir, model: model) {
            try Self.labelReference($0, $1, sampled: Self.sampled)
        }
        #expect(mode.items.count == 8)
        #expect(mode.unreferenced == 4)
        #expect(Set(mode.items.map(\.balanceClass)) == ["0", "1", "2", "3"])
        for _ in mode.items { try shell.perform(.ratePoint5); try shell.perform(.nextItem) }
        let rows = try store.ratings(annotator: try #require(try store.annotator(named: "alice")))
        #expect(rows.count == 8)
        let sha = (0..<4).map { String(repeating: "\($0)", count: 64) }
        for row in rows {
            let clip = sha.firstIndex(of: row.item.mediaSHA256)
            let expected: String
            switch clip {
            case 0: expected = "3"
            case 1: expected = "1"
            case 2: expected = row.item.frame == Self.sampled[0] ? "2" : "0"
            default: Issue.record("clip 3 has no reference label but was rated: \(row.trial)"); continue
            }
            #expect(row.map.heatmap.target == "severity/" + expected, "\(row.trial)")
        }
        #expect(Set(model.explainedClasses) == ["0", "1", "2", "3"])
    }

    @Test func aWholeClipTakesTheVideoScoreElseItsWorstFrame() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-rate-ref")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (shell, mode, store) = try RateModeTests.make(rater: "bob", rate: "unit = \"clip\"\ntarget = \"reference:truth\"\nhead = \"severity\"\n",
                                                          dir: dir, model: FakeRatingModel(head: "severity")) {
            try Self.labelReference($0, $1, sampled: Self.sampled)
        }
        #expect(mode.items.count == 3 && mode.unreferenced == 1)
        for _ in mode.items { try shell.perform(.ratePoint5); try shell.perform(.nextItem) }
        let targets = Dictionary(uniqueKeysWithValues: try store.ratings(annotator: try #require(try store.annotator(named: "bob"))).map {
            ($0.item.mediaSHA256.prefix(1), $0.map.heatmap.target)
        })
        // Clip 2: the video score 0, not its frame's 2; clip 1: no video score, its worst frame 1.
        #expect(targets == ["0": "severity/3", "1": "severity/1", "2": "severity/0"])
    }

    @Test func headsWithoutAPleuraLabelAndUnknownReferencesAreRefusedWithOneLine() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-rate-ref")
        defer { try? FileManager.default.removeItem(at: dir) }
        func refusal(_ rate: String, _ model: FakeRatingModel) -> String {
            do { _ = try RateModeTests.make(rater: "carol", rate: rate, dir: dir, model: model) { try Self.labelReference($0, $1, sampled: Self.sampled) } }
            catch let e as PleuraError { return e.description }
            catch { return "\(error)" }
            return "accepted"
        }
        let diagnosis = refusal("target = \"reference:truth\"\n", FakeRatingModel())
        #expect(diagnosis.contains("predicts 'diagnosis', which is not a label Pleura records") && diagnosis.contains("rate.head = \"severity\""), "\(diagnosis)")
        let flags = refusal("target = \"reference:truth\"\nhead = \"findings\"\n", FakeRatingModel(head: "findings"))
        #expect(flags.contains("independent flags"), "\(flags)")
        let nobody = refusal("target = \"reference:nobody\"\nhead = \"severity\"\n", FakeRatingModel(head: "severity"))
        #expect(nobody.contains("no item has a severity label by that annotator") && nobody.contains("--as nobody"), "\(nobody)")
        for text in [diagnosis, flags, nobody] { #expect(!text.contains("\n"), "one line: \(text)") }
    }
}

/// A clip whose frame f is uniformly grey (f / 3 + shift), so the fake model's class changes along it.
final class ShiftedClip: ClipReader {
    let frameCount: Int
    let framesPerSecond = 10.0
    let width = 16, height = 8
    let sha256: String
    let shift: Int
    init(frames: Int, sha: String, shift: Int) { frameCount = frames; sha256 = sha; self.shift = shift }
    func frame(_ index: Int) throws -> PixelImage {
        PixelImage(width: 16, height: 8, format: .gray8, pixels: [UInt8](repeating: UInt8((index / 3 + shift) % 256), count: 128))
    }
}
