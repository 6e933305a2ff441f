#!/usr/bin/python3
"""The work of `pleura infer` done in Python, for the speed comparison in Benchmarks/model.sh and
`pleura bench --suite model`: decode every Nth frame of a clip (ffmpeg CLI, rgb24), preprocess as the
card says (grey / area resize / mean-std; torch ops), then per frame: features without grad, head with
grad on the detached features, the default head's top class, Grad-CAM at input size, quantised to
8 bits. Sector models (card input.crop = "sector"): the clip's scan sector from its 16 sample frames
first, then every frame cropped as Scripts/pleura_sector.py does. Same TorchScript file, Debian's
torch, one thread. No database writes (pleura does those too).

    /usr/bin/python3 Scripts/infer_reference.py MODEL.pt CLIP [--every N] [--threads T]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("clip")
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    card = json.load(open(args.model[:-3] + ".json"))
    inp = card["input"]
    model = torch.jit.load(args.model).eval()
    head = card.get("default_head", card["heads"][0]["name"])
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                            "-of", "csv=p=0", args.clip], capture_output=True, text=True, check=True).stdout.split(",")
    w, h = int(probe[0]), int(probe[1])
    sector = None
    if inp.get("crop") == "sector":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import pleura_sector as ps
        count = int(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                                    "stream=nb_read_frames", "-of", "csv=p=0", args.clip], capture_output=True, text=True,
                                   check=True).stdout.strip())
        sector = ps.detect(ps.decode(args.clip, ps.frame_indices(count), w, h))
    dec = subprocess.Popen(["ffmpeg", "-v", "error", "-threads", "1", "-i", args.clip, "-fps_mode", "passthrough",
                            "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE)
    mean = torch.tensor(inp["mean"])[:, None, None]
    std = torch.tensor(inp["std"])[:, None, None]
    n = done = 0
    while True:
        raw = dec.stdout.read(w * h * 3)
        if len(raw) < w * h * 3:
            break
        if n % args.every == 0:
            if sector is not None:
                v, mm = ps.crop_resize(np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3), sector, inp["height"])
                x = ps.normalise(v, mm)[None, None]
            else:
                x = None
        if n % args.every == 0 and x is None:
            x = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(h, w, 3).float()
            if inp["channels"] == 1:
                x = (x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114)[None]
            else:
                x = x.permute(2, 0, 1)
            if inp.get("resize", "area") == "area":
                x = F.adaptive_avg_pool2d(x[None], (inp["height"], inp["width"]))[0]
            else:
                x = F.interpolate(x[None], size=(inp["height"], inp["width"]), mode="bilinear", align_corners=False)[0]
            x = ((x * inp.get("scale", 1 / 255) - mean) / std)[None]
        if n % args.every == 0:
            with torch.no_grad():
                a = model.features(x)
            a = a.detach().requires_grad_(True)
            logits = model.head(a)[head][0]
            c = int(logits.argmax())
            (g,) = torch.autograd.grad(logits[c], a)
            cam = torch.relu((g.mean(dim=(2, 3))[:, :, None, None] * a.detach()).sum(1))
            cam = cam - cam.min()
            cam = cam / (cam.max() + 1e-7)
            cam = F.interpolate(cam[None], size=(inp["height"], inp["width"]), mode="bilinear", align_corners=False)[0, 0]
            cam = cam - cam.min()
            cam = cam / (cam.max() + 1e-7)
            _ = (cam * 255).round().to(torch.uint8)
            done += 1
        n += 1
    dec.wait()
    print(json.dumps({"frames": done, "seconds": time.time() - t0, "frames_per_second": done / (time.time() - t0)}))


if __name__ == "__main__":
    main()
