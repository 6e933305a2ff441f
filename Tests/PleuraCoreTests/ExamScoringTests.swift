import Foundation
import Testing
@testable import PleuraCore

@Suite struct HMACTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex { let j = hex.index(i, offsetBy: 2); out.append(UInt8(hex[i..<j], radix: 16)!); i = j }
        return out
    }

    /// RFC 4231 test cases 1–4, 6 and 7 (5 is a truncated MAC).
    @Test func rfc4231Vectors() {
        let cases: [([UInt8], [UInt8], String)] = [
            ([UInt8](repeating: 0x0B, count: 20), Array("Hi There".utf8),
             "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            ([UInt8](repeating: 0xAA, count: 20), [UInt8](repeating: 0xDD, count: 50),
             "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
            (Array(1...25), [UInt8](repeating: 0xCD, count: 50),
             "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
            ([UInt8](repeating: 0xAA, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
             "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
            ([UInt8](repeating: 0xAA, count: 131),
             Array("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".utf8),
             "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
        ]
        for (i, (key, message, expected)) in cases.enumerated() {
            #expect(HMACSHA256.hex(key: key, message: message) == expected, "RFC 4231 case \(i)")
            #expect(HMACSHA256.mac(key: key, message: message) == Self.bytes(expected))
        }
    }
}

@Suite struct LungZoneTests {
    @Test func protocolsHaveTheirZonesAndGridPlaces() throws {
        #expect(LungZoneProtocol.named("iclus14")?.zones.count == 14)
        #expect(LungZoneProtocol.named("soldati14")?.zones.map(\.name) == LungZoneProtocol.named("iclus14")?.zones.map(\.name))
        #expect(LungZoneProtocol.named("12zone")?.zones.count == 12)
        #expect(LungZoneProtocol.named("blue")?.zones.map(\.name) == ["R-upper", "R-lower", "R-PLAPS", "L-upper", "L-lower", "L-PLAPS"])
        let p = try #require(LungZoneProtocol.named("iclus14"))
        #expect(p.zone(named: "R1")?.meaning == "right posterior basal")
        #expect(p.zone(named: "L7")?.meaning == "left anterior upper")
        #expect(p.zone(matching: "r3")?.name == "R3")
        // Every cell of the grid holds one zone.
        let places = p.zones.map(\.gridPlace)
        #expect(Set(places.map { "\($0.0),\($0.1)" }).count == 14)
    }

    @Test func patternPlacesFileNamesAndKeepsOnlyProtocolZones() throws {
        let s = ExamSettings(zoneProtocol: LungZoneProtocol.named("iclus14")!, pattern: #"patient_(\d+)_([LR]\d)"#)
        #expect(s.placement(fileName: "/x/patient_0042_L3.mp4") == .init(patientKey: "0042", studyKey: nil, zone: "L3"))
        #expect(s.placement(fileName: "patient_7_R9.mp4")?.zone == nil)     // R9 is no ICLUS zone
        #expect(s.placement(fileName: "other.mp4") == nil)
        let three = ExamSettings(zoneProtocol: LungZoneProtocol.named("blue")!, pattern: #"(\w+)-(\w+)-([LR]-\w+)\."#,
                                 groups: [.patient, .study, .zone])
        #expect(three.placement(fileName: "P1-S2-L-PLAPS.mp4") == .init(patientKey: "P1", studyKey: "S2", zone: "L-PLAPS"))
    }

    @Test func sessionReadsExamAndFrameClasses() throws {
        let text = """
        media = ["*.mp4"]
        [schema]
        frame_classes = "hu6"
        [exam]
        protocol = "12zone"
        pattern = "patient_(\\\\d+)_([LR]\\\\d)"
        """
        let s = try Session.parse(text, file: URL(fileURLWithPath: "/tmp/s.toml"))
        #expect(s.schema.huFrameClasses)
        #expect(s.schema.findings.isEmpty)
        #expect(s.exam?.zoneProtocol.name == "12zone")
        #expect(s.exam?.placement(fileName: "patient_3_R6.mp4")?.zone == "R6")
        #expect(throws: PleuraError.self) { try Session.parse("media = [\"*.mp4\"]\n[exam]\nprotocol = \"13zone\"\n", file: URL(fileURLWithPath: "/tmp/s.toml")) }
        #expect(throws: PleuraError.self) { try Session.parse("media = [\"*.mp4\"]\n[schema]\nframe_classes = \"hu7\"\n", file: URL(fileURLWithPath: "/tmp/s.toml")) }
    }
}

@Suite struct PatientScoreTests {
    static let e1 = ExamKey(patient: String(repeating: "a", count: 64), study: nil)
    static let e2 = ExamKey(patient: String(repeating: "b", count: 64), study: nil)

    @Test func lusSumOfZoneWorstAndHuMean() {
        func item(_ e: ExamKey, _ z: String, _ m: String, _ f: Int, _ r: String, _ s: Int?, _ c: HuFrameClass? = nil) -> ZoneItem {
            ZoneItem(exam: e, zone: z, media: m, frame: f, rater: r, severity: s, huClass: c)
        }
        let items = [
            item(Self.e1, "R1", "m1", 0, "ann", 1, .aLine), item(Self.e1, "R1", "m1", 5, "ann", 3, .b2Line),
            item(Self.e1, "R1", "m2", -1, "ann", 2),                    // a second clip of R1, whole-clip label
            item(Self.e1, "L2", "m3", 0, "ann", 2, .b1AndB2Line), item(Self.e1, "L2", "m3", 5, "ann", nil, .consolidation),
            item(Self.e2, "R1", "m4", 0, "ann", 0, .aLine),
        ]
        let patients = PatientScoring.patientScores(items) { _ in 14 }
        let p1 = patients.first { $0.exam == Self.e1 }!
        #expect(p1.lusScore == 3 + 2)               // R1 worst 3, L2 worst 2
        #expect(p1.zonesScored == 2 && p1.zonesTotal == 14)
        let expectedMean: Double = 9.5 / 4   // (0 + 3 + 2.5 + 4) / 4
        #expect(p1.huMean == expectedMean)
        #expect(patients.first { $0.exam == Self.e2 }?.lusScore == 0)
        let zones = PatientScoring.zoneScores(items)
        #expect(zones.first { $0.exam == Self.e1 && $0.zone == "L2" }?.huWorst == 4)
    }

    /// Shrout & Fleiss (1979), Table 2: 6 targets × 4 judges; their ICC(2,1) is 0.29
    /// (pingouin's ICC2 on the same data: 0.289764, from its formula in numpy).
    @Test func icc21MatchesShroutAndFleiss() throws {
        let rows: [[Double]] = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
        let icc = try #require(Agreement.icc21(rows))
        #expect(abs(icc - 0.2897637795275592) < 1e-12, "\(icc)")
        #expect(Agreement.icc21([[1, 1]]) == nil)
        #expect(Agreement.icc21([[2, 2], [2, 2]]) == nil)    // no variance
    }
}
