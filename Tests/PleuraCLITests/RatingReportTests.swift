import Foundation
import PleuraCore
import PleuraTestSupport
import Testing

/// A small realistic panel study, made the way a user would: `pleura phantom` clips, `pleura add`,
/// `pleura ratings simulate` (the embedded model's real Grad-CAM and LayerCAM maps, simulated
/// raters writing through the rating store API). One study per test process, built once.
enum RatingStudyFixture {
    struct Study: Sendable {
        let dir: URL
        let store: String
    }

    static let embedded = TestEnv.packageRoot.appendingPathComponent("Models/pleura-lus-v1.pt")
    static var available: Bool { FileManager.default.fileExists(atPath: embedded.path) }

    /// A fresh study in its own folder: 3 clips × 3 frames, 3 raters, paired Grad-CAM vs LayerCAM.
    static func make(_ label: String, clips: Int = 3, raters: Int = 3, seed: Int = 11, wholeClips: Int = 0) throws -> Study {
        let dir = try TestEnv.makeTempDirectory(label)
        let store = dir.appendingPathComponent("study.sqlite").path
        let env = ["PLEURA_MODEL": embedded.path]
        for args in [["phantom", "-o", dir.appendingPathComponent("clips").path, "--count", String(clips), "--seed", String(seed)],
                     ["add", dir.appendingPathComponent("clips").path, "--store", store],
                     ["ratings", "simulate", "--store", store, "--raters", String(raters), "--frames", "3", "--seed", String(seed),
                      "--whole-clips", String(wholeClips)]] {
            let r = try runPleura(args, cwd: dir, environment: env)
            try #require(r.status == 0, "pleura \(args.joined(separator: " ")): \(r.stderrText)")
        }
        return Study(dir: dir, store: store)
    }
}

@Suite(.serialized) struct RatingReportTests {
    @Test(.enabled(if: RatingStudyFixture.available, "skipped: Models/pleura-lus-v1.pt is absent (the study maps need the embedded model)"))
    func reportNumbersEqualScipySklearnAndKrippendorffFromTheExportedCSV() throws {
        let study = try RatingStudyFixture.make("pleura-rating-report")
        defer { try? FileManager.default.removeItem(at: study.dir) }
        let csv = study.dir.appendingPathComponent("ratings.csv").path
        let export = try runPleura(["export", "--store", study.store, "--kind", "ratings", "--format", "csv", "-o", csv], cwd: study.dir)
        #expect(export.status == 0, "\(export.stderrText)")
        let report = try runPleura(["report", "ratings", "--store", study.store, "-o", "report"], cwd: study.dir)
        #expect(report.status == 0, "\(report.stderrText)")
        let numbers = study.dir.appendingPathComponent("report/numbers.csv").path
        let text = try String(contentsOfFile: numbers, encoding: .utf8)
        for needle in ["agreement,all,krippendorff_alpha_ordinal_ci_low,", "paired,comparison=gradcam vs layercam,wilcoxon_p,",
                       "distribution,method=layercam,share_positive,", "patterns,pattern=pleural_line method=gradcam,rate,"] {
            #expect(text.contains(needle), "numbers.csv has \(needle)")
        }
        // `pleura stats` shows the same figures (its JSON holds every number of the CSV).
        let stats = try runPleura(["stats", "--store", study.store, "--json"], cwd: study.dir)
        let object = try #require(try JSONSerialization.jsonObject(with: stats.stdout) as? [String: Any])
        let studyJSON = try #require(object["rating_study"] as? [String: [String: [String: Any]]])
        var compared = 0
        for line in text.split(separator: "\n").dropFirst() {
            let f = try CSV.parse(String(line) + "\n", file: "numbers.csv")[0].fields
            let value = studyJSON[f[0]]?[f[1]]?[f[2]]
            // Foundation's JSON parser on Linux is not exact to the last bit of a double.
            if f[3].isEmpty { #expect(value is NSNull, "\(f)") } else {
                let a = try #require(value as? Double, "\(f)"), b = try #require(Double(f[3]))
                #expect(abs(a - b) <= 1e-12 * max(1, abs(b)), "\(f)")
            }
            compared += 1
        }
        #expect(compared > 200)
        let (python, why) = ReferenceVenv.agreement
        guard let python else {
            print("skipped the scipy/scikit-learn/krippendorff recomputation: \(why)")
            return
        }
        let check = try runProgram(python, [TestEnv.packageRoot.appendingPathComponent("Scripts/rating_report_reference.py").path,
                                            csv, numbers])
        #expect(check.status == 0, "\(check.stdoutText)\(check.stderrText)")
        #expect(check.stdoutText.contains(" 0 differ"), "\(check.stdoutText)")
        print("rating report vs reference: \(check.stdoutText.split(separator: "\n").last ?? "")")
    }

    @Test(.enabled(if: RatingStudyFixture.available, "skipped: Models/pleura-lus-v1.pt is absent (the study maps need the embedded model)"),
          .enabled(if: TestEnv.which("chromium") != nil, "skipped: chromium is not installed (make test installs it)"))
    func reportRendersInHeadlessChromium() throws {
        let study = try RatingStudyFixture.make("pleura-rating-chromium")
        defer { try? FileManager.default.removeItem(at: study.dir) }
        let out = study.dir.appendingPathComponent("report")
        let report = try runPleura(["report", "ratings", "--store", study.store, "-o", out.path, "--title", "Panel <study> & co"],
                                   cwd: study.dir)
        #expect(report.status == 0, "\(report.stderrText)")
        let page = out.appendingPathComponent("index.html")
        let html = try String(contentsOf: page, encoding: .utf8)
        // Self-contained: nothing is fetched from anywhere.
        for remote in ["http://", "https://", "<script", "src=", "@import"] { #expect(!html.contains(remote), "page has \(remote)") }
        #expect(html.contains("Panel &lt;study&gt; &amp; co"))
        let shot = study.dir.appendingPathComponent("shot.png")
        let chromium = TestEnv.which("chromium")!
        let home = study.dir.appendingPathComponent("home").path   // chromium writes its profile here, not in ~
        let r = try runProgram(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(home)",
                                          "--window-size=1200,900", "--screenshot=\(shot.path)", page.absoluteString],
                               environment: ["HOME": home])
        #expect(r.status == 0, "\(r.stderrText.suffix(500))")
        let png = try Data(contentsOf: shot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000, "screenshot of \(png.count) bytes")
        // The DOM Chromium built holds every chart with its marks.
        let dom = try runProgram(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(home)",
                                            "--dump-dom", page.absoluteString], environment: ["HOME": home]).stdoutText
        for chart in ["distribution", "means", "agreement", "better", "patterns"] {
            #expect(dom.contains("data-chart=\"\(chart)\""), "chart \(chart) rendered")
        }
        #expect(dom.components(separatedBy: "<rect class=\"bar\"").count > 40, "bars drawn")
        #expect(dom.components(separatedBy: "<circle class=\"dot\"").count > 10, "mean dots drawn")
        // The screenshot is a drawn page, not a blank one: the seven rating colours are there.
        if let convert = TestEnv.which("convert") {
            let colours = try runProgram(convert, [shot.path, "-format", "%k", "info:"]).stdoutText
            #expect((Int(colours.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 50, "distinct colours: \(colours)")
        }
    }

    @Test(.enabled(if: RatingStudyFixture.available, "skipped: Models/pleura-lus-v1.pt is absent (the study maps need the embedded model)"),
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "skipped: /usr/bin/python3 (to alter the store) is absent"))
    func verifyPassesOnAFreshStudyAndNamesTheItemWhoseMapWasAltered() throws {
        // 2 clips × 3 frames × 2 maps, plus one whole clip rated with its per-frame maps.
        let study = try RatingStudyFixture.make("pleura-rating-verify", clips: 2, raters: 2, wholeClips: 1)
        defer { try? FileManager.default.removeItem(at: study.dir) }
        let env = ["PLEURA_MODEL": RatingStudyFixture.embedded.path]
        let fresh = try runPleura(["ratings", "verify", "--store", study.store], cwd: study.dir, environment: env)
        #expect(fresh.status == 0, "\(fresh.stdoutText)\(fresh.stderrText)")
        #expect(fresh.stdoutText.contains("13 of 13 rated maps reproduced bit for bit (26 ratings)"), "\(fresh.stdoutText)")
        #expect(fresh.stderrText.contains("verify 13/13 maps") && fresh.stderrText.contains("done in"), "progress: \(fresh.stderrText)")

        // Alter one stored map (a pixel of its data; the append-only trigger dropped as an attacker
        // or a broken tool would) and the hash one rating recorded for another map.
        let script = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.execute("DROP TRIGGER heatmap_is_append_only_update")
            db.execute("DROP TRIGGER heatmap_context_is_append_only_update")
            rows = db.execute("SELECT h.id, p.path, h.frame, h.method, h.data FROM heatmap h JOIN media_path p ON p.media_id = h.media_id"
                              " JOIN heatmap_context c ON c.heatmap_sha256 = h.sha256 ORDER BY h.id").fetchall()
            hid, path, frame, method, data = rows[0]
            data = bytearray(data); data[-1] ^= 0x01
            db.execute("UPDATE heatmap SET data = ? WHERE id = ?", (bytes(data), hid))
            _, path2, frame2, method2, _ = rows[-1]
            db.execute("UPDATE heatmap_context SET heatmap_sha256 = ? WHERE method = ? AND heatmap_sha256 = (SELECT sha256 FROM heatmap WHERE id = ?)", ("0" * 64, method2, rows[-1][0]))
            db.commit()
            print(path, frame, method); print(path2, frame2, method2)
            """
        let altered = try runProgram("/usr/bin/python3", ["-c", script, study.store])
        try #require(altered.status == 0, "\(altered.stderrText)")
        let names = altered.stdoutText.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        try #require(names.count == 2)
        let after = try runPleura(["ratings", "verify", "--store", study.store], cwd: study.dir, environment: env)
        #expect(after.status == 1)
        let lines = after.stdoutText.split(separator: "\n").map(String.init)
        let damaged = lines.first { $0.hasPrefix("\(names[0][0]) frame \(names[0][1]) (\(names[0][2]),") }
        #expect(damaged?.contains("DIFFERS: the stored map cannot be read back") == true, "\(after.stdoutText)")
        let rehashed = lines.first { $0.hasPrefix("\(names[1][0]) frame \(names[1][1]) (\(names[1][2]),") }
        #expect(rehashed?.contains("DIFFERS: rated map 0000000000000000…, regenerated") == true, "\(after.stdoutText)")
        #expect(lines.last == "11 of 13 rated maps reproduced bit for bit (26 ratings); 2 differ or could not be checked", "\(after.stdoutText)")
    }
}
