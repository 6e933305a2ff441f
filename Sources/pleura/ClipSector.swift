import Foundation
import PleuraCore
import PleuraMedia
import PleuraModel

/// The scan sector of a clip for sector-cropped models (card `input.crop = "sector"`): found once
/// per clip from its sample frames (``ScanSector/sampleIndices(frameCount:)``), as training did.
enum ClipSector {
    /// nil for models that see the whole frame (nothing is decoded then).
    /// A DICOM file's ultrasound region (Sequence of Ultrasound Regions), where it has one, bounds
    /// the detected sector: annotations and burned-in text beside the scan never count as sector.
    static func sector(for model: ModelRuntime, reader: MediaReader) throws -> ScanSector? {
        let found = try model.clipSector(frameCount: reader.info.frames) { try reader.frame($0, format: .rgb24) }
        guard let found, let r = reader.info.dicom?.scanRegion else { return found }
        return found.restricted(x0: r.x0, y0: r.y0, x1: r.x1, y1: r.y1)
    }

    /// As above for a path `FrameLoader` reads: a `.npy` image is its own one-frame clip.
    static func sector(for model: ModelRuntime, path: String, frame: PixelImage) throws -> ScanSector? {
        guard model.usesSector else { return nil }
        if path.lowercased().hasSuffix(".npy") { return ScanSector.detect(frames: [frame]) }
        return try sector(for: model, reader: MediaReader(path: path, cacheBytes: 0))
    }
}
