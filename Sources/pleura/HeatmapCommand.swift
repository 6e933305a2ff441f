import ArgumentParser
import Foundation
import PleuraCore
import PleuraModel

/// `pleura heatmap FILE --index N [--head H] [--class C] [--method M] -o MAP.npy [--dump-input IN.npy]`
struct HeatmapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heatmap",
        abstract: "Write one frame's class-activation map as a float32 .npy at the model's input size.",
        discussion: """
            The map is what Pleura overlays: pytorch-grad-cam's numerics (raw logit target, ReLU, \
            min-max, bilinear resize with half-pixel centres). --dump-input writes the exact tensor fed \
            to the model (1 x C x H x W float32), so any tool can recompute the map with its own code. \
            Prints one JSON line: model, head, class, method, layer, the class's probability (and its \
            MC-dropout uncertainty when the model has one). --frame-size writes the map on the frame's own \
            pixel grid instead (bilinear, 0 outside the region the model saw: outside the scan sector for \
            sector models), so maps of different models compare with the picture. FILE is a video or \
            image, or a uint8 .npy image (H x W or H x W x 3).
            """)

    @Argument(help: "Video, image, or uint8 .npy image.")
    var file: String

    @Option(help: "Frame index (0-based, display order).")
    var index: Int = 0

    @Option(help: "Head to explain (default: the card's default head).")
    var head: String?

    @Option(name: .customLong("class"), help: "Class to explain (default: the head's most probable class).")
    var className: String?

    @Option(help: "gradcam, gradcam++, layercam or pocovid.")
    var method: String = "gradcam"

    @Option(name: [.customShort("o"), .customLong("output")], help: "Where to write the map (.npy, float32, H x W).")
    var output: String

    @Flag(name: .customLong("frame-size"), help: "Write the map at the frame's size (0 outside what the model saw), not the model's input size.")
    var frameSize = false

    @Option(name: .customLong("dump-input"), help: "Also write the model's input tensor here (.npy, float32, 1 x C x H x W).")
    var dumpInput: String?

    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        guard let cam = HeatmapMethod(name: method) else {
            throw PleuraError(file: nil, "unknown --method \(method); use one of: "
                              + HeatmapMethod.validNames)
        }
        let image = try FrameLoader.frame(path: file, index: index)
        let model = try modelOptions.load()
        let headName = head ?? model.card.defaultHead
        guard let cardHead = model.card.head(named: headName) else {
            throw PleuraError(file: model.modelURL.path, "no head \"\(headName)\"; heads: "
                              + model.card.heads.map(\.name).joined(separator: ", "))
        }
        let sector = try ClipSector.sector(for: model, path: file, frame: image)
        let input = model.inputTensor(for: image, sector: sector)
        if let className, !cardHead.classes.contains(className) {
            throw PleuraError(file: model.modelURL.path, "head \"\(headName)\" has no class \"\(className)\"; classes: "
                              + cardHead.classes.joined(separator: ", "))
        }
        let result = try model.analysis(input: input, targets: [CAMTarget(head: headName, className: className)], methods: [cam])
        var map = result.heatmaps[0]
        map.frameWidth = image.width
        map.frameHeight = image.height
        map.sector = model.usesSector ? (sector ?? ScanSector.detect(frames: [image])) : nil
        let target: String? = map.className
        let written = frameSize ? map.onFrameGrid() : (map.width, map.height, map.values)
        try NumpyArray(shape: [written.1, written.0], floats: written.2).write(path: output)
        if let dumpInput {
            try NumpyArray(shape: [1, model.card.input.channels, model.card.input.height, model.card.input.width],
                           floats: input).write(path: dumpInput)
        }
        var summary: [String: Any] = [
            "file": file, "frame": index, "model": model.card.name, "head": headName, "class": target!,
            "method": cam.rawValue, "layer": model.card.gradCAMLayer,
            "probability": Double(result.predictions[headName]?[target!] ?? 0),
            "width": written.0, "height": written.1, "output": output,
        ]
        if let u = result.uncertainty[headName]?[target!] { summary["uncertainty"] = Double(u) }
        let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
        print(SafeText.terminalSafeJSON(String(decoding: data, as: UTF8.self)))
    }
}
