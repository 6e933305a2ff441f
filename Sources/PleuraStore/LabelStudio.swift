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

    /// The text of a `choices` or `textarea` result for a label field, as canonical CSV text.
    static func canonicalText(field: LabelField, result: JSONValue) -> String? {
        let value = result["value"]
        if field == .note {
            if case .array(let texts)? = value?["text"] { return texts.compactMap(\.stringValue).joined(separator: "\n") }
            return nil
        }
        guard case .array(let choices)? = value?["choices"], let first = choices.first?.stringValue else { return nil }
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
        var topPredictions: [ItemRef: [String: [String: (String, Double)]]] = [:]
        for p in try predictions() {
            let current = topPredictions[p.item]?[p.modelSHA256]?[p.head]
            if current == nil || p.probability > current!.1 {
                topPredictions[p.item, default: [:]][p.modelSHA256, default: [:]][p.head] = (p.className, p.probability)
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
                        let (cls, p) = heads[head]!
                        return .object(["from_name": .string(head), "to_name": .string("video"), "type": .string("choices"),
                                        "score": .double(p), "value": .object(["choices": .array([.string(cls)])])])
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
    /// All or nothing; errors name the task.
    @discardableResult
    public func importLabelStudio(text: String, file: String, root: String, as annotatorName: String? = nil) throws -> ImportSummary {
        let json = try JSONValue.parse(text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text, file: file, line: nil)
        let tasks: [JSONValue]
        switch json {
        case .array(let a): tasks = a
        case .object: tasks = [json]
        default: throw PleuraError(file: file, "expected a JSON array of Label Studio tasks")
        }
        var resolver = MediaResolver(store: self, root: root, file: file)
        var labels: [PendingLabel] = []
        var predictions: [Prediction] = []
        var predictionMediaIDs: [Int64] = []
        for (index, task) in tasks.enumerated() {
            let number = index + 1
            let name = "task \(number)" + (task["id"]?.intValue.map { " (id \($0))" } ?? "")
            func fail(_ what: String) -> PleuraError { PleuraError(file: file, "\(name): \(what)") }
            guard let data = task["data"] else { throw fail("no \"data\"") }
            let sha = data["sha256"]?.stringValue
            guard let rawMedia = data["media"]?.stringValue ?? data["video"]?.stringValue ?? data["image"]?.stringValue ?? sha else {
                throw fail("data names no media (media, video, image or sha256)")
            }
            var frame = -1
            if let f = data["frame"], !f.isNull {
                guard let n = f.intValue, n >= 0 else { throw fail("frame must be a whole number ≥ 0 or null") }
                frame = n
            }
            // The resolver reports "line N"; for JSON the task number plays that part.
            let mediaID: Int64
            do { mediaID = try resolver.resolve(media: LabelStudio.mediaPath(rawMedia), sha256: sha, line: number) }
            catch let e as PleuraError { throw fail(e.reason.replacingOccurrences(of: "line \(number): ", with: "")) }
            if case .array(let annotations)? = task["annotations"] {
                for annotation in annotations {
                    if annotation["was_cancelled"] == .bool(true) { continue }
                    guard let who = annotatorName ?? LabelStudio.annotator(of: annotation) else {
                        throw fail("an annotation names no annotator (completed_by): give --as NAME")
                    }
                    var set = LabelSet()
                    if case .array(let results)? = annotation["result"] {
                        for result in results {
                            guard let control = result["from_name"]?.stringValue else { continue }
                            if control == "findings", case .array(let chosen)? = result["value"]?["choices"] {
                                for c in chosen.compactMap(\.stringValue) {
                                    guard let f = Finding(rawValue: c) else { throw fail("unknown finding '\(c)'") }
                                    set[f] = true
                                }
                                continue
                            }
                            guard let field = LabelField(rawValue: control) else { continue }   // other controls: not Pleura's
                            guard let text = LabelStudio.canonicalText(field: field, result: result) else { continue }
                            do { set.set(field, to: try LabelValue.parse(field: field, text: text)) }
                            catch let e as PleuraError { throw fail(e.reason) }
                        }
                    }
                    labels.append(PendingLabel(line: number, mediaID: mediaID, frame: frame, annotator: who, labels: set))
                }
            }
            if case .array(let preds)? = task["predictions"] {
                for prediction in preds {
                    let model = prediction["model_version"]?.stringValue ?? "labelstudio"
                    guard case .array(let results)? = prediction["result"] else { continue }
                    for result in results {
                        guard let head = result["from_name"]?.stringValue,
                              case .array(let choices)? = result["value"]?["choices"] else { continue }
                        let score = result["score"]?.doubleValue ?? prediction["score"]?.doubleValue ?? 1
                        guard (0...1).contains(score) else { throw fail("prediction score \(score) is outside 0…1") }
                        for c in choices.compactMap(\.stringValue) {
                            predictions.append(Prediction(item: ItemRef(mediaSHA256: "", frame: frame < 0 ? nil : frame),
                                                          modelSHA256: model, head: head, className: c, probability: score))
                            predictionMediaIDs.append(mediaID)
                        }
                    }
                }
            }
        }
        var summary = try applyImport(file: file, labels: labels, ratings: [], predictions: predictions,
                                      predictionMediaIDs: predictionMediaIDs, defaultRole: .labeller)
        summary.rows = labels.count + predictions.count
        return summary
    }
}
