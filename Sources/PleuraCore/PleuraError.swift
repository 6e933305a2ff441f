/// The one error type users see: which file (or other subject) is wrong, and what is wrong with it.
///
/// The executable prints it as one line, `pleura: FILE: reason`, and exits non-zero. Both parts are
/// sanitised when printed (see ``SafeText``), because file names and reasons may carry bytes from
/// untrusted files.
///
/// ```swift
/// throw PleuraError(file: path, "not a video or image (no decoder for codec 'foo')")
/// ```
public struct PleuraError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file (or subject) the error is about; nil when there is none.
    public var file: String?
    /// What is wrong, and where it helps, what to do next.
    public var reason: String

    public init(file: String?, _ reason: String) {
        self.file = file
        self.reason = reason
    }

    /// `FILE: reason`, or just `reason`, sanitised for a terminal.
    public var description: String {
        if let file { return SafeText.sanitize(file) + ": " + SafeText.sanitize(reason) }
        return SafeText.sanitize(reason)
    }
}
