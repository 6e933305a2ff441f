#!/usr/bin/python3
"""Independent reference for Pleura's class-activation maps, for checking `pleura heatmap` numbers.

    /usr/bin/python3 Scripts/cam_reference.py MODEL.pt JOBS.json

JOBS.json is a list of {"input": IN.npy (from `pleura heatmap --dump-input`), "map": MAP.npy (Pleura's
output), "head": NAME, "class_index": C, "method": "gradcam" | "gradcam++" | "layercam"}. For each job
it recomputes the map with torch.autograd from the definition and prints one JSON line
{"job": i, "max_abs_diff": d}. Exit status 0 even when maps differ: the caller judges the tolerance.

Definition (pytorch-grad-cam): A = features(x); y = head(A)[head][0, c] (the raw logit);
G = dy/dA. Grad-CAM: w_k = mean(G_k); Grad-CAM++: w_k = sum(relu(G) * G^2 / (2 G^2 + sum(A_k) G^3 + 1e-6))
over positions where G != 0; LayerCAM: cam = sum_k relu(G_k) A_k. cam = relu(sum_k w_k A_k);
cam = (cam - min) / (max + 1e-7); bilinear resize (align_corners=False, i.e. OpenCV's half-pixel
centres); min-max once more. Arithmetic after autograd is float64.
"""
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F


def normalise(c: torch.Tensor) -> torch.Tensor:
    c = c - c.min()
    return c / (c.max() + 1e-7)


def cam(model, x: torch.Tensor, head: str, c: int, method: str, size) -> torch.Tensor:
    a = model.features(x)
    out = model.head(a)
    logits = out[head] if isinstance(out, dict) else out
    (g,) = torch.autograd.grad(logits[0, c], a)
    a = a[0].detach().double()
    g = g[0].double()
    if method == "gradcam":
        m = (g.mean(dim=(1, 2))[:, None, None] * a).sum(0)
    elif method == "gradcam++":
        g2 = g * g
        g3 = g2 * g
        aij = g2 / (2 * g2 + a.sum(dim=(1, 2))[:, None, None] * g3 + 1e-6)
        aij = torch.where(g != 0, aij, torch.zeros_like(aij))
        w = (torch.relu(g) * aij).sum(dim=(1, 2))
        m = (w[:, None, None] * a).sum(0)
    elif method == "layercam":
        m = (torch.relu(g) * a).sum(0)
    else:
        raise SystemExit("cam_reference.py: unknown method " + method)
    m = normalise(torch.relu(m))
    m = F.interpolate(m[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    return normalise(m)


def main() -> None:
    torch.set_num_threads(1)
    model = torch.jit.load(sys.argv[1])
    model.eval()
    jobs = json.load(open(sys.argv[2]))
    for i, job in enumerate(jobs):
        x = torch.from_numpy(np.load(job["input"])).float()
        mine = np.load(job["map"]).astype(np.float64)
        ref = cam(model, x, job["head"], int(job["class_index"]), job["method"], mine.shape).numpy()
        print(json.dumps({"job": i, "max_abs_diff": float(np.abs(ref - mine).max()), "ref_max": float(ref.max())}), flush=True)


if __name__ == "__main__":
    main()
