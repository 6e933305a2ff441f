import Foundation
import PleuraCore
import PleuraStore

/// The labelling screen's ``ExamBackend`` over PleuraStore, writing through the label backend's
/// store session (so the undo key undoes zone keys and frame classes too). File-name placements
/// are pseudonymised by the store before they are kept, here and in memory alike.
public final class StoreExamBackend: ExamBackend {
    public let settings: ExamSettings
    private let labels: StoreLabelBackend
    /// File name → exam, computed once per name.
    private var examByName: [String: ExamKey?] = [:]

    public init(settings: ExamSettings, labels: StoreLabelBackend) {
        self.settings = settings
        self.labels = labels
    }

    private var store: AnnotationStore { labels.store }

    public func exam(ofFile url: URL) -> ExamKey? {
        let name = url.lastPathComponent
        if let known = examByName[name] { return known }
        var key: ExamKey? = nil
        if let p = settings.placement(fileName: name), let patient = try? store.pseudonym(p.patientKey) {
            key = ExamKey(patient: patient, study: p.studyKey.flatMap { try? store.pseudonym($0) })
        }
        examByName[name] = key
        return key
    }

    public func place(file url: URL, media sha256: String) throws {
        guard let p = settings.placement(fileName: url.lastPathComponent) else { return }
        try store.assignExam(media: sha256, patientKey: p.patientKey, studyKey: p.studyKey, zone: p.zone,
                             protocol: settings.zoneProtocol.name, source: .pattern)
    }

    public func zone(ofMedia sha256: String) throws -> String? {
        try store.zone(ofMedia: sha256)
    }

    public func setZone(_ zone: String?, ofMedia sha256: String) throws {
        try store.setZone(media: sha256, zone: zone, annotator: labels.annotator, session: labels.storeSession)
    }

    public func frameClasses(ofMedia sha256: String) throws -> [Int: HuFrameClass] {
        try store.frameClasses(mediaSHA256: sha256, annotator: labels.annotator)
    }

    public func setFrameClass(_ value: HuFrameClass?, item: ItemRef) throws {
        try store.setFrameClass(item: item, to: value, annotator: labels.annotator, session: labels.storeSession)
    }

    public func severities(ofMedia sha256: String) throws -> [Int: Int] {
        try store.currentLabelsByFrame(mediaSHA256: sha256, annotator: labels.annotator).compactMapValues { $0.severity?.rawValue }
    }
}
