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
    // Exams (label mode)
    case examOverview = "exam_overview"
    case setZone = "set_zone"
    case frameClass1 = "frame_class_1"
    case frameClass2 = "frame_class_2"
    case frameClass3 = "frame_class_3"
    case frameClass4 = "frame_class_4"
    case frameClass5 = "frame_class_5"
    case frameClass6 = "frame_class_6"
    case toggleOverlay = "toggle_overlay"
    case cycleHeatmapMethod = "cycle_heatmap_method"
    case cycleTargetClass = "cycle_target_class"
    case opacityUp = "opacity_up"
    case opacityDown = "opacity_down"
    case help = "help"
    case quit = "quit"

    // Rate mode
    case ratePoint1 = "rate_point_1"
    case ratePoint2 = "rate_point_2"
    case ratePoint3 = "rate_point_3"
    case ratePoint4 = "rate_point_4"
    case ratePoint5 = "rate_point_5"
    case ratePoint6 = "rate_point_6"
    case ratePoint7 = "rate_point_7"
    case cursorLeft = "cursor_left"
    case cursorRight = "cursor_right"
    case choose = "choose"
    case nextQuestion = "next_question"
    case previousQuestion = "previous_question"
    case comment = "comment"

    // Review mode (the trainee's answer uses the label keys)
    case commitAnswer = "commit_answer"
    case markReviewed = "mark_reviewed"
    case flagReference = "flag_reference"
    case progress = "progress"

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
        case .examOverview: return "exam overview: this exam's zones as a grid (Enter jumps to a zone's clips)"
        case .setZone: return "set this clip's lung zone (type its name; empty clears)"
        case .frameClass1, .frameClass2, .frameClass3, .frameClass4, .frameClass5, .frameClass6:
            return "frame class (Hu et al.): " + frameClass.map { "\($0.displayName), score \(ExamNumber.text($0.score))" }!
        case .toggleOverlay: return "heatmap overlay on/off"
        case .cycleHeatmapMethod: return "next heatmap method"
        case .cycleTargetClass: return "target class (top first)"
        case .opacityUp: return "overlay opacity +10%"
        case .opacityDown: return "overlay opacity -10%"
        case .help: return "this help"
        case .quit: return "quit (everything is already saved)"
        case .ratePoint1, .ratePoint2, .ratePoint3, .ratePoint4, .ratePoint5, .ratePoint6, .ratePoint7:
            return "rate: point \(ratePoint!) of the scale, counted from the left"
        case .cursorLeft: return "move the cursor left (scale, choices)"
        case .cursorRight: return "move the cursor right (scale, choices)"
        case .choose: return "commit the point or choice under the cursor"
        case .nextQuestion: return "next question"
        case .previousQuestion: return "previous question"
        case .comment: return "write a comment on this item"
        case .commitAnswer: return "lock your answer and reveal the others' (quiz)"
        case .markReviewed: return "mark this item reviewed"
        case .flagReference: return "flag \"the reference may be wrong\" (exported for an expert)"
        case .progress: return "your agreement with the reference over time"
        }
    }

    /// The keymap table an action's keys live in: `[common]` keys work in every mode, a mode's
    /// own table only in that mode (so a key may mean one thing in label mode and another in
    /// rate mode). Flat (table-less) keymap files put every action in its own table.
    public var table: KeymapTable {
        switch self {
        case .nextItem, .previousItem, .playPause, .toggleOverlay, .cycleHeatmapMethod, .cycleTargetClass,
             .opacityUp, .opacityDown, .help, .quit:
            return .common
        case .ratePoint1, .ratePoint2, .ratePoint3, .ratePoint4, .ratePoint5, .ratePoint6, .ratePoint7,
             .cursorLeft, .cursorRight, .choose, .nextQuestion, .previousQuestion, .comment:
            return .rate
        case .commitAnswer, .markReviewed, .flagReference, .progress:
            return .review
        default:
            return .label
        }
    }

    /// The position on the rating scale (1 = leftmost) a rate-point action commits, if it is one.
    public var ratePoint: Int? {
        switch self {
        case .ratePoint1: return 1
        case .ratePoint2: return 2
        case .ratePoint3: return 3
        case .ratePoint4: return 4
        case .ratePoint5: return 5
        case .ratePoint6: return 6
        case .ratePoint7: return 7
        default: return nil
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

    /// The Hu et al. class a `frame_class_N` action sets, if it is one.
    public var frameClass: HuFrameClass? {
        let order: [Action] = [.frameClass1, .frameClass2, .frameClass3, .frameClass4, .frameClass5, .frameClass6]
        return order.firstIndex(of: self).map { HuFrameClass.allCases[$0] }
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

/// The tables of a keymap file: `[common]` plus one per mode. A mode's keys are `[common]`'s plus
/// its own; a key may appear in two mode tables but not in `[common]` and a mode table.
public enum KeymapTable: String, CaseIterable, Sendable {
    case common, label, rate, review

    /// The mode table a session mode uses.
    public init(_ mode: Session.Mode) {
        switch mode {
        case .label: self = .label
        case .rate: self = .rate
        case .review: self = .review
        }
    }

    /// The actions whose keys live in this table.
    public var actions: [Action] { Action.allCases.filter { $0.table == self } }

    /// The tables a mode's keys come from besides `[common]`: its own, and for review mode
    /// `[label]` too (the trainee answers with the labelling keys).
    public var modeTables: [KeymapTable] {
        switch self {
        case .common: return []
        case .review: return [.review, .label]
        default: return [self]
        }
    }
}
