#!/bin/sh
# Builds the libFuzzer harnesses (Fuzz/) and runs each for FUZZ_SECONDS, one after another, at
# low priority. Usage: Scripts/fuzz.sh SECONDS [NAME...]  (default: every harness).
# Build: a separate build folder (.build-fuzz) with -sanitize=fuzzer,address, so the normal build
# never sees the harnesses. Corpus: .build-fuzz/corpus/NAME (grows across runs), seeded from
# Fuzz/seeds/NAME plus files made here (phantom labels and clips, the repo's sessions and keymaps).
# A finding (crash, sanitizer report, timeout, out-of-memory) is saved under
# .build-fuzz/findings/NAME/ and makes the script exit 1; turn it into a regression test.
# FUZZ_TIMEOUT (default 10 s) is the per-input limit; a loaded machine needs more for media.
set -eu
SECONDS_EACH=${1:-60}
[ $# -gt 0 ] && shift
NAMES=${*:-"csv jsonl labelstudio session keymap terminal media"}
SWIFT=${SWIFT:-$(command -v swift || echo /opt/swift/usr/bin/swift)}
BUILD=.build-fuzz
FLAGS="-c release --build-path $BUILD -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing"
NICE=${FUZZ_NICE:-19}

# FUZZ_NO_BUILD=1 runs the harnesses already built (e.g. a second run in parallel).
if [ -z "${FUZZ_NO_BUILD:-}" ]; then
    for name in $NAMES; do
        PLEURA_FUZZ=1 nice -n "$NICE" "$SWIFT" build $FLAGS --product "fuzz-$name"
        # DICOM inputs reach DCMTK through the dlopen'ed shim, which must sit beside the harness.
        [ "$name" = media ] && PLEURA_FUZZ=1 nice -n "$NICE" "$SWIFT" build $FLAGS --product PleuraDicomShim
    done
fi

# Seeds made from Pleura's own outputs (never from patient data).
SEEDS=$BUILD/generated-seeds
if [ ! -d "$SEEDS/media" ]; then
    mkdir -p "$SEEDS/media" "$SEEDS/csv" "$SEEDS/session" "$SEEDS/keymap"
    [ -x .build/release/pleura ] || "$SWIFT" build -c release -Xswiftc -enable-testing
    .build/release/pleura phantom -o "$SEEDS/phantom" --count 2 --seed 7 >/dev/null
    cp "$SEEDS/phantom/labels.csv" "$SEEDS/csv/phantom-labels.csv"
    clip=$SEEDS/phantom/phantom-000.mp4
    cp "$clip" "$SEEDS/media/phantom.mp4"
    # Small cuts of the phantom in every container Pleura opens, so mutations stay quick.
    if command -v ffmpeg >/dev/null; then
        f="ffmpeg -v error -y -i $clip -vf scale=48:40 -frames:v 4"
        $f -c:v libx264 -g 2 "$SEEDS/media/small.mp4"
        $f -c:v libx264 -pix_fmt yuv444p "$SEEDS/media/small444.mov"
        $f -c:v mpeg4 "$SEEDS/media/small.avi"
        $f -c:v mpeg2video -f vob "$SEEDS/media/small.mpg"
        $f "$SEEDS/media/small.gif"
        ffmpeg -v error -y -i "$clip" -vf scale=48:40 -frames:v 1 "$SEEDS/media/small.png"
        ffmpeg -v error -y -i "$clip" -vf scale=48:40 -frames:v 1 "$SEEDS/media/small.jpg"
    fi
    cp Sessions/*.toml "$SEEDS/session/"
    cp Keymaps/*.toml "$SEEDS/keymap/"
fi

status=0
for name in $NAMES; do
    corpus=$BUILD/corpus/$name
    findings=$BUILD/findings/$name
    mkdir -p "$corpus" "$findings"
    extra=""
    [ -d "$SEEDS/$name" ] && extra="$SEEDS/$name"
    # TOMLKit 0.6.0 (the TOML library behind sessions and keymaps) leaks its C++ parse result and
    # strdup'd strings, a few hundred bytes per parse (LeakSanitizer, first run of fuzz-session):
    # harmless for one parse per process, so leak checking is off for those two harnesses only.
    leaks=""
    asan=${ASAN_OPTIONS:-}
    case $name in session|keymap) leaks="-detect_leaks=0"; asan="detect_leaks=0${asan:+:$asan}" ;; esac
    echo "fuzz-$name: $SECONDS_EACH s (corpus $corpus)"
    if ! ASAN_OPTIONS="$asan" nice -n "$NICE" "$BUILD/release/fuzz-$name" -max_total_time="$SECONDS_EACH" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 \
            -max_len=262144 -print_final_stats=1 $leaks -artifact_prefix="$findings/" \
            "$corpus" "Fuzz/seeds/$name" $extra >"$BUILD/fuzz-$name.log" 2>&1; then
        echo "fuzz-$name: FINDING, see $BUILD/fuzz-$name.log and $findings/"
        status=1
    fi
    grep -E "^stat::number_of_executed_units|^stat::new_units_added" "$BUILD/fuzz-$name.log" | sed "s/^/  /" || true
done
exit $status
