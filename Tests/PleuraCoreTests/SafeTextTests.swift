import Foundation
import Testing
@testable import PleuraCore

@Suite struct SafeTextTests {
    @Test func stripsEscapeSequencesAndControls() {
        let hostile = "clip\u{1B}]0;pwned\u{07}\u{1B}[2J\r\n\u{9B}31m\u{202E}.mp4"
        let safe = SafeText.sanitize(hostile)
        #expect(!safe.unicodeScalars.contains { SafeText.isUnsafe($0) })
        #expect(safe == "clip?]0;pwned??[2J???31m?.mp4")
    }

    @Test func keepsOrdinaryUnicode() {
        #expect(SafeText.sanitize("Pneumonia – Lunge ü 肺.mp4") == "Pneumonia – Lunge ü 肺.mp4")
    }

    @Test func errorDescriptionIsSanitised() {
        let e = PleuraError(file: "a\u{1B}b.mp4", "bad\u{07}")
        #expect(e.description == "a?b.mp4: bad?")
    }
}

@Suite struct DomainTests {
    @Test func severityAndRatingRanges() {
        #expect(Severity(rawValue: 4) == nil)
        #expect(Severity(rawValue: 3)?.rawValue == 3)
        #expect(HeatmapRating(rawValue: 5) == nil)
        #expect(HeatmapRating(rawValue: -3)?.meaning == "only distracting")
        #expect(HeatmapRating(rawValue: 3)?.meaning == "very helpful")
    }

    @Test func pixelImageConversions() {
        let rgb = PixelImage(width: 2, height: 1, format: .rgb24, pixels: [255, 0, 0, 10, 10, 10])
        let gray = rgb.toGray()
        #expect(gray.pixels == [76, 10])
        #expect(gray.toRGB().pixels == [76, 76, 76, 10, 10, 10])
    }
}

@Suite struct TerminalSafeJSONTests {
    static let hostile = ["\u{9B}31m", "a\u{85}b", "\u{9D}0;t\u{9C}", "x\u{202E}gpj.exe", "\u{2066}i\u{2069}", "\u{202A}\u{202B}\u{202C}\u{202D}",
                          "\u{1B}[2J\u{07}", "tab\tnl\nquote\"back\\", "del\u{7F}", "ordinary ü 肺"]

    @Test func jsonQuotedEscapesEveryUnsafeScalarAndDecodesBack() throws {
        for text in Self.hostile {
            let quoted = SafeText.jsonQuoted(text)
            #expect(!quoted.unicodeScalars.contains { SafeText.isUnsafe($0) }, "\(quoted.debugDescription)")
            let back = try JSONSerialization.jsonObject(with: Data("[\(quoted)]".utf8)) as? [String]
            #expect(back == [text])
        }
        #expect(SafeText.jsonQuoted("\u{9B}") == "\"\\u009b\"")
        #expect(SafeText.jsonQuoted("\u{202E}") == "\"\\u202e\"")
    }

    @Test func foundationJSONIsMadeSafeWithoutChangingItsMeaning() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        for text in Self.hostile {
            let raw = String(decoding: try encoder.encode(["path": text]), as: UTF8.self)
            let safe = SafeText.terminalSafeJSON(raw)
            #expect(!safe.unicodeScalars.contains { SafeText.isUnsafe($0) && $0 != "\n" && $0 != " " }, "\(safe.debugDescription)")
            let back = try JSONSerialization.jsonObject(with: Data(safe.utf8)) as? [String: String]
            #expect(back == ["path": text])
        }
    }

    @Test func textOutputShowsVisibleReplacements() {
        for text in Self.hostile {
            let safe = SafeText.sanitize(text)
            #expect(!safe.unicodeScalars.contains { SafeText.isUnsafe($0) })
            #expect(safe.unicodeScalars.count == text.unicodeScalars.count, "one visible mark per unsafe scalar")
        }
        #expect(SafeText.sanitize("a\u{9B}b\u{202E}c") == "a?b?c")
    }
}

@Suite struct FileNameTests {
    @Test func namesThatAreNotUTF8RoundTripAsBytes() {
        let cases: [[UInt8]] = [
            Array("plain.mp4".utf8), Array("ünï 肺 🫁.mp4".utf8),
            [0x63, 0x61, 0x66, 0xE9, 0x2E, 0x6D, 0x70, 0x34],   // Latin-1 é
            [0x80, 0xFF, 0xFE], [0xC0, 0xAF], [0xE2, 0x82], [0xED, 0xA0, 0x80],   // continuation, overlong, truncated, surrogate
            [0xF4, 0x90, 0x80, 0x80], [0x61, 0xF0, 0x9F, 0x98],
        ]
        for bytes in cases {
            let name = FileName.decode(bytes: bytes)
            #expect(FileName.bytes(name) == bytes, "\(bytes)")
            let shown = SafeText.sanitize(name)
            #expect(!shown.unicodeScalars.contains { FileName.isRawByte($0) || SafeText.isUnsafe($0) })
            if String(validating: bytes, as: UTF8.self) == nil { #expect(shown.contains("\u{FFFD}")) }
            else { #expect(name == String(decoding: bytes, as: UTF8.self)) }
        }
    }

    @Test func filesAreOpenedByTheirBytes() throws {
        let dir = NSTemporaryDirectory() + "pleura-filename-\(getpid())"
        mkdir(dir, 0o755)
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let bytes = Array(dir.utf8) + [0x2F, 0x78, 0xFF, 0x2E, 0x62, 0x69, 0x6E]
        let name = FileName.decode(bytes: bytes)
        let fd = FileName.withCString(name) { open($0, O_CREAT | O_WRONLY, 0o644) }
        #expect(fd >= 0)
        _ = write(fd, "hello", 5); close(fd)
        #expect(FileName.exists(name))
        #expect(try FileName.contents(name) == Array("hello".utf8))
        #expect(FileName.readPrefix(name, count: 2) == Array("he".utf8))
        #expect(try SHA256.hexOfFile(atPath: name) == SHA256.hex(of: Array("hello".utf8)))
        // The repaired name Swift would have made does not exist.
        #expect(!FileName.exists(String(decoding: bytes, as: UTF8.self)))
        #expect(throws: PleuraError.self) { try FileName.contents(name + ".missing") }
    }
}
