import Foundation
import PleuraCore
import PleuraMedia

/// Loads one frame for the commands that show or explain frames (`render`, `heatmap`): uint8 `.npy` images directly,
/// everything else through PleuraMedia.
enum FrameLoader {
    static func frame(path: String, index: Int) throws -> PixelImage {
        guard FileManager.default.fileExists(atPath: path) else {
            throw PleuraError(file: path, "no such file")
        }
        if path.lowercased().hasSuffix(".npy") {
            let array = try NumpyArray.read(path: path)
            guard let image = array.image else {
                throw PleuraError(file: path, "a .npy frame must be uint8 with shape (H, W) or (H, W, 3); this one is \(array.dtype == .float32 ? "float32" : "uint8") \(array.shape)")
            }
            guard index == 0 else { throw PleuraError(file: path, "a .npy image has only frame 0 (asked for \(index))") }
            return image
        }
        let reader = try MediaReader(path: path, cacheBytes: 0)
        return try reader.frame(index, format: .rgb24)
    }
}
