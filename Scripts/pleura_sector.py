#!/usr/bin/python3
"""The scan sector of a clip and the sector-cropped model input, exactly as Pleura computes them
(Sources/PleuraModel/ScanSector.swift, Preprocess.swift). Imported by train_model_v2.py,
cam_mass.py and the Swift-vs-Python test; run on its own it prints one clip's sector as JSON:

    /usr/bin/python3 Scripts/pleura_sector.py CLIP [--size 128] [--dump-input FRAME_INDEX OUT.npy]

Sector (the pixels the probe imaged), from up to 16 evenly spaced frames of the clip (the same
frames training samples):
1. integer luma Y = (299 R + 587 G + 114 B + 500) // 1000 per pixel and frame;
2. the frame is cut into square cells of c = max(2, min(W, H) // 48) pixels; a cell is *bright* when
   the mean over its pixels of the per-pixel maximum over time is above 12 grey levels (not the
   black surround), *moving* when also its mean per-pixel temporal variance is above 2.0^2 (speckle
   moves; burnt-in text, markers, calipers and the depth scale do not), *alive* when bright with a
   variance above 0.25 (static tissue under H.264 noise; overlays are bit-exact from frame to frame);
3. the 4-connected groups of moving cells of at least 5 % of the largest (a dark band, such as an
   effusion, may split the sector), grown through alive cells;
4. the mask is the convex hull of the centres of those cells, at pixel resolution (a pixel is in
   when its centre is inside or on the hull); integer arithmetic only, so Swift and Python agree
   bit for bit.
Still images (one frame): the largest group of bright cells, no growth.

Model input for one frame (card `input.crop = "sector"`):
1. grey = 0.299 R + 0.587 G + 0.114 B in float32 (as v1), set to 0 outside the mask;
2. the square of side L = max(box width, box height) centred on the mask's bounding box (pixels
   outside the frame are 0 and outside the mask) is area-resized to size x size (torch
   adaptive_avg_pool2d), and so is the mask (0/1); model mask = resized mask >= 0.5;
3. per-frame normalisation inside the sector: x = (v - mean) / max(std, 1) over the model-mask
   pixels (float64 statistics), x = 0 outside the model mask.
"""
import json
import subprocess
import sys
from typing import List, Tuple

import numpy as np
import torch
import torch.nn.functional as F

MAX_SAMPLES = 16
BRIGHT = 12            # mean per-pixel max over time, grey levels
VAR = 2.0 * 2.0        # mean per-pixel temporal variance, grey levels^2
CELL_DIVISOR = 48
MIN_STD = 1.0          # grey levels (0-255 scale): a flat sector is not blown up to noise


def frame_indices(count: int, k: int = MAX_SAMPLES) -> List[int]:
    """The same evenly spaced frames as train_model.py's `frame_indices` (and ScanSector.sampleIndices)."""
    if count <= k:
        return list(range(count))
    return sorted({int((i + 0.5) * count / k) for i in range(k)})


def luma8(rgb: np.ndarray) -> np.ndarray:
    r = rgb[..., 0].astype(np.int64); g = rgb[..., 1].astype(np.int64); b = rgb[..., 2].astype(np.int64)
    return (299 * r + 587 * g + 114 * b + 500) // 1000


def _hull(points: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """Andrew's monotone chain, counter-clockwise in (x, y) with y down; collinear points dropped."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    lower: List[Tuple[int, int]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: List[Tuple[int, int]] = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def detect(frames: List[np.ndarray]) -> np.ndarray:
    """frames: list of H x W x 3 uint8 (the clip's sample frames). Returns the H x W bool mask."""
    ys = np.stack([luma8(f) for f in frames])            # K x H x W int64
    k, h, w = ys.shape
    c = max(2, min(w, h) // CELL_DIVISOR)
    gh, gw = (h + c - 1) // c, (w + c - 1) // c
    mx = ys.max(0)
    s1 = ys.sum(0); s2 = (ys * ys).sum(0)
    var_k2 = k * s2 - s1 * s1                             # per-pixel variance * K^2, exact

    def cell_sum(a):
        pad = np.zeros((gh * c, gw * c), dtype=np.int64); pad[:h, :w] = a
        return pad.reshape(gh, c, gw, c).sum(axis=(1, 3))
    ones = np.ones((h, w), dtype=np.int64)
    n = cell_sum(ones)
    bright = cell_sum(mx) > BRIGHT * n
    vsum = cell_sum(var_k2)
    if k >= 2:
        # mean variance > VAR  <=>  sum(var*K^2) > VAR * K^2 * n   (integers)
        moving = bright & (vsum > int(VAR) * k * k * n)
        alive = bright & (4 * vsum > k * k * n)           # mean variance > 0.25: not a static overlay
    else:
        moving = bright
        alive = np.zeros_like(bright)
    comps = _components(moving)
    if not comps:
        return np.ones((h, w), dtype=bool)
    largest = max(len(c) for c in comps)
    if k >= 2:
        # Every moving part of a fair size (a dark band such as an effusion can split the sector)...
        region = [cell for c in comps if 20 * len(c) >= largest for cell in c]
    else:
        region = next(c for c in comps if len(c) == largest)
    # ...grown through bright cells that are not perfectly still (static chest wall, not burnt-in text).
    inside = np.zeros((gh, gw), dtype=bool)
    for a, b in region:
        inside[a, b] = True
    stack = list(region)
    while stack:
        a, b = stack.pop()
        for da, db in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            x, y = a + da, b + db
            if 0 <= x < gh and 0 <= y < gw and alive[x, y] and not inside[x, y]:
                inside[x, y] = True; stack.append((x, y))
    cells = [(int(a), int(b)) for a, b in zip(*np.nonzero(inside))]
    # Cell centres in doubled pixel coordinates: centre of cell (i, j) = (j*c + (c_w)/2, ...), with the
    # edge cells' real extent; doubled so every coordinate is an integer.
    pts = []
    for (i, j) in cells:
        x0, x1 = j * c, min(w, (j + 1) * c); y0, y1 = i * c, min(h, (i + 1) * c)
        pts.append((x0 + x1, y0 + y1))
    hull = _hull(pts)
    return _fill(hull, w, h)


def _fill(hull: List[Tuple[int, int]], w: int, h: int) -> np.ndarray:
    """Pixels whose centre (doubled: 2x+1, 2y+1) is inside or on the hull (integer test)."""
    px = (2 * np.arange(w, dtype=np.int64) + 1)[None, :]
    py = (2 * np.arange(h, dtype=np.int64) + 1)[:, None]
    if len(hull) == 1:
        return (px == hull[0][0]) & (py == hull[0][1])
    if len(hull) == 2:
        (ax, ay), (bx, by) = hull
        cr = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
        on = (cr == 0) & (px >= min(ax, bx)) & (px <= max(ax, bx)) & (py >= min(ay, by)) & (py <= max(ay, by))
        return on
    inside = np.ones((h, w), dtype=bool)
    for t in range(len(hull)):
        ax, ay = hull[t]; bx, by = hull[(t + 1) % len(hull)]
        inside &= ((bx - ax) * (py - ay) - (by - ay) * (px - ax)) >= 0
    return inside


def _components(active: np.ndarray) -> List[List[Tuple[int, int]]]:
    """4-connected components of the active cells, in raster order of their first cell."""
    gh, gw = active.shape
    label = -np.ones((gh, gw), dtype=np.int64)
    comps: List[List[Tuple[int, int]]] = []
    for i in range(gh):
        for j in range(gw):
            if not active[i, j] or label[i, j] >= 0:
                continue
            lab = len(comps); stack = [(i, j)]; label[i, j] = lab; members = []
            while stack:
                a, b = stack.pop(); members.append((a, b))
                for da, db in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    x, y = a + da, b + db
                    if 0 <= x < gh and 0 <= y < gw and active[x, y] and label[x, y] < 0:
                        label[x, y] = lab; stack.append((x, y))
            comps.append(members)
    return comps


def box(mask: np.ndarray) -> Tuple[int, int, int, int]:
    """The square crop (x0, y0, side) centred on the mask's bounding box; may reach outside the frame."""
    rows = np.nonzero(mask.any(1))[0]; cols = np.nonzero(mask.any(0))[0]
    y0, y1 = int(rows[0]), int(rows[-1]) + 1; x0, x1 = int(cols[0]), int(cols[-1]) + 1
    side = max(x1 - x0, y1 - y0)
    # Integer centring: the extra (side - extent) split with the smaller half first.
    return x0 - (side - (x1 - x0)) // 2, y0 - (side - (y1 - y0)) // 2, side


def crop_resize(rgb: np.ndarray, mask: np.ndarray, size: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """One frame -> (grey values size x size float32 on the 0-255 scale, model mask size x size bool)."""
    x = torch.from_numpy(np.array(rgb, copy=True)).float()
    g = x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114
    m = torch.from_numpy(mask)
    g = torch.where(m, g, torch.zeros_like(g))
    h, w = mask.shape
    bx, by, side = box(mask)
    plane = torch.zeros(side, side); mplane = torch.zeros(side, side)
    sx0, sy0 = max(0, bx), max(0, by); sx1, sy1 = min(w, bx + side), min(h, by + side)
    plane[sy0 - by:sy1 - by, sx0 - bx:sx1 - bx] = g[sy0:sy1, sx0:sx1]
    mplane[sy0 - by:sy1 - by, sx0 - bx:sx1 - bx] = m[sy0:sy1, sx0:sx1].float()
    v = F.adaptive_avg_pool2d(plane[None, None], (size, size))[0, 0]
    mm = F.adaptive_avg_pool2d(mplane[None, None], (size, size))[0, 0] >= 0.5
    return v, mm


def normalise(v: torch.Tensor, mm: torch.Tensor) -> torch.Tensor:
    """Per-frame normalisation inside the sector (float64 statistics), 0 outside."""
    vals = v[mm].double()
    if vals.numel() == 0:
        return torch.zeros_like(v)
    mean = vals.mean()
    std = max(float(((vals - mean) ** 2).mean().sqrt()), MIN_STD)
    out = ((v.double() - mean) / std).float()
    return torch.where(mm, out, torch.zeros_like(out))


def decode(path: str, indices: List[int], width: int, height: int) -> List[np.ndarray]:
    """Frames by display index with the ffmpeg CLI (rgb24), as train_model.py decodes."""
    expr = "+".join("eq(n\\,%d)" % i for i in indices)
    cmd = ["ffmpeg", "-v", "error", "-threads", "1", "-i", path, "-vf", "select='%s'" % expr,
           "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(cmd, check=True, capture_output=True).stdout
    n = len(raw) // (width * height * 3)
    a = np.frombuffer(raw[: n * width * height * 3], dtype=np.uint8).reshape(n, height, width, 3)
    return [a[i] for i in range(n)]


def probe(path: str) -> Tuple[int, int, int]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                          "stream=width,height,nb_read_frames", "-of", "csv=p=0", path],
                         capture_output=True, text=True, check=True).stdout.strip().split(",")
    return int(out[0]), int(out[1]), int(out[2])


def main() -> None:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--dump-input", nargs=2, metavar=("FRAME", "OUT.npy"))
    ap.add_argument("--dump-mask", metavar="OUT.npy", help="the full-resolution mask, uint8 0/1")
    args = ap.parse_args()
    torch.set_num_threads(1)
    w, h, n = probe(args.clip)
    idx = frame_indices(n)
    frames = decode(args.clip, idx, w, h)
    mask = detect(frames)
    bx, by, side = box(mask)
    if args.dump_mask:
        np.save(args.dump_mask, mask.astype(np.uint8))
    if args.dump_input:
        fi = int(args.dump_input[0])
        f = decode(args.clip, [fi], w, h)[0]
        v, mm = crop_resize(f, mask, args.size)
        np.save(args.dump_input[1], normalise(v, mm).numpy()[None, None].astype(np.float32))
    print(json.dumps({"width": w, "height": h, "frames": n, "samples": idx, "mask_pixels": int(mask.sum()),
                      "crop": [bx, by, side]}))


if __name__ == "__main__":
    main()
