import ArgumentParser
import Foundation
import PleuraCore
import PleuraStore

/// `pleura store-torture` (hidden): a writer for the store's crash and concurrency tests. It
/// commits label changes in a loop and prints the id of each event right after its commit,
/// flushing stdout, so a test that kills it knows exactly what was reported as saved.
struct StoreTortureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store-torture",
        abstract: "Commit label changes in a loop, printing each committed event id (for tests).",
        shouldDisplay: false)

    @Option(help: "Store database (a file or a postgresql:// URL).")
    var store: String

    @Option(help: "Annotator name (one per writer process).")
    var annotator: String

    @Option(help: "Number of label changes to commit (0: until killed).")
    var count: Int = 0

    @Option(help: "Frames of the synthetic clip to spread the changes over.")
    var frames: Int = 500

    @Flag(help: "Append each commit's latency in microseconds (setLabel call to its return) to its line (for the bench's soak).")
    var latency = false

    func run() throws {
        let db = try openLabelStore(store)
        // One synthetic media row shared by all writers (registering it is idempotent).
        let sha = SHA256.hex(of: Array("pleura store torture clip".utf8))
        try db.registerMedia(sha256: sha, path: "/torture/clip.mp4", facts: MediaFacts(kind: "video", frames: frames))
        let me = try db.annotator(named: annotator, role: .labeller)
        let session = try db.beginSession(annotator: me, name: "torture", mode: "label")
        let fields: [LabelField] = [.aLines, .b1Lines, .b2Lines, .consolidation, .severity]
        var i = 0
        while count == 0 || i < count {
            // Every change differs from the current value (a flag flips, a severity steps up), so
            // none is a no-op, also when a writer of an earlier run left labels behind.
            let frame = i % frames
            let field = fields[(i / frames) % fields.count]
            let item = ItemRef(mediaSHA256: sha, frame: frame)
            let current = try db.currentLabels(item: item, annotator: me).value(of: field)
            let value: LabelValue
            switch current {
            case .flag(let b)?: value = .flag(!b)
            case .severity(let s)?: value = .severity(Severity(rawValue: (s.rawValue + 1) % 4)!)
            default: value = field == .severity ? .severity(Severity(rawValue: 0)!) : .flag(true)
            }
            let start = Measure.now()
            guard let event = try db.setLabel(item: item, field: field, value: value,
                                              annotator: me, session: session) else {
                throw PleuraError(file: store, "change \(i) was a no-op: the torture pattern is wrong")
            }
            let took = latency ? " \(Int(((Measure.now() - start) * 1e6).rounded()))" : ""
            // write(2), unbuffered: the line is out of the process before the next change starts.
            FileHandle.standardOutput.write(Data("\(event.id) \(frame) \(field.rawValue) \(value.text)\(took)\n".utf8))
            i += 1
        }
    }
}
