import Foundation
import Testing
import PleuraCore
import PleuraTestSupport

// `pleura add / import / export / stats` driven as a user would.

/// Two tiny clips made with the ffmpeg CLI in a fresh folder.
private func makeClips() throws -> URL {
    let dir = try TestEnv.makeTempDirectory("pleura-cli-store")
    let media = dir.appendingPathComponent("media")
    try FileManager.default.createDirectory(at: media, withIntermediateDirectories: true)
    for (name, pattern) in [("one clip.mp4", "testsrc"), ("two.mp4", "smptebars")] {
        let r = try runProgram(TestEnv.which("ffmpeg")!, ["-v", "error", "-f", "lavfi", "-i", "\(pattern)=size=64x48:rate=10",
                                                          "-frames:v", "6", "-pix_fmt", "yuv420p", media.appendingPathComponent(name).path])
        #expect(r.status == 0, "\(r.stderrText)")
    }
    return dir
}

@Test(.enabled(if: TestEnv.which("ffmpeg") != nil, "skipped: ffmpeg is not installed"))
func addImportExportStatsRoundTrip() throws {
    let dir = try makeClips()
    let media = dir.appendingPathComponent("media").path
    let storeA = dir.appendingPathComponent("a.sqlite").path
    let add = try runPleura(["add", media, "--store", storeA])
    #expect(add.status == 0, "\(add.stderrText)")
    #expect(add.stdoutText.contains("2 added"))
    // Adding again: nothing new.
    #expect(try runPleura(["add", media, "--store", storeA]).stdoutText.contains("0 added, 0 moved, 2 already registered"))

    let csv = #"""
        media,frame,annotator,a_lines,b1_lines,b2_lines,consolidation,severity,quality,note
        one clip.mp4,,alice,1,0,,,0,ok,"whole clip, ""fine"""
        one clip.mp4,0,alice,1,,,,1,,
        one clip.mp4,0,bob,0,1,,,2,poor,"two
        lines"
        two.mp4,5,bob,,,1,1,3,,ünïcödé

        """#
    let labels = dir.appendingPathComponent("labels.csv")
    try csv.write(to: labels, atomically: true, encoding: .utf8)
    let imp = try runPleura(["import", labels.path, "--store", storeA, "--root", media])
    #expect(imp.status == 0, "\(imp.stderrText)")
    #expect(imp.stdoutText.contains("4 rows"))

    let out1 = dir.appendingPathComponent("out1.csv").path
    #expect(try runPleura(["export", "--store", storeA, "--format", "csv", "-o", out1, "--root", media]).status == 0)
    #expect(try String(contentsOfFile: out1, encoding: .utf8) == csv)
    // Exporting again over the same file replaces it.
    #expect(try runPleura(["export", "--store", storeA, "--format", "csv", "-o", out1, "--root", media]).status == 0)
    #expect(try String(contentsOfFile: out1, encoding: .utf8) == csv)

    // Into an empty store (media added first), and out again: the same bytes.
    let storeB = dir.appendingPathComponent("b.sqlite").path
    #expect(try runPleura(["add", media, "--store", storeB]).status == 0)
    #expect(try runPleura(["import", out1, "--store", storeB, "--root", media]).status == 0)
    let out2 = dir.appendingPathComponent("out2.csv").path
    #expect(try runPleura(["export", "--store", storeB, "--format", "csv", "-o", out2, "--root", media]).status == 0)
    #expect(try Data(contentsOf: URL(fileURLWithPath: out2)) == Data(contentsOf: URL(fileURLWithPath: out1)))

    // JSON Lines and Label Studio exports parse.
    let jsonl = try runPleura(["export", "--store", storeA, "--format", "jsonl", "-o", "-", "--root", media])
    #expect(jsonl.stdoutText.split(separator: "\n").count == 4)
    let ls = try runPleura(["export", "--store", storeA, "--format", "labelstudio", "-o", "-", "--root", media])
    #expect((try JSONSerialization.jsonObject(with: ls.stdout) as? [Any])?.count == 3)

    // Statistics: the JSON keys the issue lists.
    let stats = try runPleura(["stats", "--store", storeA, "--json"])
    #expect(stats.status == 0, "\(stats.stderrText)")
    let object = try #require(try JSONSerialization.jsonObject(with: stats.stdout) as? [String: Any])
    let severity = try #require(object["severity"] as? [String: Any])
    #expect(severity.keys.contains("krippendorff_alpha_ordinal") && severity.keys.contains("fleiss_kappa"))
    let pair = try #require((severity["pairwise"] as? [[String: Any]])?.first)
    #expect(Set(pair.keys).isSuperset(of: ["a", "b", "n", "cohen_kappa", "quadratic_kappa"]))
    #expect(pair["a"] as? String == "alice" && pair["b"] as? String == "bob" && pair["n"] as? Int == 1)
    let findings = try #require(object["findings"] as? [String: Any])
    for name in ["a_lines", "b1_lines", "b2_lines", "consolidation"] {
        let f = try #require(findings[name] as? [String: Any], "\(name)")
        #expect(f.keys.contains("fleiss_kappa") && f.keys.contains("krippendorff_alpha_nominal") && f.keys.contains("pairwise"))
    }
    #expect(object["ratings"] is [String: Any] && object["model"] is [Any])
    let table = try runPleura(["stats", "--store", storeA, "--level", "video"])
    #expect(table.stdoutText.contains("video-level labels: 1 items"))
    // A moved file keeps its identity (and export follows it); a changed file is flagged.
    let moved = dir.appendingPathComponent("moved.mp4").path
    try FileManager.default.copyItem(atPath: media + "/two.mp4", toPath: moved)
    let m = try runPleura(["add", moved, "--store", storeA])
    #expect(m.stdoutText.contains("0 added, 1 moved") && m.stderrText.contains("same content as"))
    try FileManager.default.removeItem(atPath: moved)
    try FileManager.default.copyItem(atPath: media + "/one clip.mp4", toPath: moved)
    let changed = try runPleura(["add", moved, "--store", storeA])
    #expect(changed.stderrText.contains("changed since it was registered"))
    // "two" content was last seen at moved.mp4, which now holds "one clip": it is named by hash.
    let after = try runPleura(["export", "--store", storeA, "--format", "csv", "-o", "-", "--root", media])
    let twoSHA = try SHA256.hexOfFile(atPath: media + "/two.mp4")
    #expect(after.stdoutText.contains("\nsha256:\(twoSHA),5,bob,,,1,1,3,,ünïcödé\n"))
    #expect(after.stdoutText.contains("\n../moved.mp4,0,alice,1,"))
    // And such a file imports back by hash.
    let storeC = dir.appendingPathComponent("c.sqlite").path
    #expect(try runPleura(["add", media, "--store", storeC]).status == 0)
    let afterFile = dir.appendingPathComponent("after.csv")
    try after.stdout.write(to: afterFile)
    let back = try runPleura(["import", afterFile.path, "--store", storeC, "--root", media])
    #expect(back.status == 0, "\(back.stderrText)")
}

@Test(.enabled(if: TestEnv.which("ffmpeg") != nil, "skipped: ffmpeg is not installed"))
func badImportsFailWithOneLineAndRecordNothing() throws {
    let dir = try makeClips()
    let media = dir.appendingPathComponent("media").path
    let store = dir.appendingPathComponent("s.sqlite").path
    #expect(try runPleura(["add", media, "--store", store]).status == 0)
    let header = "media,frame,annotator,a_lines,b1_lines,b2_lines,consolidation,severity,quality,note\r\n"
    let bad = dir.appendingPathComponent("bad.csv")
    try ("\u{FEFF}" + header + "two.mp4,1,alice,1,,,,2,ok,\r\ntwo.mp4,2,alice,1,,,,4,ok,\r\n").write(to: bad, atomically: true, encoding: .utf8)
    let r = try runPleura(["import", bad.path, "--store", store, "--root", media])
    #expect(r.status == 1)
    #expect(r.stderrText == "pleura: \(bad.path): line 3: severity '4' must be 0, 1, 2, 3 or empty\n")
    let out = try runPleura(["export", "--store", store, "--format", "csv", "-o", "-"])
    #expect(out.stdoutText == header.replacingOccurrences(of: "\r\n", with: "\n"))

    let unknown = dir.appendingPathComponent("unknown.csv")
    try (header + "three.mp4,1,alice,1,,,,2,ok,\r\n").write(to: unknown, atomically: true, encoding: .utf8)
    let u = try runPleura(["import", unknown.path, "--store", store, "--root", media])
    #expect(u.status == 1 && u.stderrText.contains("line 2: unknown media 'three.mp4'") && u.stderrText.contains("pleura add"))

    // Not a database, and a database of another program: one line naming the file, file untouched.
    let notes = dir.appendingPathComponent("notes.txt")
    try "not a store\n".write(to: notes, atomically: true, encoding: .utf8)
    let n = try runPleura(["stats", "--store", notes.path])
    #expect(n.status == 1)
    #expect(n.stderrText == "pleura: \(notes.path): not a Pleura store: the file is not an SQLite database (give a new file name to create a store)\n")
    #expect(try String(contentsOf: notes, encoding: .utf8) == "not a store\n")
    let missing = try runPleura(["export", "--store", dir.appendingPathComponent("none.sqlite").path, "--format", "csv", "-o", "-"])
    #expect(missing.status == 1 && missing.stderrText.contains("no such store"))
}

@Test(.enabled(if: TestEnv.pocusDirectory != nil, "\(TestEnv.pocusMissing)"))
func pocusManifestImportsAsReference() throws {
    let pocus = try #require(TestEnv.pocusDirectory)
    let dir = try TestEnv.makeTempDirectory("pleura-cli-pocus")
    let store = dir.appendingPathComponent("pocus.sqlite").path
    let r = try runPleura(["import", pocus.appendingPathComponent("manifest.csv").path, "--format", "pocus", "--as", "reference",
                           "--store", store])
    #expect(r.status == 0, "\(r.stderrText)")
    #expect(r.stdoutText.contains("155 rows") && r.stdoutText.contains("155 media registered"))
    let out = try runPleura(["export", "--store", store, "--format", "csv", "-o", "-", "--root", pocus.path])
    let lines = out.stdoutText.split(separator: "\n").map(String.init)
    #expect(lines.count == 156)
    // b_lines=1 → B1; a flag 0 stays not assessed; severity 2 kept; extra flags in the note.
    #expect(lines.contains("pocus_videos/convex/Cov-Atlas-+(43).gif,,reference,,1,,,2,,pocus class: covid; also: pleural irregularities"))
    // A severity of 0 is a real score (regular lung), A-lines present.
    #expect(lines.contains("pocus_videos/convex/Reg-Atlas-alines.gif,,reference,1,,,,0,,pocus class: regular"))
    // Importing again records nothing new.
    let again = try runPleura(["import", pocus.appendingPathComponent("manifest.csv").path, "--store", store])
    #expect(again.stdoutText.contains("0 changes recorded"))
}
