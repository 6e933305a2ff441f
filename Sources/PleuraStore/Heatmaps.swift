import Foundation
import GRDB
import PleuraCore

/// An explanation map (Grad-CAM family) of one item, as the 8-bit grey picture that was shown.
///
/// Its ``sha256`` is the SHA-256 of the map written as a binary PGM (`P5\n<w> <h>\n255\n` and the
/// bytes), so anyone can check it with `sha256sum` after saving the map as PGM. Ratings refer to
/// it through ``HeatmapContext/heatmapSHA256``.
///
/// ```swift
/// let record = HeatmapRecord(item: item, modelSHA256: modelSHA, method: "gradcam", target: "covid",
///                            layer: "features.29", map: PixelImage(width: 224, height: 224, format: .gray8, pixels: bytes))
/// try store.insertHeatmap(record)
/// let again = try store.heatmap(sha256: record.sha256)   // same pixels, bit for bit
/// ```
public struct HeatmapRecord: Equatable, Sendable {
    public var item: ItemRef
    public var modelSHA256: String
    public var method: String
    public var target: String
    public var layer: String
    /// A gray8 image (0 = no relevance, 255 = most).
    public var map: PixelImage

    public init(item: ItemRef, modelSHA256: String, method: String, target: String, layer: String, map: PixelImage) {
        precondition(map.format == .gray8, "a heatmap is a gray8 image")
        self.item = item; self.modelSHA256 = modelSHA256; self.method = method
        self.target = target; self.layer = layer; self.map = map
    }

    /// SHA-256 of the map as a binary PGM.
    public var sha256: String { Self.sha256(of: map) }

    public static func sha256(of map: PixelImage) -> String {
        var h = SHA256()
        h.update(Array("P5\n\(map.width) \(map.height)\n255\n".utf8))
        h.update(map.pixels)
        return h.hexDigest()
    }

    /// The context a rating of this map records.
    public var context: HeatmapContext {
        HeatmapContext(modelSHA256: modelSHA256, method: method, layer: layer, target: target, heatmapSHA256: sha256)
    }
}

extension AnnotationStore {
    /// Stores a heatmap (compressed, see ``HeatmapCodec``) and returns its sha256. When a map
    /// for the same item, model, method, target and layer is already stored, it is kept and its
    /// sha256 returned (compare with ``HeatmapRecord/sha256`` to notice a non-deterministic model).
    @discardableResult
    public func insertHeatmap(_ record: HeatmapRecord) throws -> String {
        try Self.checkFrame(record.item, path: path)
        let sha = record.sha256
        let data = HeatmapCodec.encode(record.map)
        let now = StoreClock.now()
        return try write { db in
            let mediaID = try self.mediaID(db, sha256: record.item.mediaSHA256)
            try db.execute(sql: """
                INSERT OR IGNORE INTO heatmap (sha256, media_id, frame, model_sha256, method, target, layer, width, height,
                                               encoding, data, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [sha, mediaID, record.item.frame ?? -1, record.modelSHA256, record.method, record.target,
                                 record.layer, record.map.width, record.map.height, HeatmapCodec.name, data, now])
            if db.changesCount == 1 { return sha }
            return try String.fetchOne(db, sql: """
                SELECT sha256 FROM heatmap WHERE media_id = ? AND frame = ? AND model_sha256 = ? AND method = ?
                AND target = ? AND layer = ?
                """, arguments: [mediaID, record.item.frame ?? -1, record.modelSHA256, record.method, record.target,
                                 record.layer]) ?? sha
        }
    }

    /// The heatmap with this sha256 (the first stored, if several items share identical maps).
    public func heatmap(sha256: String) throws -> HeatmapRecord? {
        try read { db in
            try Row.fetchOne(db, sql: "\(Self.heatmapSelect) WHERE h.sha256 = ? ORDER BY h.id LIMIT 1", arguments: [sha256])
                .map { try self.heatmapRecord($0) }
        }
    }

    /// The stored heatmap for exactly this item, model, method, target and layer, or nil (cache
    /// lookup before computing one).
    public func heatmap(item: ItemRef, modelSHA256: String, method: String, target: String, layer: String) throws -> HeatmapRecord? {
        try read { db in
            let mediaID = try self.mediaID(db, sha256: item.mediaSHA256)
            return try Row.fetchOne(db, sql: """
                \(Self.heatmapSelect) WHERE h.media_id = ? AND h.frame = ? AND h.model_sha256 = ? AND h.method = ?
                AND h.target = ? AND h.layer = ?
                """, arguments: [mediaID, item.frame ?? -1, modelSHA256, method, target, layer]).map { try self.heatmapRecord($0) }
        }
    }

    /// Every heatmap stored for an item, oldest first.
    public func heatmaps(item: ItemRef) throws -> [HeatmapRecord] {
        try read { db in
            let mediaID = try self.mediaID(db, sha256: item.mediaSHA256)
            return try Row.fetchAll(db, sql: "\(Self.heatmapSelect) WHERE h.media_id = ? AND h.frame = ? ORDER BY h.id",
                                    arguments: [mediaID, item.frame ?? -1]).map { try self.heatmapRecord($0) }
        }
    }

    static let heatmapSelect = """
        SELECT m.sha256, h.frame, h.model_sha256, h.method, h.target, h.layer, h.width, h.height, h.encoding, h.data, h.sha256
        FROM heatmap h JOIN media m ON m.id = h.media_id
        """

    private func heatmapRecord(_ row: Row) throws -> HeatmapRecord {
        let frame: Int = row[1], width: Int = row[6], height: Int = row[7], encoding: String = row[8]
        let data: Data = row[9], sha: String = row[10]
        guard encoding == HeatmapCodec.name, let pixels = HeatmapCodec.decode(data, width: width, height: height) else {
            throw PleuraError(file: path, "heatmap \(sha.prefix(12))… cannot be decoded (encoding \(encoding))")
        }
        let record = HeatmapRecord(item: ItemRef(mediaSHA256: row[0], frame: frame < 0 ? nil : frame), modelSHA256: row[2],
                                   method: row[3], target: row[4], layer: row[5],
                                   map: PixelImage(width: width, height: height, format: .gray8, pixels: pixels))
        guard record.sha256 == sha else {
            throw PleuraError(file: path, "heatmap \(sha.prefix(12))… does not match its hash: the store is damaged")
        }
        return record
    }
}

/// Lossless compression of 8-bit maps: each row minus the row above (maps are smooth, so the
/// differences are mostly 0), then PackBits run-length coding. No zlib: Foundation on Linux offers
/// none, and this needs no extra system library. A 224×224 Grad-CAM map typically shrinks 5–20×.
public enum HeatmapCodec {
    public static let name = "rowdelta-packbits"

    public static func encode(_ map: PixelImage) -> Data {
        let w = map.width, h = map.height, px = map.pixels
        var delta = [UInt8](repeating: 0, count: px.count)
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                delta[i] = y == 0 ? px[i] : px[i] &- px[i - w]
            }
        }
        return Data(packBits(delta))
    }

    /// Nil when the data is malformed or decodes to the wrong size.
    public static func decode(_ data: Data, width: Int, height: Int) -> [UInt8]? {
        guard let delta = unpackBits([UInt8](data), expected: width * height) else { return nil }
        var px = delta
        if height > 1 {
            for i in width..<(width * height) { px[i] = delta[i] &+ px[i - width] }
        }
        return px
    }

    /// PackBits: a header byte n; 0…127 → n+1 literal bytes follow; 129…255 → the next byte
    /// repeats 257−n times (2…128).
    static func packBits(_ input: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 + 16)
        var i = 0
        while i < input.count {
            var run = 1
            while i + run < input.count && run < 128 && input[i + run] == input[i] { run += 1 }
            if run >= 2 {
                out.append(UInt8(257 - run)); out.append(input[i]); i += run
                continue
            }
            let start = i
            var count = 0
            while i < input.count && count < 128 {
                if i + 1 < input.count && input[i + 1] == input[i] { break }
                i += 1; count += 1
            }
            out.append(UInt8(count - 1))
            out.append(contentsOf: input[start..<(start + count)])
        }
        return out
    }

    static func unpackBits(_ input: [UInt8], expected: Int) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(expected)
        var i = 0
        while i < input.count {
            let n = Int(input[i]); i += 1
            if n < 128 {
                guard i + n + 1 <= input.count else { return nil }
                out.append(contentsOf: input[i..<(i + n + 1)]); i += n + 1
            } else if n > 128 {
                guard i < input.count else { return nil }
                out.append(contentsOf: repeatElement(input[i], count: 257 - n)); i += 1
            }
            if out.count > expected { return nil }
        }
        return out.count == expected ? out : nil
    }
}
