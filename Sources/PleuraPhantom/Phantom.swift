import Foundation
import PleuraCore
import PleuraMedia

/// Names and sizes of the phantom's output, for the commands and screens that use it.
public enum PhantomInfo {
    /// The ground-truth file beside the clips (canonical label CSV, annotator ``annotator``).
    public static let labelsFileName = "labels.csv"
    /// The annotator name of the phantom's ground truth in labels.csv.
    public static let annotator = "phantom"
    /// Clip file name for clip `index`: `phantom-000.mp4`, `phantom-001.mp4`, …
    public static func clipFileName(_ index: Int) -> String {
        "phantom-" + String(repeating: "0", count: max(0, 3 - String(index).count)) + String(index) + ".mp4"
    }
    /// Frame size and rate of every clip.
    public static let width = SectorGeometry.standardWidth
    public static let height = SectorGeometry.standardHeight
    public static let fps = 20
    /// The smallest set that shows every finding and every severity (clips cycle through the
    /// clinical pictures, see the README's "The phantom").
    public static let countCoveringEverything = 4
    /// Bumped whenever the pictures change, so cached demo clips from an older Pleura are remade.
    public static let version = 1
}

/// Makes synthetic lung-ultrasound clips with per-frame ground truth.
///
/// Same seed, same bytes: everything random comes from the seed through ``PhantomRandom``, the
/// drawing is plain single-threaded arithmetic and the encoder is bit-exact. Clip `i` depends only
/// on the seed and `i`, not on how many clips are made.
///
/// ```swift
/// let urls = try PhantomGenerator(seed: 1).makeClips(count: 8, into: folder) { done, total in
///     print("\(done)/\(total)")
/// }
/// // folder/phantom-000.mp4 … phantom-007.mp4, folder/labels.csv
/// ```
public struct PhantomGenerator: Sendable {
    public let seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    /// Writes `count` clips (`phantom-000.mp4`, …) and `labels.csv` into `folder` (created when
    /// missing; same-named files are replaced) and returns the clips' URLs. `progress(done, total)`
    /// is called after each clip. Each file is written under a temporary name and renamed when
    /// complete, so an interrupted run never leaves a truncated clip under its real name.
    public func makeClips(count: Int, into folder: URL, progress: ((Int, Int) -> Void)? = nil) throws -> [URL] {
        guard count >= 1 else { throw PleuraError(file: folder.path, "the phantom needs a clip count of at least 1") }
        guard count <= 1000 else { throw PleuraError(file: folder.path, "\(count) phantom clips is more than the 1000 the names allow") }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw PleuraError(file: folder.path, "cannot create the output folder (\(directoryReason(folder, error))); choose a writable folder with -o")
        }
        var records: [LabelRecord] = []
        var urls: [URL] = []
        for index in 0..<count {
            let name = PhantomInfo.clipFileName(index)
            let url = folder.appendingPathComponent(name)
            let clip = makeClip(index)
            records += try Self.write(clip, to: url, mediaName: name)
            urls.append(url)
            progress?(index + 1, count)
        }
        let labels = folder.appendingPathComponent(PhantomInfo.labelsFileName)
        try Self.writeAtomically(Data(LabelRecord.formatFile(records).utf8), to: labels)
        return urls
    }

    /// Clip `index` of this seed, ready to draw.
    func makeClip(_ index: Int) -> PhantomClip {
        var rng = PhantomRandom(seed: seed, stream: UInt64(index))
        let scenario = PhantomScenario.allCases[index % PhantomScenario.allCases.count]
        let geometry = SectorGeometry.standard
        let spec = PhantomClipSpec(scenario: scenario, geometry: geometry, rng: &rng)
        return PhantomClip(spec: spec, geometry: geometry, rng: &rng)
    }

    /// Encodes every frame of `clip` to `url` and returns its label rows: one per frame, then the
    /// whole-video row (each finding present if it shows in any frame, the highest severity, and
    /// the clinical picture as the note).
    static func write(_ clip: PhantomClip, to url: URL, mediaName: String) throws -> [LabelRecord] {
        let partial = url.deletingLastPathComponent().appendingPathComponent("." + url.lastPathComponent + ".partial")
        var records: [LabelRecord] = []
        var video = PhantomFrameTruth(aLines: false, b1Lines: false, b2Lines: false, consolidation: false, severity: 0)
        do {
            let encoder = try VideoEncoder(path: partial.path, width: clip.geometry.width, height: clip.geometry.height,
                                           fps: PhantomInfo.fps)
            for t in 0..<clip.frameCount {
                try encoder.append(clip.frame(t))
                let truth = clip.truth(t)
                records.append(LabelRecord(media: mediaName, frame: t, annotator: PhantomInfo.annotator, labels: truth.labels))
                video.aLines = video.aLines || truth.aLines
                video.b1Lines = video.b1Lines || truth.b1Lines
                video.b2Lines = video.b2Lines || truth.b2Lines
                video.consolidation = video.consolidation || truth.consolidation
                video.severity = max(video.severity, truth.severity)
            }
            try encoder.finish()
            try replace(url, with: partial)
        } catch var error as PleuraError {
            try? FileManager.default.removeItem(at: partial)
            // Name the file the user asked for, not the hidden temporary one.
            if error.file == partial.path { error.file = url.path }
            throw error
        } catch {
            try? FileManager.default.removeItem(at: partial)
            throw error
        }
        var labels = video.labels
        labels.note = clip.spec.scenario.summary
        records.append(LabelRecord(media: mediaName, frame: nil, annotator: PhantomInfo.annotator, labels: labels))
        return records
    }

    static func writeAtomically(_ data: Data, to url: URL) throws {
        let partial = url.deletingLastPathComponent().appendingPathComponent("." + url.lastPathComponent + ".partial")
        do {
            try data.write(to: partial)
        } catch {
            throw PleuraError(file: url.path, "cannot write (\(systemReason(error)))")
        }
        try replace(url, with: partial)
    }

    private static func replace(_ url: URL, with partial: URL) throws {
        guard rename(partial.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: partial)
            throw PleuraError(file: url.path, "cannot move the finished file into place (\(reason))")
        }
    }
}

/// The operating system's words for a failed file operation ("Permission denied", "Not a
/// directory"), which say more than Foundation's generic "could not be completed".
func systemReason(_ error: Error) -> String {
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(underlying.code)))
    }
    return ns.localizedDescription
}

/// Why `folder` could not be created: Foundation on Linux often hides the system error, so the
/// last component is tried once more with mkdir(2) to get errno's words.
func directoryReason(_ folder: URL, _ error: Error) -> String {
    if mkdir(folder.path, 0o755) != 0 {
        let code = errno
        if code != EEXIST { return String(cString: strerror(code)) }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            return "a file of that name is in the way"
        }
    }
    return systemReason(error)
}

/// The demo session's media: phantom clips generated once into the cache and reused.
public enum DemoMedia {
    /// The folder holding `count` phantom clips of `seed` and their labels.csv, generating them
    /// on first use (`progress(done, total)` reports clips as they are made). Generation writes
    /// into a temporary folder that is renamed into place when complete, so a killed first run
    /// never leaves a half set, and two processes starting at once both end with the same folder.
    public static func ensureClips(count: Int, seed: UInt64, progress: ((Int, Int) -> Void)? = nil) throws -> URL {
        try ensureClips(count: count, seed: seed, cache: AppPaths.cacheDirectory, progress: progress)
    }

    /// ``ensureClips(count:seed:progress:)`` with an explicit cache folder (for tests).
    static func ensureClips(count: Int, seed: UInt64, cache: URL, progress: ((Int, Int) -> Void)? = nil) throws -> URL {
        guard (1...1000).contains(count) else {
            throw PleuraError(file: nil, "the demo's phantom clip count must be between 1 and 1000 (it is \(count))")
        }
        let name = folderName(count: count, seed: seed)
        let folder = cache.appendingPathComponent(name)
        if isComplete(folder, count: count) { return folder }
        do {
            try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        } catch {
            throw PleuraError(file: cache.path, "cannot create the cache folder (\(directoryReason(cache, error))); set PLEURA_CACHE_DIR to a writable folder")
        }
        removeAbandonedTemporaries(of: name, in: cache)
        let temporary = cache.appendingPathComponent(".\(name).tmp-\(getpid())")
        try? FileManager.default.removeItem(at: temporary)
        defer { try? FileManager.default.removeItem(at: temporary) }
        _ = try PhantomGenerator(seed: seed).makeClips(count: count, into: temporary, progress: progress)
        if rename(temporary.path, folder.path) != 0 {
            // Another process finished first (the folder now exists and is complete), or a broken
            // folder from an older Pleura is in the way: replace that one.
            if isComplete(folder, count: count) { return folder }
            try? FileManager.default.removeItem(at: folder)
            guard rename(temporary.path, folder.path) == 0 else {
                throw PleuraError(file: folder.path, "cannot move the generated phantom clips into place (\(String(cString: strerror(errno))))")
            }
        }
        return folder
    }

    /// Removes `.<name>.tmp-<pid>` folders whose process is gone (a first run that was killed).
    /// Folders of a process still running are left alone: it may be generating right now.
    static func removeAbandonedTemporaries(of name: String, in cache: URL) {
        let prefix = ".\(name).tmp-"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: cache.path) else { return }
        for entry in entries where entry.hasPrefix(prefix) {
            guard let pid = Int32(entry.dropFirst(prefix.count)) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(at: cache.appendingPathComponent(entry))
            }
        }
    }

    /// `phantom-v<version>-s<seed>-n<count>`: the version makes an upgraded Pleura remake clips
    /// an older one cached.
    static func folderName(count: Int, seed: UInt64) -> String {
        "phantom-v\(PhantomInfo.version)-s\(seed)-n\(count)"
    }

    /// Whether `folder` holds labels.csv and every clip (labels.csv is written last).
    static func isComplete(_ folder: URL, count: Int) -> Bool {
        let fm = FileManager.default
        guard fm.fileExists(atPath: folder.appendingPathComponent(PhantomInfo.labelsFileName).path) else { return false }
        return (0..<count).allSatisfy { fm.fileExists(atPath: folder.appendingPathComponent(PhantomInfo.clipFileName($0)).path) }
    }
}
