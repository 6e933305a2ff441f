import Foundation
import Testing
import PleuraCore
import PleuraTestSupport

/// `pleura label` on a DICOM clip whose patient attributes are set, in tmux: the screen (every
/// frame stepped through, the help overlay) never shows the name, ID, birth date or study date.
@Suite(.serialized, .enabled(if: DicomReference.available && TestEnv.which("tmux") != nil,
                             "\(DicomReference.available ? "skipped: tmux is not installed" : DicomReference.missing)"))
struct DicomLabellingPrivacyTests {
    @Test func labellingScreenOnADicomClipShowsNoPatientAttribute() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-dicom-tui")
        defer { try? FileManager.default.removeItem(at: dir) }
        let frames = (1...6).map { TestFrames.lung(width: 160, height: 120, seed: UInt64($0)).toRGB() }
        let files = try DicomReference.make(frames: frames, in: dir, patient: ("ZZPRIVATE^NAME", "ZZPID4711", "19010203"))
        let clips = dir.appendingPathComponent("clips")
        try FileManager.default.createDirectory(at: clips, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: files["patient"]!, to: clips.appendingPathComponent("exam.dcm"))
        let session = dir.appendingPathComponent("session.toml")
        try """
        name = "dicom privacy"
        mode = "label"
        media = ["clips/*.dcm"]
        store = "labels.sqlite"
        annotator = "tester"
        """.write(to: session, atomically: true, encoding: .utf8)
        let env = ["PLEURA_CACHE_DIR": dir.appendingPathComponent("cache").path, "XDG_CONFIG_HOME": dir.appendingPathComponent("config").path,
                   "LANG": "C.UTF-8", "TERM": "tmux-256color"]
        let driver = try TmuxDriver(command: "exec \"\(TestEnv.pleuraBinary.path)\" label \"\(session.path)\" --graphics halfblock",
                                    environment: env, cwd: dir)
        let first = try #require(driver.wait(timeout: 60) { $0.contains("Progress") }, "no labelling screen:\n\(driver.screen())")
        var screens = [first]
        for key in ["l", "l", "l", "a", "l", "l", "?"] {
            screens.append(driver.press(key) ?? driver.screen())
        }
        let all = screens.joined(separator: "\n")
        #expect(all.contains("exam.dcm"), "the clip is not on screen:\n\(first)")
        for secret in ["ZZPRIVATE", "ZZPID4711", "19010203", "20240229", "1901-02-03"] {
            #expect(!all.contains(secret), "the screen shows \(secret):\n\(all)")
        }
        driver.send("q")
        _ = driver.wait(timeout: 10) { _ in driver.paneDead }
        let store = try Data(contentsOf: dir.appendingPathComponent("labels.sqlite"))
        #expect(store.range(of: Data("ZZPID4711".utf8)) == nil && store.range(of: Data("ZZPRIVATE".utf8)) == nil)
    }
}
