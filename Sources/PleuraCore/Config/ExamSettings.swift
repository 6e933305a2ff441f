import Foundation
import TOMLKit

/// How a session groups its clips into exams and lung zones (`[exam]`).
///
/// ```toml
/// [exam]
/// protocol = "iclus14"                       # iclus14 | soldati14 | 12zone | blue | ["R1", "R2", …]
/// pattern = "patient_(\\d+)_([LR]\\d)"       # searched in each file name (not the folder)
/// groups = ["patient", "zone"]               # what each capture group is: patient, study, zone
/// ```
///
/// Default `groups`: `["patient", "zone"]` for two groups, `["patient", "study", "zone"]` for
/// three. The patient (and study) text is pseudonymised by the store (HMAC with its secret)
/// before anything keeps it; the zone must name a zone of the protocol (case and `-`/`_` aside).
public struct ExamSettings: Equatable, Sendable {
    public enum Group: String, CaseIterable, Sendable { case patient, study, zone }

    public var zoneProtocol: LungZoneProtocol
    /// The file-name pattern, or nil (zones then come from the labelling screen's zone key).
    public var pattern: String?
    public var groups: [Group]

    public init(zoneProtocol: LungZoneProtocol, pattern: String? = nil, groups: [Group] = [.patient, .zone]) {
        self.zoneProtocol = zoneProtocol; self.pattern = pattern; self.groups = groups
    }

    /// What a file name says about its exam.
    public struct Placement: Equatable, Sendable {
        /// Raw identifier text from the name: never store or show it (pseudonymise first).
        public var patientKey: String
        public var studyKey: String?
        public var zone: String?
    }

    /// The placement the pattern finds in a file name (its last path component), or nil when
    /// there is no pattern or it does not match. A zone text the protocol lacks gives zone nil.
    public func placement(fileName: String) -> Placement? {
        guard let pattern, let regex = try? NSRegularExpression(pattern: pattern) else { return nil }
        let name = (fileName as NSString).lastPathComponent
        let ns = name as NSString
        guard let m = regex.firstMatch(in: name, range: NSRange(location: 0, length: ns.length)) else { return nil }
        func group(_ g: Group) -> String? {
            guard let i = groups.firstIndex(of: g), i + 1 < m.numberOfRanges else { return nil }
            let r = m.range(at: i + 1)
            return r.location == NSNotFound ? nil : ns.substring(with: r)
        }
        guard let patient = group(.patient), !patient.isEmpty else { return nil }
        let zone = group(.zone).flatMap { zoneProtocol.zone(matching: $0)?.name }
        return Placement(patientKey: patient, studyKey: group(.study), zone: zone)
    }

    static let knownKeys = ["protocol", "pattern", "groups"]

    static func parse(_ table: TOMLTable, at: (String) -> String) throws -> ExamSettings {
        func fail(_ key: String, _ reason: String) -> PleuraError { PleuraError(file: at(key), reason) }
        var proto = LungZoneProtocol.named("iclus14")!
        if let v = table["protocol"] {
            if let s = v.string {
                guard let p = LungZoneProtocol.named(s) else {
                    throw fail("exam.protocol", "protocol '\(s)' must be one of " + LungZoneProtocol.builtInNames.joined(separator: ", ")
                               + " or a list of zone names like [\"R1\", \"L1\"]")
                }
                proto = p
            } else if let array = v.array {
                let names = array.compactMap { $0.string }
                guard names.count == array.count, !names.isEmpty, Set(names).count == names.count,
                      names.allSatisfy({ !$0.isEmpty && $0.count <= 12 && !$0.unicodeScalars.contains(where: SafeText.isUnsafe) }) else {
                    throw fail("exam.protocol", "a custom protocol is a list of distinct zone names in quotes (at most 12 characters each)")
                }
                proto = .custom(names)
            } else { throw fail("exam.protocol", "exam.protocol must be a protocol name in quotes or a list of zone names") }
        }
        var settings = ExamSettings(zoneProtocol: proto)
        if let v = table["pattern"] {
            guard let s = v.string, !s.isEmpty else { throw fail("exam.pattern", "exam.pattern must be a regular expression in quotes") }
            let regex: NSRegularExpression
            do { regex = try NSRegularExpression(pattern: s) } catch {
                throw fail("exam.pattern", "exam.pattern is not a valid regular expression")
            }
            settings.pattern = s
            settings.groups = regex.numberOfCaptureGroups >= 3 ? [.patient, .study, .zone] : [.patient, .zone]
            if regex.numberOfCaptureGroups < 1 {
                throw fail("exam.pattern", "exam.pattern needs a capture group for the patient, like \"patient_(\\\\d+)_([LR]\\\\d)\"")
            }
        }
        if let v = table["groups"] {
            guard let array = v.array else { throw fail("exam.groups", "exam.groups must be a list like [\"patient\", \"zone\"]") }
            var groups: [Group] = []
            for e in array {
                guard let s = e.string, let g = Group(rawValue: s), !groups.contains(g) else {
                    throw fail("exam.groups", "exam.groups lists patient, study and zone (each once), one per capture group")
                }
                groups.append(g)
            }
            guard groups.contains(.patient) else { throw fail("exam.groups", "exam.groups must include patient") }
            settings.groups = groups
        }
        return settings
    }
}
