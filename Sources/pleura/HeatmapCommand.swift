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
            Prints one JSON line: model, head, class, method, layer, the class's probability. \
            FILE is a video or image, or a uint8 .npy image (H x W or H x W x 3).
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
        let input = model.inputTensor(for: image)
        if let className, !cardHead.classes.contains(className) {
            throw PleuraError(file: model.modelURL.path, "head \"\(headName)\" has no class \"\(className)\"; classes: "
                              + cardHead.classes.joined(separator: ", "))
        }
        let result = try model.analyse(input: input, targets: [CAMTarget(head: headName, className: className)], methods: [cam])
        let map = result.heatmaps[0]
        let target: String? = map.className
        try NumpyArray(shape: [map.height, map.width], floats: map.values).write(path: output)
        if let dumpInput {
            try NumpyArray(shape: [1, model.card.input.channels, model.card.input.height, model.card.input.width],
                           floats: input).write(path: dumpInput)
        }
        let summary: [String: Any] = [
            "file": file, "frame": index, "model": model.card.name, "head": headName, "class": target!,
            "method": cam.rawValue, "layer": model.card.gradCAMLayer,
            "probability": Double(result.predictions[headName]?[target!] ?? 0),
            "width": map.width, "height": map.height, "output": output,
        ]
        let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
        print(SafeText.terminalSafeJSON(String(decoding: data, as: UTF8.self)))
    }
}
