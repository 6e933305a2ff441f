# Recomputes Pleura's patient-level figures from its exports alone (pleura exams --items/--zones/
# --patients, pleura stats --json): zone scores and patient scores from the item rows, then the
# quadratic-weighted kappa on zone scores (scikit-learn) and ICC(2,1) on patient scores (pingouin's
# ICC2, and the Shrout & Fleiss formula in numpy). Run in a throwaway venv:
#   python3 -m venv /tmp/v && /tmp/v/bin/pip install numpy scikit-learn pingouin
#   /tmp/v/bin/python Scripts/patient_agreement_reference.py items.csv zones.csv patients.csv agreement.json
# Prints "<n> compared, <m> differ" and exits 1 when any differs (tolerance 1e-9).
import csv, json, sys, itertools
import numpy as np
from sklearn.metrics import cohen_kappa_score
try:
    import pingouin, pandas
except ImportError:
    pingouin = None

items_path, zones_path, patients_path, agreement_path = sys.argv[1:5]
items = list(csv.DictReader(open(items_path)))
zones = list(csv.DictReader(open(zones_path)))
patients = list(csv.DictReader(open(patients_path)))
agreement = json.load(open(agreement_path))
agreement = agreement.get("patient_agreement", agreement)
compared = differ = 0

def check(what, mine, theirs):
    global compared, differ
    compared += 1
    if mine is None or theirs is None:
        ok = mine is None and theirs is None
    else:
        ok = abs(float(mine) - float(theirs)) <= 1e-9 * max(1.0, abs(float(mine)))
    if not ok:
        differ += 1
        print("DIFFER", what, mine, theirs)

def opt(s):
    return None if s == "" else float(s)

# Zone and patient scores from the item rows.
zone_worst, hu_frames = {}, {}
for r in items:
    exam = (r["patient"], r["study"]); key = exam + (r["zone"], r["rater"])
    if r["severity"] != "":
        zone_worst[key] = max(zone_worst.get(key, -1), int(r["severity"]))
    if r["frame_score"] != "" and int(r["frame"]) >= 0:
        hu_frames.setdefault(exam + (r["rater"],), []).append(float(r["frame_score"]))
lus = {}
for (p, s, z, rater), w in zone_worst.items():
    lus.setdefault((p, s, rater), []).append(w)
for r in patients:
    key = (r["patient"], r["study"], r["rater"])
    check("lus_score " + str(key), sum(lus[key]) if key in lus else None, opt(r["lus_score"]))
    check("zones_scored " + str(key), len(lus.get(key, [])), r["zones_scored"])
    frames = hu_frames.get(key)
    check("hu_mean " + str(key), float(np.mean(frames)) if frames else None, opt(r["hu_mean"]))
for r in zones:
    key = (r["patient"], r["study"], r["zone"], r["rater"])
    check("worst_severity " + str(key), zone_worst.get(key), opt(r["worst_severity"]))

def icc21(m):
    m = np.asarray(m, float); n, k = m.shape
    if n < 2 or k < 2: return None
    g = m.mean(); ssr = k * ((m.mean(1) - g) ** 2).sum(); ssc = n * ((m.mean(0) - g) ** 2).sum()
    sse = ((m - g) ** 2).sum() - ssr - ssc
    msr, msc, mse = ssr / (n - 1), ssc / (k - 1), sse / ((n - 1) * (k - 1))
    den = msr + (k - 1) * mse + k * (msc - mse) / n
    return None if abs(den) < 1e-12 else (msr - mse) / den

for schema, section in agreement.items():
    hu = schema == "hu6"
    zval = {}
    for r in zones:
        v = opt(r["hu_worst"] if hu else r["worst_severity"])
        if v is not None: zval.setdefault(r["rater"], {})[(r["patient"], r["study"], r["zone"])] = v
    pval = {}
    for r in patients:
        v = opt(r["hu_mean"] if hu else r["lus_score"])
        if v is not None: pval.setdefault(r["rater"], {})[(r["patient"], r["study"])] = v
    labels = [0, 1, 2, 2.5, 3, 4] if hu else [0, 1, 2, 3]
    for pair in section["pairs"]:
        a, b = pair["a"], pair["b"]
        units = sorted(set(zval.get(a, {})) & set(zval.get(b, {})))
        check(f"{schema} zones {a}-{b}", len(units), pair["zones"])
        if units:
            # scikit-learn wants one label type; positions of the sorted labels give the weights.
            idx = {v: i for i, v in enumerate(labels)}
            k = cohen_kappa_score([idx[zval[a][u]] for u in units], [idx[zval[b][u]] for u in units],
                                  labels=list(range(len(labels))), weights="quadratic")
            check(f"{schema} zone kappa {a}-{b}", None if np.isnan(k) else k, pair["zone_quadratic_kappa"])
        exams = sorted(set(pval.get(a, {})) & set(pval.get(b, {})))
        check(f"{schema} exams {a}-{b}", len(exams), pair["exams"])
        check(f"{schema} icc {a}-{b}", icc21([[pval[a][e], pval[b][e]] for e in exams]), pair["patient_icc2_1"])
    raters = section["raters"]
    exams = sorted(set.intersection(*[set(pval.get(r, {})) for r in raters])) if raters else []
    matrix = [[pval[r][e] for r in raters] for e in exams]
    check(f"{schema} icc all", icc21(matrix) if len(raters) >= 2 else None, section["patient_icc2_1"])
    if pingouin is not None and len(exams) >= 2 and len(raters) >= 2 and section["patient_icc2_1"] is not None:
        df = pandas.DataFrame([(i, r, pval[r][e]) for i, e in enumerate(exams) for r in raters], columns=["exam", "rater", "score"])
        t = pingouin.intraclass_corr(data=df, targets="exam", raters="rater", ratings="score")
        t = t.set_index("Type")
        row = "ICC(A,1)" if "ICC(A,1)" in t.index else "ICC2"   # pingouin 0.7 names ICC2 after McGraw & Wong
        check(f"{schema} icc all (pingouin {row})", float(t.loc[row, "ICC"]), section["patient_icc2_1"])

print(f"{compared} compared, {differ} differ" + ("" if pingouin else " (pingouin absent: numpy formula only)"))
sys.exit(1 if differ else 0)
