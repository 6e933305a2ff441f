import Foundation

/// Where Pleura finds its embedded model without configuration.
public enum Model {
    /// File name of the embedded default model (its card is `pleura-lus-v1.json` beside it).
    public static let defaultModelName = "pleura-lus-v1.pt"

    /// The embedded model: `$PLEURA_MODEL` if set, else `Models/pleura-lus-v1.pt` in the first of:
    /// the folders above the running executable (a checkout's `.build/<config>/pleura` finds the
    /// repository's `Models/`), `share/pleura/` beside an installed `bin/`, the current directory.
    /// Nil when none exists.
    public static var defaultModelURL: URL? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["PLEURA_MODEL"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        var candidates: [URL] = []
        var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(dir.appendingPathComponent("Models/\(defaultModelName)"))
            candidates.append(dir.appendingPathComponent("share/pleura/Models/\(defaultModelName)"))
            dir.deleteLastPathComponent()
        }
        candidates.append(URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent("Models/\(defaultModelName)"))
        return candidates.first { fm.fileExists(atPath: $0.path) }
    }
}
