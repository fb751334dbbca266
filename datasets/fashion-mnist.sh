#!/usr/bin/env bash
# Build the Fashion-MNIST shard set from Debian's dataset-fashion-mnist
# package (MIT): 60,000 training and 10,000 test images of 28 x 28 in ten
# clothing classes, as gzipped IDX files in /usr/share/datasets/fashion-mnist.
#
# usage: datasets/fashion-mnist.sh [DTRAIN] [OUT_DIR]
#   DTRAIN   path of the dtrain binary (or env DTRAIN; else dtrain on PATH)
#   OUT_DIR  where the shard set goes (default: data/fashion-mnist)
# env:
#   FASHION_MNIST_DIR  where the IDX files are (default: the package's)
#
# The package is installed with apt-get when the files are missing (root,
# or sudo). Running it again is cheap: an existing shard set that
# `dtrain data info` verifies is left alone.
set -euo pipefail

say() { echo "fashion-mnist.sh: $*"; }
die() { echo "fashion-mnist.sh: error: $*" >&2; exit 1; }

if [[ $# -gt 0 && -f $1 && -x $1 ]]; then
    DTRAIN=$1
    shift
fi
DTRAIN=${DTRAIN:-$(command -v dtrain || true)}
[[ -n $DTRAIN && -x $DTRAIN ]] ||
    die "no dtrain binary: pass its path as the first argument or set DTRAIN"
OUT=${1:-data/fashion-mnist}
SRC=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
       t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

if [[ -f $OUT/manifest.json ]] && "$DTRAIN" data info "$OUT" >/dev/null 2>&1; then
    say "$OUT already holds a verified shard set; nothing to do"
    exit 0
fi

missing() {
    local f
    for f in "${FILES[@]}"; do [[ -f $SRC/$f ]] || return 0; done
    return 1
}

if missing; then
    [[ -z ${FASHION_MNIST_DIR:-} ]] ||
        die "FASHION_MNIST_DIR=$SRC lacks some of: ${FILES[*]}"
    SUDO=
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null ||
            die "$SRC is missing; install it as root: apt-get install dataset-fashion-mnist"
        SUDO=sudo
    fi
    say "$SRC is missing; installing the Debian package dataset-fashion-mnist"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y dataset-fashion-mnist ||
        { $SUDO apt-get update && $SUDO apt-get install -y dataset-fashion-mnist; } ||
        die "apt-get could not install dataset-fashion-mnist"
    missing && die "dataset-fashion-mnist is installed but $SRC lacks some of: ${FILES[*]}"
fi

say "converting $SRC into $OUT"
"$DTRAIN" data convert --format idx \
    --images "$SRC/${FILES[0]}" --labels "$SRC/${FILES[1]}" \
    --test-images "$SRC/${FILES[2]}" --test-labels "$SRC/${FILES[3]}" \
    --out "$OUT" --name fashion-mnist \
    --class-names "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
say "done: $OUT"
