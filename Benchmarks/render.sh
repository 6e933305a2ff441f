#!/bin/sh
# Side-by-side sixel rendering on the same 10 POCUS frames at 480×480: pleura render (still
# quality) vs img2sixel (default options, then -p 16/64/256) vs chafa -f sixels. Bytes per frame and PSNR of the decoded image (sixel2png)
# against the frame, then whole-process wall time with hyperfine.
#
#   sh Benchmarks/render.sh            # needs a release build: make build (or swift build -c release)
#
# Frames: every 4th of the first 40 videos in ../shared/data/pocus/manifest.csv, frame 10, scaled
# to fit 480×480 with ffmpeg's area scaler and padded: the same selection as `pleura bench --suite
# render`. They are cut into a temporary folder and deleted afterwards (never committed).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PLEURA=${PLEURA:-$ROOT/.build/release/pleura}
POCUS=${PLEURA_POCUS:-$ROOT/../shared/data/pocus}
SIDE=480
for tool in ffmpeg img2sixel sixel2png compare hyperfine; do
    command -v "$tool" >/dev/null || { echo "render.sh: $tool is missing (make deps-test installs it)" >&2; exit 1; }
done
[ -x "$PLEURA" ] || { echo "render.sh: $PLEURA is missing: run make build first" >&2; exit 1; }
[ -f "$POCUS/manifest.csv" ] || { echo "render.sh: no POCUS data at $POCUS (set PLEURA_POCUS)" >&2; exit 1; }
HAVE_CHAFA=0; command -v chafa >/dev/null && HAVE_CHAFA=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pleura-render-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

awk -F, 'NR > 1 && $3 == "video" { print $1 }' "$POCUS/manifest.csv" | head -40 | awk 'NR % 4 == 1' > "$WORK/clips.txt"
i=0
while IFS= read -r clip; do
    ffmpeg -nostdin -v error -y -i "$POCUS/$clip" \
        -vf "select=eq(n\,10),scale=$SIDE:$SIDE:force_original_aspect_ratio=decrease:flags=area,pad=$SIDE:$SIDE:(ow-iw)/2:(oh-ih)/2,format=rgb24" \
        -frames:v 1 "$WORK/f$i.png"
    i=$((i + 1))
done < "$WORK/clips.txt"
N=$i

psnr() { compare -metric PSNR "$1" "$2" null: 2>&1 | awk '{ print $1 }'; }

printf '%-6s %10s %8s %10s %8s %8s %10s %8s\n' frame pleura_B dB img2six_B dB ratio chafa_B dB
tp=0; ti=0; tc=0
i=0
while [ "$i" -lt "$N" ]; do
    f="$WORK/f$i.png"
    "$PLEURA" render "$f" --graphics sixel --width $SIDE --height $SIDE > "$WORK/p$i.six"
    img2sixel "$f" > "$WORK/i$i.six"
    sixel2png < "$WORK/p$i.six" > "$WORK/p$i.png"
    sixel2png < "$WORK/i$i.six" > "$WORK/i$i.png"
    bp=$(wc -c < "$WORK/p$i.six"); bi=$(wc -c < "$WORK/i$i.six")
    bc=-; dc=-
    if [ $HAVE_CHAFA -eq 1 ]; then
        chafa -f sixels -s 48x24 --animate off "$f" > "$WORK/c$i.six"
        bc=$(wc -c < "$WORK/c$i.six"); tc=$((tc + bc))
        # chafa picks its own pixel size from the cell geometry: compare at the frame's size.
        if sixel2png < "$WORK/c$i.six" > "$WORK/c$i.png" 2>/dev/null; then
            convert "$WORK/c$i.png" -resize "${SIDE}x${SIDE}!" "$WORK/c$i.r.png"; dc=$(psnr "$f" "$WORK/c$i.r.png")
        fi
    fi
    tp=$((tp + bp)); ti=$((ti + bi))
    printf '%-6s %10d %8s %10d %8s %8s %10s %8s\n' "f$i" "$bp" "$(psnr "$f" "$WORK/p$i.png")" "$bi" "$(psnr "$f" "$WORK/i$i.png")" \
        "$(awk "BEGIN { printf \"%.2f\", $bp / $bi }")" "$bc" "$dc"
    i=$((i + 1))
done
printf 'total  %10d %8s %10d %8s %8s %10s\n' "$tp" "" "$ti" "" "$(awk "BEGIN { printf \"%.2f\", $tp / $ti }")" "$tc"
echo

# The rest of the bytes-vs-PSNR curve on the same frames: img2sixel with 16/64/256 colours and
# chafa drawing exactly 480×480 (60×60 cells of 8×8 px). Totals, and the worst frame's PSNR.
curve() {   # name, then the command (the frame is appended)
    name=$1; shift; total=0; worst=999; i=0
    while [ "$i" -lt "$N" ]; do
        "$@" "$WORK/f$i.png" > "$WORK/x.six"; sixel2png < "$WORK/x.six" > "$WORK/x.png"
        total=$((total + $(wc -c < "$WORK/x.six"))); d=$(psnr "$WORK/f$i.png" "$WORK/x.png")
        worst=$(awk "BEGIN { print ($d < $worst) ? $d : $worst }"); i=$((i + 1))
    done
    printf '%-28s %10d bytes  %6.2f× img2sixel  worst %s dB\n' "$name" "$total" "$(awk "BEGIN { print $total / $ti }")" "$worst"
}
curve "img2sixel -p 16" img2sixel -p 16
curve "img2sixel -p 64" img2sixel -p 64
curve "img2sixel -p 256" img2sixel -p 256
[ $HAVE_CHAFA -eq 1 ] && curve "chafa -f sixels 480×480" chafa -f sixels -s 60x60 --font-ratio 1 --animate off
echo

# Whole process: each command renders all frames, output discarded.
frames=""; i=0; while [ "$i" -lt "$N" ]; do frames="$frames $WORK/f$i.png"; i=$((i + 1)); done
P="for f in $frames; do $PLEURA render \$f --graphics sixel --width $SIDE --height $SIDE > /dev/null; done"
I="for f in $frames; do img2sixel \$f > /dev/null; done"
C="for f in $frames; do chafa -f sixels -s 48x24 --animate off \$f > /dev/null; done"
if [ $HAVE_CHAFA -eq 1 ]; then
    hyperfine --warmup 2 --runs "${RUNS:-10}" --style basic \
        -n "pleura render ($N frames)" "$P" -n "img2sixel ($N frames)" "$I" -n "chafa -f sixels ($N frames)" "$C"
else
    hyperfine --warmup 2 --runs "${RUNS:-10}" --style basic \
        -n "pleura render ($N frames)" "$P" -n "img2sixel ($N frames)" "$I"
fi

# Start-up floor. pleura opens FFmpeg only when it reads media (dlopen, Sources/CFFmpeg), but a
# render must read media: loading Debian's libavformat (libavcodec and ~130 libraries behind it)
# in a C program that does nothing else is timed here beside pleura's own start-up and img2sixel.
CC=${CC:-$(command -v cc || command -v clang || true)}
if [ -n "$CC" ]; then
    cat > "$WORK/load.c" <<'C'
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) if (!dlopen(argv[i], RTLD_NOW)) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    return 0;
}
C
    "$CC" -O2 -o "$WORK/load" "$WORK/load.c" -ldl
    echo
    set -- -n "empty C process" "$WORK/load" \
        -n "C process loading libavcodec" "$WORK/load libavcodec.so.59" \
        -n "C process loading libavformat + libswscale" "$WORK/load libavformat.so.59 libswscale.so.6" \
        -n "pleura version (FFmpeg not loaded)" "$PLEURA version" \
        -n "pleura render (1 frame)" "$PLEURA render $WORK/f0.png --graphics sixel --width $SIDE --height $SIDE" \
        -n "img2sixel (1 frame)" "img2sixel $WORK/f0.png"
    [ $HAVE_CHAFA -eq 1 ] && set -- "$@" -n "chafa -f sixels (1 frame)" "chafa -f sixels -s 48x24 --animate off $WORK/f0.png"
    hyperfine -N --warmup 3 --runs "${RUNS:-30}" --style basic "$@"
else
    echo "render.sh: no C compiler: start-up floor not measured" >&2
fi
