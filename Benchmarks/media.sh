#!/bin/sh
# Whole-process media benchmarks: pleura against ffmpeg on the same POCUS clip, one decoder
# thread each (ffmpeg -threads 1, pleura decode-all --threads 1), with hyperfine.
#
#   Benchmarks/media.sh [CLIP]        default: the longest POCUS clip (495 frames, H.264 234×234)
#
# The frame index is built once before timing (a first `pleura probe`), as it is in normal use:
# later opens read it from the cache. `--pixels none` decodes without converting, which is what
# `ffmpeg -f null -` does (its wrapped_avframe encoder converts nothing); `--pixels rgb24` is
# compared with `ffmpeg -pix_fmt rgb24 -f null -`. Needs: a release build (make build), ffmpeg,
# hyperfine (both in the Makefile's TEST_PACKAGES).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PLEURA=${PLEURA:-$ROOT/.build/release/pleura}
POCUS=${PLEURA_POCUS:-$ROOT/../shared/data/pocus}
CLIP=${1:-$POCUS/pocus_videos/linear/Reg_Image_181206_crop.mp4}
RUNS=${RUNS:-15}
[ -x "$PLEURA" ] || { echo "media.sh: $PLEURA is missing; run make build" >&2; exit 1; }
[ -f "$CLIP" ] || { echo "media.sh: $CLIP: no such file (set PLEURA_POCUS or pass a clip)" >&2; exit 1; }
PLEURA_CACHE_DIR=$(mktemp -d)
export PLEURA_CACHE_DIR
trap 'rm -rf "$PLEURA_CACHE_DIR"' EXIT

echo "== first probe (builds the frame index)"
hyperfine -N --runs 1 --prepare "rm -rf $PLEURA_CACHE_DIR/index" "$PLEURA probe $CLIP"
"$PLEURA" probe "$CLIP" >/dev/null

echo "== sequential decode, no conversion"
hyperfine -N --warmup 2 --runs "$RUNS" \
    -n ffmpeg "ffmpeg -nostdin -v error -threads 1 -i $CLIP -map 0:v:0 -f null -" \
    -n pleura "$PLEURA decode-all $CLIP --threads 1 --pixels none"

echo "== sequential decode + rgb24"
hyperfine -N --warmup 2 --runs "$RUNS" \
    -n ffmpeg "ffmpeg -nostdin -v error -threads 1 -i $CLIP -map 0:v:0 -pix_fmt rgb24 -f null -" \
    -n pleura "$PLEURA decode-all $CLIP --threads 1 --pixels rgb24"

echo "== probe with the cached index"
hyperfine -N --warmup 2 --runs "$RUNS" "$PLEURA probe $CLIP" "$PLEURA version"

echo "== in-process figures (random seeks vs GOP decode, CPU-time ratios)"
"$PLEURA" bench --suite media
