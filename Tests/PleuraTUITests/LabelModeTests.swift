import Foundation
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraTUI

/// An in-memory backend with the store's semantics: one action per `apply`, undo/redo stacks.
final class MemoryBackend: LabelBackend {
    var labels: [ItemRef: LabelSet] = [:]
    private var done: [(ItemRef, LabelSet, LabelSet)] = []
    private var undone: [(ItemRef, LabelSet, LabelSet)] = []
    var writes = 0

    var reads = 0
    func labels(of item: ItemRef) throws -> LabelSet { reads += 1; return labels[item] ?? LabelSet() }
    func apply(_ changes: [LabelChange], to item: ItemRef) throws -> LabelSet {
        let old = labels[item] ?? LabelSet()
        var new = old
        for c in changes { new.apply(c) }
        labels[item] = new
        done.append((item, old, new))
        undone = []
        writes += 1
        return new
    }
    func undo() throws -> LabelEdit? {
        guard let last = done.popLast() else { return nil }
        labels[last.0] = last.1
        undone.append(last)
        return LabelEdit(item: last.0, labels: last.1, changes: Self.changes(last.2, last.1))
    }
    func redo() throws -> LabelEdit? {
        guard let last = undone.popLast() else { return nil }
        labels[last.0] = last.2
        done.append(last)
        return LabelEdit(item: last.0, labels: last.2, changes: Self.changes(last.1, last.2))
    }
    static func changes(_ old: LabelSet, _ new: LabelSet) -> [LabelEdit.FieldChange] {
        LabelField.allCases.compactMap { f in
            old.value(of: f) == new.value(of: f) ? nil : LabelEdit.FieldChange(field: f, old: old.value(of: f), new: new.value(of: f))
        }
    }
    func labelledFrames(ofMedia sha256: String) throws -> Set<Int> {
        Set(labels.filter { $0.key.mediaSHA256 == sha256 && !$0.value.isEmpty }.compactMap(\.key.frame))
    }
}

final class FakeClip: ClipReader {
    let frameCount: Int
    let framesPerSecond = 10.0
    let width = 4, height = 4
    let sha256: String
    init(frames: Int, sha: String) { frameCount = frames; sha256 = sha }
    func frame(_ index: Int) throws -> PixelImage {
        PixelImage(width: 4, height: 4, format: .gray8, pixels: [UInt8](repeating: UInt8(index % 256), count: 16))
    }
}

extension Shell {
    /// The label mode these tests run the shell in.
    var label: LabelMode { mode as! LabelMode }
}

@Suite struct LabelModeTests {
    static let keymap = try! Keymap.load(TestEnv.packageRoot.appendingPathComponent("Keymaps/default.toml"))

    func make(_ sessionText: String = "[phantom]\ncount = 2\n", frames: [Int] = [30, 12]) throws -> (Shell, MemoryBackend) {
        let session = try Session.parse(sessionText, file: URL(fileURLWithPath: "/tmp/s.toml"))
        let backend = MemoryBackend()
        let urls = frames.indices.map { URL(fileURLWithPath: "/clips/c\($0).mp4") }
        let c = Shell(session: session, keymap: Self.keymap, media: urls, mode: LabelMode(backend: backend)) { url in
            let i = urls.firstIndex(of: url)!
            return FakeClip(frames: frames[i], sha: String(repeating: "\(i)", count: 64))
        }
        try c.start()
        #expect(c.label.progress(c).unopenedClips == frames.count - 1)
        while c.openNextUnopenedClip() {}
        return (c, backend)
    }

    @Test func stepsAndJumps() throws {
        let (c, _) = try make()
        #expect(c.frame == 0)
        try c.perform(.nextFrame); #expect(c.frame == 1)
        try c.perform(.forward10); #expect(c.frame == 11)
        try c.perform(.back10); try c.perform(.back10); #expect(c.frame == 0)
        try c.perform(.lastFrame); #expect(c.frame == 29)
        try c.perform(.nextFrame); #expect(c.frame == 29)
        try c.perform(.firstFrame); #expect(c.frame == 0)
        #expect(try c.perform(.goToFrame) == .prompt(.goToFrame))
        try c.answer(.goToFrame, with: "17"); #expect(c.frame == 17)
        try c.answer(.goToFrame, with: "99"); #expect(c.frame == 17); #expect(c.message.isWarning)
        try c.perform(.nextItem); #expect(c.clipIndex == 1); #expect(c.frame == 0)
        try c.perform(.nextItem); #expect(c.clipIndex == 1); #expect(c.message.isWarning)
        try c.perform(.previousItem); #expect(c.clipIndex == 0)
    }

    @Test func labelsAreWrittenBeforeTheyAreShown() throws {
        let (c, b) = try make()
        try c.perform(.toggleB1Lines)
        let item = c.label.item(in: c)!
        #expect(b.labels[item]?[.b1Lines] == true)
        #expect(c.label.labels[.b1Lines] == true)
        try c.perform(.toggleB1Lines)
        #expect(b.labels[item]?[.b1Lines] == false)
        try c.perform(.severity2)
        try c.perform(.poorQuality)
        #expect(b.labels[item]?.severity?.rawValue == 2)
        #expect(b.labels[item]?.quality == .poor)
        try c.answer(.note, with: "pleural line irregular")
        #expect(b.labels[item]?.note == "pleural line irregular")
        #expect(c.label.progress(c).labelled == 1)
        #expect(c.label.progress(c).total == 42)
    }

    /// A label key is one write whose read-back (inside `apply`) is all the screen needs: no
    /// further reads of the item by the controller.
    @Test func aLabelKeyIsOneWriteAndNoExtraReads() throws {
        let (c, b) = try make()
        let reads = b.reads, writes = b.writes
        try c.perform(.toggleALines)
        #expect(b.writes == writes + 1)
        #expect(b.reads == reads)
        #expect(c.label.labels[.aLines] == true && c.label.progress(c).labelled == 1)
        try c.perform(.undo)                      // back to no labels: the frame counts as unlabelled again
        #expect(c.label.labels.isEmpty && c.label.progress(c).labelled == 0)
        try c.perform(.redo)
        #expect(c.label.labels[.aLines] == true && c.label.progress(c).labelled == 1)
    }

    @Test func carryForwardCopiesThePreviousFrameInOneStep() throws {
        let (c, b) = try make()
        try c.perform(.toggleALines); try c.perform(.severity1)
        try c.perform(.nextFrame)
        try c.perform(.toggleB2Lines)
        let writes = b.writes
        try c.perform(.carryForward)
        #expect(b.writes == writes + 1)
        #expect(c.label.labels == b.labels[ItemRef(mediaSHA256: c.clip.sha256!, frame: 0)])
        try c.perform(.undo)
        #expect(c.frame == 1)
        #expect(c.label.labels[.b2Lines] == true && c.label.labels[.aLines] == nil)
        try c.perform(.redo)
        #expect(c.label.labels[.aLines] == true && c.label.labels[.b2Lines] == nil)
    }

    @Test func videoLevelLabelsUseTheWholeClipItem() throws {
        let (c, b) = try make()
        try c.perform(.videoLevel)
        try c.perform(.severity3)
        let video = ItemRef(mediaSHA256: c.clip.sha256!, frame: nil)
        #expect(b.labels[video]?.severity?.rawValue == 3)
        #expect(c.label.progress(c).labelled == 0)
    }

    @Test func unlabelledOnlySkipsLabelledFrames() throws {
        let (c, _) = try make()
        try c.perform(.nextFrame); try c.perform(.toggleALines)
        try c.perform(.nextFrame); try c.perform(.toggleALines)
        try c.perform(.firstFrame)
        try c.perform(.unlabelledOnly)
        try c.perform(.nextFrame)
        #expect(c.frame == 3)
    }

    @Test func samplingRestrictsTheFramesToLabel() throws {
        let (c, _) = try make("[phantom]\ncount = 2\n[sampling]\nevery = 5\n")
        #expect(c.clip.sampledFrames == [0, 5, 10, 15, 20, 25])
        try c.perform(.nextFrame); #expect(c.frame == 5)
        try c.answer(.goToFrame, with: "7")
        try c.perform(.toggleALines)
        #expect(c.message.isWarning)    // frame 7 is not sampled
        try c.perform(.nextFrame); #expect(c.frame == 10)
        #expect(c.label.progress(c).total == 6 + 3)
    }

    @Test func schemaRefusesOtherFields() throws {
        let (c, b) = try make("[phantom]\ncount = 2\n[schema]\nfindings = [\"b1_lines\"]\nseverity = false\n")
        try c.perform(.toggleALines)
        try c.perform(.severity1)
        #expect(b.writes == 0)
        try c.perform(.toggleB1Lines)
        #expect(b.writes == 1)
    }

    @Test func playbackDropsFramesToKeepTime() throws {
        let (c, _) = try make()
        try c.perform(.playPause, now: 100)
        #expect(c.isPlaying)
        #expect(c.tick(now: 100.05) == false)
        #expect(c.tick(now: 100.35) == true)
        #expect(c.frame == 3)           // 10 fps: frames 1 and 2 were dropped
        #expect(c.tick(now: 110) == true)
        #expect(!c.isPlaying && c.frame == 29)
    }

    /// What a new user hit (issue 10): a finding can go back to not assessed; undo says what it
    /// undid; p returns to the frame the previous clip was left on; 10-frame steps say how far.
    @Test func newUserFixes() throws {
        let (c, b) = try make("[phantom]\ncount = 2\n[sampling]\nevery = 2\n")
        try c.perform(.toggleALines); #expect(c.label.labels[.aLines] == true)
        try c.perform(.toggleALines); #expect(c.label.labels[.aLines] == false)
        try c.perform(.toggleALines); #expect(c.label.labels[.aLines] == nil)
        #expect(c.message.text == "saved: A-lines not assessed (frame 0)")
        #expect(b.labels[c.label.item(in: c)!]?[.aLines] == nil)
        try c.perform(.undo)
        #expect(c.message.text == "undone: A-lines not assessed → absent (frame 0)")
        #expect(c.label.labels[.aLines] == false)
        try c.perform(.forward10)
        #expect(c.frame == 20 && c.message.text == "forward 10 sampled frames: frame 20")
        try c.perform(.nextItem); #expect(c.clipIndex == 1 && c.frame == 0)
        try c.perform(.previousItem)
        #expect(c.clipIndex == 0 && c.frame == 20)
        #expect(c.message.text.contains("back on frame 20"))
        let help = c.bindings().first { $0.action == .forward10 }
        #expect(help?.long == "forward 10 sampled frames")
    }

    @Test func spaceOnTheLastFrameSaysHowToPlayAgain() throws {
        let (c, _) = try make()
        try c.perform(.lastFrame)
        try c.perform(.playPause, now: 10)
        #expect(c.isPlaying && c.frame == 0 && c.message.text.hasPrefix("playing from frame 0"))
        _ = c.tick(now: 20)
        #expect(!c.isPlaying && c.message.text.contains("plays it again from frame 0"))
    }
}
