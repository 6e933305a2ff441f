import PleuraCore

/// A least-recently-used cache of decoded pictures, bounded by their total size in bytes.
///
/// Internal to ``MediaReader`` (which serialises access); the type is exposed for tests only
/// through the reader's statistics.
struct FrameCache {
    struct Key: Hashable {
        var index: Int
        var format: PixelImage.Format
    }
    private struct Entry {
        var image: PixelImage
        var previous: Key?
        var next: Key?
    }

    /// The most bytes of pixels held at once.
    let capacityBytes: Int
    private(set) var bytes = 0
    private var entries: [Key: Entry] = [:]
    /// Most recently used end of the list, and least recently used end.
    private var head: Key?
    private var tail: Key?

    init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

    var count: Int { entries.count }

    mutating func get(_ key: Key) -> PixelImage? {
        guard let entry = entries[key] else { return nil }
        unlink(key)
        pushFront(key, entry.image)
        return entry.image
    }

    mutating func insert(_ image: PixelImage, for key: Key) {
        if entries[key] != nil { unlink(key) }
        // A picture larger than the whole cache is not kept (it would evict everything else).
        guard image.byteCount <= capacityBytes else { return }
        pushFront(key, image)
        while bytes > capacityBytes, let oldest = tail { unlink(oldest) }
    }

    private mutating func pushFront(_ key: Key, _ image: PixelImage) {
        entries[key] = Entry(image: image, previous: nil, next: head)
        if let head { entries[head]?.previous = key }
        head = key
        if tail == nil { tail = key }
        bytes += image.byteCount
    }

    private mutating func unlink(_ key: Key) {
        guard let entry = entries.removeValue(forKey: key) else { return }
        if let p = entry.previous { entries[p]?.next = entry.next } else { head = entry.next }
        if let n = entry.next { entries[n]?.previous = entry.previous } else { tail = entry.previous }
        bytes -= entry.image.byteCount
    }
}
