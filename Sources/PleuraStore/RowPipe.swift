import Foundation
import GRDB
import PleuraCore

/// Hands rows from a producer on a second thread to a consumer on the calling thread, in order,
/// in chunks (at most ``capacity`` chunks ahead, so memory stays bounded). Errors keep their
/// order: a producer's error is thrown after every row before it was consumed, and a consumer's
/// error stops the producer. Used by the label CSV import to parse while the store writes.
final class RowPipe<Row: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var chunks: [[Row]] = []
    private var done = false
    private var failure: (any Error)?
    private var cancelled = false
    private static var chunkSize: Int { 2_048 }
    private static var capacity: Int { 4 }

    private struct Cancelled: Error {}

    /// Runs `produce` (calling `put` per row) on a new thread and `consume` per row here.
    static func run(produce: @escaping @Sendable (_ put: (Row) throws -> Void) throws -> Void,
                    consume: (Row) throws -> Void) throws {
        let pipe = RowPipe()
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            var chunk: [Row] = []
            chunk.reserveCapacity(chunkSize)
            do {
                try produce { row in
                    chunk.append(row)
                    if chunk.count >= chunkSize { try pipe.put(chunk); chunk.removeAll(keepingCapacity: true) }
                }
                if !chunk.isEmpty { try pipe.put(chunk) }
                pipe.finish(nil)
            } catch {
                pipe.finish(error is Cancelled ? nil : error)
            }
            finished.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
        defer { pipe.cancel(); finished.wait() }
        while let chunk = try pipe.take() {
            for row in chunk { try consume(row) }
        }
    }

    private func put(_ chunk: [Row]) throws {
        condition.lock(); defer { condition.unlock() }
        while chunks.count >= Self.capacity && !cancelled { condition.wait() }
        if cancelled { throw Cancelled() }
        chunks.append(chunk)
        condition.broadcast()
    }

    private func finish(_ error: (any Error)?) {
        condition.lock(); defer { condition.unlock() }
        done = true; failure = error
        condition.broadcast()
    }

    private func cancel() {
        condition.lock(); defer { condition.unlock() }
        cancelled = true
        condition.broadcast()
    }

    /// The next chunk; nil when the producer finished; the producer's error after its rows.
    private func take() throws -> [Row]? {
        condition.lock(); defer { condition.unlock() }
        while chunks.isEmpty && !done { condition.wait() }
        if !chunks.isEmpty {
            let chunk = chunks.removeFirst()
            condition.broadcast()
            return chunk
        }
        if let failure { throw failure }
        return nil
    }
}
