import PleuraCore
import PleuraMedia

/// Synthetic lung-ultrasound clips with per-frame ground truth (filled by the foundation issue).
public enum PhantomInfo {
    public static let labelsFileName = "labels.csv"
}
