import Testing
import PleuraCore
@testable import PleuraRender

/// 2×4 pixels: red over green, blue over blue; dark over dark, dark over light grey.
private let tiny = PixelImage(width: 2, height: 4, format: .rgb24, pixels: [
    255, 0, 0, 0, 0, 255,
    0, 255, 0, 0, 0, 255,
    10, 10, 10, 10, 10, 10,
    10, 10, 10, 200, 200, 200,
])

@Test func halfBlocksTruecolorCellsAreExact() {
    let lines = HalfBlockRenderer.render(tiny, columns: 2, rows: 2, mode: .truecolor)
    #expect(lines == [
        "\u{1B}[38;2;255;0;0;48;2;0;255;0m▀\u{1B}[38;2;0;0;255;48;2;0;0;255m▀\u{1B}[0m",
        "\u{1B}[38;2;10;10;10;48;2;10;10;10m▀\u{1B}[48;2;200;200;200m▀\u{1B}[0m",
    ])
}

@Test func halfBlocks256CellsAreExact() {
    let lines = HalfBlockRenderer.render(tiny, columns: 2, rows: 2, mode: .ansi256)
    #expect(lines == [
        "\u{1B}[38;5;196;48;5;46m▀\u{1B}[38;5;21;48;5;21m▀\u{1B}[0m",
        "\u{1B}[38;5;232;48;5;232m▀\u{1B}[48;5;251m▀\u{1B}[0m",
    ])
}

@Test func halfBlocksMonoUsesNoEscapes() {
    let lines = HalfBlockRenderer.render(tiny, columns: 2, rows: 2, mode: .mono)
    #expect(lines == ["=.", " ="])
    let big = HalfBlockRenderer.render(PixelImage(width: 64, height: 64, format: .gray8,
                                                  pixels: (0..<4096).map { UInt8($0 % 256) }),
                                       columns: 30, rows: 10, mode: .mono)
    #expect(big.count == 10)
    #expect(big.allSatisfy { $0.count == 30 && !$0.unicodeScalars.contains { $0.value < 0x20 } })
}

@Test func halfBlocksLetterboxToTheGivenCells() {
    // A wide image in a square block of cells: every line is exactly `columns` cells.
    let wide = PixelImage(width: 40, height: 10, format: .gray8, pixels: [UInt8](repeating: 200, count: 400))
    let lines = HalfBlockRenderer.render(wide, columns: 20, rows: 10, mode: .truecolor)
    #expect(lines.count == 10)
    for line in lines { #expect(line.filter { $0 == "▀" }.count == 20) }
    #expect(lines[0].contains("38;2;0;0;0"))                       // a black bar above
    #expect(lines[5].contains("38;2;200;200;200"))                 // the image in the middle
    #expect(HalfBlockRenderer.render(wide, columns: 0, rows: 3, mode: .mono).isEmpty)
}

@Test func xterm256PicksCubeOrGreyRamp() {
    #expect(HalfBlockRenderer.xterm256((0, 0, 0)) == 16)
    #expect(HalfBlockRenderer.xterm256((255, 255, 255)) == 231)
    #expect(HalfBlockRenderer.xterm256((128, 128, 128)) == 244)
    #expect(HalfBlockRenderer.xterm256((255, 0, 0)) == 196)
    #expect(HalfBlockRenderer.xterm256((95, 135, 175)) == 16 + 36 * 1 + 6 * 2 + 3)
}
