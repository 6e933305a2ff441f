import Foundation

/// One piece of work run on another thread, its result collected later: polled without blocking
/// (``result``) or waited for (``wait()``). For slow set-up such as loading a model, so the caller
/// keeps working meanwhile (the labelling screen answers keys; `pleura infer` opens the store).
///
/// ```swift
/// let loading = BackgroundJob { try ModelRuntime.load(url) }
/// // ... other work ...
/// let model = try loading.wait().get()
/// ```
/// `work` runs exactly once, on its own thread, and must not touch state the caller uses
/// meanwhile; the result is handed over under a lock.
public final class BackgroundJob<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private var value: Result<Value, Error>?
    /// Run once, on the job's thread only (hence the unchecked Sendable).
    private let work: () throws -> Value

    public init(_ work: @escaping () throws -> Value) {
        self.work = work
        Thread.detachNewThread { [self] in
            let outcome = Result { try self.work() }
            lock.lock(); value = outcome; lock.unlock()
            done.signal()
        }
    }

    /// The outcome once the work has finished; nil while it runs.
    public var result: Result<Value, Error>? {
        lock.lock(); defer { lock.unlock() }
        return value
    }

    /// Blocks until the work has finished and returns its outcome (at once on later calls).
    public func wait() -> Result<Value, Error> {
        done.wait()
        done.signal()
        return result!
    }
}
