import Foundation
import PleuraCore
import PleuraTestSupport
import Testing

/// `pleura review --list --json` and the model-versus-reference statistics on phantom clips with
/// their ground truth as the reference and the embedded model's predictions; "seen in training"
/// from a card listing one test clip; and `pleura stats --level video` on the POCUS manifest.
@Suite(.serialized) struct ReviewCLITests {
    static let v2 = TestEnv.packageRoot.appendingPathComponent("Models/pleura-lus-v2.pt")
    static let canRun = ModelCLITests.hasTorch && FileManager.default.fileExists(atPath: v2.path)

    /// Phantom clips, their ground truth imported as `truth`, a second human `bob` who differs on
    /// some items, predictions of `model` (default: the embedded one) on every 10th frame, and a
    /// review session on them.
    static func fixture(_ label: String, model: URL = v2) throws -> (dir: URL, store: String, session: String) {
        let dir = try TestEnv.makeTempDirectory(label)
        let ph = dir.appendingPathComponent("ph")
        let made = try runPleura(["phantom", "-o", ph.path, "--count", "3", "--seed", "5"])
        try #require(made.status == 0, "\(made.stderrText)")
        let store = dir.appendingPathComponent("s.db").path
        let clips = (0..<3).map { ph.appendingPathComponent(String(format: "phantom-%03d.mp4", $0)).path }
        for args in [["add"] + clips + ["--store", store],
                     ["import", ph.appendingPathComponent("labels.csv").path, "--store", store, "--root", ph.path, "--as", "truth"]] {
            let r = try runPleura(args)
            try #require(r.status == 0, "\(args[0]): \(r.stderrText)")
        }
        // bob: the truth with severity one higher on every third frame row and on clip 1's video row.
        let truth = try String(contentsOf: ph.appendingPathComponent("labels.csv"), encoding: .utf8)
        var bob = [Self.labelHeader]
        for (i, line) in truth.split(separator: "\n").dropFirst().enumerated() {
            var f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            f[2] = "bob"
            if (i % 3 == 0 || (f[0] == "phantom-001.mp4" && f[1].isEmpty)), let s = Int(f[7]) { f[7] = String(min(3, s + 1)) }
            bob.append(f.joined(separator: ","))
        }
        let bobFile = dir.appendingPathComponent("bob.csv")
        try (bob.joined(separator: "\n") + "\n").write(to: bobFile, atomically: true, encoding: .utf8)
        for args in [["import", bobFile.path, "--store", store, "--root", ph.path],
                     ["infer", "--store", store, "--model", model.path, "--every", "10", "--quiet"] + clips] {
            let r = try runPleura(args)
            try #require(r.status == 0, "\(args[0]): \(r.stderrText)")
        }
        let session = dir.appendingPathComponent("review.toml").path
        try """
        mode = "review"
        media = ["ph/*.mp4"]
        store = "s.db"
        annotator = "trainee"
        [review]
        reference = "truth"
        """.write(toFile: session, atomically: true, encoding: .utf8)
        return (dir, store, session)
    }
    static let labelHeader = "media,frame,annotator,a_lines,b1_lines,b2_lines,consolidation,severity,quality,note"

    /// The queue as `pleura review --list --json` prints it, one key per entry.
    static func listed(_ args: [String], cwd: URL) throws -> [(key: String, object: [String: Any])] {
        let r = try runPleura(["review"] + args + ["--list", "--json"], cwd: cwd)
        try #require(r.status == 0, "\(r.stderrText)")
        return try r.stdoutText.split(separator: "\n").map { line in
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let diffs = (o["differences"] as? [[String: Any]] ?? []).map { "\($0["field"]!)=\($0["first"]!)>\($0["second"]!)" }.sorted()
            let frame = (o["frame"] as? Int).map(String.init) ?? ""
            return ("\(o["level"]!)|\(o["media"]!)|\(frame)|\(o["kind"]!)|\(o["first"]!)|\(o["second"]!)|\(diffs.joined(separator: ";"))", o)
        }
    }

    /// The same queue computed from `pleura export` CSVs alone: frame answers = the severity class of
    /// highest probability and findings at p ≥ 0.5; clips = the mean probability over their frames;
    /// `b_lines` against B1 or B2; humans pairwise on severity and the four findings.
    static func expected(dir: URL, store: String, excludingModelOn excluded: Set<String> = []) throws -> Set<String> {
        func export(_ kind: String) throws -> [[String]] {
            let out = dir.appendingPathComponent("\(kind).csv").path
            let r = try runPleura(["export", "--store", store, "--kind", kind, "--format", "csv", "-o", out], cwd: dir)
            try #require(r.status == 0, "\(r.stderrText)")
            return try CSV.parse(String(contentsOfFile: out, encoding: .utf8), file: out).dropFirst().map(\.fields)
        }
        let labels = try export("labels"), predictions = try export("predictions")
        // media|frame → annotator → field → value
        var human: [String: [String: [String: Int]]] = [:]
        for row in labels {
            var v: [String: Int] = [:]
            for (i, name) in ["a_lines", "b1_lines", "b2_lines", "consolidation", "severity"].enumerated() where !row[3 + i].isEmpty {
                v[name] = Int(row[3 + i])!
            }
            if v["b1_lines"] == 1 || v["b2_lines"] == 1 { v["b_lines"] = 1 } else if v["b1_lines"] == 0 && v["b2_lines"] == 0 { v["b_lines"] = 0 }
            human["\(row[0])|\(row[1])", default: [:]][row[2]] = v
        }
        // model → media → frame → head/class → p
        var probs: [String: [String: [String: [String: Double]]]] = [:]
        for row in predictions { probs[row[2], default: [:]][row[0], default: [:]][row[1], default: [:]]["\(row[3])/\(row[4])"] = Double(row[5])! }
        func answer(_ frames: [[String: Double]]) -> [String: Int] {
            func mean(_ k: String) -> Double? {
                let ps = frames.compactMap { $0[k] }
                return ps.isEmpty ? nil : ps.reduce(0, +) / Double(ps.count)
            }
            var a: [String: Int] = [:]
            let sev = (0...3).map { mean("severity/\($0)") ?? -1 }
            if let best = sev.max(), best >= 0 { a["severity"] = sev.firstIndex(of: best)! }
            for f in ["a_lines", "b_lines", "consolidation"] { if let p = mean("findings/\(f)") { a[f] = p >= 0.5 ? 1 : 0 } }
            return a
        }
        var out = Set<String>()
        for (model, byMedia) in probs {
            for (media, byFrame) in byMedia where !excluded.contains(media) {
                var items = byFrame.map { ("frame", $0.key, answer([$0.value])) }
                items.append(("video", "", answer(Array(byFrame.values))))
                for (level, frame, m) in items {
                    guard let ref = human["\(media)|\(frame)"]?["truth"] else { continue }
                    let diffs = m.keys.sorted().compactMap { f in ref[f].flatMap { $0 != m[f]! ? "\(f)=\($0)>\(m[f]!)" : nil } }
                    if !diffs.isEmpty { out.insert("\(level)|\(media)|\(frame)|model_vs_reference|truth|\(model)|\(diffs.sorted().joined(separator: ";"))") }
                }
            }
        }
        for (key, byAnnotator) in human {
            let names = byAnnotator.keys.sorted()
            for x in 0..<names.count { for y in (x + 1)..<names.count where y < names.count {
                let a = byAnnotator[names[x]]!, b = byAnnotator[names[y]]!
                let diffs = ["a_lines", "b1_lines", "b2_lines", "consolidation", "severity"].compactMap { f in
                    a[f].flatMap { va in b[f].flatMap { vb in va != vb ? "\(f)=\(va)>\(vb)" : nil } }
                }
                let parts = key.split(separator: "|", omittingEmptySubsequences: false)
                if !diffs.isEmpty { out.insert("\(parts[1].isEmpty ? "video" : "frame")|\(key)|human_vs_human|\(names[x])|\(names[y])|\(diffs.joined(separator: ";"))") }
            } }
        }
        return out
    }

    @Test(.enabled(if: canRun, "skipped: needs /usr/bin/python3 with torch and Models/pleura-lus-v2.pt"))
    func queueEqualsTheSetComputedFromTheExportedCSVs() throws {
        let (dir, store, session) = try Self.fixture("pleura-review-queue")
        defer { try? FileManager.default.removeItem(at: dir) }
        let listed = try Self.listed([session], cwd: dir)
        let keys = listed.map(\.key)
        #expect(Set(keys).count == keys.count, "an item is listed twice")
        let expected = try Self.expected(dir: dir, store: store)
        #expect(!expected.isEmpty)
        #expect(expected.contains { $0.hasPrefix("video|") && $0.contains("model_vs_reference") })
        #expect(expected.contains { $0.contains("human_vs_human") })
        let missing = expected.subtracting(keys), extra = Set(keys).subtracting(expected)
        #expect(missing.isEmpty && extra.isEmpty, "missing \(missing.sorted().prefix(3)), extra \(extra.sorted().prefix(3))")
        // Each level on its own is the same set.
        for level in ["frame", "video"] {
            let one = try Self.listed([session, "--level", level], cwd: dir).map(\.key)
            #expect(Set(one) == expected.filter { $0.hasPrefix(level + "|") })
        }
        // Order: confident model errors first (most confident first), then by size.
        let confident = listed.prefix { $0.object["confident_error"] as? Bool == true }
        let confidences = confident.map { $0.object["confidence"] as! Double }
        #expect(confidences == confidences.sorted(by: >))
        #expect(confidences.allSatisfy { $0 >= 0.8 })
        let sizes = listed.dropFirst(confident.count).map { $0.object["size"] as! Int }
        #expect(sizes == sizes.sorted(by: >))
        // Filters.
        let human = try Self.listed([session, "--source", "human"], cwd: dir)
        #expect(Set(human.map(\.key)) == expected.filter { $0.contains("human_vs_human") })
        let bLines = try Self.listed([session, "--finding", "b_lines", "--source", "model"], cwd: dir)
        #expect(Set(bLines.map(\.key)) == expected.filter { $0.contains("model_vs_reference") && $0.contains("b_lines=") })
        // The stats compare the model's b_lines with B1 or B2.
        let stats = try runPleura(["stats", "--store", store, "--level", "video"], cwd: dir)
        #expect(stats.status == 0 && stats.stdoutText.contains("b_lines (B1|B2)"), "\(stats.stdoutText)")
        #expect(stats.stdoutText.contains("clips: mean of the frame predictions"))
        let bad = try runPleura(["review", session, "--list", "--reference", "nobody"], cwd: dir)
        #expect(bad.status == 1 && bad.stderrText.hasPrefix("pleura: ") && bad.stderrText.contains("no annotator named 'nobody'"))
    }

    @Test(.enabled(if: canRun, "skipped: needs /usr/bin/python3 with torch and Models/pleura-lus-v2.pt"))
    func predictionsOnACardsTrainingFilesAreMarkedAndExcluded() throws {
        // The embedded model under another name, its card listing one of the test clips.
        let dir = try TestEnv.makeTempDirectory("pleura-review-card")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("listed.pt")
        try FileManager.default.copyItem(at: Self.v2, to: model)
        // The phantom clips are deterministic (seed 5): make one to learn its hash.
        let probe = dir.appendingPathComponent("probe")
        #expect(try runPleura(["phantom", "-o", probe.path, "--count", "3", "--seed", "5"]).status == 0)
        let listedClip = "phantom-001.mp4"
        let sha = try SHA256.hexOfFile(atPath: probe.appendingPathComponent(listedClip).path)
        var card = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.v2.deletingPathExtension().appendingPathExtension("json"))) as? [String: Any])
        var training = try #require(card["training"] as? [String: Any])
        training["files_sha256"] = [["path": "ph/" + listedClip, "sha256": sha]]
        card["training"] = training
        try JSONSerialization.data(withJSONObject: card).write(to: dir.appendingPathComponent("listed.json"))

        let (fdir, store, session) = try Self.fixture("pleura-review-card-store", model: model)
        defer { try? FileManager.default.removeItem(at: fdir) }
        let card1 = ["--card", model.path]
        let excluded = try Self.listed([session] + card1, cwd: fdir)
        #expect(!excluded.contains { $0.key.contains(listedClip) && $0.key.contains("model_vs_reference") })
        #expect(Set(excluded.map(\.key)) == (try Self.expected(dir: fdir, store: store, excludingModelOn: ["ph/" + listedClip])))
        let kept = try Self.listed([session, "--include-training"] + card1, cwd: fdir)
        let onListed = kept.filter { $0.key.contains(listedClip) && $0.key.contains("model_vs_reference") }
        #expect(!onListed.isEmpty && onListed.allSatisfy { $0.object["seen_in_training"] as? Bool == true })
        #expect(kept.filter { !$0.key.contains(listedClip) }.allSatisfy { $0.object["seen_in_training"] as? Bool == false })
        // Stats: left out by default and counted; kept with --include-training.
        func severityN(_ extra: [String]) throws -> (n: Int, seen: Int) {
            let r = try runPleura(["stats", "--store", store, "--json"] + card1 + extra, cwd: fdir)
            try #require(r.status == 0, "\(r.stderrText)")
            let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdoutText.utf8)) as? [String: Any])
            let m = try #require((o["model"] as? [[String: Any]])?.first)
            let sev = try #require((m["severity"] as? [[String: Any]])?.first { $0["annotator"] as? String == "truth" })
            return (sev["n"] as! Int, m["seen_in_training"] as! Int)
        }
        let without = try severityN([]), with = try severityN(["--include-training"])
        #expect(without.seen > 0 && without.seen == with.seen)
        #expect(with.n == without.n + without.seen, "every seen item has a truth label")
        let text = try runPleura(["stats", "--store", store] + card1, cwd: fdir)
        #expect(text.stdoutText.contains("left out (seen in training"), "\(text.stdoutText)")
    }

    @Test(.enabled(if: canRun && TestEnv.pocusDirectory != nil,
                   "skipped: needs python3 with torch, Models/pleura-lus-v2.pt and ../shared/data/pocus"))
    func pocusVideoLevelStatsShowModelVersusReferenceRows() throws {
        let root = try #require(TestEnv.pocusDirectory)
        let dir = try TestEnv.makeTempDirectory("pleura-review-pocus")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = dir.appendingPathComponent("p.db").path
        let imported = try runPleura(["import", root.appendingPathComponent("manifest.csv").path, "--store", store, "--as", "reference"])
        try #require(imported.status == 0, "\(imported.stderrText)")
        let files = try PocusManifest.entries().map(\.url.path)
        let inferred = try runPleura(["infer", "--store", store, "--every", "60", "--quiet"] + files)
        try #require(inferred.status == 0, "\(inferred.stderrText)")
        // The embedded model was trained on all of POCUS: by default nothing is left to compare…
        let honest = try runPleura(["stats", "--store", store, "--level", "video"])
        #expect(honest.status == 0)
        #expect(honest.stdoutText.contains("items on its training files left out"), "\(honest.stdoutText)")
        // … and with --include-training the rows are there (training-set figures, marked as such).
        let r = try runPleura(["stats", "--store", store, "--level", "video", "--include-training"])
        #expect(r.status == 0, "\(r.stderrText)")
        let out = r.stdoutText
        #expect(out.contains("counted (--include-training)"))
        for field in ["severity", "a_lines", "b_lines (B1|B2)", "consolidation"] {
            let row = out.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(field + " ") && $0.contains("reference") }
            #expect(row != nil, "no \(field) row for the reference in:\n\(out)")
            if let row, let n = row.split(separator: " ").dropFirst(field.split(separator: " ").count + 1).first.flatMap({ Int($0) }) {
                #expect(n > 0, "\(row)")
            }
        }
    }
}
