import Foundation
import PleuraCore

extension AnnotationStore {
    /// Current ratings as Label Studio tasks: one task per rated map (the item plus the map's
    /// provenance in `data`: `model`, `method`, `layer`, `target`, `heatmap_sha256`), one
    /// annotation per rater. Answers are results on the object `image`: `choices` named
    /// `rating` (`-3`…`3`), `scale`, `class_guess`, `visible` and `highlighted` (several choices:
    /// pattern names, none ticked = answered "none"), `better` (`A`, `B`, `equal`), a `textarea`
    /// `comment`; `lead_time` is the seconds spent; how the map was shown (trial, slot, colormap,
    /// opacity, threshold) is in `pleura_trial`, `pleura_slot`, `pleura_overlay`. Export only:
    /// the rating CSV and JSON Lines are the files Pleura imports.
    ///
    /// ```swift
    /// let sink = TextSink(); try store.exportRatingLabelStudio(root: "/data", to: sink)
    /// ```
    public func exportRatingLabelStudio(root: String, to sink: TextSink) throws {
        func result(_ name: String, _ type: String, _ value: JSONValue) -> JSONValue {
            .object(["from_name": .string(name), "to_name": .string("image"), "type": .string(type), "value": value])
        }
        func choices(_ name: String, _ values: [String]) -> JSONValue {
            result(name, "choices", .object(["choices": .array(values.map { .string($0) })]))
        }
        var tasks: [String: (order: Int, data: [String: JSONValue], annotations: [JSONValue])] = [:]
        for (r, sha) in try ratingRecords(root: root) {
            let key = [r.media, String(r.frame ?? -1), r.model, r.method, r.layer, r.target, r.heatmapSHA256].joined(separator: "\u{1}")
            if tasks[key] == nil {
                tasks[key] = (tasks.count, ["media": .string(r.media), "sha256": .string(sha), "image": .string(r.media),
                                            "frame": r.frame.map { .int($0) } ?? .null, "model": .string(r.model),
                                            "method": .string(r.method), "layer": .string(r.layer), "target": .string(r.target),
                                            "heatmap_sha256": .string(r.heatmapSHA256)], [])
            }
            var results: [JSONValue] = [choices("scale", [r.scale.rawValue])]
            if let v = r.rating { results.append(choices("rating", [String(v.rawValue)])) }
            if let g = r.classGuess { results.append(choices("class_guess", [g])) }
            if let v = r.visible { results.append(choices("visible", v.sorted().map(\.rawValue))) }
            if let h = r.highlighted { results.append(choices("highlighted", h.sorted().map(\.rawValue))) }
            if let b = r.better { results.append(choices("better", [b.rawValue])) }
            if let c = r.comment { results.append(result("comment", "textarea", .object(["text": .array([.string(c)])]))) }
            var annotation: [String: JSONValue] = ["completed_by": .object(["username": .string(r.annotator)]),
                                                   "pleura_annotator": .string(r.annotator), "pleura_trial": .string(r.trial),
                                                   "pleura_slot": r.slot.map { .string($0.rawValue) } ?? .null,
                                                   "result": .array(results)]
            if let o = r.overlay {
                annotation["pleura_overlay"] = .object(["colormap": .string(o.colormap), "opacity": .double(o.opacity),
                                                        "threshold": o.threshold.map { .double($0) } ?? .null])
            }
            if let s = r.seconds { annotation["lead_time"] = .double(s) }
            tasks[key]!.annotations.append(.object(annotation))
        }
        let ordered = tasks.values.sorted { $0.order < $1.order }
        for (i, t) in ordered.enumerated() {
            let task: JSONValue = .object(["id": .int(i + 1), "data": .object(t.data), "annotations": .array(t.annotations)])
            sink.write((i == 0 ? "[\n" : ",\n") + task.serialized)
        }
        sink.write(ordered.isEmpty ? "[]\n" : "\n]\n")
        sink.flush()
    }
}
