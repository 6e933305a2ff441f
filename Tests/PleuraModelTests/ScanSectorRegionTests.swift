import Testing
@testable import PleuraModel

/// ScanSector.restricted: a DICOM file's ultrasound region bounds the detected sector.
@Suite struct ScanSectorRegionTests {
    @Test func regionCutsTheSectorAndStandsInWhenNothingIsInside() {
        let whole = ScanSector.whole(width: 20, height: 10)
        let cut = whole.restricted(x0: 2, y0: 3, x1: 11, y1: 7)
        #expect(cut.pixelCount == 10 * 5)
        #expect(cut.mask[3 * 20 + 2] == 1 && cut.mask[3 * 20 + 1] == 0 && cut.mask[8 * 20 + 5] == 0)
        #expect(cut.cropSide == 10)
        // A sector entirely outside the region: the region itself is the sector.
        var left = [UInt8](repeating: 0, count: 200)
        for y in 0..<10 { left[y * 20] = 1 }
        let fallback = ScanSector(width: 20, height: 10, mask: left).restricted(x0: 10, y0: 0, x1: 30, y1: 9)
        #expect(fallback.pixelCount == 10 * 10 && fallback.mask[10] == 1 && fallback.mask[0] == 0)
    }
}
