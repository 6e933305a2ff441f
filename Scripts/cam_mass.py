#!/usr/bin/python3
"""Where do the models look? Share of Grad-CAM mass outside the scan sector, and in the top 10 % of
the sector's depth, on held-out frames of a cross-validation (each frame explained by the fold model
that did not see its file, or its source for leave-one-source-out).

    nice -n 10 /usr/bin/python3 Scripts/cam_mass.py --v1-folds DIR --v2-folds DIR [--split loso] [--out FILE.json]

DIR holds fold%d.pth state dicts written by train_model.py --fold-models (v1) and
train_model_v2.py (v2, WORK/loso). For every file: its scan sector (Scripts/pleura_sector.py), 4 of its
16 sampled frames, the Grad-CAM of the diagnosis head's and the severity head's top class
(Scripts/cam_reference.py's definition), resampled bilinearly onto the frame's own pixel grid with
NO masking (v1: the whole frame; v2: the sector's square placed on the frame), then
  outside = sum(map outside the sector) / sum(map),
  top10   = sum(map inside the sector, rows in the top 10 % of the sector's height) / sum(map).
Means over frames are printed as one JSON object (and written to --out).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cam_reference  # noqa: E402
import pleura_sector as ps  # noqa: E402
import train_model as v1  # noqa: E402
import train_model_v2 as v2  # noqa: E402


def shares(cam_frame: torch.Tensor, mask: np.ndarray):
    m = torch.from_numpy(mask)
    total = float(cam_frame.sum())
    if total <= 0:
        return None
    rows = np.nonzero(mask.any(1))[0]
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    band = torch.zeros_like(m)
    band[y0:y0 + max(1, int(round(0.1 * (y1 - y0))))] = True
    return float(cam_frame[~m].sum()) / total, float(cam_frame[m & band].sum()) / total


def v2_on_frame(cam: torch.Tensor, mask: np.ndarray) -> torch.Tensor:
    h, w = mask.shape
    bx, by, side = ps.box(mask)
    sq = F.interpolate(cam[None, None].float(), size=(side, side), mode="bilinear", align_corners=False)[0, 0]
    out = torch.zeros(h, w)
    sx0, sy0 = max(0, bx), max(0, by); sx1, sy1 = min(w, bx + side), min(h, by + side)
    out[sy0:sy1, sx0:sx1] = sq[sy0 - by:sy1 - by, sx0 - bx:sx1 - bx]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data", "pocus"))
    ap.add_argument("--v1-folds", required=True)
    ap.add_argument("--v2-folds", required=True)
    ap.add_argument("--split", choices=["loso", "group5"], default="loso")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--frames", type=int, default=4, help="held-out frames per file (of its 16 samples)")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)
    items = v1.read_manifest(args.data)
    fold_of = v1.folds_by_source(items) if args.split == "loso" else v1.folds_by_group(items, 5, args.seed)
    models = {}
    for f in sorted(set(fold_of)):
        if not (os.path.exists(os.path.join(args.v1_folds, "fold%d.pth" % f)) and os.path.exists(os.path.join(args.v2_folds, "fold%d.pth" % f))):
            continue   # a cross-validation cut short: only folds both models finished
        a = v1.PleuraLUSNet(); a.load_state_dict(torch.load(os.path.join(args.v1_folds, "fold%d.pth" % f))); a.eval()
        b = v2.PleuraLUSNetV2(); b.load_state_dict(torch.load(os.path.join(args.v2_folds, "fold%d.pth" % f))); b.eval()
        models[f] = (a, b)
    acc = {m: {h: [] for h in ("diagnosis", "severity")} for m in ("v1", "v2")}
    t0 = time.time()
    for n, (it, f) in enumerate(zip(items, fold_of)):
        if f not in models:
            continue
        idx = ps.frame_indices(it["frames"])
        frames = ps.decode(os.path.join(args.data, it["path"]), idx, it["width"], it["height"])
        mask = ps.detect(frames)
        pick = sorted({int(i * len(frames) / args.frames) for i in range(args.frames)})
        m1, m2 = models[f]
        for j in pick:
            fr = frames[j]
            x1 = ((v1.to_model_input(torch.from_numpy(np.ascontiguousarray(fr))) - v1.MEAN) / v1.STD)[None, None]
            v, mm = ps.crop_resize(fr, mask, v2.SIZE)
            x2 = ps.normalise(v, mm)[None, None]
            for name, model, x in (("v1", m1, x1), ("v2", m2, x2)):
                with torch.no_grad():
                    out = model(x)
                for h in ("diagnosis", "severity"):
                    c = int(out[h][0].argmax())
                    cam = cam_reference.cam(model, x, h, c, "gradcam", tuple(x.shape[2:]))
                    if name == "v1":
                        on = F.interpolate(cam[None, None].float(), size=mask.shape, mode="bilinear", align_corners=False)[0, 0]
                    else:
                        on = v2_on_frame(cam, mask)
                    s = shares(on, mask)
                    if s is not None:
                        acc[name][h].append(s)
        if (n + 1) % 20 == 0:
            print("  %d/%d files (%.0f s)" % (n + 1, len(items), time.time() - t0), file=sys.stderr, flush=True)
    res = {"split": args.split, "folds": sorted(models), "frames_per_file": args.frames,
           "files": sum(1 for f in fold_of if f in models), "method": "gradcam, top class"}
    for name in acc:
        for h in acc[name]:
            a = np.array(acc[name][h])
            res["%s_%s" % (name, h)] = {"frames": int(len(a)), "mass_outside_sector": float(a[:, 0].mean()),
                                        "mass_top10pct_depth": float(a[:, 1].mean()),
                                        "frames_over_5pct_outside": float((a[:, 0] > 0.05).mean())}
    print(json.dumps(res, indent=1))
    if args.out:
        with open(args.out, "w") as fo:
            json.dump(res, fo, indent=1)


if __name__ == "__main__":
    main()
