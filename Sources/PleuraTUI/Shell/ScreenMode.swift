import Foundation
import PleuraCore

/// One key binding as the screen explains it: which action, what the status line and the `?`
/// help say, and why the action does nothing right now (lazygit's self-describing bindings).
/// The status line and the help screen are built from these, never listed by hand.
public struct Binding: Equatable, Sendable {
    public var action: Action
    /// A word or two for the status line ("next", "rate").
    public var short: String
    /// One line for the help screen.
    public var long: String
    /// Whether the status line shows it (the help screen shows every binding).
    public var onStatusLine: Bool
    /// Why the action cannot be used now (shown in help and when the key is pressed), or nil.
    public var disabled: String?

    public init(_ action: Action, _ short: String, _ long: String? = nil, onStatusLine: Bool = false, disabled: String? = nil) {
        self.action = action
        self.short = short
        self.long = long ?? action.summary
        self.onStatusLine = onStatusLine
        self.disabled = disabled
    }
}

/// What the screen has to redraw after an action (Bubble Tea's "update returns a command").
public enum Effect: Equatable {
    case none
    /// The side panel (and message line) changed.
    case panel
    /// The picture changed (and the panel with it).
    case frame
    case help
    case prompt(Prompt)
    /// The exam overview screen (label mode's zone grid) takes the terminal until it closes.
    case examOverview
    case quit
}

/// A one-line question on the message line; the answer goes back to whoever asked.
public enum Prompt: Equatable, Sendable {
    case goToFrame
    case note
    case comment
    case zone

    public var question: String {
        switch self {
        case .goToFrame: return "Go to frame (0-based, as in the CSV): "
        case .note: return "Note (Enter saves, Esc cancels, empty clears): "
        case .comment: return "Comment (Enter saves, Esc cancels, empty clears): "
        case .zone: return "Zone of this clip (Enter saves, Esc cancels, empty clears): "
        }
    }
}

/// One line of the side panel.
public struct PanelLine: Equatable, Sendable {
    public enum Style: Sendable { case normal, bold, dim, accent, warning, ok, reverse }
    public var text: String
    public var style: Style
    public init(_ text: String, _ style: Style = .normal) { self.text = text; self.style = style }
}

/// A mode of the screen (label, rate, review): its own state, side panel and actions on the
/// shared ``Shell``, which owns the clips, the player, the overlay, prompts and messages.
///
/// The shell hands the mode every action the mode's ``bindings(_:)`` list (the common actions it
/// does not list, the shell performs itself); the mode commits through its store port, reads back,
/// and returns an ``Effect``. ``panel(_:)`` must depend only on the mode's state and the shell's
/// (no store reads, no side effects): the screen calls it on every redraw. Modes never touch
/// the terminal.
public protocol ScreenMode: AnyObject {
    /// Which keymap table applies.
    var kind: Session.Mode { get }
    /// The mode's own bindings, in status-line order, with why each is disabled now.
    func bindings(_ shell: Shell) -> [Binding]
    /// Common actions this mode does differently or refuses, as bindings (e.g. rate mode moves
    /// between rated items with `next_item`, and the session fixes the heatmap's settings).
    func commonOverrides(_ shell: Shell) -> [Binding]
    /// The shell showed another item (clip or frame): reload what the panel shows.
    func itemChanged(_ shell: Shell) throws
    /// A clip was opened (for progress counts).
    func clipOpened(_ index: Int, _ shell: Shell) throws
    func perform(_ action: Action, _ shell: Shell) throws -> Effect
    /// The answer to a prompt the mode asked (nil: cancelled).
    func answer(_ prompt: Prompt, _ text: String?, _ shell: Shell) throws -> Effect
    /// What a prompt starts with (the current note, so editing it is easy).
    func promptDefault(_ prompt: Prompt) -> String
    /// The panel's lines above the shell's own (model, annotator).
    func panel(_ shell: Shell) -> [PanelLine]
    /// Progress lines at the bottom of the panel.
    func progressLines(_ shell: Shell) -> [PanelLine]
    /// Frames frame navigation skips (label mode's unlabelled-only filter), and what to say when
    /// no frame is left; nil: nothing is skipped.
    func skipsFrame(_ shell: Shell, clip: Int, frame: Int) -> Bool
    var skipFilterName: String? { get }
    /// What the pane shows instead of the shell's frame + overlay (rate mode: the rated maps),
    /// with a key identifying it for the screen's cache; nil: the shell's picture.
    func paneContent(_ shell: Shell) throws -> (key: String, content: PaneContent?)?
    /// Whether the shell's overlay keys and the model panel apply (rate mode draws its own maps).
    var usesShellOverlay: Bool { get }
    /// Called on each idle poll while the user does nothing (prefetch, precompute); true when the
    /// panel needs a redraw.
    func idle(_ shell: Shell) -> Bool
    /// The title bar's mode word.
    var title: String { get }
}

extension ScreenMode {
    public func commonOverrides(_ shell: Shell) -> [Binding] { [] }
    public func clipOpened(_ index: Int, _ shell: Shell) throws {}
    public func promptDefault(_ prompt: Prompt) -> String { "" }
    public func skipsFrame(_ shell: Shell, clip: Int, frame: Int) -> Bool { false }
    public var skipFilterName: String? { nil }
    public func paneContent(_ shell: Shell) throws -> (key: String, content: PaneContent?)? { nil }
    public var usesShellOverlay: Bool { true }
    public func idle(_ shell: Shell) -> Bool { false }
    public func answer(_ prompt: Prompt, _ text: String?, _ shell: Shell) throws -> Effect { .none }
}
