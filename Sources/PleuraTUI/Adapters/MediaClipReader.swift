import Foundation
import PleuraCore
import PleuraMedia
import PleuraModel

/// A media file opened with PleuraMedia, as the labelling screen reads it.
public final class MediaClipReader: ClipReader {
    public let reader: MediaReader
    public var info: MediaInfo { reader.info }

    public init(url: URL) throws {
        reader = try MediaReader(path: url.path)
    }

    public var frameCount: Int { reader.info.frames }
    /// The container's rate; files that give none (still images, some GIFs) play at 10 fps.
    public var framesPerSecond: Double { reader.info.fps > 0 ? reader.info.fps : 10 }
    public var width: Int { reader.info.width }
    public var height: Int { reader.info.height }
    public var sha256: String { reader.info.sha256 }

    public func frame(_ index: Int) throws -> PixelImage {
        try reader.frame(index, format: .rgb24)
    }

    /// `sector` cut to the clip's DICOM ultrasound region where it has one (as `pleura infer`'s
    /// ClipSector does), so the screen's model input equals infer's.
    static func bounded(_ sector: ScanSector, for clip: ClipReader) -> ScanSector {
        guard let r = (clip as? MediaClipReader)?.reader.info.dicom?.scanRegion else { return sector }
        return sector.restricted(x0: r.x0, y0: r.y0, x1: r.x1, y1: r.y1)
    }
}
