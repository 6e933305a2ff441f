import Foundation
import PleuraCore

/// Chooses each playing frame's sixel quality so that bytes × fps fit the link, and says when a
/// frame must be skipped so that nothing queues up in front of the next key's answer.
///
/// The ladder is a set of PSNR targets (best first); each rung keeps its own ``SixelEncoder`` (so
/// its palette is reused across the clip) and the size of its last frame, which predicts the next
/// one (consecutive frames of a clip are alike). The chosen rung is the best one whose predicted
/// bytes × fps stay within `headroom` of the link's rate (``LinkMeter``); when even the lowest
/// does not fit, frames are dropped instead (playback keeps time; see
/// ``LinkMeter/isBusy(now:)``). A rung never measured is predicted from its neighbour by a fixed
/// ratio until its first frame.
///
/// When playback stops, the caller draws the frame again with ``SixelEncoder/Options-swift.struct/still(maxColors:)``.
public final class PlaybackQuality {
    /// PSNR targets of the playing rungs, best first: all ≥ 32 dB (measured by `pleura bench
    /// --suite render`, "curve" rows).
    public static let ladder: [Double] = [38, 36, 34.5, 33]
    /// Share of the link's rate playback may use (the rest: text, keys' answers, estimate error).
    public static let headroom = 0.8

    public let maxColors: Int
    private var encoders: [SixelEncoder]
    private var lastBytes: [Int?]
    /// The rung of the last frame.
    public private(set) var rung = 0

    public init(maxColors: Int = 256) {
        self.maxColors = maxColors
        encoders = Self.ladder.map { SixelEncoder(options: .playing(targetPSNR: $0, maxColors: maxColors)) }
        lastBytes = Self.ladder.map { _ in nil }
    }

    /// A new clip: palettes and sizes start again.
    public func reset() {
        for e in encoders { e.reset() }
        lastBytes = Self.ladder.map { _ in nil }
        rung = 0
    }

    /// Predicted bytes of a frame at `rung` (nil before any frame).
    func predictedBytes(_ rung: Int) -> Double? {
        if let b = lastBytes[rung] { return Double(b) }
        // Each rung down saves roughly 15 % (measured on POCUS frames); scale from a measured one.
        for (i, b) in lastBytes.enumerated() {
            if let b { return Double(b) * pow(0.85, Double(rung - i)) }
        }
        return nil
    }

    /// The rung for the next frame given the link's rate (bytes/s; nil: unknown, start at the best
    /// rung and let the first frames measure it) and the clip's frame rate.
    @discardableResult
    public func chooseRung(linkBytesPerSecond: Double?, framesPerSecond: Double) -> Int {
        guard let rate = linkBytesPerSecond, framesPerSecond > 0 else { rung = 0; return 0 }
        let budget = rate * Self.headroom / framesPerSecond
        for r in Self.ladder.indices {
            guard let predicted = predictedBytes(r) else { rung = r; return r }
            if predicted <= budget { rung = r; return r }
        }
        rung = Self.ladder.count - 1
        return rung
    }

    /// Encodes a playing frame at the rung ``chooseRung(linkBytesPerSecond:framesPerSecond:)`` chose.
    public func encode(_ image: PixelImage) throws -> [UInt8] {
        let bytes = try encoders[rung].encode(image)
        lastBytes[rung] = bytes.count
        return bytes
    }

    /// What the last frame at the current rung measured (PSNR, bytes).
    public var lastReport: SixelEncoder.FrameReport? { encoders[rung].lastReport }
}
