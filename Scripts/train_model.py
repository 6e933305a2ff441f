#!/usr/bin/python3
"""Train and export Pleura's embedded lung-ultrasound model (pleura-lus-v1).

Run with Debian's Python and python3-torch (CPU only, one thread by default):

    /usr/bin/python3 Scripts/train_model.py [--data ../shared/data/pocus] [--out Models/pleura-lus-v1]

What it does, in order:
1. Reads the POCUS manifest, picks up to --frames-per-video evenly spaced frames of every file and
   decodes them with the ffmpeg CLI (rgb24) into a cache folder outside the repository (default: a
   temporary folder). Frames and clips are never written into the project.
2. Preprocesses exactly as Pleura's runtime does (see the card's "input"): RGB -> grey with BT.601
   weights (0.299, 0.587, 0.114), the whole frame resized to 224x224 by area averaging
   (torch's adaptive_avg_pool2d), scaled to [0,1], then (x - 0.5) / 0.25.
3. 5-fold cross-validation grouped by video (and by patient where the metadata names one), stratified
   by diagnosis, a few epochs per fold, reporting video-level metrics beside majority-class baselines.
4. Trains the final model on all files and exports TorchScript with `features(x)` (the Grad-CAM layer's
   activations) and `head(A)` (dict of named logits), plus the JSON card with the CV metrics.
"""
import argparse
import csv
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

import torch
import torch.nn as nn
import torch.nn.functional as F

INPUT = 224
FINDINGS = ["a_lines", "b_lines", "consolidation"]
DIAGNOSES = ["covid", "pneumonia", "healthy"]          # manifest class "regular" == healthy
DIAG_INDEX = {"covid": 0, "pneumonia": 1, "regular": 2}  # viral / other: no diagnosis target (masked)
MEAN, STD = 0.5, 0.25
GREY = (0.299, 0.587, 0.114)
ALL_FINDING_FLAGS = ["effusion", "consolidation", "b_lines", "a_lines", "pleural_irregularities", "air_bronchogram"]


# ----------------------------------------------------------------------------------------------- model
def conv_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class PleuraLUSNet(nn.Module):
    """Small VGG-like CNN: 224x224 grey -> 128 x 14 x 14 activations (the Grad-CAM layer) -> heads."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            conv_bn(1, 16, 2),     # 112
            conv_bn(16, 32, 2),    # 56
            conv_bn(32, 32, 1),
            conv_bn(32, 64, 2),    # 28
            conv_bn(64, 64, 1),
            conv_bn(64, 96, 2),    # 14
            conv_bn(96, 128, 1),   # Grad-CAM layer: body.6 (after ReLU)
        )
        self.dropout = nn.Dropout(0.3)
        self.findings = nn.Linear(128, len(FINDINGS))
        self.severity = nn.Linear(128, 4)
        self.diagnosis = nn.Linear(128, len(DIAGNOSES))

    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    @torch.jit.export
    def head(self, a: torch.Tensor) -> Dict[str, torch.Tensor]:
        v = self.dropout(a.mean(dim=(2, 3)))
        return {"findings": self.findings(v), "severity": self.severity(v), "diagnosis": self.diagnosis(v)}

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        return self.head(self.features(x))


# ------------------------------------------------------------------------------------------------ data
def read_manifest(data: str) -> List[dict]:
    with open(os.path.join(data, "manifest.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    items = []
    for r in rows:
        flags = {k: r[k].strip() for k in ALL_FINDING_FLAGS}
        row_annotated = any(v == "1" for v in flags.values())
        findings, fmask = [], []
        for name in FINDINGS:
            v = flags[name]
            if v == "1":
                findings.append(1.0); fmask.append(1.0)
            elif v == "0" and (row_annotated or (r["class"] == "regular" and name != "a_lines")):
                # A 0 counts as "absent" only where somebody evidently looked: the row marks another
                # finding present, or the file is a healthy lung (no B-lines, no consolidation).
                findings.append(0.0); fmask.append(1.0)
            else:
                findings.append(0.0); fmask.append(0.0)
        sev = r["severity_score"].strip()
        patient = r["patient_id"].strip()
        items.append({
            "path": r["path"], "class": r["class"], "kind": r["kind"],
            "frames": int(r["frames"]), "width": int(r["width"]), "height": int(r["height"]),
            "group": (r["source"] + "#" + patient) if patient else r["path"],
            "diagnosis": DIAG_INDEX.get(r["class"], -1),
            "severity": int(sev) if sev else -1,
            "findings": findings, "findings_mask": fmask,
            "source": r["source"], "license": r["license"], "license_url": r["license_url"],
            "source_url": r["source_url"],
        })
    return items


def frame_indices(count: int, k: int) -> List[int]:
    if count <= k:
        return list(range(count))
    return sorted({int((i + 0.5) * count / k) for i in range(k)})


def to_model_input(rgb: torch.Tensor) -> torch.Tensor:
    """uint8 HxWx3 -> float 224x224 in [0,1], exactly as Pleura's runtime preprocesses."""
    x = rgb.float()
    g = x[..., 0] * GREY[0] + x[..., 1] * GREY[1] + x[..., 2] * GREY[2]
    g = F.adaptive_avg_pool2d(g[None, None], (INPUT, INPUT))[0, 0]
    return g / 255.0


def decode(data: str, item: dict, k: int) -> torch.Tensor:
    """Decode the chosen frames with the ffmpeg CLI; returns uint8 N x 224 x 224 (grey, area-resized)."""
    idx = frame_indices(item["frames"], k)
    expr = "+".join("eq(n\\,%d)" % i for i in idx)
    cmd = ["ffmpeg", "-v", "error", "-threads", "1", "-i", os.path.join(data, item["path"]),
           "-vf", "select='%s'" % expr, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(cmd, check=True, capture_output=True).stdout
    w, h = item["width"], item["height"]
    n = len(raw) // (w * h * 3)
    if n == 0:
        raise RuntimeError("no frames decoded from " + item["path"])
    frames = torch.frombuffer(bytearray(raw[: n * w * h * 3]), dtype=torch.uint8).view(n, h, w, 3)
    out = torch.stack([to_model_input(f) for f in frames])
    return (out * 255.0).round().clamp(0, 255).to(torch.uint8)


def load_frames(data: str, items: List[dict], k: int, cache: str) -> None:
    os.makedirs(cache, exist_ok=True)
    t0 = time.time()
    for i, it in enumerate(items):
        fn = os.path.join(cache, it["path"].replace("/", "__") + ".k%d.pt" % k)
        if os.path.exists(fn):
            it["x"] = torch.load(fn).view(-1, INPUT, INPUT)
        else:
            it["x"] = decode(data, it, k)
            torch.save(it["x"], fn)
        if (i + 1) % 20 == 0:
            print("  decoded %d/%d files (%.0f s)" % (i + 1, len(items), time.time() - t0), flush=True)


# ------------------------------------------------------------------------------------------- training
def samples(items: List[dict]):
    out = []
    for it in items:
        rep = 3 if it["kind"] == "image" else 1   # still images have one frame: show them a few times
        for j in range(it["x"].shape[0]):
            out.extend([(it, j)] * rep)
    return out


def augment(x: torch.Tensor) -> torch.Tensor:
    """x: B x 1 x 224 x 224 in [0,1]. Flip, random zoom/shift, brightness/contrast, gamma."""
    b = x.shape[0]
    flip = torch.rand(b) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    scale = 1.0 / (0.85 + 0.3 * torch.rand(b))
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = scale; theta[:, 1, 1] = scale
    theta[:, 0, 2] = (torch.rand(b) - 0.5) * 0.2; theta[:, 1, 2] = (torch.rand(b) - 0.5) * 0.2
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    gamma = torch.exp((torch.rand(b) - 0.5) * 0.6)[:, None, None, None]
    x = x.clamp(0, 1) ** gamma
    x = x * (0.8 + 0.4 * torch.rand(b)[:, None, None, None]) + (torch.rand(b)[:, None, None, None] - 0.5) * 0.1
    return x.clamp(0, 1)


def class_weights(values: List[int], n: int) -> torch.Tensor:
    counts = torch.tensor([sum(1 for v in values if v == c) for c in range(n)], dtype=torch.float)
    w = (counts.sum() / counts.clamp(min=1)).sqrt()
    return w / w.mean()


def train(items: List[dict], epochs: int, seed: int, batch: int = 32, lr: float = 3e-3, log: str = "") -> PleuraLUSNet:
    torch.manual_seed(seed); random.seed(seed)
    model = PleuraLUSNet()
    data = samples(items)
    diag_w = class_weights([it["diagnosis"] for it, _ in data], 3)
    sev_w = class_weights([it["severity"] for it, _ in data], 4)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-3)
    steps = epochs * math.ceil(len(data) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.2)
    for ep in range(epochs):
        model.train(); random.shuffle(data); t0 = time.time(); tot = 0.0
        for s in range(0, len(data), batch):
            chunk = data[s:s + batch]
            x = torch.stack([it["x"][j] for it, j in chunk]).float()[:, None] / 255.0
            x = (augment(x) - MEAN) / STD
            out = model(x)
            diag = torch.tensor([it["diagnosis"] for it, _ in chunk])
            sev = torch.tensor([it["severity"] for it, _ in chunk])
            fnd = torch.tensor([it["findings"] for it, _ in chunk])
            fm = torch.tensor([it["findings_mask"] for it, _ in chunk])
            loss = torch.zeros(())
            if (diag >= 0).any():
                loss = loss + F.cross_entropy(out["diagnosis"], diag, weight=diag_w, ignore_index=-1)
            if (sev >= 0).any():
                loss = loss + 0.7 * F.cross_entropy(out["severity"], sev, weight=sev_w, ignore_index=-1)
            if fm.sum() > 0:
                bce = F.binary_cross_entropy_with_logits(out["findings"], fnd, reduction="none")
                loss = loss + 0.7 * (bce * fm).sum() / fm.sum()
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
            tot += float(loss) * len(chunk)
        print("  %sepoch %d/%d loss %.3f (%.0f s)" % (log, ep + 1, epochs, tot / len(data), time.time() - t0), flush=True)
    model.eval()
    return model


@torch.no_grad()
def predict_videos(model: PleuraLUSNet, items: List[dict]) -> List[Dict[str, torch.Tensor]]:
    """Video-level probabilities: the mean over the file's frames of each head's probabilities."""
    model.eval(); res = []
    for it in items:
        x = (it["x"].float()[:, None] / 255.0 - MEAN) / STD
        out = model(x)
        res.append({"diagnosis": out["diagnosis"].softmax(1).mean(0), "severity": out["severity"].softmax(1).mean(0),
                    "findings": out["findings"].sigmoid().mean(0)})
    return res


# -------------------------------------------------------------------------------------------- metrics
def auc(scores: List[float], labels: List[int]) -> float:
    pos = [s for s, l in zip(scores, labels) if l == 1]; neg = [s for s, l in zip(scores, labels) if l == 0]
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def quadratic_kappa(a: List[int], b: List[int], n: int = 4) -> float:
    if not a:
        return float("nan")
    o = [[0.0] * n for _ in range(n)]
    for x, y in zip(a, b):
        o[x][y] += 1
    tot = len(a); ra = [sum(r) for r in o]; cb = [sum(o[i][j] for i in range(n)) for j in range(n)]
    num = sum(((i - j) ** 2) * o[i][j] for i in range(n) for j in range(n))
    den = sum(((i - j) ** 2) * ra[i] * cb[j] / tot for i in range(n) for j in range(n))
    return 1.0 - num / den if den > 0 else 0.0


def f1(pred: List[int], true: List[int]) -> float:
    tp = sum(1 for p, t in zip(pred, true) if p and t); fp = sum(1 for p, t in zip(pred, true) if p and not t)
    fn = sum(1 for p, t in zip(pred, true) if not p and t)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 0.0


def folds_by_group(items: List[dict], k: int, seed: int) -> List[int]:
    """Assign each group (video, or patient where known) to one of k folds, balancing diagnosis classes."""
    groups: Dict[str, List[int]] = {}
    for i, it in enumerate(items):
        groups.setdefault(it["group"], []).append(i)
    rng = random.Random(seed)
    order = list(groups.items()); rng.shuffle(order)
    order.sort(key=lambda g: -len(g[1]))
    load = [[0] * 6 for _ in range(k)]
    fold_of = [0] * len(items)
    for _, members in order:
        cls = items[members[0]]["diagnosis"] + 1   # 0 = none
        f = min(range(k), key=lambda f: (load[f][cls], sum(load[f])))
        for m in members:
            fold_of[m] = f; load[f][items[m]["diagnosis"] + 1] += 1
    return fold_of


def folds_by_source(items: List[dict]) -> List[int]:
    """Leave-one-source-out: every manifest source (hospital, atlas, paper) is one fold, largest first."""
    counts: Dict[str, int] = {}
    for it in items:
        counts[it["source"]] = counts.get(it["source"], 0) + 1
    order = sorted(counts, key=lambda s: (-counts[s], s))
    return [order.index(it["source"]) for it in items]


def cross_validate(items: List[dict], k: int, epochs: int, seed: int, split: str = "group5",
                   fold_models: str = "", video_preds_out: str = "") -> dict:
    fold_of = folds_by_source(items) if split == "loso" else folds_by_group(items, k, seed)
    k = max(fold_of) + 1
    preds: List[Dict[str, torch.Tensor]] = [None] * len(items)  # type: ignore
    majority = [None] * len(items)
    for f in range(k):
        tr = [it for it, g in zip(items, fold_of) if g != f]
        te_idx = [i for i, g in enumerate(fold_of) if g == f]
        t0 = time.time()
        model = train(tr, epochs, seed + f, log="fold %d/%d " % (f + 1, k))
        if fold_models:
            os.makedirs(fold_models, exist_ok=True)
            torch.save(model.state_dict(), os.path.join(fold_models, "fold%d.pth" % f))
        for i, p in zip(te_idx, predict_videos(model, [items[i] for i in te_idx])):
            preds[i] = p
        # Majority-class baselines learnt on the same training fold.
        dmaj = max(range(3), key=lambda c: sum(1 for it in tr if it["diagnosis"] == c))
        smaj = max(range(4), key=lambda c: sum(1 for it in tr if it["severity"] == c))
        fmaj = []
        for j in range(len(FINDINGS)):
            ann = [it["findings"][j] for it in tr if it["findings_mask"][j] > 0]
            fmaj.append(1 if sum(ann) * 2 > len(ann) else 0)
        for i in te_idx:
            majority[i] = (dmaj, smaj, fmaj)
        print("fold %d/%d done: %d held-out files (%.0f s)" % (f + 1, k, len(te_idx), time.time() - t0), flush=True)

    if video_preds_out:
        with open(video_preds_out, "w") as fo:
            json.dump([{"path": it["path"], "fold": fold_of[i], "majority": majority[i],
                        **{h: [float(v) for v in preds[i][h]] for h in preds[i]}} for i, it in enumerate(items)], fo)
    m: dict = {"split": "%d-fold cross-validation grouped by video (files of one patient kept together where the "
                        "metadata names the patient), stratified by diagnosis; %d epochs per fold; metrics per video "
                        "(mean of the frame probabilities over the sampled frames of each held-out file)" % (k, epochs)}
    # Diagnosis.
    di = [i for i, it in enumerate(items) if it["diagnosis"] >= 0]
    y = [items[i]["diagnosis"] for i in di]
    yhat = [int(preds[i]["diagnosis"].argmax()) for i in di]
    base = [majority[i][0] for i in di]
    aucs = {DIAGNOSES[c]: auc([float(preds[i]["diagnosis"][c]) for i in di], [1 if t == c else 0 for t in y]) for c in range(3)}
    m["diagnosis"] = {
        "files": len(di),
        "accuracy": sum(a == b for a, b in zip(y, yhat)) / len(y),
        "accuracy_majority_baseline": sum(a == b for a, b in zip(y, base)) / len(y),
        "balanced_accuracy": sum(sum(1 for t, p in zip(y, yhat) if t == c and p == c) / max(1, y.count(c)) for c in range(3)) / 3,
        "auc_one_vs_rest": aucs,
        "auc_macro": sum(aucs.values()) / 3,
        "auc_majority_baseline": 0.5,
        "confusion_rows_true_cols_predicted": [[sum(1 for t, p in zip(y, yhat) if t == a and p == b) for b in range(3)] for a in range(3)],
    }
    # Severity.
    si = [i for i, it in enumerate(items) if it["severity"] >= 0]
    ys = [items[i]["severity"] for i in si]
    ps = [int(preds[i]["severity"].argmax()) for i in si]
    bs = [majority[i][1] for i in si]
    m["severity"] = {
        "files": len(si),
        "quadratic_kappa": quadratic_kappa(ys, ps),
        "quadratic_kappa_majority_baseline": quadratic_kappa(ys, bs),
        "accuracy": sum(a == b for a, b in zip(ys, ps)) / len(ys),
        "accuracy_majority_baseline": sum(a == b for a, b in zip(ys, bs)) / len(ys),
    }
    # Findings.
    fm = {}
    for j, name in enumerate(FINDINGS):
        fi = [i for i, it in enumerate(items) if it["findings_mask"][j] > 0]
        yt = [int(items[i]["findings"][j]) for i in fi]
        yp = [int(preds[i]["findings"][j] > 0.5) for i in fi]
        yb = [majority[i][2][j] for i in fi]
        fm[name] = {
            "files_assessed": len(fi), "positives": sum(yt),
            "f1": f1(yp, yt), "f1_majority_baseline": f1(yb, yt), "f1_all_positive_baseline": f1([1] * len(yt), yt),
            "auc": auc([float(preds[i]["findings"][j]) for i in fi], yt),
        }
    m["findings"] = fm
    m["findings_macro_f1"] = sum(v["f1"] for v in fm.values()) / len(fm)
    m["findings_macro_f1_majority_baseline"] = sum(v["f1_majority_baseline"] for v in fm.values()) / len(fm)
    return m


# --------------------------------------------------------------------------------------------- export
def export(model: PleuraLUSNet, items: List[dict], metrics: dict, args, seconds: float) -> None:
    model.eval()
    scripted = torch.jit.script(model)
    scripted = torch.jit.freeze(scripted, preserved_attrs=["features", "head"]) if args.freeze else scripted
    out_pt = args.out + ".pt"
    os.makedirs(os.path.dirname(os.path.abspath(out_pt)), exist_ok=True)
    scripted.save(out_pt)
    sources: Dict[str, dict] = {}
    for it in items:
        s = sources.setdefault(it["source"], {"source": it["source"], "license": it["license"], "license_url": it["license_url"],
                                              "files": 0, "example_url": it["source_url"]})
        s["files"] += 1
    licences: Dict[str, int] = {}
    for it in items:
        licences[it["license"]] = licences.get(it["license"], 0) + 1
    card = {
        "format": "pleura-model-card/1",
        "name": os.path.basename(args.out),
        "description": "Small CNN (7 conv blocks, %d parameters) for lung-ultrasound frames: findings, ICLUS-style "
                       "severity and POCOVID-style diagnosis. Research use only; not a medical device." %
                       sum(p.numel() for p in model.parameters()),
        "input": {
            "width": INPUT, "height": INPUT, "channels": 1,
            "colour": "grey: 0.299 R + 0.587 G + 0.114 B of the decoded RGB frame",
            "resize": "area",
            "resize_note": "the whole frame (no crop) is resized to 224x224 by area averaging, as torch's adaptive_avg_pool2d",
            "scale": 1.0 / 255.0, "mean": [MEAN], "std": [STD],
            "layout": "NCHW float32; x = (pixel / 255 - mean) / std",
        },
        "gradcam_layer": "body.6",
        "gradcam_layer_note": "features(x) returns the activations of body.6 (last conv block, after ReLU), 128 x 14 x 14",
        "heads": [
            {"name": "diagnosis", "kind": "multiclass", "activation": "softmax",
             "classes": ["covid", "pneumonia", "healthy"],
             "pleura_labels": {"field": "diagnosis", "map": {"covid": "COVID-19", "pneumonia": "bacterial pneumonia", "healthy": "healthy"}},
             "note": "manifest classes covid / pneumonia / regular (= healthy), as POCOVID-Net; the 5 'viral' files and "
                     "the 1 'other' file have no diagnosis target (masked from this head's loss) but train the other heads"},
            {"name": "severity", "kind": "multiclass", "activation": "softmax", "classes": ["0", "1", "2", "3"],
             "pleura_labels": {"field": "severity", "map": {"0": 0, "1": 1, "2": 2, "3": 3}},
             "note": "per-video lung severity score of the metadata (75 files), applied to every sampled frame of the video"},
            {"name": "findings", "kind": "multilabel", "activation": "sigmoid", "classes": FINDINGS,
             "pleura_labels": {"field": "findings", "map": {"a_lines": ["a_lines"], "b_lines": ["b1_lines", "b2_lines"],
                                                            "consolidation": ["consolidation"]}},
             "note": "b_lines means any B-lines: the data has no flag separating B1 (separate) from B2 (confluent), so "
                     "the head predicts their union and maps onto both B1 and B2 (present if either). A manifest 0 "
                     "counts as absent only where the row marks another finding present, or (B-lines, consolidation) "
                     "the file is a healthy lung; otherwise the flag is unannotated and masked out of the loss"},
        ],
        "default_head": "diagnosis",
        "training": {
            "script": "Scripts/train_model.py",
            "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
            "torch": torch.__version__,
            "data": "POCUS dataset (covid19_ultrasound project, April 2022), %d files (%d videos, %d images): up to %d "
                    "evenly spaced frames per video, the whole frame" % (len(items), sum(1 for i in items if i["kind"] == "video"),
                                                                        sum(1 for i in items if i["kind"] == "image"), args.frames_per_video),
            "frames": sum(int(it["x"].shape[0]) for it in items),
            "epochs_final": args.epochs, "seed": args.seed,
            "augmentation": "horizontal flip, zoom 0.85-1.15, shift +-10 %, gamma, brightness/contrast",
            "seconds": round(seconds),
            "threads": torch.get_num_threads(),
        },
        "data_licences": licences,
        "data_sources": sorted(sources.values(), key=lambda s: -s["files"]),
        "metrics": metrics,
    }
    with open(args.out + ".json", "w") as f:
        json.dump(card, f, indent=1, sort_keys=False)
        f.write("\n")
    print("wrote %s (%d bytes) and %s.json" % (out_pt, os.path.getsize(out_pt), args.out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data", "pocus"))
    ap.add_argument("--out", default=os.path.join(here, "..", "Models", "pleura-lus-v1"))
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "pleura-train-frames"))
    ap.add_argument("--frames-per-video", type=int, default=16)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--cv-epochs", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--freeze", action="store_true", help="torch.jit.freeze the export (off: keeps a plain scripted module)")
    ap.add_argument("--skip-cv", action="store_true")
    ap.add_argument("--cv-metrics", help="take the cross-validation metrics from this JSON (written by an earlier "
                                         "run's --cv-metrics-out) instead of running the CV again")
    ap.add_argument("--cv-metrics-out", help="write the cross-validation metrics here as soon as they are known")
    ap.add_argument("--cv-only", action="store_true", help="stop after the cross-validation (no final model)")
    ap.add_argument("--split", choices=["group5", "loso"], default="group5",
                    help="group5: --folds folds grouped by video/patient; loso: leave one manifest source out")
    ap.add_argument("--fold-models", default="", help="save each fold's state dict here (outside the repository)")
    ap.add_argument("--video-preds-out", default="", help="write the held-out video probabilities here (JSON)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    items = read_manifest(args.data)
    print("%d files; decoding frames into %s" % (len(items), args.cache), flush=True)
    load_frames(args.data, items, args.frames_per_video, args.cache)
    print("%d frames decoded (%.0f s)" % (sum(int(i["x"].shape[0]) for i in items), time.time() - t0), flush=True)
    if args.cv_metrics:
        with open(args.cv_metrics) as f:
            metrics = json.load(f)
    else:
        metrics = {} if args.skip_cv else cross_validate(items, args.folds, args.cv_epochs, args.seed, args.split,
                                                                args.fold_models, args.video_preds_out)
    print(json.dumps(metrics, indent=1), flush=True)
    if args.cv_metrics_out:
        with open(args.cv_metrics_out, "w") as f:
            json.dump(metrics, f, indent=1)
    if args.cv_only:
        return
    model = train(items, args.epochs, args.seed, log="final ")
    export(model, items, metrics, args, time.time() - t0)


if __name__ == "__main__":
    main()
