import Foundation
import GRDB
import PleuraCore

/// Label Studio JSON: a JSON array of tasks, one per item (a frame of a clip, or the whole clip).
///
/// Each label field is a `choices` control named after the canonical CSV column (`a_lines`,
/// `b1_lines`, `b2_lines`, `consolidation` with choices `present` / `absent`; `severity` with
/// `0`–`3`; `quality` with `ok` / `poor`) and `note` is a `textarea`; all point at the object
/// `video`. A matching labelling config is in docs/store.md. Task data carries `media` (path
/// relative to the root), `sha256` and `frame` (null for the whole clip).
///
/// ```json
/// [{"id":1,"data":{"frame":3,"media":"clips/a.mp4","sha256":"…","video":"clips/a.mp4"},
///   "annotations":[{"completed_by":{"username":"alice"},"result":[{"from_name":"severity",
///   "to_name":"video","type":"choices","value":{"choices":["2"]}}]}],
///   "predictions":[{"model_version":"<model sha256>","result":[{"from_name":"severity",
///   "to_name":"video","score":0.71,"type":"choices","value":{"choices":["2"]}}]}]}]
/// ```
enum LabelStudio {
    static let presentChoice = "present"
    static let absentChoice = "absent"

    static func results(_ labels: LabelSet) -> [JSONValue] {
        var out: [JSONValue] = []
        func choice(_ name: String, _ value: String) {
            out.append(.object(["from_name": .string(name), "to_name": .string("video"), "type": .string("choices"),
                                "value": .object(["choices": .array([.string(value)])])]))
        }
        for f in Finding.allCases { if let v = labels[f] { choice(f.csvName, v ? presentChoice : absentChoice) } }
        if let s = labels.severity { choice("severity", String(s.rawValue)) }
        if let q = labels.quality { choice("quality", q.rawValue) }
        if let n = labels.note, !n.isEmpty {
            out.append(.object(["from_name": .string("note"), "to_name": .string("video"), "type": .string("textarea"),
                                "value": .object(["text": .array([.string(n)])])]))
        }
        return out
    }

    /// The text of a `choices` or `textarea` result for a label field, as canonical CSV text
    /// (nil: nothing chosen). Throws a reason when the result's `value` has the wrong shape.
    static func canonicalText(field: LabelField, result: JSONValue) throws -> String? {
        guard case .object? = result["value"] else { throw PleuraError(file: nil, "result \"\(field.rawValue)\" has no \"value\" object") }
        let value = result["value"]
        if field == .note {
            guard case .array(let texts)? = value?["text"] else { throw PleuraError(file: nil, "note needs \"value\": {\"text\": [strings]}") }
            var lines: [String] = []
            for t in texts {
                guard let s = t.stringValue else { throw PleuraError(file: nil, "note texts must be strings, found \(t.typeName)") }
                lines.append(s)
            }
            return lines.joined(separator: "\n")
        }
        guard case .array(let choices)? = value?["choices"] else {
            throw PleuraError(file: nil, "\(field.rawValue) needs \"value\": {\"choices\": [one string]}")
        }
        guard choices.count <= 1 else { throw PleuraError(file: nil, "\(field.rawValue) has \(choices.count) choices: it takes one") }
        guard let chosen = choices.first else { return nil }
        guard let first = chosen.stringValue else { throw PleuraError(file: nil, "\(field.rawValue) choices must be strings, found \(chosen.typeName)") }
        if field.finding != nil {
            switch first.lowercased() {
            case presentChoice, "yes", "1", "true": return "1"
            case absentChoice, "no", "0", "false": return "0"
            default: return first
            }
        }
        return first
    }

    /// Who made an annotation: Pleura's own key, Label Studio's `completed_by` (object, id or
    /// text), or nil.
    static func annotator(of annotation: JSONValue) -> String? {
        if let name = annotation["pleura_annotator"]?.stringValue { return name }
        guard let by = annotation["completed_by"] else { return nil }
        if let s = by.stringValue { return s }
        if let i = by.intValue { return "labelstudio-user-\(i)" }
        for key in ["username", "email"] { if let s = by[key]?.stringValue, !s.isEmpty { return s } }
        if let i = by["id"]?.intValue { return "labelstudio-user-\(i)" }
        return nil
    }

    /// Strips Label Studio's storage prefixes (`/data/local-files/?d=`, `/data/upload/N/`).
    static func mediaPath(_ raw: String) -> String {
        if let r = raw.range(of: "?d=") { return String(raw[r.upperBound...]).removingPercentEncoding ?? String(raw[r.upperBound...]) }
        if raw.hasPrefix("/data/upload/") {
            let parts = raw.split(separator: "/", omittingEmptySubsequences: true)
            if parts.count >= 4 { return parts[3...].joined(separator: "/") }
        }
        return raw
    }
}

extension AnnotationStore {
    /// Writes Label Studio tasks: one per item with labels, in canonical order, with every
    /// annotator's current labels as an annotation and the stored predictions (the most likely
    /// class of each model head, with its probability as score).
    ///
    /// ```swift
    /// let sink = TextSink(handle: FileHandle(forWritingAtPath: "tasks.json")!)
    /// try store.exportLabelStudio(root: "/data", to: sink)
    /// ```
    public func exportLabelStudio(root: String, level: ItemLevel? = nil, to sink: TextSink) throws {
        // Predictions by item: the top class per model and head.
        var topPredictions: [ItemRef: [String: [String: (String, Double, Double?)]]] = [:]
        for p in try predictions() {
            let current = topPredictions[p.item]?[p.modelSHA256]?[p.head]
            if current == nil || p.probability > current!.1 {
                topPredictions[p.item, default: [:]][p.modelSHA256, default: [:]][p.head] = (p.className, p.probability, p.uncertainty)
            }
        }
        var taskID = 0
        var pending: (path: String, sha: String, frame: Int?, annotations: [JSONValue])? = nil
        func flushTask() {
            guard let t = pending else { return }
            taskID += 1
            let data: [String: JSONValue] = ["media": .string(t.path), "sha256": .string(t.sha), "video": .string(t.path),
                                             "frame": t.frame.map { .int($0) } ?? .null]
            var task: [String: JSONValue] = ["id": .int(taskID), "data": .object(data), "annotations": .array(t.annotations)]
            let item = ItemRef(mediaSHA256: t.sha, frame: t.frame)
            if let models = topPredictions[item] {
                task["predictions"] = .array(models.keys.sorted().map { model in
                    let heads = models[model]!
                    return .object(["model_version": .string(model), "result": .array(heads.keys.sorted().map { head in
                        let (cls, p, u) = heads[head]!
                        var result: [String: JSONValue] = ["from_name": .string(head), "to_name": .string("video"), "type": .string("choices"),
                                                           "score": .double(p), "value": .object(["choices": .array([.string(cls)])])]
                        if let u { result["uncertainty"] = .double(u) }
                        return .object(result)
                    })])
                })
            }
            sink.write((taskID == 1 ? "[\n" : ",\n") + JSONValue.object(task).serialized)
            pending = nil
        }
        try forEachLabelRow(root: root, level: level) { path, sha, frame, annotator, labels in
            if let p = pending, p.sha != sha || p.frame != frame { flushTask() }
            if pending == nil { pending = (path, sha, frame, []) }
            pending!.annotations.append(.object(["completed_by": .object(["username": .string(annotator)]),
                                                 "pleura_annotator": .string(annotator),
                                                 "result": .array(LabelStudio.results(labels))]))
        }
        flushTask()
        sink.write(taskID == 0 ? "[]\n" : "\n]\n")
        sink.flush()
    }

    /// Imports Label Studio tasks: annotations become label events (annotator from
    /// `pleura_annotator` or `completed_by`, or `as`), predictions become stored predictions
    /// (model = `model_version`, head = control name, class = choice, probability = score).
    /// All or nothing; errors name the task. The reader's rules are those of
    /// `ExchangeReader.labelStudio`.
    @discardableResult
    public func importLabelStudio(text: String, file: String, root: String, as annotatorName: String? = nil) throws -> ImportSummary {
        try importRows(ExchangeReader.labelStudio(text, file: file, as: annotatorName), file: file, root: root, defaultRole: .labeller)
    }
}

extension ExchangeReader {
    /// Label Studio JSON: the file must be an array of task objects; each task has a `data`
    /// object naming its media; `annotations` and `predictions` are arrays of objects whose
    /// `result` is an array of objects. Controls Pleura has no field for are skipped, but a
    /// file in which no annotation carries a single Pleura control and no task a prediction is
    /// refused (nothing in it would be imported).
    public static func labelStudio(_ text: String, file: String, as annotatorName: String? = nil) throws -> ImportRows {
        let json = try JSONValue.parse(text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text, file: file, line: nil)
        guard case .array(let tasks) = json else {
            throw PleuraError(file: file, "expected a JSON array of Label Studio tasks, found \(json.typeName) (export from Label Studio as JSON, not JSON-MIN or a single task)")
        }
        var rows = ImportRows()
        var controlsSeen = 0
        for (index, task) in tasks.enumerated() {
            let number = index + 1
            let name = "task \(number)" + (task["id"]?.intValue.map { " (id \($0))" } ?? "")
            func fail(_ what: String) -> PleuraError { PleuraError(file: file, "\(name): \(what)") }
            func array(_ value: JSONValue?, _ what: String) throws -> [JSONValue] {
                switch value {
                case nil, .null?: return []
                case .array(let items)?:
                    for item in items { guard case .object = item else { throw fail("\(what) must hold objects, found \(item.typeName)") } }
                    return items
                case let other?: throw fail("\(what) must be an array, found \(other.typeName)")
                }
            }
            guard case .object = task else { throw fail("a task must be an object, found \(task.typeName)") }
            guard let data = task["data"], case .object = data else { throw fail("no \"data\" object") }
            var strings: [String: String] = [:]
            for key in ["sha256", "media", "video", "image"] {
                switch data[key] {
                case nil, .null?: break
                case .string(let s)?: strings[key] = s
                case let other?: throw fail("data.\(key) must be a string, found \(other.typeName)")
                }
            }
            let sha = strings["sha256"]
            guard let rawMedia = strings["media"] ?? strings["video"] ?? strings["image"] ?? sha, !rawMedia.isEmpty else {
                throw fail("data names no media (media, video, image or sha256)")
            }
            let media = LabelStudio.mediaPath(rawMedia)
            var frame: Int? = nil
            switch data["frame"] {
            case nil, .null?: break
            case .int(let n)? where n >= 0: frame = n
            case let other?: throw fail("data.frame must be a whole number ≥ 0 or null, found \(other.serialized.prefix(40))")
            }
            for annotation in try array(task["annotations"], "annotations") {
                switch annotation["was_cancelled"] {
                case nil, .null?, .bool(false)?: break
                case .bool(true)?: continue
                case let other?: throw fail("was_cancelled must be true or false, found \(other.typeName)")
                }
                guard let who = annotatorName ?? LabelStudio.annotator(of: annotation), !who.isEmpty else {
                    throw fail("an annotation names no annotator (completed_by): give --as NAME")
                }
                var set = LabelSet()
                for result in try array(annotation["result"], "an annotation's result") {
                    guard let control = result["from_name"]?.stringValue else { throw fail("a result has no from_name string") }
                    if control == "findings" {
                        guard case .array(let chosen)? = result["value"]?["choices"] else { throw fail("findings needs \"value\": {\"choices\": [...]}") }
                        for c in chosen {
                            guard let text = c.stringValue, let f = Finding(rawValue: text) else {
                                throw fail("unknown finding \(c.serialized.prefix(40)) (a_lines, b1_lines, b2_lines, consolidation)")
                            }
                            set[f] = true
                        }
                        controlsSeen += 1
                        continue
                    }
                    guard let field = LabelField(rawValue: control) else { continue }   // other controls: not Pleura's
                    controlsSeen += 1
                    do {
                        guard let text = try LabelStudio.canonicalText(field: field, result: result) else { continue }
                        set.set(field, to: try LabelValue.parse(field: field, text: text))
                    } catch let e as PleuraError { throw fail(e.reason) }
                }
                rows.labels.append(.init(place: name, media: media, sha256: sha, frame: frame, annotator: who, labels: set))
            }
            for prediction in try array(task["predictions"], "predictions") {
                let model: String
                switch prediction["model_version"] {
                case nil, .null?: model = "labelstudio"
                case .string(let s)?: model = s.isEmpty ? "labelstudio" : s
                case let other?: throw fail("model_version must be a string, found \(other.typeName)")
                }
                for result in try array(prediction["result"], "a prediction's result") {
                    guard let head = result["from_name"]?.stringValue, !head.isEmpty else { throw fail("a prediction result has no from_name string") }
                    guard case .array(let choices)? = result["value"]?["choices"] else { throw fail("prediction \(head) needs \"value\": {\"choices\": [...]}") }
                    let rawScore = result["score"] ?? prediction["score"]
                    let score: Double
                    switch rawScore {
                    case nil, .null?: score = 1
                    case .int(let i)?: score = Double(i)
                    case .double(let d)?: score = d
                    case let other?: throw fail("prediction score must be a number, found \(other.typeName)")
                    }
                    guard score.isFinite, (0...1).contains(score) else { throw fail("prediction score \(score) is outside 0…1") }
                    // Pleura's own key beside `score` (see exportLabelStudio): the MC-dropout spread.
                    let uncertainty: Double?
                    switch result["uncertainty"] {
                    case nil, .null?: uncertainty = nil
                    case .int(let i)?: uncertainty = Double(i)
                    case .double(let d)?: uncertainty = d
                    case let other?: throw fail("prediction uncertainty must be a number, found \(other.typeName)")
                    }
                    if let u = uncertainty, !u.isFinite || !(0...1).contains(u) { throw fail("prediction uncertainty \(u) is outside 0…1") }
                    for c in choices {
                        guard let cls = c.stringValue else { throw fail("prediction choices must be strings, found \(c.typeName)") }
                        rows.predictions.append(.init(place: name, media: media, sha256: sha, frame: frame, model: model,
                                                      head: head, className: cls, probability: score, uncertainty: uncertainty))
                    }
                }
            }
        }
        if !rows.labels.isEmpty && controlsSeen == 0 && rows.predictions.isEmpty {
            throw PleuraError(file: file, "no annotation uses a Pleura control (from_name a_lines, b1_lines, b2_lines, consolidation, severity, quality, note or findings): the labelling config does not match (see docs/store.md)")
        }
        return rows
    }
}
