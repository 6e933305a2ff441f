# Recomputes every number of `pleura report ratings` (its numbers.csv) from the exported rating CSV
# (`pleura export --kind ratings --format csv`) with scipy, scikit-learn and krippendorff, and
# compares. Tests/PleuraCLITests/RatingReportTests.swift runs it; by hand:
#   python3 -m venv /tmp/v && /tmp/v/bin/pip install scipy scikit-learn krippendorff
#   /tmp/v/bin/python Scripts/rating_report_reference.py ratings.csv report/numbers.csv
# Prints "checked N numbers" and exits 0 when every number agrees to 1e-9 (relative), else lists
# the ones that differ and exits 1. Measured with scipy 1.17.1, scikit-learn 1.9.1, krippendorff 0.8.
# The definitions (units, bootstrap, conditions) are the ones documented on PleuraCore.RatingStudy.
import csv, math, sys, warnings
import numpy as np
from scipy.stats import wilcoxon
from sklearn.metrics import cohen_kappa_score
import krippendorff

warnings.filterwarnings("ignore")
RESAMPLES, SEED = 1000, 20261201
PATTERNS = ["a_lines", "b_lines", "consolidation", "pleural_line", "effusion", "other_tissue"]
M64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed): self.state = seed & M64
    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)


def patterns(text):
    return None if text == "" else ([] if text == "none" else text.split(";"))


def finite(x):
    return x is not None and not (isinstance(x, float) and not math.isfinite(x))


rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
expected = {}
for r in csv.DictReader(open(sys.argv[2], newline="", encoding="utf-8")):
    expected[(r["section"], r["group"], r["statistic"])] = r["value"]
rated = [r for r in rows if r["rating"] != ""]
for r in rated: r["r"] = int(r["rating"])
got = {}


def put(section, group, statistic, value):
    got[(section, group, statistic)] = value


# Distributions.
def distribution(name, values):
    v = np.array(values, float)
    put("distribution", name, "n", len(v))
    put("distribution", name, "mean", float(v.mean()) if len(v) else None)
    put("distribution", name, "sd", float(v.std(ddof=1)) if len(v) > 1 else None)
    put("distribution", name, "median", float(np.median(v)) if len(v) else None)
    put("distribution", name, "share_positive", float((v > 0).mean()) if len(v) else None)
    for k in range(-3, 4): put("distribution", name, f"count_{k}", int((v == k).sum()))


distribution("all", [r["r"] for r in rated])
for dim, keys in [("class", lambda r: [r["target"].split("/")[-1]]), ("method", lambda r: [r["method"]]),
                  ("model", lambda r: [r["model"]]), ("pattern", lambda r: patterns(r["highlighted"]) or []),
                  ("rater", lambda r: [r["annotator"]])]:
    groups = {}
    for r in rated:
        for k in keys(r): groups.setdefault(k, []).append(r["r"])
    for k in sorted(groups): distribution(f"{dim}={k}", groups[k])

# Agreement: units × raters.
raters = sorted({r["annotator"] for r in rated})
units = {}
for r in rated:
    key = (r["heatmap_sha256"], r["trial"], r["model"], r["method"], r["layer"], r["target"], r["media"],
           int(r["frame"]) if r["frame"] else -1)
    units.setdefault(key, {})[r["annotator"]] = r["r"]
table = [units[k] for k in sorted(units)]


def alpha(sample):
    data = np.array([[u.get(a, np.nan) for u in sample] for a in raters], float)
    try:
        value = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
    except (ValueError, ZeroDivisionError):
        return None
    return float(value) if math.isfinite(value) else None


def bootstrap(values, statistic, seed):
    rng, n, out = SplitMix64(seed), len(values), []
    for _ in range(RESAMPLES):
        s = statistic([values[rng.next() % n] for _ in range(n)])
        if finite(s): out.append(s)
    return (float(np.percentile(out, 2.5)), float(np.percentile(out, 97.5))) if out else (None, None)


def kappa(pairs):
    if not pairs: return None
    k = cohen_kappa_score([p[0] for p in pairs], [p[1] for p in pairs], labels=list(range(-3, 4)), weights="quadratic")
    return float(k) if math.isfinite(k) else None


put("agreement", "all", "units", sum(1 for u in table if len(u) >= 2))
a = alpha(table)
put("agreement", "all", "krippendorff_alpha_ordinal", a)
lo, hi = bootstrap(table, alpha, SEED) if a is not None else (None, None)
put("agreement", "all", "krippendorff_alpha_ordinal_ci_low", lo)
put("agreement", "all", "krippendorff_alpha_ordinal_ci_high", hi)
k = 0
for i, x in enumerate(raters):
    for y in raters[i + 1:]:
        k += 1
        both = [(u[x], u[y]) for u in table if x in u and y in u]
        name = f"pair={x}|{y}"
        value = kappa(both)
        put("agreement", name, "n", len(both))
        put("agreement", name, "quadratic_kappa", value)
        lo, hi = bootstrap(both, kappa, SEED + k) if value is not None else (None, None)
        put("agreement", name, "quadratic_kappa_ci_low", lo)
        put("agreement", name, "quadratic_kappa_ci_high", hi)


# Paired trials.
def conditions(x, y):
    a, b = [], []
    for field, show in [("method", lambda v: v), ("model", lambda v: "model " + v[:12]), ("layer", lambda v: v), ("target", lambda v: v)]:
        if x[field] != y[field]: a.append(show(x[field])); b.append(show(y[field]))
    if not a: return None
    p, q = " · ".join(a), " · ".join(b)
    return None if p == q else (p, q)


trials = {}
for r in rows:
    if r["slot"]: trials.setdefault((r["annotator"], r["media"], r["trial"]), []).append(r)
comparisons = {}
for key in sorted(trials):
    maps = trials[key]
    if len(maps) != 2: continue
    c = conditions(maps[0], maps[1])
    if c is None: continue
    x, y = c
    first, second = (x, y) if x < y else (y, x)
    fr, sr = (maps[0], maps[1]) if x < y else (maps[1], maps[0])
    better = None
    if maps[0]["better"]:
        better = "equal" if maps[0]["better"] == "equal" else (first if maps[0]["better"] == fr["slot"] else second)
    comparisons.setdefault((first, second), []).append(
        (fr["media"] + "\x01" + fr["trial"], fr["annotator"], fr["rating"], sr["rating"], better))
for (first, second), answers in comparisons.items():
    name = f"comparison={first} vs {second}"
    pairs = [(int(f), int(s)) for _, _, f, s, _ in answers if f != "" and s != ""]
    d = np.array([f - s for f, s in pairs], float)
    put("paired", name, "pairs", len(pairs))
    put("paired", name, "mean_first", float(np.mean([p[0] for p in pairs])) if pairs else None)
    put("paired", name, "mean_second", float(np.mean([p[1] for p in pairs])) if pairs else None)
    put("paired", name, "nonzero", int((d != 0).sum()))
    if (d != 0).any():
        w = wilcoxon(d)
        put("paired", name, "wilcoxon_w", float(w.statistic)); put("paired", name, "wilcoxon_p", float(w.pvalue))
    else:
        put("paired", name, "wilcoxon_w", None); put("paired", name, "wilcoxon_p", None)
    put("paired", name, "better_first", sum(1 for a in answers if a[4] == first))
    put("paired", name, "better_second", sum(1 for a in answers if a[4] == second))
    put("paired", name, "better_equal", sum(1 for a in answers if a[4] == "equal"))
    choices = {}
    for trial, rater, _, _, b in answers:
        if b is not None: choices.setdefault(trial, {})[rater] = b
    put("paired", name, "better_units", sum(1 for c in choices.values() if len(c) >= 2))
    who = sorted({w for c in choices.values() for w in c})
    codes = {first: 0, second: 1, "equal": 2}
    data = np.array([[codes[choices[t][w]] if w in choices[t] else np.nan for t in sorted(choices)] for w in who], float)
    try:
        value = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    except (ValueError, ZeroDivisionError):
        value = None
    put("paired", name, "better_krippendorff_alpha_nominal", value if finite(value) else None)
    for i, x in enumerate(who):
        for y in who[i + 1:]:
            both = [(choices[t][x], choices[t][y]) for t in sorted(choices) if x in choices[t] and y in choices[t]]
            pair = f"{name} pair={x}|{y}"
            put("paired", pair, "better_n", len(both))
            put("paired", pair, "better_share_agreeing", sum(1 for p, q in both if p == q) / len(both) if both else None)
            kv = float(cohen_kappa_score([p for p, _ in both], [q for _, q in both])) if both else None
            put("paired", pair, "better_cohen_kappa", kv if finite(kv) else None)

# Pattern rates.
methods = sorted({r["method"] for r in rated})
for p in PATTERNS:
    for method in [None] + methods:
        subset = [r for r in rated if (method is None or r["method"] == method) and patterns(r["highlighted"]) is not None]
        if not subset: continue
        name = f"pattern={p}" + (f" method={method}" if method else "")
        h = [p in patterns(r["highlighted"]) for r in subset]
        v = [p in (patterns(r["visible"]) or []) for r in subset]
        put("patterns", name, "asked", len(subset)); put("patterns", name, "highlighted", sum(h))
        put("patterns", name, "rate", sum(h) / len(subset)); put("patterns", name, "visible", sum(v))
        hv = sum(1 for a, b in zip(h, v) if a and b)
        put("patterns", name, "highlighted_when_visible", hv)
        put("patterns", name, "rate_when_visible", hv / sum(v) if sum(v) else None)

# Compare.
bad = []
for key in sorted(set(got) | set(expected)):
    if key not in expected: bad.append(f"missing from the report: {key} = {got[key]}"); continue
    if key not in got: bad.append(f"not recomputed: {key} = {expected[key]}"); continue
    mine, theirs = got[key], expected[key]
    if mine is None or theirs == "":
        if not (mine is None and theirs == ""): bad.append(f"{key}: report {theirs!r}, reference {mine!r}")
        continue
    t = float(theirs)
    if abs(t - float(mine)) > 1e-9 * max(1.0, abs(t)): bad.append(f"{key}: report {theirs}, reference {mine!r}")
for line in bad: print(line)
print(f"checked {len(got)} numbers: {len(bad)} differ")
sys.exit(1 if bad else 0)
