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
