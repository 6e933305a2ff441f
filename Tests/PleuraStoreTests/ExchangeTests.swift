import Foundation
import GRDB
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraStore

/// Two clips registered under /data, three annotators with awkward labels.
private struct Populated {
    let store: AnnotationStore
    let shas: [String]

    init(_ name: String = "src") throws {
        let dir = try TestEnv.makeTempDirectory("pleura-exchange")
        store = try AnnotationStore.open(path: dir.appendingPathComponent("\(name).sqlite").path)
        shas = ["clip a", "clip b"].map { SHA256.hex(of: Array($0.utf8)) }
        try Self.register(store, shas)
    }

    static func register(_ store: AnnotationStore, _ shas: [String]) throws {
        try store.registerMedia(sha256: shas[0], path: "/data/clips/a, comma.mp4", facts: MediaFacts(kind: "video", frames: 50))
        try store.registerMedia(sha256: shas[1], path: "/data/clips/b.mp4", facts: MediaFacts(kind: "video", frames: 50))
    }

    func fill() throws {
        for (n, name) in ["zoe", "alice", "Émile"].enumerated() {
            let a = try store.annotator(named: name, role: .labeller)
            let s = try store.beginSession(annotator: a, name: "t", mode: "label")
            for frame in [nil, 0, 3, 10] as [Int?] {
                var l = LabelSet()
                l[.aLines] = (frame ?? 0) % 2 == 0
                if n > 0 { l[.b1Lines] = true }
                if frame == 3 { l[.b2Lines] = false; l[.consolidation] = n == 2 }
                l.severity = Severity(rawValue: ((frame ?? 1) + n) % 4)
                l.quality = frame == 10 ? .poor : .ok
                if frame == 0 { l.note = "note by \(name): comma, \"quotes\"\nand a second line; ünïcödé" }
                try store.setLabels(item: ItemRef(mediaSHA256: shas[n % 2], frame: frame), to: l, annotator: a, session: s)
            }
        }
        let rater = try store.annotator(named: "rita", role: .rater)
        let rs = try store.beginSession(annotator: rater, name: "r", mode: "rate")
        for (i, target) in ["covid", "regular"].enumerated() {
            let ctx = HeatmapContext(modelSHA256: "m1", method: "gradcam", layer: "features.3", target: target, heatmapSHA256: "h\(i)")
            try store.setRating(item: ItemRef(mediaSHA256: shas[0], frame: 3), context: ctx,
                                rating: HeatmapRating(rawValue: i == 0 ? -3 : 2), comment: i == 0 ? "only, \"distracting\"" : nil,
                                annotator: rater, session: rs)
        }
    }

    func export(_ body: (AnnotationStore, TextSink) throws -> Void) rethrows -> String {
        let sink = TextSink()
        try body(store, sink)
        return sink.text
    }
}

private func emptyStore() throws -> AnnotationStore {
    let dir = try TestEnv.makeTempDirectory("pleura-exchange")
    return try AnnotationStore.open(path: dir.appendingPathComponent("dst.sqlite").path)
}

@Test func labelCSVRoundTripIsByteIdentical() throws {
    let src = try Populated()
    try src.fill()
    let first = try src.export { try $0.exportLabelCSV(root: "/data", to: $1) }
    #expect(first.hasPrefix("media,frame,annotator,a_lines,b1_lines,b2_lines,consolidation,severity,quality,note\n"))
    #expect(first.contains("\"clips/a, comma.mp4\",,Émile,") || first.contains("\"clips/a, comma.mp4\",,alice"))
    let dst = try emptyStore()
    try Populated.register(dst, src.shas)
    let summary = try dst.importLabelCSV(text: first, file: "labels.csv", root: "/data")
    #expect(summary.rows == 12)
    let sink = TextSink()
    try dst.exportLabelCSV(root: "/data", to: sink)
    #expect(sink.text == first)
    // Importing the same file again changes nothing.
    #expect(try dst.importLabelCSV(text: first, file: "labels.csv", root: "/data").events == 0)
    // The same rows with CRLF line ends and a BOM import to the same labels.
    let crlf = "\u{FEFF}" + first.replacingOccurrences(of: "\n", with: "\r\n")
    let third = try emptyStore()
    try Populated.register(third, src.shas)
    try third.importLabelCSV(text: crlf, file: "crlf.csv", root: "/data")
    let sink3 = TextSink()
    try third.exportLabelCSV(root: "/data", to: sink3)
    // Notes keep their own line break as written (CRLF inside the quoted note is data).
    #expect(sink3.text.replacingOccurrences(of: "\r\n", with: "\n") == first)
}

@Test func ratingCSVRoundTripIsByteIdentical() throws {
    let src = try Populated()
    try src.fill()
    let first = try src.export { try $0.exportRatingCSV(root: "/data", to: $1) }
    #expect(first == #"""
        media,frame,annotator,model,method,target,rating,comment,layer,heatmap_sha256,trial,slot,scale,colormap,opacity,threshold,class_guess,visible,highlighted,better,seconds
        "clips/a, comma.mp4",3,rita,m1,gradcam,covid,-3,"only, ""distracting""",features.3,h0,,,seven,,,,,,,,
        "clips/a, comma.mp4",3,rita,m1,gradcam,regular,2,,features.3,h1,,,seven,,,,,,,,

        """#)
    let dst = try emptyStore()
    try Populated.register(dst, src.shas)
    try dst.importRatingCSV(text: first, file: "ratings.csv", root: "/data")
    #expect(try (TextSink()).then { try dst.exportRatingCSV(root: "/data", to: $0) }.text == first)
    // The older eight-column file still imports; its missing columns read as empty.
    let old = try emptyStore()
    try Populated.register(old, src.shas)
    try old.importRatingCSV(text: """
        media,frame,annotator,model,method,target,rating,comment
        "clips/a, comma.mp4",3,rita,m1,gradcam,covid,-3,"only, ""distracting""\"
        clips/b.mp4,,rita,m1,gradcam,regular,2,

        """, file: "old.csv", root: "/data")
    #expect(try TextSink().then { try old.exportRatingCSV(root: "/data", to: $0) }.text == """
        \(RatingRecord.header.joined(separator: ","))
        "clips/a, comma.mp4",3,rita,m1,gradcam,covid,-3,"only, ""distracting""\",,,,,seven,,,,,,,,
        clips/b.mp4,,rita,m1,gradcam,regular,2,,,,,,seven,,,,,,,,

        """)
}

@Test func ratingsWithFullProvenanceRoundTripThroughCSVAndJSONLines() throws {
    let src = try Populated()
    let ann = try src.store.annotator(named: "ann", role: .rater)
    let s = try src.store.beginSession(annotator: ann, name: "panel", mode: "rate")
    func ctx(_ method: String) -> HeatmapContext {
        HeatmapContext(modelSHA256: String(repeating: "b", count: 64), method: method, layer: "features.3",
                       target: "diagnosis/covid", heatmapSHA256: method + "-map")
    }
    let trial = RatingTrial(id: "panel/1", item: ItemRef(mediaSHA256: src.shas[1], frame: 4), scale: .born, maps: [
        RatedMap(heatmap: ctx("layercam"), overlay: OverlaySettings(colormap: "turbo", opacity: 0.3, threshold: 0.4), slot: .a),
        RatedMap(heatmap: ctx("gradcam"), overlay: OverlaySettings(colormap: "jet", opacity: 0.5, threshold: nil), slot: .b),
    ])
    try src.store.recordRating(TrialAnswers(maps: [MapAnswers(rating: HeatmapRating(rawValue: -2), highlighted: []),
                                                   MapAnswers(rating: HeatmapRating(rawValue: 3), highlighted: [.bLines, .pleuralLine])],
                                            classGuess: "covid", visible: [.bLines, .pleuralLine], comment: "B, \"clear\"", better: .b),
                               for: trial, secondsSpent: 31.25, annotator: ann, session: s)
    let csv = try src.export { try $0.exportRatingCSV(root: "/data", to: $1) }
    let b = String(repeating: "b", count: 64)
    #expect(csv == """
        \(RatingRecord.header.joined(separator: ","))
        clips/b.mp4,4,ann,\(b),gradcam,diagnosis/covid,3,"B, ""clear""\",features.3,gradcam-map,panel/1,B,born,jet,0.5,,covid,b_lines;pleural_line,b_lines;pleural_line,B,31.3
        clips/b.mp4,4,ann,\(b),layercam,diagnosis/covid,-2,"B, ""clear""\",features.3,layercam-map,panel/1,A,born,turbo,0.3,0.4,covid,b_lines;pleural_line,none,B,31.3

        """)
    // Label Studio: one task per rated map, the rater's answers as results, slot and overlay kept.
    let ls = try src.export { try $0.exportRatingLabelStudio(root: "/data", to: $1) }
    let tasks = try #require(try JSONSerialization.jsonObject(with: Data(ls.utf8)) as? [[String: Any]])
    #expect(tasks.count == 2)
    let layercamTask = try #require(tasks.first { ($0["data"] as? [String: Any])?["method"] as? String == "layercam" })
    #expect((layercamTask["data"] as? [String: Any])?["heatmap_sha256"] as? String == "layercam-map")
    let annotation = try #require((layercamTask["annotations"] as? [[String: Any]])?.first)
    #expect(annotation["pleura_slot"] as? String == "A" && annotation["lead_time"] as? Double == 31.3)
    #expect((annotation["pleura_overlay"] as? [String: Any])?["threshold"] as? Double == 0.4)
    let results = try #require(annotation["result"] as? [[String: Any]])
    func choices(_ name: String) -> [String]? {
        (results.first { $0["from_name"] as? String == name }?["value"] as? [String: Any])?["choices"] as? [String]
    }
    #expect(choices("rating") == ["-2"] && choices("highlighted") == [] && choices("better") == ["B"])
    #expect(choices("visible") == ["b_lines", "pleural_line"] && choices("scale") == ["born"])
    let jsonl = try src.export { try $0.exportRatingJSONLines(root: "/data", to: $1) }
    #expect(jsonl.contains("\"highlighted\":[]") && jsonl.contains("\"opacity\":0.3") && jsonl.contains("\"better\":\"B\""))
    for (text, importer) in [(csv, "csv"), (jsonl, "jsonl")] {
        let dst = try emptyStore()
        try Populated.register(dst, src.shas)
        if importer == "csv" { try dst.importRatingCSV(text: text, file: "r.csv", root: "/data") }
        else { try dst.importJSONLines(text: text, file: "r.jsonl", root: "/data") }
        #expect(try TextSink().then { try dst.exportRatingCSV(root: "/data", to: $0) }.text == csv, "\(importer) round trip")
        let rows = try dst.ratings()
        #expect(rows.count == 2 && rows.allSatisfy { $0.preferred == ($0.heatmap.method == "gradcam") })
    }
}

@Test func jsonLinesRoundTripKeepsLayerAndHeatmap() throws {
    let src = try Populated()
    try src.fill()
    let labels = try src.export { try $0.exportLabelJSONLines(root: "/data", to: $1) }
    let ratings = try src.export { try $0.exportRatingJSONLines(root: "/data", to: $1) }
    #expect(ratings.contains("\"heatmap_sha256\":\"h0\"") && ratings.contains("\"layer\":\"features.3\""))
    let dst = try emptyStore()
    try Populated.register(dst, src.shas)
    try dst.importJSONLines(text: labels + ratings, file: "all.jsonl", root: "/nowhere")   // media found by sha256
    #expect(try TextSink().then { try dst.exportLabelJSONLines(root: "/data", to: $0) }.text == labels)
    #expect(try TextSink().then { try dst.exportRatingJSONLines(root: "/data", to: $0) }.text == ratings)
    #expect(try TextSink().then { try dst.exportLabelCSV(root: "/data", to: $0) }.text
            == (try src.export { try $0.exportLabelCSV(root: "/data", to: $1) }))
}

@Test func labelStudioRoundTripAndPredictions() throws {
    let src = try Populated()
    try src.fill()
    try src.store.insertPredictions([
        Prediction(item: ItemRef(mediaSHA256: src.shas[0], frame: 0), modelSHA256: "m1", head: "severity", className: "2", probability: 0.625),
        Prediction(item: ItemRef(mediaSHA256: src.shas[0], frame: 0), modelSHA256: "m1", head: "severity", className: "1", probability: 0.25),
    ])
    let tasks = try src.export { try $0.exportLabelStudio(root: "/data", to: $1) }
    let parsed = try JSONSerialization.jsonObject(with: Data(tasks.utf8)) as? [[String: Any]]
    #expect(parsed?.count == 8)   // 2 clips × (video + 3 frames) with labels
    #expect(tasks.contains("\"model_version\":\"m1\"") && tasks.contains("\"score\":0.625"))
    let dst = try emptyStore()
    try Populated.register(dst, src.shas)
    let summary = try dst.importLabelStudio(text: tasks, file: "tasks.json", root: "/data")
    #expect(summary.predictions == 1)   // the top class per head is what the export carries
    #expect(try dst.predictions().first?.probability == 0.625)
    #expect(try TextSink().then { try dst.exportLabelCSV(root: "/data", to: $0) }.text
            == (try src.export { try $0.exportLabelCSV(root: "/data", to: $1) }))
}

@Test func labelStudioImportOfForeignTasks() throws {
    let dst = try emptyStore()
    let shas = ["clip a", "clip b"].map { SHA256.hex(of: Array($0.utf8)) }
    try Populated.register(dst, shas)
    let json = """
    [{"id": 7, "data": {"video": "/data/local-files/?d=clips/b.mp4", "frame": 4},
      "annotations": [{"completed_by": 3, "result": [
         {"from_name": "findings", "to_name": "video", "type": "choices", "value": {"choices": ["b2_lines", "consolidation"]}},
         {"from_name": "severity", "to_name": "video", "type": "choices", "value": {"choices": ["3"]}},
         {"from_name": "comment", "to_name": "video", "type": "textarea", "value": {"text": ["ignored control"]}}]},
        {"completed_by": {"email": "x@y"}, "was_cancelled": true, "result": []}],
      "predictions": [{"model_version": "net-v2", "score": 0.9, "result": [
         {"from_name": "severity", "to_name": "video", "type": "choices", "value": {"choices": ["2"]}}]}]}]
    """
    let s = try dst.importLabelStudio(text: json, file: "ls.json", root: "/data")
    #expect(s.annotators == ["labelstudio-user-3"] && s.predictions == 1)
    let who = try #require(try dst.annotator(named: "labelstudio-user-3"))
    let labels = try dst.currentLabels(item: ItemRef(mediaSHA256: shas[1], frame: 4), annotator: who)
    #expect(labels[.b2Lines] == true && labels[.consolidation] == true && labels.severity?.rawValue == 3 && labels[.aLines] == nil)
    let bad = #"[{"id": 1, "data": {"video": "clips/b.mp4"}, "annotations": [{"completed_by": 1, "result": [{"from_name": "severity", "value": {"choices": ["4"]}}]}]}]"#
    let error = try #require(throws: PleuraError.self) { try dst.importLabelStudio(text: bad, file: "bad.json", root: "/data") }
    #expect(error.description.contains("bad.json: task 1 (id 1): severity '4'"))
}

@Test func badCSVInputNamesFileAndLineAndImportsNothing() throws {
    let src = try Populated()
    let header = LabelRecord.header.joined(separator: ",") + "\n"
    let good = "clips/b.mp4,1,alice,1,,,,2,ok,\n"
    func expectError(_ text: String, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try src.store.eventCount()
        let error = try #require(throws: PleuraError.self, sourceLocation: sourceLocation) {
            try src.store.importLabelCSV(text: text, file: "in.csv", root: "/data")
        }
        #expect(error.file == "in.csv", sourceLocation: sourceLocation)
        #expect(error.reason.contains(fragment), "\(error.reason)", sourceLocation: sourceLocation)
        #expect(try src.store.eventCount() == before, "nothing imported", sourceLocation: sourceLocation)
    }
    try expectError(header + good + "clips/b.mp4,2,alice,1,,,,4,ok,\n", "line 3: severity '4'")
    try expectError(header + good + "clips/missing.mp4,2,alice,1,,,,1,ok,\n", "line 3: unknown media 'clips/missing.mp4'")
    try expectError(header + good + "clips/b.mp4,2,alice,1,,,\n", "line 3: expected 10 fields")
    try expectError(header + good + "clips/b.mp4,x,alice,1,,,,1,ok,\n", "line 3: frame 'x'")
    try expectError(header + good + good, "line 3: duplicate row")
    try expectError(header + good + header, "line 3: the header appears again")
    try expectError(good, "line 1: no header")
    try expectError("media,frame,annotator\n" + good, "line 1: header must be exactly")
    try expectError(header + good + "clips/b.mp4,5,alice,1,,,,1,ok,\"unterminated\n", "line 3: a quoted field is never closed")
    try expectError("", "empty file")
    // Quoted commas and newlines in notes are data, and line numbers count physical lines.
    try expectError(header + "clips/b.mp4,1,alice,1,,,,2,ok,\"a, b\nc\"\nclips/b.mp4,2,alice,2,,,,,,\n", "line 4: a_lines '2'")
    // Ratings: 5 is out of range (in the older eight-column file, which import still reads).
    let ratingError = try #require(throws: PleuraError.self) {
        try src.store.importRatingCSV(text: RatingRecord.olderHeaders[0].joined(separator: ",") + "\nclips/b.mp4,1,r,m,gradcam,covid,5,\n",
                                      file: "r.csv", root: "/data")
    }
    #expect(ratingError.reason == "line 2: rating '5' must be an integer from -3 to 3")
    // A row of the wrong width under the older header names that header.
    let widthError = try #require(throws: PleuraError.self) {
        try src.store.importRatingCSV(text: RatingRecord.olderHeaders[0].joined(separator: ",") + "\nclips/b.mp4,1,r,m,gradcam,covid,2\n",
                                      file: "r.csv", root: "/data")
    }
    #expect(widthError.reason.hasPrefix("line 2: expected 8 fields (media,frame,annotator,model,method,target,rating,comment)"))
    // Born's scale has no 0.
    let bornError = try #require(throws: PleuraError.self) {
        try src.store.importRatingCSV(text: RatingRecord.header.joined(separator: ",")
                                      + "\nclips/b.mp4,1,r,m,gradcam,covid,0,,l,h,t,,born,,,,,,,,\n", file: "r.csv", root: "/data")
    }
    #expect(bornError.reason == "line 2: rating 0 is not on the born scale (−3, −2, −1, 1, 2, 3)")
    #expect(try src.store.eventCount() == 0)
    // And a good file goes in.
    #expect(try src.store.importLabelCSV(text: header + good, file: "in.csv", root: "/data").events == 3)
}

@Test func movedMediaAreFoundByContent() throws {
    // A CSV naming a path the store never saw still imports when the file there has known content.
    let dir = try TestEnv.makeTempDirectory("pleura-exchange")
    let file = dir.appendingPathComponent("renamed.mp4")
    try Data("clip a".utf8).write(to: file)
    let src = try Populated()
    let csv = LabelRecord.header.joined(separator: ",") + "\nrenamed.mp4,0,alice,1,,,,,,\n"
    try src.store.importLabelCSV(text: csv, file: "x.csv", root: dir.path)
    let alice = try #require(try src.store.annotator(named: "alice"))
    #expect(try src.store.currentLabels(item: ItemRef(mediaSHA256: src.shas[0], frame: 0), annotator: alice)[.aLines] == true)
}

@Test func statisticsMatchDirectComputation() throws {
    let src = try Populated()
    let names = ["ann", "bob", "cy"]
    let severities = [[0, 1, 2, 3, 3, 2, 1, 0], [0, 1, 2, 2, 3, 2, 0, 0], [1, 1, 2, 3, 3, nil, 1, 0]] as [[Int?]]
    for (k, name) in names.enumerated() {
        let a = try src.store.annotator(named: name, role: .labeller)
        let s = try src.store.beginSession(annotator: a, name: "t", mode: "label")
        for (frame, sev) in severities[k].enumerated() {
            var l = LabelSet()
            l.severity = sev.flatMap { Severity(rawValue: $0) }
            l[.aLines] = frame % 3 == k % 2
            try src.store.setLabels(item: ItemRef(mediaSHA256: src.shas[0], frame: frame), to: l, annotator: a, session: s)
        }
    }
    let report = try src.store.statistics(level: .frame)
    #expect(report.items == 8 && report.annotators == names)
    let data = severities.map { $0.map { $0.map(Double.init) } }
    #expect(report.severity.krippendorffAlphaOrdinal == Agreement.krippendorffAlpha(data, level: .ordinal))
    #expect(report.severity.fleissKappa == Agreement.fleissKappa(ratings: (0..<8).map { i in severities.map { $0[i] } }, categories: [0, 1, 2, 3]))
    let ab = try #require(report.severity.pairwise.first)
    #expect(ab.a == "ann" && ab.b == "bob" && ab.n == 8)
    #expect(ab.quadraticKappa == Agreement.cohenKappa(severities[0].map { $0! }, severities[1].map { $0! }, categories: [0, 1, 2, 3], weighting: .quadratic))
    #expect(report.severity.pairwise.count == 3 && report.severity.pairwise[1].n == 7)
    let json = report.json
    for key in ["\"krippendorff_alpha_ordinal\"", "\"fleiss_kappa\"", "\"pairwise\"", "\"quadratic_kappa\"", "\"a_lines\"",
                "\"b1_lines\"", "\"b2_lines\"", "\"consolidation\"", "\"krippendorff_alpha_nominal\"", "\"ratings\"", "\"model\""] {
        #expect(json.contains(key), "\(key)")
    }
    #expect((try? JSONSerialization.jsonObject(with: Data(json.utf8))) != nil)
    #expect(try src.store.statistics(level: .video).items == 0)
}

extension TextSink {
    /// Runs `body` with this sink and returns it (for one-line exports in tests).
    func then(_ body: (TextSink) throws -> Void) rethrows -> TextSink { try body(self); return self }
}

@Test func reviewsAndPredictionsExport() throws {
    let src = try Populated()
    let trainee = try src.store.annotator(named: "tom", role: .trainee)
    let s = try src.store.beginSession(annotator: trainee, name: "review", mode: "review")
    try src.store.addReview(Review(item: ItemRef(mediaSHA256: src.shas[1], frame: 2), field: "severity", firstSource: "model",
                                   firstValue: "3", secondSource: "alice", secondValue: "1", ownValue: "2", verdict: .neither,
                                   comment: "small, patchy"), annotator: trainee, session: s)
    try src.store.insertPredictions([Prediction(item: ItemRef(mediaSHA256: src.shas[1], frame: nil), modelSHA256: "m",
                                                head: "diagnosis", className: "covid", probability: 0.1)])
    let reviews = try TextSink().then { try src.store.exportReviews(root: "/data", format: .csv, to: $0) }.text
    let lines = reviews.split(separator: "\n")
    #expect(lines.first == "media,frame,annotator,at,field,first_source,first_value,second_source,second_value,own_value,verdict,comment,heatmap_sha256")
    #expect(lines.count == 2 && lines[1].hasPrefix("clips/b.mp4,2,tom,") && lines[1].hasSuffix(",severity,model,3,alice,1,2,neither,\"small, patchy\","))
    let reviewJSON = try TextSink().then { try src.store.exportReviews(root: "/data", format: .jsonl, to: $0) }.text
    #expect(reviewJSON.contains("\"verdict\":\"neither\"") && reviewJSON.contains("\"frame\":2"))
    let predictions = try TextSink().then { try src.store.exportPredictions(root: "/data", format: .csv, to: $0) }.text
    #expect(predictions == "media,frame,model,head,label,probability,uncertainty\nclips/b.mp4,,m,diagnosis,covid,0.1,\n")
}

@Test func statisticsCompareModelPredictionsWithAnnotators() throws {
    let src = try Populated()
    let alice = try src.store.annotator(named: "alice", role: .labeller)
    let s = try src.store.beginSession(annotator: alice, name: "t", mode: "label")
    let human = [0, 1, 2, 3, 3, 1]
    let model = [0, 1, 3, 3, 2, 1]
    let linesHuman = [true, false, true, true, false, false]
    let linesModel = [0.9, 0.2, 0.4, 0.7, 0.6, 0.1]   // ≥ 0.5 → present
    var predictions: [Prediction] = []
    for frame in 0..<6 {
        let item = ItemRef(mediaSHA256: src.shas[0], frame: frame)
        var l = LabelSet(); l.severity = Severity(rawValue: human[frame]); l[.b1Lines] = linesHuman[frame]
        try src.store.setLabels(item: item, to: l, annotator: alice, session: s)
        for c in 0...3 {
            predictions.append(Prediction(item: item, modelSHA256: "net", head: "severity", className: String(c),
                                          probability: c == model[frame] ? 0.7 : 0.1))
        }
        predictions.append(Prediction(item: item, modelSHA256: "net", head: "findings", className: "b1_lines", probability: linesModel[frame]))
    }
    try src.store.insertPredictions(predictions)
    let report = try src.store.statistics(level: .frame)
    let m = try #require(report.models.first)
    #expect(m.model == "net")
    let sev = try #require(m.severity.first)
    #expect(sev.annotator == "alice" && sev.n == 6)
    #expect(sev.cohenKappa == Agreement.cohenKappa(human, model, categories: [0, 1, 2, 3]))
    #expect(sev.quadraticKappa == Agreement.cohenKappa(human, model, categories: [0, 1, 2, 3], weighting: .quadratic))
    #expect(sev.confusion == [[1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 0, 1], [0, 0, 1, 1]])
    let b1 = try #require(m.findings.first { $0.0 == .b1Lines }?.1.first)
    // truth 1,0,1,1,0,0 vs model 1,0,0,1,1,0: TP 2, FN 1, FP 1, TN 2.
    #expect(b1.perClass[1] == ClassMetrics(truePositives: 2, falsePositives: 1, falseNegatives: 1, trueNegatives: 2))
    #expect(report.json.contains("\"model\":[{\"findings\":{\"b1_lines\":[{\"accuracy\":"))
}
