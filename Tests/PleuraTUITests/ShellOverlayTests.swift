import Foundation
import Testing
import PleuraCore
import PleuraRender
import PleuraTestSupport
@testable import PleuraTUI

/// A model stand-in: fixed probabilities, a heatmap that is bright in its left half, call counts.
final class FakeExplainer: FrameExplainer {
    let name = "fake"
    let targetHead = "diagnosis"
    let targetClasses = ["covid", "pneumonia", "healthy"]
    var predictCalls = 0
    var heatmapCalls: [(String, HeatmapMethod)] = []
    func predictions(of image: PixelImage, in clip: ClipReader) throws -> [HeadPrediction] {
        predictCalls += 1
        return [HeadPrediction(head: "diagnosis", isMultilabel: false,
                               probabilities: [("covid", 0.2), ("pneumonia", 0.7), ("healthy", 0.1)],
                               spread: ["covid": 0.05, "pneumonia": 0.083, "healthy": 0.02]),
                HeadPrediction(head: "severity", isMultilabel: false,
                               probabilities: [("0", 0.1), ("1", 0.2), ("2", 0.6), ("3", 0.1)])]
    }
    func heatmap(of image: PixelImage, in clip: ClipReader, className: String, method: HeatmapMethod) throws -> Heatmap {
        heatmapCalls.append((className, method))
        return Heatmap(width: 2, height: 1, values: [1, 0])
    }
    /// Clips whose once-per-clip work was done (all of them unless a test says otherwise).
    var unprepared: Set<String> = []
    func isReady(for clip: ClipReader) -> Bool { !unprepared.contains(clip.sha256) }
    func prepare(for clip: ClipReader) { unprepared.remove(clip.sha256) }
    /// Passes through the model: each call above is one, and so is this one.
    var combinedCalls = 0
    var passes: Int { predictCalls + heatmapCalls.count + combinedCalls }
    func predictionsAndTopHeatmap(of image: PixelImage, in clip: ClipReader, method: HeatmapMethod) throws
        -> (predictions: [HeadPrediction], className: String, heatmap: Heatmap)
    {
        combinedCalls += 1
        predictCalls -= 1   // predictions(of:) below counts itself; this is still one pass
        return (try predictions(of: image, in: clip), "pneumonia", Heatmap(width: 2, height: 1, values: [1, 0]))
    }
}

@Suite struct ShellOverlayTests {
    static let keymap = try! Keymap.load(TestEnv.packageRoot.appendingPathComponent("Keymaps/default.toml"))

    func make(_ sessionText: String = "[phantom]\ncount = 1\n",
              loader: (() throws -> FrameExplainer)?) throws -> Shell {
        let session = try Session.parse(sessionText, file: URL(fileURLWithPath: "/tmp/s.toml"))
        let url = URL(fileURLWithPath: "/clips/c0.mp4")
        let c = Shell(session: session, keymap: Self.keymap, media: [url], mode: LabelMode(backend: MemoryBackend()),
                      loadExplainer: loader) { _ in FakeClip(frames: 5, sha: String(repeating: "a", count: 64)) }
        try c.start()
        return c
    }

    @Test func modelLoadsOnlyWhenAskedAndOverlayToggles() throws {
        var loads = 0
        let fake = FakeExplainer()
        let c = try make { loads += 1; return fake }
        #expect(loads == 0)                       // start-up never loads the model
        #expect(c.modelStatus == .notLoaded)
        #expect(c.wantsIdleModelLoad)
        #expect(try c.perform(.toggleOverlay) == .frame)
        #expect(loads == 1)
        #expect(c.overlay.isOn)
        #expect(c.overlayTarget == "pneumonia")   // the predicted class first
        let shown = try #require(try c.displayImage())
        #expect(shown.format == .rgb24)
        // Left half hot (jet red-ish over grey 0), right half cold: the two halves differ.
        #expect(shown.pixels[0..<3] != shown.pixels[9..<12])
        _ = try c.displayImage()
        #expect(fake.passes == 1)                 // predictions + map in one pass, then cached
        try c.perform(.toggleOverlay)
        #expect(!c.overlay.isOn)
        #expect(try c.displayImage()?.format == .gray8)
        #expect(loads == 1)
    }

    /// With the overlay on, each new frame costs one pass through the model (predictions and the
    /// predicted class's map together); another target class costs one more, once.
    @Test func newFrameWithOverlayIsOneModelPass() throws {
        let fake = FakeExplainer()
        let c = try make { fake }
        try c.perform(.toggleOverlay)
        _ = try c.displayImage(); _ = ShellScreen.modelLines(for: c)
        #expect(fake.passes == 1)
        for expected in 2...4 {
            try c.perform(.nextFrame)
            _ = ShellScreen.modelLines(for: c); _ = try c.displayImage()
            #expect(fake.passes == expected, "frame \(c.frame)")
        }
        #expect(fake.heatmapCalls.isEmpty && fake.combinedCalls == 4)
        try c.perform(.cycleTargetClass)          // covid: its own map, once
        _ = try c.displayImage(); _ = try c.displayImage()
        #expect(fake.heatmapCalls.map(\.0) == ["covid"])
        #expect(fake.passes == 5)
    }

    /// A clip the model has not looked at yet (a sector model finds its scan sector from 16
    /// frames first): the frame shows at once, raw, with no model pass; the idle loop's
    /// prepareModelForClip() does the clip's work, then predictions and the overlay appear.
    @Test func unpreparedClipShowsTheRawFrameFirst() throws {
        let fake = FakeExplainer()
        fake.unprepared = [String(repeating: "a", count: 64)]
        let c = try make { fake }
        try c.perform(.toggleOverlay)
        #expect(!c.modelIsReadyForClip)
        #expect(c.overlayKey == "plain")
        #expect(try c.displayContent()?.overlay == nil)
        #expect(c.currentPredictions() == nil)
        #expect(ShellScreen.modelLines(for: c).contains { $0.text.contains("looking at this clip") })
        #expect(fake.passes == 0)
        #expect(c.prepareModelForClip())
        #expect(c.modelIsReadyForClip && !c.prepareModelForClip())
        #expect(c.currentPredictions() != nil)
        #expect(try c.displayContent()?.overlay != nil)
        #expect(c.overlayKey != "plain")
    }

    /// While the user is idle the next frame's predictions and map are computed, so the key that
    /// shows it runs no model pass; the pane gets the map to draw after its own scaling.
    @Test func idlePrefetchRunsTheModelOnTheNextFrame() throws {
        let fake = FakeExplainer()
        let c = try make { fake }
        try c.perform(.toggleOverlay)
        _ = try c.displayContent()
        let before = fake.passes
        c.prefetchNextFrame()
        #expect(fake.passes == before + 1)
        try c.perform(.nextFrame)
        _ = ShellScreen.modelLines(for: c)
        let content = try #require(try c.displayContent())
        #expect(fake.passes == before + 1, "the next frame's work was done while idle")
        #expect(content.overlay?.heatmap.values == [1, 0])
        #expect(content.frame.format == .gray8)   // not composited yet: the pane does it after scaling
        // Blinded: the idle pass computes no predictions, only the overlay's map (card order).
        let blindFake = FakeExplainer()
        let blind = try make("blinding = true\n[phantom]\ncount = 1\n") { blindFake }
        try blind.perform(.toggleOverlay)
        _ = try blind.displayContent()
        blind.prefetchNextFrame()
        #expect(blindFake.predictCalls == 0 && blindFake.combinedCalls == 0)
        #expect(blindFake.heatmapCalls.map(\.0) == ["covid", "covid"])
    }

    /// Idle time loads the model on another thread; the controller keeps answering keys, installs
    /// the model when it is ready, and an overlay key during the load waits for that same load.
    @Test func modelLoadsInTheBackgroundWhileKeysWork() throws {
        let gate = DispatchSemaphore(value: 0)
        let loads = LoadCounter()
        let c = try make { loads.add(); gate.wait(); return FakeExplainer() }
        c.startModelLoadInBackground()
        #expect(c.modelStatus == .loading)
        #expect(!c.wantsIdleModelLoad)
        #expect(ShellScreen.modelLines(for: c).first?.text == "Model  loading…")
        try c.perform(.toggleALines)              // labelling does not wait for the model
        #expect(c.label.labels[.aLines] == true)
        #expect(!c.collectBackgroundModel())      // not ready yet
        gate.signal()
        var collected = false
        for _ in 0..<200 where !collected { collected = c.collectBackgroundModel(); if !collected { usleep(10_000) } }
        #expect(collected && c.modelStatus == .loaded)
        #expect(loads.count == 1)

        // An overlay key while a load runs waits for it instead of loading again.
        let gate2 = DispatchSemaphore(value: 0)
        let loads2 = LoadCounter()
        let c2 = try make { loads2.add(); gate2.wait(); return FakeExplainer() }
        c2.startModelLoadInBackground()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { gate2.signal() }
        #expect(try c2.perform(.toggleOverlay) == .frame)
        #expect(c2.modelStatus == .loaded && c2.overlay.isOn && loads2.count == 1)
    }

    @Test func methodCyclesThroughTheImplementedMethods() throws {
        let c = try make("[phantom]\ncount = 1\n[model]\nheatmap = \"layercam\"\n") { FakeExplainer() }
        #expect(c.overlay.method == .layercam)
        var seen: [HeatmapMethod] = []
        for _ in HeatmapMethod.allCases { try c.perform(.cycleHeatmapMethod); seen.append(c.overlay.method) }
        #expect(seen == [.pocovid, .gradcam, .gradcampp, .layercam])
    }

    @Test func targetClassCyclesPredictedFirstThenByProbability() throws {
        let c = try make { FakeExplainer() }
        try c.perform(.toggleOverlay)
        #expect(c.targetClassOrder == ["pneumonia", "covid", "healthy"])
        var seen = [c.overlayTarget]
        for _ in 0..<3 { try c.perform(.cycleTargetClass); seen.append(c.overlayTarget) }
        #expect(seen == ["pneumonia", "covid", "healthy", "pneumonia"])
    }

    @Test func opacityStaysWithinBounds() throws {
        let c = try make { FakeExplainer() }
        #expect(c.overlay.opacityPercent == 50)
        for _ in 0..<10 { try c.perform(.opacityUp) }
        #expect(c.overlay.opacityPercent == 100)
        for _ in 0..<20 { try c.perform(.opacityDown) }
        #expect(c.overlay.opacityPercent == 10)
        try c.perform(.opacityUp)
        #expect(c.overlay.opacityPercent == 20)
        #expect(Shell.overlayStyle(method: .gradcam, opacityPercent: 50).opacity == 0.5)
        let pocovid = Shell.overlayStyle(method: .pocovid, opacityPercent: 50)
        #expect(pocovid.threshold == 0.4)
        #expect(abs(pocovid.opacity - 0.3 / 0.7) < 1e-6)
    }

    @Test func panelShowsPredictionsUnlessBlinded() throws {
        let open = try make { FakeExplainer() }
        open.loadModelIfNeeded()
        let lines = ShellScreen.modelLines(for: open).map(\.text)
        #expect(lines.contains("Model  diagnosis pneumonia 70% ±8"))
        #expect(lines.contains("       severity 2 60%"))              // no MC-dropout output for this head
        #expect(lines.contains("       (± MC-dropout sd, points)"))
        #expect(lines.contains { $0.hasPrefix("Overlay off gradcam pneumonia 50%") })

        let blind = try make("blinding = true\n[phantom]\ncount = 1\n") { FakeExplainer() }
        #expect(!blind.wantsIdleModelLoad)
        try blind.perform(.toggleOverlay)
        let blindLines = ShellScreen.modelLines(for: blind).map(\.text)
        #expect(!blindLines.contains { $0.contains("70%") || $0.contains("60%") || $0.contains("±") })
        #expect(blindLines.contains("Model  predictions hidden (blinded)"))
        #expect(blind.targetClassOrder == ["covid", "pneumonia", "healthy"])   // card order: reveals nothing
        #expect(blindLines.contains { $0.hasPrefix("Overlay on gradcam covid 50%") })
    }

    @Test func brokenModelKeepsLabellingAndSaysWhy() throws {
        let c = try make { throw PleuraError(file: "/m/bad.pt", "not a TorchScript file\u{1B}[2J") }
        #expect(try c.perform(.toggleOverlay) == .panel)
        guard case .unavailable(let why) = c.modelStatus else { Issue.record("model should be unavailable"); return }
        #expect(why.contains("/m/bad.pt: not a TorchScript file"))
        #expect(!why.contains("\u{1B}"))
        #expect(c.message.isWarning && c.message.text.hasPrefix("overlays are off: "))
        #expect(!c.overlay.isOn)
        #expect(ShellScreen.modelLines(for: c).first?.text == "Overlay off: no usable model")
        try c.perform(.toggleALines)
        #expect(c.label.labels[.aLines] == true)        // labelling goes on
        #expect(try c.displayImage()?.format == .gray8)
    }
}

/// Counts loader calls from any thread.
final class LoadCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return n }
}

/// ncurses draws lines that moved up or down by scrolling whole rows, which would move the picture
/// it does not know about; the screen writes the picture again exactly then (seen when the model's
/// predictions appeared and the panel gained a line: one image row went blank).
@Test func panelShiftsAreTellingApartFromInPlaceChanges() {
    let before = ["Model  loading…   ", "Overlay off       ", "Annotator root    ", "Progress 0/10     ", "                  "]
    let grown = ["Model  diagnosis  ", "       severity   ", "Overlay off       ", "Annotator root    ", "Progress 0/10     "]
    #expect(ShellScreen.rowsMoved(from: before, to: grown))          // lines moved down one row
    #expect(ShellScreen.rowsMoved(from: grown, to: before))          // and back up
    var labelled = before
    labelled[3] = "Progress 1/10     "
    #expect(!ShellScreen.rowsMoved(from: before, to: labelled))      // a label key: changed in place
    #expect(!ShellScreen.rowsMoved(from: before, to: before))
    #expect(!ShellScreen.rowsMoved(from: [], to: before))            // the first draw (drawAll paints the picture)
}
