#!/bin/sh
# Model benchmarks: in-process figures from `pleura bench --suite model`, then whole-process
# `pleura infer` beside the same work in Python (Scripts/infer_reference.py, Debian's torch, the same
# TorchScript file), both on one thread, and `pleura probe` start-up.
# Usage: Benchmarks/model.sh [CLIP]   (run from the repository root after `make build`)
set -eu
BIN=${PLEURA_BIN:-.build/release/pleura}
MODEL=${PLEURA_MODEL:-Models/pleura-lus-v1.pt}
CLIP=${1:-../shared/data/pocus/pocus_videos/convex/Cov_combatting_Image2.mp4}
STORE=$(mktemp -d)/infer.db
trap 'rm -rf "$(dirname "$STORE")"' EXIT

"$BIN" bench --suite model

frames=$("$BIN" probe "$CLIP" | sed 's/.*"frames":\([0-9]*\).*/\1/')
echo "clip: $CLIP ($frames frames)"
t0=$(date +%s.%N)
"$BIN" infer --store "$STORE" --model "$MODEL" --threads 1 --quiet "$CLIP"
t1=$(date +%s.%N)
echo "pleura infer: $(awk -v f="$frames" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", f / (b - a) }') frames/s (whole process, 1 thread)"
t0=$(date +%s.%N)
/usr/bin/python3 Scripts/infer_reference.py "$MODEL" "$CLIP" >/dev/null
t1=$(date +%s.%N)
echo "python reference: $(awk -v f="$frames" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", f / (b - a) }') frames/s (whole process, 1 thread)"
for i in 1 2 3 4 5; do
  t0=$(date +%s%N); "$BIN" probe "$CLIP" >/dev/null; t1=$(date +%s%N)
  echo "pleura probe: $(( (t1 - t0) / 1000000 )) ms"
done
