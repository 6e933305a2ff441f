import Testing
@testable import PleuraCore

@Suite struct CSVTests {
    @Test func quotedCommasNewlinesBOMAndCRLF() throws {
        let text = "\u{FEFF}a,b\r\n\"x, y\",\"line1\nline2 \"\"q\"\"\"\r\n"
        let recs = try CSV.parse(text, file: "t.csv")
        #expect(recs.count == 2)
        #expect(recs[1].fields == ["x, y", "line1\nline2 \"q\""])
        #expect(recs[1].line == 2)
    }

    @Test func unterminatedQuoteNamesLine() {
        #expect(throws: PleuraError(file: "t.csv", "line 2: a quoted field is never closed")) {
            _ = try CSV.parse("a\n\"open\n", file: "t.csv")
        }
    }

    @Test func labelRoundTripIsExact() throws {
        let rec = LabelRecord(media: "clips/a b.mp4", frame: 3, annotator: "dr, who",
                              labels: LabelSet(findings: [.aLines: true, .b2Lines: false],
                                               severity: Severity(rawValue: 2), quality: .poor, note: "two\nlines \"x\""))
        let text = LabelRecord.formatFile([rec])
        let back = try LabelRecord.parseFile(text, file: "t.csv")
        #expect(back == [rec])
        #expect(LabelRecord.formatFile(back) == text)
    }

    @Test func severityFourIsRejectedWithLine() {
        let text = LabelRecord.header.joined(separator: ",") + "\nm.mp4,0,ann,,,,,4,,\n"
        #expect(throws: PleuraError(file: "f.csv", "line 2: severity '4' must be 0, 1, 2, 3 or empty")) {
            _ = try LabelRecord.parseFile(text, file: "f.csv")
        }
    }
}
