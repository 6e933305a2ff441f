import Foundation
import Testing
import PleuraCore
import PleuraStore
import PleuraTestSupport

/// The model in the real `pleura label` (tmux, half-blocks): a broken model file leaves labelling
/// working and says why overlays are off; the embedded model turns the overlay on with `o`.
@Suite(.serialized) struct OverlayScreenTests {
    static let embeddedModel = TestEnv.packageRoot.appendingPathComponent("Models/pleura-lus-v1.pt")
    static let embeddedPresent = FileManager.default.fileExists(atPath: embeddedModel.path)

    /// The labelling tests' two-clip session plus a `[model]` table.
    static func makeSession(model: String?) throws -> (URL, URL) {
        let (dir, session) = try LabellingScreenTests.makeSession()
        if let model {
            let text = try String(contentsOf: session, encoding: .utf8) + "\n[model]\npath = \"\(model)\"\n"
            try text.write(to: session, atomically: true, encoding: .utf8)
        }
        return (dir, session)
    }

    /// What the wrapping shell recorded when pleura ended (nil if it did not within 10 s).
    static func exitStatus(_ dir: URL) -> String? {
        let end = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("stty.txt").path), Date() < end { usleep(10_000) }
        return (try? String(contentsOf: dir.appendingPathComponent("exit.txt"), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(.enabled(if: LabellingScreenTests.toolsPresent, "\(LabellingScreenTests.toolsMissing)"))
    func brokenModelLeavesLabellingWorkingAndSaysWhyOverlaysAreOff() throws {
        let (dir, session) = try Self.makeSession(model: "bad.pt")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Random bytes where the TorchScript should be, beside a real-looking card.
        var rng = SplitMix64(seed: 42)
        let bytes = (0..<4096).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        try Data(bytes).write(to: dir.appendingPathComponent("bad.pt"))
        let card = TestEnv.packageRoot.appendingPathComponent("Models/pleura-lus-v1.json")
        if FileManager.default.fileExists(atPath: card.path) {
            try FileManager.default.copyItem(at: card, to: dir.appendingPathComponent("bad.json"))
        } else {
            try #"{"name": "bad", "heads": []}"#.write(to: dir.appendingPathComponent("bad.json"), atomically: true, encoding: .utf8)
        }
        let driver = try LabellingScreenTests.startPleura(dir, session, wrapInShell: true)
        // Loaded while idle; fails; the panel says so.
        let off = driver.wait(timeout: 30) { $0.contains("Overlay off: no usable model") }
        try #require(off != nil, "panel never said overlays are off:\n\(driver.screen())")
        // Labelling still works and is saved.
        let labelled = driver.press("a")
        #expect(labelled?.contains("saved:") == true, "\(driver.screen())")
        let refused = driver.press("o")
        #expect(refused?.contains("overlays are off:") == true, "\(driver.screen())")
        #expect(refused?.contains("bad.pt") == true)        // the message line names the file
        // The help screen lists the overlay keys.
        let help = driver.press("?")
        for summary in ["heatmap overlay on/off", "next heatmap method", "target class (top first)",
                        "overlay opacity +10%", "overlay opacity -10%"] {
            #expect(help?.contains(summary) == true, "help lacks '\(summary)':\n\(driver.screen())")
        }
        _ = driver.press("Space")
        driver.send("q")
        #expect(Self.exitStatus(dir) == "status=0")
        let store = try AnnotationStore.open(path: dir.appendingPathComponent("labels.sqlite").path)
        let tester = try #require(try store.annotator(named: "tester"))
        let labels = try store.currentLabels(item: ItemRef(mediaSHA256: try LabellingScreenTests.firstClipSHA(dir), frame: 0), annotator: tester)
        #expect(labels[.aLines] == true)
    }

    @Test(.enabled(if: LabellingScreenTests.toolsPresent && embeddedPresent, "skipped: tmux/ffmpeg or the embedded model is missing"))
    func embeddedModelShowsPredictionsAndTurnsTheOverlayOn() throws {
        let (dir, session) = try Self.makeSession(model: nil)
        defer { try? FileManager.default.removeItem(at: dir) }
        let driver = try LabellingScreenTests.startPleura(dir, session, wrapInShell: true)
        // The model loads while idle, then (v2 sees the scan sector) looks at the clip once —
        // the panel says "looking at this clip…" meanwhile — and then shows predictions.
        let loaded = driver.wait(timeout: 60) { $0.contains("Overlay off gradcam") && $0.contains("Model  diagnosis ") }
        try #require(loaded != nil, "model did not load or show predictions:\n\(driver.screen())")
        // The embedded model's MC-dropout spread beside its probabilities (model issue: uncertainty in the panel).
        #expect(loaded!.contains("% ±") && loaded!.contains("MC-dropout sd"), "\(loaded!)")
        // The panel gained lines when the predictions appeared; ncurses may scroll the rows
        // below to show that, which would move the picture too: no image row may be left blank.
        let rows = loaded!.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let imageRows = rows.indices.filter { rows[$0].prefix(20).contains("▀") }
        if let first = imageRows.first, let last = imageRows.last {
            let gaps = (first...last).filter { !rows[$0].prefix(20).contains("▀") }
            #expect(gaps.isEmpty, "image rows blanked when the panel changed: \(gaps)\n\(loaded!)")
        }
        driver.send("o")
        let on = driver.wait(timeout: 60) { $0.contains("Overlay on gradcam") }
        #expect(on != nil, "overlay did not turn on:\n\(driver.screen())")
        driver.send("q")
        #expect(Self.exitStatus(dir) == "status=0")
    }
}
