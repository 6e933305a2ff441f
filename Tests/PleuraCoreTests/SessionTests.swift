import Foundation
import Testing
import PleuraTestSupport
@testable import PleuraCore

@Suite struct SessionTests {
    let dir = URL(fileURLWithPath: "/data/study")
    var file: URL { dir.appendingPathComponent("s.toml") }

    private func parse(_ text: String) throws -> Session { try Session.parse(text, file: file) }
    private func error(_ text: String) -> String {
        do { _ = try parse(text); return "no error" } catch let e as PleuraError { return e.description } catch { return "\(error)" }
    }

    @Test func fullSession() throws {
        let s = try parse("""
        name = "Convex"
        mode = "label"
        media = ["clips/*.mp4", "/abs/x.avi"]
        store = "../db/labels.sqlite"
        annotator = "dr-lee"
        keymap = "vim"
        order = "shuffled"
        seed = 7
        blinding = true

        [sampling]
        per_clip = 10

        [model]
        heatmap = "gradcam++"

        [schema]
        findings = ["b1_lines", "b2_lines"]
        note = false
        """)
        #expect(s.name == "Convex")
        #expect(s.mode == .label)
        #expect(s.media == .files(["/data/study/clips/*.mp4", "/abs/x.avi"]))
        #expect(s.store.path == "/data/db/labels.sqlite")
        #expect(s.annotator == "dr-lee")
        #expect(s.keymap == "vim")
        #expect(s.order == .shuffled(seed: 7))
        #expect(s.blinding)
        #expect(s.sampling == .perClip(10))
        #expect(s.model == Session.ModelChoice(path: "embedded", heatmap: .gradcampp))
        #expect(s.schema.findings == [.b1Lines, .b2Lines])
        #expect(s.schema.severity && s.schema.quality && !s.schema.note)
    }

    @Test func defaultsAndPhantom() throws {
        let s = try parse("[phantom]\ncount = 2\nseed = 9\n")
        #expect(s.name == "s")
        #expect(s.media == .phantom(count: 2, seed: 9))
        #expect(s.store.path == "/data/study/s.sqlite")
        #expect(s.annotator == LoginUser.name)
        #expect(!s.annotator.isEmpty)
        #expect(s.sampling == .everyFrame)
        #expect(s.order == .sequential)
        #expect(!s.blinding)
        #expect(s.model == nil)
        #expect(s.schema == .full)
        #expect(s.keymap == "default")
    }

    @Test func cacheStorePath() throws {
        let s = try parse("media = \"a.mp4\"\nstore = \"{cache}/demo.sqlite\"\n")
        #expect(s.store == AppPaths.cacheDirectory.appendingPathComponent("demo.sqlite").standardizedFileURL)
    }

    @Test func sampling() {
        #expect(Session.Sampling.everyFrame.frames(count: 3) == [0, 1, 2])
        #expect(Session.Sampling.everyNth(4).frames(count: 10) == [0, 4, 8])
        #expect(Session.Sampling.perClip(2).frames(count: 10) == [2, 7])
        #expect(Session.Sampling.perClip(20).frames(count: 3) == [0, 1, 2])
        #expect(Session.Sampling.perClip(3).frames(count: 0) == [])
    }

    @Test func shuffleIsSeededAndStable() throws {
        let s = try parse("media = \"a\"\norder = \"shuffled\"\nseed = 3\n")
        let a = s.ordered(Array(0..<10))
        #expect(a == s.ordered(Array(0..<10)))
        #expect(a.sorted() == Array(0..<10))
        #expect(a != Array(0..<10))
    }

    @Test func malformedSessionsNameFileLineAndReason() {
        let p = "/data/study/s.toml"
        #expect(error("media = \"a\"\n\nmode = \"labels\"\n") == "\(p):3: mode 'labels' must be label, rate or review")
        #expect(error("media = \"a\"\nspeed = 3\n").hasPrefix("\(p):2: unknown setting 'speed' (settings: "))
        #expect(error("media = \"a\"\n[sampling]\nevry = 3\n").hasPrefix("\(p):3: unknown setting 'sampling.evry'"))
        #expect(error("media = \"a\"\n[sampling]\nevery = 0\n") == "\(p):3: sampling.every must be at least 1 (found 0)")
        #expect(error("media = \"a\"\n[sampling]\nevery = \"x\"\n") == "\(p):3: sampling.every must be a whole number")
        #expect(error("media = \"a\"\n[sampling]\nevery = 2\nper_clip = 3\n") == "\(p):4: sampling has both every and per_clip; choose one")
        #expect(error("media = \"a\"\norder = \"random\"\n") == "\(p):2: order 'random' must be sequential or shuffled")
        #expect(error("media = \"a\"\nseed = 4\n") == "\(p):2: seed only applies to order = \"shuffled\"")
        #expect(error("media = \"a\"\nblinding = \"yes\"\n") == "\(p):2: blinding must be true or false")
        #expect(error("media = \"a\"\n[model]\nheatmap = \"magic\"\n").hasPrefix("\(p):3: heatmap 'magic' must be one of gradcam, gradcam++, layercam, pocovid"))
        #expect(error("media = \"a\"\n[schema]\nfindings = [\"a_lines\",\n  \"pleural_effusion\"]\n").hasPrefix("\(p):4: unknown finding 'pleural_effusion'"))
        #expect(error("name = \"x\"\n") == "\(p):1: no media: add media = [\"clips/*.mp4\"] (globs relative to this file) or a [phantom] table")
        #expect(error("media = 3\n") == "\(p):1: media must be a file pattern or a list of them, like [\"clips/*.mp4\"]")
        #expect(error("media = \"a\"\n\n[phantom]\ncount = 2\n") == "\(p):1: a session has either media or [phantom] (line 3), not both")
        #expect(error("[phantom]\ncount = 0\n") == "\(p):2: phantom.count must be at least 1 (found 0)")
        #expect(error("media = \"a\"\nannotator = \"\"\n") == "\(p):2: annotator must be a non-empty name without control characters")
        #expect(error("media = [\"a\"\n").hasPrefix("\(p):"))
    }

    @Test func globsResolveRelativeToTheFileAndEmptyMatchesNameTheLine() throws {
        let d = try TestEnv.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: d) }
        try FileManager.default.createDirectory(at: d.appendingPathComponent("clips"), withIntermediateDirectories: true)
        for n in ["b.mp4", "a.mp4", "c.txt"] { _ = FileManager.default.createFile(atPath: d.appendingPathComponent("clips/\(n)").path, contents: Data()) }
        let file = d.appendingPathComponent("x.toml")
        try "media = [\"clips/*.mp4\"]\n".write(to: file, atomically: true, encoding: .utf8)
        let s = try Session.load(file)
        #expect(try s.mediaFiles().map(\.lastPathComponent) == ["a.mp4", "b.mp4"])
        try "media = [\"clips/*.mp4\",\n   \"other/*.avi\"]\n".write(to: file, atomically: true, encoding: .utf8)
        do {
            _ = try Session.load(file).mediaFiles()
            Issue.record("expected an error")
        } catch let e as PleuraError {
            #expect(e.description == "\(file.path):2: media pattern 'other/*.avi' matches no file (it is relative to the session file)")
        }
    }

    @Test func rateTable() throws {
        let f = URL(fileURLWithPath: "/tmp/r.toml")
        let s = try Session.parse("mode = \"rate\"\n[phantom]\n[rate]\nunit = \"clip\"\nmethods = [\"gradcam\", \"layercam\"]\npaired = true\nscale = \"born\"\nquestions = [\"comment\"]\nopacity = 40\n", file: f)
        #expect(s.blinding)                         // rate sessions are blind by default
        let r = try #require(s.rate)
        #expect(r.unit == .clip && r.paired && r.scale == .born && r.variants.count == 2 && r.questions == [.comment] && r.opacityPercent == 40)
        func error(_ text: String) -> String {
            do { _ = try Session.parse(text, file: f); return "no error" } catch let e as PleuraError { return e.description } catch { return "\(error)" }
        }
        #expect(error("mode = \"rate\"\n[phantom]\n[rate]\npaired = true\n").hasPrefix("/tmp/r.toml:4: a paired study compares two maps"))
        #expect(error("[phantom]\n[rate]\nunit = \"clip\"\n").hasPrefix("/tmp/r.toml:2: [rate] only applies to mode = \"rate\""))
        #expect(error("mode = \"rate\"\n[phantom]\n[rate]\nscale = \"ten\"\n").hasPrefix("/tmp/r.toml:4: rate.scale must be"))
        #expect(RateSettings.validColormaps == ["jet", "turbo", "inferno"])
        let ref = try #require(try Session.parse("mode = \"rate\"\n[phantom]\n[rate]\ntarget = \"reference:truth\"\nhead = \"severity\"\n", file: f).rate)
        #expect(ref.target == .reference(annotator: "truth") && ref.head == "severity")
        #expect(error("mode = \"rate\"\n[phantom]\n[rate]\ntarget = \"reference:\"\n").hasPrefix("/tmp/r.toml:4: rate.target reference: needs an annotator name"))
        #expect(error("mode = \"rate\"\n[phantom]\n[rate]\nhead = 3\n").hasPrefix("/tmp/r.toml:4: rate.head must be the name of a head"))
    }
}

/// Found by `make fuzz` (fuzz-keymap): toml++ aborted the whole process (assertions compiled into
/// release builds) on a table header whose `[` is followed by no key, and on a missing value before
/// `}` or `,`. Now one line, for sessions and keymaps alike.
@Suite struct TOMLHeaderRegressionTests {
    static let inputs: [(String, Int)] = [
        ("[\n", 1), ("[[\n", 1), ("[ =x]\n", 1), ("name = \"x\"\n[#]\n", 2), ("[{a=1}]\n", 1),
        ("a = 1\n[\n\"x\"]\n", 2), ("[\r\n", 1), ("[\t\n ]", 1),
        // The fuzzer's input, shortened: a keymap comment, then "[" and blank lines.
        ("# Numeric-keypad keymap\n\n[\n\n\n [\"N\"]Pleura's defaul\n", 3),
    ]

    @Test func tableHeadersWithoutANameAreOneErrorNotACrash() throws {
        for (text, line) in Self.inputs {
            let s = try #require(throws: PleuraError.self) { try Session.parse(text, file: URL(fileURLWithPath: "/x/s.toml")) }
            #expect(s.file == "/x/s.toml:\(line)", "\(text.debugDescription): \(s)")
            #expect(s.reason.contains("table header needs a name"), "\(text.debugDescription): \(s)")
            let k = try #require(throws: PleuraError.self) { try Keymap.parse(text, file: "k.toml") }
            #expect(k.file == "k.toml:\(line)", "\(text.debugDescription): \(k)")
        }
        // The second finding, and its relatives: a value missing before '}' or ','.
        for (text, line) in [("next_frame = [\"Right\"]\nundo = [\n}\n", 3), ("undo = }\n", 1), ("undo = [,]\n", 1),
                             ("a = [\"x\", ,]\n", 1), ("a = { b = }\n", 1), ("a = [\n  # c\n  }\n", 3)] {
            let k = try #require(throws: PleuraError.self) { try Keymap.parse(text, file: "k.toml") }
            #expect(k.file == "k.toml:\(line)" && k.reason.contains("value is missing"), "\(text.debugDescription): \(k)")
        }
        // Valid TOML with arrays, inline tables, trailing commas and tricky strings still parses.
        _ = try Session.parse("name = \"a = [,}\"\nmedia = [\n  \"x\", # c\n  'y',\n]\n",
                              file: URL(fileURLWithPath: "/x/s.toml"))
        // Headers that are fine still parse, and a '[' inside a multi-line string is text.
        let ok = try Session.parse("name = \"\"\"\n[\n\"\"\"\n[phantom]\ncount = 2\n", file: URL(fileURLWithPath: "/x/s.toml"))
        #expect(ok.name == "[\n")
    }
}
