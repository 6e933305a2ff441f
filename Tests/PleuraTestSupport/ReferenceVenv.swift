import Foundation
import PleuraCore

/// The Python oracles of the tests (scipy, scikit-learn, krippendorff, pingouin, pydicom …) run
/// in throwaway venvs made from PyPI. One venv per package set, kept in the temporary folder
/// between runs (a later test or run reuses it) and rebuilt when its imports fail, so a test pays
/// for pip once per machine rather than once per test.
public enum ReferenceVenv {
    /// The venv's python with `packages` installed, or nil and why it cannot be made here (no
    /// python3-venv, PyPI unreachable). `name` names the venv folder; `imports` is the Python
    /// module list (`import a, b`) that proves an existing venv complete.
    public static func python(name: String, packages: [String], imports: [String]) -> (path: String?, reason: String) {
        let venv = FileManager.default.temporaryDirectory.appendingPathComponent("pleura-\(name)-venv").path
        let python = venv + "/bin/python"
        if let ok = try? runProgram(python, ["-c", "import " + imports.joined(separator: ", ")]), ok.status == 0 {
            return (python, "")
        }
        try? FileManager.default.removeItem(atPath: venv)
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { return (nil, "skipped: no /usr/bin/python3") }
        guard let made = try? runProgram("/usr/bin/python3", ["-m", "venv", venv]), made.status == 0 else {
            return (nil, "skipped: python3 -m venv failed (Debian: apt-get install python3-venv)")
        }
        guard let pip = try? runProgram(venv + "/bin/pip", ["install", "-q", "--disable-pip-version-check"] + packages),
              pip.status == 0 else {
            try? FileManager.default.removeItem(atPath: venv)
            return (nil, "skipped: pip could not install \(packages.joined(separator: ", ")) from PyPI (no network?)")
        }
        return (python, "")
    }

    /// scipy, scikit-learn and krippendorff: the rating report's agreement figures
    /// (Scripts/rating_report_reference.py, Scripts/agreement_reference.py).
    public static let agreement = python(name: "agreement-reference", packages: ["scipy", "scikit-learn", "krippendorff"],
                                         imports: ["scipy", "sklearn", "krippendorff"])

    /// numpy, scikit-learn and pingouin: patient scores, zone kappa and ICC
    /// (Scripts/patient_agreement_reference.py).
    public static let patientAgreement = python(name: "patient-agreement-reference",
                                                packages: ["numpy", "scikit-learn", "pingouin"],
                                                imports: ["numpy", "sklearn", "pingouin"])
}
