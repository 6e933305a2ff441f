import PleuraCore

extension Heatmap {
    /// The map as the 8-bit grey picture Pleura stores, shows and hashes: each value in [0, 1]
    /// times 255, rounded. `pleura infer`, the rate screen and `pleura ratings verify` all go
    /// through this, so a rated map's hash can be regenerated bit for bit.
    public var gray8: PixelImage {
        PixelImage(width: width, height: height, format: .gray8,
                   pixels: values.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) })
    }

    /// The target as stored with the map: `head/class` (e.g. `diagnosis/covid`).
    public var target: String { "\(head)/\(className)" }
}
