import Foundation
import PleuraCore

/// One frame of a file as a PixelImage, for the commands that feed frames to the model.
enum FrameLoader {
    static func frame(_ path: String, index: Int) throws -> PixelImage {
        guard index >= 0 else { throw PleuraError(file: path, "--index must be 0 or more") }
        if path.lowercased().hasSuffix(".npy") {
            let array = try NumpyArray.read(path: path)
            guard let image = array.image else {
                throw PleuraError(file: path, "not a uint8 image array (shape H x W or H x W x 3, dtype uint8); got \(array.dtype.rawValue) \(array.shape)")
            }
            guard index == 0 else { throw PleuraError(file: path, "a .npy image has one frame (index 0), not \(index)") }
            return image
        }
        throw PleuraError(file: path, "video decoding is not on this branch yet (needs PleuraMedia's MediaReader); pass a uint8 .npy image")
    }
}
