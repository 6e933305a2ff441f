# Computes the reference values hardcoded in Tests/PleuraCoreTests/AgreementTests.swift.
# Run in a throwaway venv:  python3 -m venv /tmp/v && /tmp/v/bin/pip install scikit-learn statsmodels krippendorff
#                           /tmp/v/bin/python Scripts/agreement_reference.py
# Measured with scikit-learn 1.9.1, statsmodels 0.15.0, krippendorff (PyPI, 2026-11).
import numpy as np, json
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa, aggregate_raters
import krippendorff
rng = np.random.default_rng(20261127)
# Cohen: two raters, severity 0..3, correlated
a = rng.integers(0, 4, 40)
b = np.clip(a + rng.choice([-1, 0, 0, 0, 1, 2], 40), 0, 3)
print("cohen_a", a.tolist()); print("cohen_b", b.tolist())
for w in [None, "linear", "quadratic"]:
    print("cohen", w, repr(cohen_kappa_score(a, b, labels=[0,1,2,3], weights=w)))
# ratings -3..3, labels = union seen
ra = rng.integers(-3, 4, 30); rb = np.clip(ra + rng.integers(-2, 3, 30), -3, 3)
print("rating_a", ra.tolist()); print("rating_b", rb.tolist())
for w in [None, "linear", "quadratic"]:
    print("cohen_ratings", w, repr(cohen_kappa_score(ra, rb, weights=w)))
# Fleiss: 20 units x 5 raters, 0..3
truth = rng.integers(0, 4, 20)
data = np.array([[t if rng.random() < 0.7 else rng.integers(0, 4) for _ in range(5)] for t in truth])
print("fleiss_data", data.tolist())
table, cats = aggregate_raters(data, n_cat=4)
print("fleiss", repr(fleiss_kappa(table, method="fleiss")))
wiki = np.array([[0,0,0,0,14],[0,2,6,4,2],[0,0,3,5,6],[0,3,9,2,0],[2,2,8,1,1],[7,7,0,0,0],[3,2,6,3,0],[2,5,3,2,2],[6,5,2,1,0],[0,2,2,3,7]])
print("fleiss_wiki", repr(fleiss_kappa(wiki)))
# Krippendorff: 5 raters x 25 units, 0..3 with ~25% missing
truth = rng.integers(0, 4, 25)
kd = np.array([[float(np.clip(t + rng.choice([-1,0,0,0,1]), 0, 3)) if rng.random() > 0.25 else np.nan for t in truth] for _ in range(5)])
print("kripp_data", json.dumps([[None if np.isnan(x) else int(x) for x in r] for r in kd]))
for level in ["nominal", "ordinal", "interval"]:
    print("kripp", level, repr(krippendorff.alpha(reliability_data=kd, level_of_measurement=level)))
pub = np.array([[1,2,3,3,2,1,4,1,2,np.nan,np.nan,np.nan],[1,2,3,3,2,2,4,1,2,5,np.nan,3],[np.nan,3,3,3,2,3,4,2,2,5,1,np.nan],[1,2,3,3,2,4,4,1,2,5,1,np.nan]])
for level in ["nominal", "ordinal", "interval"]:
    print("kripp_pub", level, repr(krippendorff.alpha(reliability_data=pub, level_of_measurement=level)))
wk = ["*    *    *    *    *    3    4    1    2    1    1    3    3    *    3","1    *    2    1    3    3    4    3    *    *    *    *    *    *    *","*    *    2    1    3    4    4    *    2    1    1    3    3    *    4"]
wkd = np.array([[np.nan if v == "*" else float(v) for v in r.split()] for r in wk])
for level in ["nominal", "interval"]:
    print("kripp_wiki", level, repr(krippendorff.alpha(reliability_data=wkd, level_of_measurement=level)))
