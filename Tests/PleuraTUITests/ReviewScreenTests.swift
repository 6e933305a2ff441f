import Foundation
import Testing
import PleuraCore
import PleuraStore
import PleuraTestSupport

/// The real `pleura review` in a quiz (tmux, half-blocks) on phantom clips with their ground truth
/// as the reference and the embedded model's predictions: the others' answers are hidden until the
/// trainee locks an answer, then shown; the answer, the revealed values and the agreement are
/// stored as review rows; a flag is exported; the progress screen shows the agreement.
@Suite(.serialized) struct ReviewScreenTests {
    static let model = TestEnv.packageRoot.appendingPathComponent("Models/pleura-lus-v2.pt")
    static let ready = LabellingScreenTests.toolsPresent && FileManager.default.fileExists(atPath: model.path)

    static func pleura(_ args: [String], cwd: URL, env: [String: String]) throws {
        let r = try runPleura(args, cwd: cwd, environment: env)
        try #require(r.status == 0, "pleura \(args.first ?? ""): \(r.stderrText)")
    }

    @Test(.enabled(if: ready, "skipped: tmux/ffmpeg or Models/pleura-lus-v2.pt is missing"))
    func quizHidesAnswersUntilTheTraineeCommitsThenRevealsAndStores() throws {
        let dir = try TestEnv.makeTempDirectory("pleura-review-tmux")
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = LabellingScreenTests.environment(dir)
        let store = dir.appendingPathComponent("s.db").path
        try Self.pleura(["phantom", "-o", "ph", "--count", "2", "--seed", "3"], cwd: dir, env: env)
        try Self.pleura(["add", "ph/phantom-000.mp4", "ph/phantom-001.mp4", "--store", store], cwd: dir, env: env)
        try Self.pleura(["import", "ph/labels.csv", "--store", store, "--root", "ph", "--as", "truth"], cwd: dir, env: env)
        try Self.pleura(["infer", "--store", store, "--model", Self.model.path, "--every", "20", "--quiet",
                         "ph/phantom-000.mp4", "ph/phantom-001.mp4"], cwd: dir, env: env)
        let session = dir.appendingPathComponent("quiz.toml")
        try """
        name = "quiz"
        mode = "review"
        media = ["ph/*.mp4"]
        store = "s.db"
        annotator = "kim"
        [review]
        reference = "truth"
        quiz = true
        """.write(to: session, atomically: true, encoding: .utf8)

        let driver = try TmuxDriver(command: "exec \"\(TestEnv.pleuraBinary.path)\" run \"\(session.path)\" --graphics halfblock",
                                    environment: env, cwd: dir)
        guard let hidden = driver.wait(timeout: 120, { $0.contains("Answers hidden") }) else {
            Issue.record("the review screen did not appear:\n\(driver.screen())"); return
        }
        // Before the answer: nothing of the reference, the model or why the item is queued.
        for secret in ["Reference (", "Model ", "(p ", "Disagree", "seen in training"] {
            #expect(!hidden.contains(secret), "'\(secret)' shown before the answer:\n\(hidden)")
        }
        #expect(hidden.contains("review mode") && hidden.contains("Item 1 of"))
        // The answer being written stays hidden too.
        _ = driver.press("2")
        let drafted = try #require(driver.press("a"))
        #expect(drafted.contains("severity 2") && drafted.contains("A-lines yes") && drafted.contains("Answers hidden"), "\(drafted)")
        #expect(!drafted.contains("Reference ("))
        // Locking it reveals the others.
        driver.send("Enter")
        let revealed = try #require(driver.wait(timeout: 10) { $0.contains("saved: your answer") }, "\(driver.screen())")
        #expect(revealed.contains("Reference (truth)") && revealed.contains("Model ") && revealed.contains("(p "), "\(revealed)")
        #expect(revealed.contains("Your answer (locked)") && !revealed.contains("Answers hidden"))
        let agreement = try #require(revealed.firstMatch(of: /you agree with the reference on (\d) of (\d)/), "\(revealed)")
        // The answer is locked: another severity key is refused.
        let refused = try #require(driver.press("3"))
        #expect(refused.contains("locked"), "\(refused)")
        // Flag the reference, then the progress screen.
        driver.send("F")
        #expect(driver.wait(timeout: 10) { $0.contains("saved: flagged") } != nil, "\(driver.screen())")
        let progress = try #require(driver.press("P"))
        #expect(progress.contains("Agreement with the reference") && progress.contains("severity"), "\(progress)")
        #expect(progress.contains("Severity: reference ↓ × you →"), "\(progress)")
        driver.send("q")
        _ = driver.wait(timeout: 10) { !$0.contains("review mode") }
        driver.close()

        // The store holds the answer, the values shown after the reveal and the agreement.
        let db = try AnnotationStore.open(path: store)
        let kim = try #require(try db.annotator(named: "kim"))
        #expect(kim.role == .trainee)
        let rows = try db.reviews().filter { $0.annotatorID == kim.id }
        let answers = rows.filter { $0.field == "severity" || $0.field == "a_lines" }
        #expect(answers.map(\.field).sorted() == ["a_lines", "severity"])
        let item = try #require(answers.first?.item)
        let truth = try db.currentLabels(item: item, annotator: try #require(try db.annotator(named: "truth")))
        let sev = try #require(answers.first { $0.field == "severity" })
        #expect(sev.ownValue == "2" && sev.firstSource == "truth" && sev.firstValue == truth.severity.map { String($0.rawValue) })
        #expect(sev.secondSource.hasPrefix("model:") && sev.secondValue != nil)
        #expect(revealed.contains("severity \(sev.firstValue ?? "–")"))
        let a = try #require(answers.first { $0.field == "a_lines" })
        #expect(a.ownValue == "1" && a.firstValue == truth[.aLines].map { $0 ? "1" : "0" })
        for r in answers {
            let agrees = r.ownValue == r.firstValue
            #expect(agrees == (r.verdict == .first || r.verdict == .both), "\(r.field): \(r.verdict)")
        }
        let agreed = answers.filter { $0.firstValue != nil && ($0.verdict == .first || $0.verdict == .both) }.count
        #expect("\(agreed)" == String(agreement.1) && "\(answers.filter { $0.firstValue != nil }.count)" == String(agreement.2))
        #expect(rows.contains { $0.field == "reference_flag" && $0.item == item })
        let exported = try runPleura(["export", "--store", store, "--kind", "reviews", "--format", "csv", "-o", "-"], cwd: dir, environment: env)
        #expect(exported.stdoutText.contains(",reference_flag,truth,"), "\(exported.stdoutText)")

        // The review report of this store: self-contained, with the matrices, the progress and the flag.
        let report = try runPleura(["report", "review", "--store", store, "-o", "report", "--reference", "truth"], cwd: dir, environment: env)
        #expect(report.status == 0, "\(report.stderrText)")
        let page = dir.appendingPathComponent("report/index.html")
        let html = try String(contentsOf: page, encoding: .utf8)
        for remote in ["http://", "https://", "<script", "src=", "@import"] { #expect(!html.contains(remote), "page has \(remote)") }
        #expect(html.contains("Model versus reference (frame level)") && html.contains("b_lines (B1|B2)"))
        #expect(html.contains("severity · kim") && html.contains("<tr class=\"flag\">"))
        guard let chromium = TestEnv.which("chromium") else { return }   // (make test installs it)
        let home = dir.appendingPathComponent("home").path
        let shot = dir.appendingPathComponent("report.png")
        let r = try runProgram(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(home)",
                                          "--window-size=1200,900", "--screenshot=\(shot.path)", page.absoluteString], environment: ["HOME": home])
        #expect(r.status == 0, "\(r.stderrText.suffix(500))")
        let png = try Data(contentsOf: shot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000, "screenshot of \(png.count) bytes")
        let dom = try runProgram(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(home)",
                                            "--dump-dom", page.absoluteString], environment: ["HOME": home]).stdoutText
        #expect(dom.components(separatedBy: "data-chart=\"confusion\"").count > 8, "confusion matrices drawn")
        #expect(dom.components(separatedBy: "<rect class=\"cell\"").count > 40, "matrix cells drawn")
        #expect(dom.contains("data-chart=\"progress\"") && dom.contains("<circle class=\"dot\""), "progress drawn")
    }
}
