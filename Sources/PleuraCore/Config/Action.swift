/// Everything a user can ask the labelling screen to do. Keymaps bind keys to these names; screen
/// code only ever sees actions, never key literals.
///
/// The raw value is the name used in `Keymaps/*.toml`.
public enum Action: String, CaseIterable, Sendable {
    case nextFrame = "next_frame"
    case previousFrame = "previous_frame"
    case forward10 = "forward_10"
    case back10 = "back_10"
    case firstFrame = "first_frame"
    case lastFrame = "last_frame"
    case goToFrame = "go_to_frame"
    case playPause = "play_pause"
    case nextItem = "next_item"
    case previousItem = "previous_item"
    case toggleALines = "toggle_a_lines"
    case toggleB1Lines = "toggle_b1_lines"
    case toggleB2Lines = "toggle_b2_lines"
    case toggleConsolidation = "toggle_consolidation"
    case severity0 = "severity_0"
    case severity1 = "severity_1"
    case severity2 = "severity_2"
    case severity3 = "severity_3"
    case videoLevel = "video_level"
    case poorQuality = "poor_quality"
    case note = "note"
    case carryForward = "carry_forward"
    case unlabelledOnly = "unlabelled_only"
    case undo = "undo"
    case redo = "redo"
    case toggleOverlay = "toggle_overlay"
    case cycleHeatmapMethod = "cycle_heatmap_method"
    case cycleTargetClass = "cycle_target_class"
    case opacityUp = "opacity_up"
    case opacityDown = "opacity_down"
    case help = "help"
    case quit = "quit"

    /// One line for the help screen.
    public var summary: String {
        switch self {
        case .nextFrame: return "next frame"
        case .previousFrame: return "previous frame"
        case .forward10: return "forward 10 frames"
        case .back10: return "back 10 frames"
        case .firstFrame: return "first frame"
        case .lastFrame: return "last frame"
        case .goToFrame: return "go to frame N"
        case .playPause: return "play / pause at the clip's frame rate"
        case .nextItem: return "next clip"
        case .previousItem: return "previous clip"
        case .toggleALines: return "toggle A-lines"
        case .toggleB1Lines: return "toggle B1 (separate B-lines)"
        case .toggleB2Lines: return "toggle B2 (confluent B-lines)"
        case .toggleConsolidation: return "toggle consolidation"
        case .severity0: return "severity 0"
        case .severity1: return "severity 1"
        case .severity2: return "severity 2"
        case .severity3: return "severity 3"
        case .videoLevel: return "switch between frame and whole-video labels"
        case .poorQuality: return "toggle poor image quality"
        case .note: return "write a note"
        case .carryForward: return "copy the previous frame's labels here"
        case .unlabelledOnly: return "show only unlabelled frames"
        case .undo: return "undo"
        case .redo: return "redo"
        case .toggleOverlay: return "heatmap overlay on/off"
        case .cycleHeatmapMethod: return "next heatmap method"
        case .cycleTargetClass: return "target class (top first)"
        case .opacityUp: return "overlay opacity +10%"
        case .opacityDown: return "overlay opacity -10%"
        case .help: return "this help"
        case .quit: return "quit (everything is already saved)"
        }
    }

    /// The finding a toggle action flips, if it is one.
    public var toggledFinding: Finding? {
        switch self {
        case .toggleALines: return .aLines
        case .toggleB1Lines: return .b1Lines
        case .toggleB2Lines: return .b2Lines
        case .toggleConsolidation: return .consolidation
        default: return nil
        }
    }

    /// The severity a severity action sets, if it is one.
    public var severity: Severity? {
        switch self {
        case .severity0: return Severity(rawValue: 0)
        case .severity1: return Severity(rawValue: 1)
        case .severity2: return Severity(rawValue: 2)
        case .severity3: return Severity(rawValue: 3)
        default: return nil
        }
    }
}
