#!/usr/bin/python3
"""Train, evaluate and export pleura-lus-v2: the scan sector only, ordinal severity, MC-dropout.

One command retrains everything (cross-validations, out-of-fold predictions, final model, card):

    nice -n 10 /usr/bin/python3 Scripts/train_model_v2.py [--data ../shared/data/pocus] [--out Models/pleura-lus-v2]

Debian's Python and python3-torch (CPU, one thread by default), seeds fixed (--seed). In order:
1. Per file: up to 16 evenly spaced frames decoded with the ffmpeg CLI, the scan sector detected from
   them (Scripts/pleura_sector.py: the clip's maximum and temporal variance), every frame cropped to
   the sector's square and area-resized to 128 x 128 with its mask; cached outside the repository
   (--cache, default /tmp). Model input = per-frame normalisation inside the sector, 0 outside
   (pleura_sector.normalise), exactly what Pleura's ModelRuntime feeds (card input.crop = "sector").
2. Training for device shift: gain 0.5-1.5, gamma, zoom 0.7-1.3, sector width and depth (separate
   x/y scale, random depth cut), blur, speckle noise, left-right flip; class-balanced sampling over
   (diagnosis, severity) cells so that severity cannot be learnt as "looks like a healthy source".
3. Severity is ordinal (CORAL: one score, three ordered thresholds); the exported severity logits
   are log P(class), so softmax gives the class probabilities and the expected severity follows.
4. Leave-one-source-out CV (the manifest's 13 sources) and grouped 5-fold CV (the same folds as
   train_model.py), the video rule for severity chosen on the 5-fold OOF predictions (on LOSO when
   only LOSO ran), then reported on LOSO; v1's LOSO fold models (train_model.py --split loso
   --fold-models DIR) are evaluated on the same held-out folds with the same code for the table.
   A cross-validation cut short is reported on the folds whose models exist (largest sources first).
5. MC-dropout: 16 fixed dropout masks on the pooled features, exported as extra outputs
   `HEAD@mc` ([1, 16 * classes] logits); uncertainty = standard deviation of a class's probability
   over the 16 samples. ECE in the card.
6. The card lists the SHA-256 of every training file; NAME.oof.csv holds the LOSO out-of-fold
   frame probabilities (media sha256, frame, head, class, probability, fold).
"""
import argparse
import csv
import hashlib
import json
import math
import os
import random
import sys
import tempfile
import time
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pleura_sector as ps  # noqa: E402
import train_model as v1  # noqa: E402  (manifest reading, folds, metrics: one implementation)

SIZE = 128
MC = 16
DROP = 0.3
FINDINGS = v1.FINDINGS
DIAGNOSES = v1.DIAGNOSES


# ----------------------------------------------------------------------------------------------- model
def conv_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class PleuraLUSNetV2(nn.Module):
    """128x128 sector crop -> 128 x 16 x 16 activations, zeroed outside the sector -> heads.

    The sector is where the input is not exactly 0 (Pleura writes 0 outside it); the Grad-CAM layer's
    activations are multiplied by that mask at 16 x 16, and the heads average only inside it, so
    nothing outside the imaged area can carry evidence or heat."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            conv_bn(1, 16, 2),     # 64
            conv_bn(16, 32, 2),    # 32
            conv_bn(32, 32, 1),
            conv_bn(32, 64, 2),    # 16
            conv_bn(64, 64, 1),
            conv_bn(64, 96, 1),
            conv_bn(96, 128, 1),   # Grad-CAM layer: body.6 (after ReLU, times the sector mask)
        )
        self.findings = nn.Linear(128, len(FINDINGS))
        self.diagnosis = nn.Linear(128, len(DIAGNOSES))
        self.severity_score = nn.Linear(128, 1, bias=False)
        self.severity_thresholds = nn.Parameter(torch.tensor([1.0, 0.0, -1.0]))
        g = torch.Generator().manual_seed(1234)
        self.register_buffer("mc_masks", (torch.rand(MC, 128, generator=g) >= DROP).float() / (1 - DROP))

    @torch.jit.export
    def sector(self, x: torch.Tensor) -> torch.Tensor:
        m = (x != 0).float()
        return (F.adaptive_avg_pool2d(m, (x.shape[2] // 8, x.shape[3] // 8)) >= 0.5).float()

    @torch.jit.export
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) * self.sector(x)

    def pooled(self, a: torch.Tensor) -> torch.Tensor:
        m = (a.abs().sum(dim=1, keepdim=True) > 0).float()
        return a.sum(dim=(2, 3)) / m.sum(dim=(2, 3)).clamp(min=1.0)

    def severity_logprob(self, v: torch.Tensor) -> torch.Tensor:
        s = self.severity_score(v)                                   # B x 1
        up = torch.sigmoid(s + self.severity_thresholds[None, :])    # P(y > k), k = 0, 1, 2
        ones = torch.ones_like(up[:, :1]); zeros = torch.zeros_like(up[:, :1])
        hi = torch.cat([ones, up], 1); lo = torch.cat([up, zeros], 1)
        return (hi - lo).clamp(min=1e-6).log()

    def heads(self, v: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"findings": self.findings(v), "severity": self.severity_logprob(v), "diagnosis": self.diagnosis(v)}

    @torch.jit.export
    def head(self, a: torch.Tensor) -> Dict[str, torch.Tensor]:
        v = self.pooled(a)
        out = self.heads(v)
        if not self.training:
            mc = self.heads((v[:, None, :] * self.mc_masks[None]).reshape(-1, 128))
            b = v.shape[0]
            out["findings@mc"] = mc["findings"].reshape(b, -1)
            out["severity@mc"] = mc["severity"].reshape(b, -1)
            out["diagnosis@mc"] = mc["diagnosis"].reshape(b, -1)
        return out

    def train_heads(self, a: torch.Tensor) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
        v = F.dropout(self.pooled(a), DROP, True)
        s = self.severity_score(v) + self.severity_thresholds[None, :]
        return self.heads(v), s

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        return self.head(self.features(x))


# ------------------------------------------------------------------------------------------------ data
def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_items(data: str, cache: str) -> List[dict]:
    items = v1.read_manifest(data)
    os.makedirs(cache, exist_ok=True)
    t0 = time.time()
    for i, it in enumerate(items):
        fn = os.path.join(cache, it["path"].replace("/", "__") + ".sector%d.pt" % SIZE)
        if os.path.exists(fn):
            d = torch.load(fn)
        else:
            path = os.path.join(data, it["path"])
            idx = ps.frame_indices(it["frames"])
            frames = ps.decode(path, idx, it["width"], it["height"])
            mask = ps.detect(frames)
            vs, ms = zip(*[ps.crop_resize(f, mask, SIZE) for f in frames])
            d = {"v": torch.stack(vs), "m": torch.stack(ms), "frames": idx[:len(frames)], "sha256": sha256_file(path),
                 "mask_fraction": float(mask.mean())}
            torch.save(d, fn)
        it.update(d)
        if (i + 1) % 20 == 0:
            print("  sectors %d/%d files (%.0f s)" % (i + 1, len(items), time.time() - t0), flush=True)
    return items


def normalise_batch(v: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """B x 1 x S x S values (0-255) and bool masks -> the model input (as pleura_sector.normalise)."""
    mf = m.double(); n = mf.sum(dim=(1, 2, 3)).clamp(min=1)
    vd = v.double()
    mean = (vd * mf).sum(dim=(1, 2, 3)) / n
    var = (((vd - mean[:, None, None, None]) ** 2) * mf).sum(dim=(1, 2, 3)) / n
    std = var.sqrt().clamp(min=ps.MIN_STD)
    x = ((vd - mean[:, None, None, None]) / std[:, None, None, None]).float()
    return torch.where(m, x, torch.zeros_like(x))


def augment(v: torch.Tensor, m: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """v: B x 1 x S x S (0-255), m: bool. What differs between scanners and operators."""
    b = v.shape[0]
    x = torch.cat([v * m, m.float()], 1)
    flip = torch.rand(b) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    zoom = 0.7 + 0.6 * torch.rand(b)
    sx = zoom * (0.85 + 0.3 * torch.rand(b)); sy = zoom * (0.85 + 0.3 * torch.rand(b))   # sector width, depth
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = 1 / sx; theta[:, 1, 1] = 1 / sy
    theta[:, 0, 2] = (torch.rand(b) - 0.5) * 0.1
    theta[:, 1, 2] = (1 / sy - 1) * (torch.rand(b) < 0.7).float()   # mostly keep the probe face at the top
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    v, mf = x[:, :1], x[:, 1:]
    m = mf >= 0.5
    # Shallower depth setting: cut the sector at 65-100 % of the picture height.
    cut = torch.where(torch.rand(b) < 0.3, 0.65 + 0.35 * torch.rand(b), torch.ones(b))
    rows = torch.arange(SIZE, dtype=torch.float)[None, :] < (cut[:, None] * SIZE)
    m = m & rows[:, None, :, None]
    # Gain 0.5-1.5 and gamma.
    gain = 0.5 + torch.rand(b)
    gamma = torch.exp((torch.rand(b) - 0.5) * 0.8)
    v = (255.0 * ((v * gain[:, None, None, None]).clamp(0, 255) / 255.0) ** gamma[:, None, None, None])
    # Blur (σ 0.5-1.5 px) on a third.
    blur = torch.rand(b) < 0.33
    if blur.any():
        sig = float(0.5 + torch.rand(1))
        k = torch.arange(-2, 3, dtype=torch.float); k = torch.exp(-k * k / (2 * sig * sig)); k = k / k.sum()
        vb = F.conv2d(F.pad(v, (2, 2, 0, 0), mode="replicate"), k.view(1, 1, 1, 5))
        vb = F.conv2d(F.pad(vb, (0, 0, 2, 2), mode="replicate"), k.view(1, 1, 5, 1))
        v = torch.where(blur[:, None, None, None], vb, v)
    # Speckle: multiplicative noise, slightly correlated (2x2 upsampled), on half.
    sp = (torch.rand(b) < 0.5).float() * 0.3 * torch.rand(b)
    noise = F.interpolate(torch.randn(b, 1, SIZE // 2, SIZE // 2), size=(SIZE, SIZE), mode="nearest")
    v = (v * (1 + sp[:, None, None, None] * noise)).clamp(0, 255)
    return v, m


# ------------------------------------------------------------------------------------------- training
def cell(it: dict) -> Tuple[int, int]:
    return (it["diagnosis"], it["severity"])


def train(items: List[dict], epochs: int, seed: int, batch: int = 32, lr: float = 3e-3, log: str = "") -> PleuraLUSNetV2:
    torch.manual_seed(seed); random.seed(seed)
    model = PleuraLUSNetV2()
    counts: Dict[Tuple[int, int], int] = {}
    for it in items:
        counts[cell(it)] = counts.get(cell(it), 0) + 1
    weights = torch.tensor([1.0 / counts[cell(it)] for it in items])
    per_epoch = sum(int(it["v"].shape[0]) for it in items) // 2
    steps_per_epoch = math.ceil(per_epoch / batch)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.2)
    g = torch.Generator().manual_seed(seed)
    for ep in range(epochs):
        model.train(); t0 = time.time(); tot = 0.0
        for _ in range(steps_per_epoch):
            pick = torch.multinomial(weights, batch, replacement=True, generator=g).tolist()
            chunk = [(items[i], int(torch.randint(items[i]["v"].shape[0], (1,), generator=g))) for i in pick]
            v = torch.stack([it["v"][j] for it, j in chunk])[:, None]
            m = torch.stack([it["m"][j] for it, j in chunk])[:, None]
            v, m = augment(v, m)
            x = normalise_batch(v, m)
            out, cum = model.train_heads(model.features(x))
            diag = torch.tensor([it["diagnosis"] for it, _ in chunk])
            sev = torch.tensor([it["severity"] for it, _ in chunk])
            fnd = torch.tensor([it["findings"] for it, _ in chunk])
            fm = torch.tensor([it["findings_mask"] for it, _ in chunk])
            loss = torch.zeros(())
            if (diag >= 0).any():
                loss = loss + F.cross_entropy(out["diagnosis"], diag, ignore_index=-1)
            known = sev >= 0
            if known.any():
                target = (sev[known][:, None] > torch.arange(3)[None, :]).float()   # CORAL: y > k
                loss = loss + F.binary_cross_entropy_with_logits(cum[known], target)
            if fm.sum() > 0:
                bce = F.binary_cross_entropy_with_logits(out["findings"], fnd, reduction="none")
                loss = loss + 0.7 * (bce * fm).sum() / fm.sum()
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
            tot += float(loss)
        print("  %sepoch %d/%d loss %.3f (%.0f s)" % (log, ep + 1, epochs, tot / steps_per_epoch, time.time() - t0), flush=True)
    model.eval()
    return model


@torch.no_grad()
def predict_frames(model: PleuraLUSNetV2, it: dict) -> Dict[str, torch.Tensor]:
    """Per frame: probabilities [F, classes] and MC-dropout std [F, classes] of every head."""
    model.eval()
    x = normalise_batch(it["v"][:, None], it["m"][:, None])
    out = model(x)
    res = {}
    for h, n in (("diagnosis", 3), ("severity", 4), ("findings", 3)):
        act = torch.sigmoid if h == "findings" else (lambda t: t.softmax(-1))
        res[h] = act(out[h])
        mc = out[h + "@mc"].reshape(x.shape[0], MC, n)
        res[h + "_std"] = act(mc).std(1, unbiased=False)
    return res


def video_probs(fp: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    return {"diagnosis": fp["diagnosis"].mean(0), "severity": fp["severity"].mean(0), "findings": fp["findings"].mean(0)}


def severity_video(fp: Dict[str, torch.Tensor], rule: str) -> int:
    p = fp["severity"]
    if rule == "mean_probability":
        return int(p.mean(0).argmax())
    if rule == "expected_value":
        return int(min(3, max(0, round(float((p * torch.arange(4.0)).sum(1).mean())))))
    if rule == "max":
        return int(p.argmax(1).max())
    raise ValueError(rule)


RULES = ["mean_probability", "expected_value", "max"]


def cross_validate(items: List[dict], split: str, epochs: int, seed: int, fold_models: str = ""):
    fold_of = v1.folds_by_source(items) if split == "loso" else v1.folds_by_group(items, 5, seed)
    k = max(fold_of) + 1
    frame_preds: List[Dict[str, torch.Tensor]] = [None] * len(items)  # type: ignore
    majority = [None] * len(items)
    for f in range(k):
        tr = [it for it, g in zip(items, fold_of) if g != f]
        te = [i for i, g in enumerate(fold_of) if g == f]
        t0 = time.time()
        model = train(tr, epochs, seed + f, log="%s fold %d/%d " % (split, f + 1, k))
        if fold_models:
            os.makedirs(fold_models, exist_ok=True)
            torch.save(model.state_dict(), os.path.join(fold_models, "fold%d.pth" % f))
        for i in te:
            frame_preds[i] = predict_frames(model, items[i])
        dmaj = max(range(3), key=lambda c: sum(1 for it in tr if it["diagnosis"] == c))
        smaj = max(range(4), key=lambda c: sum(1 for it in tr if it["severity"] == c))
        fmaj = []
        for j in range(len(FINDINGS)):
            ann = [it["findings"][j] for it in tr if it["findings_mask"][j] > 0]
            fmaj.append(1 if sum(ann) * 2 > len(ann) else 0)
        for i in te:
            majority[i] = (dmaj, smaj, fmaj)
        print("%s fold %d/%d done: %d held-out files (%.0f s)" % (split, f + 1, k, len(te), time.time() - t0), flush=True)
    return fold_of, frame_preds, majority


# -------------------------------------------------------------------------------------------- metrics
def ece(conf: List[float], correct: List[int], bins: int = 10) -> float:
    n = max(1, len(conf)); tot = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        sel = [i for i, c in enumerate(conf) if (lo < c <= hi) or (b == 0 and c == 0)]
        if sel:
            acc = sum(correct[i] for i in sel) / len(sel); cf = sum(conf[i] for i in sel) / len(sel)
            tot += len(sel) / n * abs(acc - cf)
    return tot


def recall_per_class(y: List[int], p: List[int], n: int) -> List[float]:
    return [sum(1 for t, q in zip(y, p) if t == c and q == c) / y.count(c) if y.count(c) else float("nan") for c in range(n)]


def evaluate(items: List[dict], vp: List[Dict[str, torch.Tensor]], majority, severity_pred: List[int]) -> dict:
    """Video-level metrics from video probabilities (vp), a severity class per item, baselines."""
    m: dict = {}
    di = [i for i, it in enumerate(items) if it["diagnosis"] >= 0]
    y = [items[i]["diagnosis"] for i in di]
    yhat = [int(vp[i]["diagnosis"].argmax()) for i in di]
    base = [majority[i][0] for i in di]
    aucs = {DIAGNOSES[c]: v1.auc([float(vp[i]["diagnosis"][c]) for i in di], [1 if t == c else 0 for t in y]) for c in range(3)}
    m["diagnosis"] = {
        "files": len(di), "accuracy": sum(a == b for a, b in zip(y, yhat)) / max(1, len(y)),
        "accuracy_majority_baseline": sum(a == b for a, b in zip(y, base)) / max(1, len(y)),
        "recall_per_class": dict(zip(DIAGNOSES, recall_per_class(y, yhat, 3))),
        "balanced_accuracy": sum(recall_per_class(y, yhat, 3)) / 3,
        "auc_one_vs_rest": aucs, "auc_baseline": 0.5,
        "auc_macro": float(np.mean([a for a in aucs.values() if a == a])) if any(a == a for a in aucs.values()) else float("nan"),
        "confusion_rows_true_cols_predicted": [[sum(1 for t, p in zip(y, yhat) if t == a and p == b) for b in range(3)] for a in range(3)],
        "ece_video_top_class": ece([float(vp[i]["diagnosis"].max()) for i in di], [int(a == b) for a, b in zip(y, yhat)]),
    }
    si = [i for i, it in enumerate(items) if it["severity"] >= 0]
    ys = [items[i]["severity"] for i in si]
    ps_ = [severity_pred[i] for i in si]
    bs = [majority[i][1] for i in si]
    m["severity"] = {
        "files": len(si), "quadratic_kappa": v1.quadratic_kappa(ys, ps_),
        "quadratic_kappa_majority_baseline": v1.quadratic_kappa(ys, bs),
        "accuracy": sum(a == b for a, b in zip(ys, ps_)) / max(1, len(ys)),
        "accuracy_majority_baseline": sum(a == b for a, b in zip(ys, bs)) / max(1, len(ys)),
        "recall_per_class": dict(zip(["0", "1", "2", "3"], recall_per_class(ys, ps_, 4))),
        "confusion_rows_true_cols_predicted": [[sum(1 for t, p in zip(ys, ps_) if t == a and p == b) for b in range(4)] for a in range(4)],
        "true_counts": [ys.count(c) for c in range(4)],
    }
    fm = {}
    for j, name in enumerate(FINDINGS):
        fi = [i for i, it in enumerate(items) if it["findings_mask"][j] > 0]
        yt = [int(items[i]["findings"][j]) for i in fi]
        yp = [int(vp[i]["findings"][j] > 0.5) for i in fi]
        yb = [majority[i][2][j] for i in fi]
        fm[name] = {"files_assessed": len(fi), "positives": sum(yt), "f1": v1.f1(yp, yt),
                    "f1_majority_baseline": v1.f1(yb, yt), "f1_all_positive_baseline": v1.f1([1] * len(yt), yt),
                    "auc": v1.auc([float(vp[i]["findings"][j]) for i in fi], yt), "auc_baseline": 0.5}
    m["findings"] = fm
    m["findings_macro_f1"] = sum(v["f1"] for v in fm.values()) / len(fm)
    valid = [v["auc"] for v in fm.values() if v["auc"] == v["auc"]]
    m["findings_macro_auc"] = sum(valid) / len(valid) if valid else float("nan")
    return m


def uncertainty_metrics(items: List[dict], fps: List[Dict[str, torch.Tensor]]) -> dict:
    """Frame-level calibration and whether MC-dropout spread flags wrong answers (AUC of spread vs error)."""
    out = {}
    for h, key in (("diagnosis", "diagnosis"), ("severity", "severity")):
        conf, correct, spread = [], [], []
        for it, fp in zip(items, fps):
            t = it[key]
            if t < 0:
                continue
            p = fp[h]; top = p.argmax(1)
            for r in range(p.shape[0]):
                c = int(top[r]); conf.append(float(p[r, c])); correct.append(int(c == t)); spread.append(float(fp[h + "_std"][r, c]))
        out[h] = {"frames": len(conf), "ece_frame_top_class": ece(conf, correct),
                  "accuracy_frame": sum(correct) / max(1, len(correct)),
                  "mean_uncertainty_correct": float(np.mean([s for s, c in zip(spread, correct) if c])) if any(correct) else float("nan"),
                  "mean_uncertainty_wrong": float(np.mean([s for s, c in zip(spread, correct) if not c])) if not all(correct) else float("nan"),
                  "auc_uncertainty_flags_error": v1.auc(spread, [1 - c for c in correct])}
    return out


def metrics_for(items, fold_of, fps, majority, rule: str) -> dict:
    vp = [video_probs(fp) for fp in fps]
    m = evaluate(items, vp, majority, [severity_video(fp, rule) for fp in fps])
    m["severity"]["video_rule"] = rule
    m["severity"]["quadratic_kappa_by_rule"] = {
        r: v1.quadratic_kappa([it["severity"] for it in items if it["severity"] >= 0],
                              [severity_video(fp, r) for it, fp in zip(items, fps) if it["severity"] >= 0]) for r in RULES}
    m["uncertainty"] = uncertainty_metrics(items, fps)
    return m


# --------------------------------------------------------------------------------------------- export
def write_oof(path: str, items: List[dict], fold_of: List[int], fps) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["media_sha256", "frame", "head", "class", "probability", "fold"])
        for it, fold, fp in zip(items, fold_of, fps):
            for r, frame in enumerate(it["frames"]):
                for h, classes in (("diagnosis", DIAGNOSES), ("severity", ["0", "1", "2", "3"]), ("findings", FINDINGS)):
                    for c, name in enumerate(classes):
                        w.writerow([it["sha256"], frame, h, name, "%.6f" % float(fp[h][r, c]), fold])


def no_nan(v):
    """JSON has no NaN: undefined figures (e.g. an AUC without positives) become null."""
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, dict):
        return {k: no_nan(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [no_nan(x) for x in v]
    return v


def export(model: PleuraLUSNetV2, items: List[dict], metrics: dict, args, seconds: float) -> None:
    model.eval()
    scripted = torch.jit.script(model)
    out_pt = args.out + ".pt"
    os.makedirs(os.path.dirname(os.path.abspath(out_pt)), exist_ok=True)
    scripted.save(out_pt)
    base = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Models", "pleura-lus-v1.json")))
    heads = base["heads"]
    for h in heads:
        h["uncertainty_output"] = h["name"] + "@mc"
    sev = next(h for h in heads if h["name"] == "severity")
    sev["ordinal"] = True
    sev["note"] = ("ordinal (CORAL): P(severity > k) = sigmoid(score + threshold_k); the exported logits are log P(class), "
                   "so softmax returns the class probabilities; expected severity = sum k P(k). Per-video score of the "
                   "metadata (75 files) applied to every sampled frame; video rule: %s" % metrics["loso"]["severity"]["video_rule"])
    card = {
        "format": "pleura-model-card/1",
        "name": os.path.basename(args.out),
        "description": "Small CNN (7 conv blocks, %d parameters) on the scan sector only, for lung-ultrasound frames: "
                       "findings, ordinal ICLUS-style severity and POCOVID-style diagnosis, with MC-dropout uncertainty. "
                       "Research use only; not a medical device." % sum(p.numel() for p in model.parameters()),
        "input": {
            "width": SIZE, "height": SIZE, "channels": 1,
            "colour": "grey: 0.299 R + 0.587 G + 0.114 B of the decoded RGB frame",
            "crop": "sector",
            "crop_note": "the clip's scan sector (Scripts/pleura_sector.py, ScanSector.swift: from the maximum and temporal "
                         "variance of up to 16 evenly spaced frames); grey set to 0 outside it, the square around its "
                         "bounding box area-resized to 128x128, model mask = resized mask >= 0.5",
            "resize": "area",
            "normalise": "sector",
            "normalise_note": "per frame inside the sector: x = (v - mean) / max(std, 1) over the mask (v on the 0-255 scale), 0 outside",
            "scale": 1.0, "mean": [0.0], "std": [1.0],
            "layout": "NCHW float32",
        },
        "gradcam_layer": "body.6",
        "gradcam_layer_note": "features(x) returns body.6's activations (after ReLU) times the sector mask at 16 x 16: 128 x 16 x 16",
        "heads": heads,
        "default_head": "diagnosis",
        "uncertainty": {"method": "mc_dropout", "samples": MC, "dropout": DROP,
                        "value": "standard deviation of the class probability over the %d fixed dropout masks (outputs HEAD@mc, [1, %d x classes] logits)" % (MC, MC),
                        "choice": "MC-dropout over a 5-model ensemble: the ensemble costs 5 forward passes per frame (pleura infer "
                                  "throughput), MC-dropout on the pooled features costs one pass; measured error detection in metrics.*.uncertainty"},
        "training": {
            "script": "Scripts/train_model_v2.py",
            "command": "nice -n 10 /usr/bin/python3 Scripts/train_model_v2.py",
            "torch": torch.__version__,
            "data": "POCUS dataset (covid19_ultrasound project, April 2022), %d files (%d videos, %d images): up to 16 "
                    "evenly spaced frames per file, scan sector only" % (len(items), sum(1 for i in items if i["kind"] == "video"),
                                                                      sum(1 for i in items if i["kind"] == "image")),
            "frames": sum(int(it["v"].shape[0]) for it in items),
            "epochs_final": args.epochs, "epochs_cv": args.cv_epochs, "seed": args.seed,
            "sampling": "class-balanced over (diagnosis, severity) cells of files, one random sampled frame per draw",
            "augmentation": "gain 0.5-1.5, gamma exp(+-0.4), zoom 0.7-1.3 with separate width/depth 0.85-1.15, depth cut "
                            "65-100 % (30 %), Gaussian blur sigma 0.5-1.5 (33 %), multiplicative speckle noise (50 %), left-right flip",
            "phantom": "not used: no measurement of its effect on held-out folds was made in this round",
            "seconds": round(seconds), "threads": torch.get_num_threads(),
            "files_sha256": sorted([{"path": it["path"], "sha256": it["sha256"]} for it in items], key=lambda d: d["path"]),
        },
        "oof_predictions": os.path.basename(args.out) + ".oof.csv",
        "oof_note": "leave-one-source-out held-out frame probabilities (fold = source index, largest source first): an "
                    "opinion on training clips from a model that did not see their source",
        "data_licences": base["data_licences"],
        "data_sources": base["data_sources"],
        "metrics": metrics,
    }
    with open(args.out + ".json", "w") as f:
        json.dump(no_nan(card), f, indent=1, allow_nan=False)
        f.write("\n")
    print("wrote %s (%d bytes) and %s.json" % (out_pt, os.path.getsize(out_pt), args.out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data", "pocus"))
    ap.add_argument("--out", default=os.path.join(here, "..", "Models", "pleura-lus-v2"))
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "pleura-train-sectors"))
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "pleura-train-v2"),
                    help="fold models and intermediate metrics (outside the repository)")
    ap.add_argument("--v1-folds", default="", help="v1's LOSO fold models (train_model.py --split loso --fold-models DIR); "
                                                   "default /tmp/pleura-v2/v1-loso")
    ap.add_argument("--cv-epochs", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stage", choices=["all", "loso", "group5", "model", "card"], default="all",
                    help="all (default): every stage in order; or one stage: loso / group5 (cross-validations), "
                         "model (the final model's weights), card (export .pt, .json, .oof.csv from the saved stages)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    items = load_items(args.data, args.cache)
    print("%d files, %d frames (%.0f s)" % (len(items), sum(int(i["v"].shape[0]) for i in items), time.time() - t0), flush=True)
    os.makedirs(args.work, exist_ok=True)
    stages = ["loso", "group5", "model", "card"] if args.stage == "all" else [args.stage]
    for split in ("loso", "group5"):
        if split in stages:
            ts = time.time()
            fold_of, fps, maj = cross_validate(items, split, args.cv_epochs, args.seed, os.path.join(args.work, split))
            torch.save({"fold_of": fold_of, "fps": fps, "majority": maj, "seconds": time.time() - ts},
                       os.path.join(args.work, split + ".oof.pt"))
    if "model" in stages:
        ts = time.time()
        model = train(items, args.epochs, args.seed, log="final ")
        torch.save({"state": model.state_dict(), "seconds": time.time() - ts}, os.path.join(args.work, "final.pth"))
    if "card" not in stages:
        return
    cv = {}
    v1_dir = args.v1_folds or os.path.join(tempfile.gettempdir(), "pleura-v2", "v1-loso")
    for split in ("loso", "group5"):
        if os.path.exists(os.path.join(args.work, split + ".oof.pt")):
            cv[split] = torch.load(os.path.join(args.work, split + ".oof.pt"))
            cv[split]["folds_done"] = sorted(set(cv[split]["fold_of"]))
        elif os.path.isdir(os.path.join(args.work, split)):
            # A cross-validation cut short: the held-out predictions of the folds whose model exists.
            cv[split] = oof_from_fold_models(items, split, args.seed, os.path.join(args.work, split))
        if split == "loso" and split in cv and os.path.isdir(v1_dir):
            done = sorted(set(cv[split]["folds_done"]) & set(v1_done_folds(v1_dir)))
            cv[split] = restrict(cv[split], done)
    # The severity video rule: chosen on the grouped 5-fold OOF predictions when they exist, else on LOSO
    # (then the LOSO figure of the chosen rule is optimistic by the choice; all three are reported).
    chooser = "group5" if "group5" in cv else "loso"
    ch = cv[chooser]
    sel = [i for i, it in enumerate(items) if it["severity"] >= 0 and ch["fps"][i] is not None]
    kappas = {r: v1.quadratic_kappa([items[i]["severity"] for i in sel], [severity_video(ch["fps"][i], r) for i in sel]) for r in RULES}
    rule = max(RULES, key=lambda r: (kappas[r], -RULES.index(r)))
    metrics = {"video_rule_choice": {"chosen": rule, "on": chooser + " OOF video severity QWK", "quadratic_kappa_by_rule": kappas}}
    for split in cv:
        keep = [i for i in range(len(items)) if cv[split]["fps"][i] is not None]
        sub = [items[i] for i in keep]
        metrics[split] = metrics_for(sub, [cv[split]["fold_of"][i] for i in keep], [cv[split]["fps"][i] for i in keep],
                                     [cv[split]["majority"][i] for i in keep], rule)
        metrics[split]["folds_done"] = cv[split]["folds_done"]
        metrics[split]["files_held_out"] = len(keep)
        if split == "loso" and os.path.isdir(v1_dir):
            metrics["v1_loso_same_folds"] = v1_metrics_from_folds(items, v1_dir, cv[split]["folds_done"])
    metrics["split_note"] = ("loso: leave-one-source-out (the manifest's source column, largest source first); group5: 5 folds "
                             "grouped by video/patient, stratified by diagnosis (train_model.py's folds); %d epochs per fold; "
                             "metrics per video (mean of the frame probabilities; severity by the video rule)" % args.cv_epochs)
    with open(os.path.join(args.work, "metrics.json"), "w") as f:
        json.dump(no_nan(metrics), f, indent=1, allow_nan=False)
    if "loso" in cv:
        keep = [i for i in range(len(items)) if cv["loso"]["fps"][i] is not None]
        write_oof(args.out + ".oof.csv", [items[i] for i in keep], [cv["loso"]["fold_of"][i] for i in keep],
                  [cv["loso"]["fps"][i] for i in keep])
    final = torch.load(os.path.join(args.work, "final.pth"))
    model = PleuraLUSNetV2(); model.load_state_dict(final["state"]); model.eval()
    export(model, items, metrics, args, sum(cv[s].get("seconds", 0) for s in cv) + final["seconds"])


def majority_of(tr: List[dict]):
    dmaj = max(range(3), key=lambda c: sum(1 for it in tr if it["diagnosis"] == c))
    smaj = max(range(4), key=lambda c: sum(1 for it in tr if it["severity"] == c))
    fmaj = []
    for j in range(len(FINDINGS)):
        ann = [it["findings"][j] for it in tr if it["findings_mask"][j] > 0]
        fmaj.append(1 if sum(ann) * 2 > len(ann) else 0)
    return (dmaj, smaj, fmaj)


def split_folds(items: List[dict], split: str, seed: int) -> List[int]:
    return v1.folds_by_source(items) if split == "loso" else v1.folds_by_group(items, 5, seed)


def oof_from_fold_models(items: List[dict], split: str, seed: int, folder: str) -> dict:
    fold_of = split_folds(items, split, seed)
    fps = [None] * len(items); maj = [None] * len(items); done = []
    for f in sorted(set(fold_of)):
        fn = os.path.join(folder, "fold%d.pth" % f)
        if not os.path.exists(fn):
            continue
        model = PleuraLUSNetV2(); model.load_state_dict(torch.load(fn)); model.eval()
        m = majority_of([it for it, g in zip(items, fold_of) if g != f])
        for i, g in enumerate(fold_of):
            if g == f:
                fps[i] = predict_frames(model, items[i]); maj[i] = m
        done.append(f)
    return {"fold_of": fold_of, "fps": fps, "majority": maj, "folds_done": done}


def restrict(cv: dict, folds: List[int]) -> dict:
    keep = set(folds)
    return {**cv, "fps": [p if g in keep else None for p, g in zip(cv["fps"], cv["fold_of"])], "folds_done": sorted(keep)}


def v1_done_folds(folder: str) -> List[int]:
    return sorted(int(n[4:-4]) for n in os.listdir(folder) if n.startswith("fold") and n.endswith(".pth"))


def v1_metrics_from_folds(items: List[dict], folder: str, folds: List[int]) -> dict:
    """v1's recipe (train_model.py --split loso --fold-models) on the same held-out folds, same evaluation."""
    frames_cache = os.path.join(tempfile.gettempdir(), "pleura-train-frames")
    fold_of = v1.folds_by_source(items)
    sel, vp, maj = [], [], []
    for f in folds:
        model = v1.PleuraLUSNet(); model.load_state_dict(torch.load(os.path.join(folder, "fold%d.pth" % f))); model.eval()
        m = majority_of([it for it, g in zip(items, fold_of) if g != f])
        held = [it for it, g in zip(items, fold_of) if g == f]
        for it in held:
            it["x"] = torch.load(os.path.join(frames_cache, it["path"].replace("/", "__") + ".k16.pt")).view(-1, v1.INPUT, v1.INPUT)
        for it, p in zip(held, v1.predict_videos(model, held)):
            sel.append(it); vp.append(p); maj.append(m)
    res = evaluate(sel, vp, maj, [int(p["severity"].argmax()) for p in vp])
    res["severity"]["video_rule"] = "mean_probability (v1's rule)"
    res["folds_done"] = folds
    return res


if __name__ == "__main__":
    main()
