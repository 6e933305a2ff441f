import Foundation
import Testing
import PleuraCore
import PleuraTestSupport
@testable import PleuraStore

/// Exams, zones, pseudonyms and patient scores through the store API; the patient scores are
/// recomputed from the exported CSVs alone (here in Swift, and by Scripts/patient_agreement_reference.py
/// with scikit-learn and pingouin when a venv can be made).
@Suite(.serialized) struct ExamStoreTests {
    /// 3 exams × 3 zones (one clip each, the first zone with two), two annotators and a model.
    struct Study {
        let dir: URL
        let store: AnnotationStore
        let media: [(sha: String, patient: String, zone: String)]
        let alice: Annotator, bob: Annotator
        let aliceSession: StoreSession, bobSession: StoreSession
    }

    static let patients = ["MRN-000123", "MRN-000456", "MRN-000789"]

    static func makeStudy() throws -> Study {
        let dir = try TestEnv.makeTempDirectory("pleura-exams")
        let store = try AnnotationStore.open(path: dir.appendingPathComponent("s.sqlite").path)
        var media: [(String, String, String)] = []
        for (p, patient) in patients.enumerated() {
            for (z, zone) in ["R1", "R1", "R2", "L1"].enumerated() {
                let sha = SHA256.hex(of: Array("clip \(p) \(z)".utf8))
                try store.registerMedia(sha256: sha, path: "/data/c\(p)\(z).mp4", facts: MediaFacts(kind: "video", frames: 20))
                #expect(try store.assignExam(media: sha, patientKey: patient, studyKey: nil, zone: zone, protocol: "iclus14"))
                #expect(try !store.assignExam(media: sha, patientKey: patient, studyKey: nil, zone: zone, protocol: "iclus14"), "unchanged: no new row")
                media.append((sha, patient, zone))
            }
        }
        let alice = try store.annotator(named: "alice", role: .labeller), bob = try store.annotator(named: "bob", role: .labeller)
        let sa = try store.beginSession(annotator: alice, name: "t", mode: "label"), sb = try store.beginSession(annotator: bob, name: "t", mode: "label")
        var rng = SplitMix64(seed: 16)
        for (i, m) in media.enumerated() {
            for (who, session) in [(alice, sa), (bob, sb)] {
                for frame in [0, 5, 10] {
                    let base = (i / 4 + frame / 5 + (who.name == "bob" ? Int(rng.next() % 2) : 0)) % 4
                    try store.setLabel(item: ItemRef(mediaSHA256: m.0, frame: frame), field: .severity,
                                       value: .severity(Severity(rawValue: base)!), annotator: who, session: session)
                    try store.setFrameClass(item: ItemRef(mediaSHA256: m.0, frame: frame),
                                            to: HuFrameClass.allCases[(base + Int(rng.next() % 3)) % 6], annotator: who, session: session)
                }
            }
            if i == 1 {   // a whole-clip severity counts toward its zone's worst
                try store.setLabel(item: ItemRef(mediaSHA256: m.0, frame: nil), field: .severity, value: .severity(Severity(rawValue: 3)!),
                                   annotator: alice, session: sa)
            }
            try store.insertPredictions((0...3).map { c in
                Prediction(item: ItemRef(mediaSHA256: m.0, frame: 0), modelSHA256: String(repeating: "9", count: 64), head: "severity",
                           className: String(c), probability: c == (i % 4) ? 0.7 : 0.1)
            })
        }
        return Study(dir: dir, store: store, media: media, alice: alice, bob: bob, aliceSession: sa, bobSession: sb)
    }

    @Test func identifiersAreKeptOnlyAsKeyedPseudonyms() throws {
        let s = try Self.makeStudy()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let p = try s.store.pseudonym("MRN-000123")
        #expect(p.count == 64 && p.allSatisfy(\.isHexDigit))
        #expect(try s.store.pseudonym("MRN-000123") == p)
        #expect(p != SHA256.hex(of: Array("MRN-000123".utf8)), "keyed, not a plain hash")
        let other = try AnnotationStore.open(path: s.dir.appendingPathComponent("other.sqlite").path)
        #expect(try other.pseudonym("MRN-000123") != p, "each store has its own secret")
        #expect(try s.store.examMembership().filter { $0.exam?.patient == p }.count == 4)
        // No raw identifier in the store's files (database and write-ahead log) or any export.
        let report = try s.store.examReport()
        var texts = [report.itemsCSV, report.zonesCSV, report.patientsCSV, report.agreementJSON]
        for suffix in ["", "-wal"] {
            if let d = FileManager.default.contents(atPath: s.store.path + suffix) { texts.append(String(decoding: d, as: UTF8.self)) }
        }
        for t in texts { for raw in Self.patients { #expect(!t.contains(raw)) } }
        #expect(texts.last!.count > 1000, "the WAL was read")
    }

    @Test func zoneKeyIsAnUndoableEventOverThePattern() throws {
        let s = try Self.makeStudy()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let sha = s.media[3].sha
        #expect(try s.store.zone(ofMedia: sha) == "L1")
        #expect(try s.store.setZone(media: sha, zone: "L2", annotator: s.alice, session: s.aliceSession) != nil)
        #expect(try s.store.zone(ofMedia: sha) == "L2")
        #expect(try s.store.examMembership().first { $0.mediaSHA256 == sha }?.zoneSource == "key")
        let undone = try s.store.undo(annotator: s.alice, session: s.aliceSession)
        #expect(undone.first?.field == "zone")
        #expect(try s.store.zone(ofMedia: sha) == "L1")
        try s.store.redo(annotator: s.alice, session: s.aliceSession)
        #expect(try s.store.zone(ofMedia: sha) == "L2")
        #expect(try s.store.verifyCurrentState() == 0)
    }

    /// The patient scores `pleura exams` exports equal what the exported item rows give when
    /// summed by hand: per rater and exam, the sum over zones of the worst severity, and the
    /// mean of the Hu frame scores.
    @Test func patientScoresEqualAnIndependentComputationFromTheExports() throws {
        let s = try Self.makeStudy()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let report = try s.store.examReport()
        let items = try CSV.parse(report.itemsCSV, file: "items.csv").dropFirst().map(\.fields)
        let patients = try CSV.parse(report.patientsCSV, file: "patients.csv").dropFirst().map(\.fields)
        var worst: [String: Int] = [:], hu: [String: [Double]] = [:]
        for f in items {   // patient,study,zone,media_sha256,frame,rater,severity,frame_class,frame_score
            if let sev = Int(f[6]) { worst["\(f[0])|\(f[1])|\(f[5])|\(f[2])"] = max(worst["\(f[0])|\(f[1])|\(f[5])|\(f[2])"] ?? -1, sev) }
            if let score = Double(f[8]), Int(f[4])! >= 0 { hu["\(f[0])|\(f[1])|\(f[5])", default: []].append(score) }
        }
        var sums: [String: Int] = [:]
        for (k, v) in worst { sums[k.split(separator: "|", omittingEmptySubsequences: false).prefix(3).joined(separator: "|"), default: 0] += v }
        #expect(patients.count == 9)   // 3 exams × (alice, bob, the model)
        for f in patients {            // patient,study,rater,lus_score,zones_scored,zones_total,hu_mean,hu_frames
            let key = "\(f[0])|\(f[1])|\(f[2])"
            #expect(Int(f[3]) == sums[key], "\(key)")
            #expect(f[5] == "14")
            let frames = hu[key] ?? []
            if frames.isEmpty { #expect(f[6].isEmpty) } else {
                #expect(abs(Double(f[6])! - frames.reduce(0, +) / Double(frames.count)) < 1e-12)
            }
        }
        // alice's whole-clip 3 on the second R1 clip of exam 0 makes R1's worst 3.
        let p0 = try s.store.pseudonym(Self.patients[0])
        #expect(report.zones.first { $0.exam.patient == p0 && $0.zone == "R1" && $0.rater == "alice" }?.worstSeverity == 3)
        #expect(report.agreements.map(\.schema) == ["lus", "hu6"])
        #expect(report.agreements[0].raters.contains("model:999999999999"))
        #expect(report.agreements[0].exams == 3)

        // The same from Python: scikit-learn's quadratic kappa and pingouin's ICC2 over the exported files.
        let (python, why) = ReferenceVenv.patientAgreement
        guard let python else { print("skipped the scikit-learn/pingouin recomputation: \(why)"); return }
        var paths: [String] = []
        for (name, text) in [("items.csv", report.itemsCSV), ("zones.csv", report.zonesCSV), ("patients.csv", report.patientsCSV),
                             ("agreement.json", report.agreementJSON)] {
            let url = s.dir.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            paths.append(url.path)
        }
        let check = try runProgram(python, [TestEnv.packageRoot.appendingPathComponent("Scripts/patient_agreement_reference.py").path] + paths)
        #expect(check.status == 0, "\(check.stdoutText)\(check.stderrText)")
        #expect(check.stdoutText.contains(" 0 differ"), "\(check.stdoutText)")
        print("patient scores and agreement vs reference: \(check.stdoutText.split(separator: "\n").last ?? "")")
    }
}
