#!/usr/bin/env bash
# The text pipeline on a tiny generated corpus (a vocabulary of 200, six
# documents of two genres): SentencePiece model and ids, the three kinds of
# token sets, what the converter counts (characters the tokenizer never
# saw, empty lines, sentences longer than a sample), bad input, and
# vocabulary safety: checkpoints remember the tokenizer, and resuming,
# evaluating or fine-tuning (train.init_from) on data of another tokenizer
# is an error naming both checksums.
source "$(dirname "$0")/common.bash"
export DT_E2E_TIMEOUT=120
command -v spm_train >/dev/null && command -v spm_encode >/dev/null ||
  { echo "SentencePiece (spm_train, spm_encode) not installed"; exit 77; }
work=$(mktemp -d e2e-text.XXXX)
work=$(cd "$work" && pwd)

# Six documents of made-up words; doc5 (test) holds characters that no
# training document has, doc2 empty lines and doc3 one very long sentence.
mkdir -p "$work/text" "$work/ids"
for d in 0 1 2 3 4 5; do
  awk -v d=$d 'BEGIN {
    srand(11 + d); split("ka lo mi ra te su no pi ve do", syl, " ")
    for (s = 0; s < 60; s++) {
      n = 4 + int(rand() * 9); line = ""
      for (w = 0; w < n; w++) {
        k = 1 + int(rand() * 3); word = ""
        for (j = 0; j < k; j++) word = word syl[1 + int(rand() * 10)]
        line = line (w ? " " : "") word
      }
      if (d == 5 && s % 10 == 0) line = line " Übermaß ☃"
      print line " ."
      if (d == 2 && s % 20 == 0) print ""
    }
    if (d == 3) { line = "pi"; for (w = 0; w < 150; w++) line = line " kalomi"; print line }
  }' >"$work/text/doc$d.txt"
done
cat "$work"/text/doc[0-3].txt >"$work/train.txt"
spm() {
  spm_train --input="$work/train.txt" --model_prefix="$1" --vocab_size="$2" \
    --model_type=unigram --character_coverage=1.0 --num_threads=1 --random_seed=1 \
    --pad_id=0 --unk_id=1 --bos_id=2 --eos_id=3 --pad_piece='[PAD]' --unk_piece='[UNK]' \
    --bos_piece='[CLS]' --eos_piece='[SEP]' --control_symbols='[MASK]' --minloglevel=2 \
    --hard_vocab_limit=false >/dev/null 2>&1
}
spm "$work/tok" 200 || fail "spm_train failed"
vocab=$(wc -l <"$work/tok.vocab")
echo "tokenizer: $vocab pieces"
for d in 0 1 2 3 4 5; do
  spm_encode --model="$work/tok.model" --output_format=id <"$work/text/doc$d.txt" \
    >"$work/ids/doc$d.ids"
done
printf '%s\n' "train ids/doc0.ids news" "train ids/doc1.ids fiction" "train ids/doc2.ids news" \
  "train ids/doc3.ids fiction" "# held out by document" "test ids/doc4.ids news" \
  "test ids/doc5.ids fiction" >"$work/list.txt"

convert() { # TASK OUT [extra args]
  local task=$1 out=$2; shift 2
  "$DTRAIN" data convert --format token-ids --task "$task" --input "$work/list.txt" \
    --tokenizer "$work/tok.model" --seq-len 32 --out "$out" "$@"
}
convert mlm "$work/mlm" >"$work/mlm.txt" || { cat "$work/mlm.txt"; fail "mlm conversion"; }
convert lm "$work/lm" >"$work/lm.txt" || fail "lm conversion"
convert class "$work/genre" --class-names news,fiction >"$work/genre.txt" ||
  fail "class conversion"
cat "$work/mlm.txt"

# What was counted: [UNK] in the test document only, the three empty lines
# of doc2, long sentences split; the tokenizer recorded.
grep -Eq "^  train .* 0 \[UNK\], 3 empty lines skipped, [1-9][0-9]* long" "$work/mlm.txt" ||
  fail "training split counts (no [UNK], 3 empty lines, long sentences split)"
grep -Eq "^  test .* [1-9][0-9]* \[UNK\]" "$work/mlm.txt" || fail "no [UNK] counted in test"
echo "ok: unseen characters counted as [UNK], empty lines skipped, long sentences split"
grep -q "tokenizer  tokenizer.model (sentencepiece, vocabulary $vocab)" "$work/mlm.txt" ||
  fail "data info does not show the tokenizer"
cmp -s "$work/tok.model" "$work/mlm/tokenizer.model" || fail "tokenizer not copied in"
grep -q "special    \[PAD\]=0 \[UNK\]=1 \[CLS\]=2 \[SEP\]=3 \[MASK\]=4" "$work/mlm.txt" ||
  fail "special ids"
grep -Eq "^baseline   unigram .* cross-entropy [0-9.]+ nats" "$work/mlm.txt" ||
  fail "no unigram baseline"
grep -Eq "^baseline   majority class of the train split \((news|fiction)\): test accuracy" \
  "$work/genre.txt" || fail "no majority-class baseline"
echo "ok: $(grep '^baseline' "$work/mlm.txt")"

# Rows as promised: mlm starts [CLS] and holds [SEP]; lm targets are the
# next inputs; every id below the vocabulary.
row() { h5dump -d "$2" -s "$3,0" -c "1,32" -y -w 0 "$1" | sed -n '/DATA {/{n;p}' | tr -d ' '; }
x=$(row "$work/mlm/train-00000.h5" /x 0)
[[ $x == 2,* && $x == *,3,* ]] || fail "mlm row 0 is not [CLS] ... [SEP]: $x"
! h5dump -d /y "$work/mlm/train-00000.h5" >/dev/null 2>&1 || fail "mlm set stores /y"
x=$(row "$work/lm/train-00000.h5" /x 1)
y=$(row "$work/lm/train-00000.h5" /y 1)
[[ ${x#*,} == "${y%,*}" ]] || fail "lm targets are not the next inputs: x $x y $y"
echo "ok: mlm rows [CLS] A [SEP] B [SEP]; lm y[t] = x[t+1]"

# Bad input: each a clear error naming the file and line or the option.
cp "$work/ids/doc0.ids" "$work/bad.ids"
echo "7 9 $vocab 12" >>"$work/bad.ids"
printf 'train bad.ids\n' >"$work/bad-list.txt"
bad_convert() { # LIST [args]
  local list=$1; shift
  "$DTRAIN" data convert --format token-ids --task mlm --input "$list" \
    --tokenizer "$work/tok.model" --out "$work/bad" "$@"
}
expect_fail "bad.ids line 61: token id $vocab is outside the tokenizer's vocabulary" \
  bad_convert "$work/bad-list.txt"
printf '5 six 7\n' >"$work/bad.ids"
expect_fail "bad.ids line 1: \"six\" is not a token id" bad_convert "$work/bad-list.txt"
printf '5 3 7\n' >"$work/bad.ids"
expect_fail "bad.ids line 1: token id 3 is the special \[SEP\]" bad_convert "$work/bad-list.txt"
expect_fail "sequence length 4 is outside \[8, 65536\]" bad_convert "$work/list.txt" --seq-len 4
printf 'train ids/doc0.ids poetry\n' >"$work/bad-list.txt"
expect_fail "bad-list.txt line 1: class \"poetry\" is not one of the 2" \
  "$DTRAIN" data convert --format token-ids --task class --class-names news,fiction \
  --input "$work/bad-list.txt" --tokenizer "$work/tok.model" --out "$work/bad"
printf 'validation ids/doc0.ids\n' >"$work/bad-list.txt"
expect_fail "bad-list.txt line 1: split \"validation\" is neither" bad_convert "$work/bad-list.txt"
sed '3s/.*/<s>\t0/' "$work/tok.vocab" >"$work/wrong.vocab"
cp "$work/tok.model" "$work/wrong.model"
expect_fail "wrong.vocab: id 2 is \"<s>\", expected \[CLS\]" \
  "$DTRAIN" data convert --format token-ids --task mlm --input "$work/list.txt" \
  --tokenizer "$work/wrong.model" --out "$work/bad"
expect_fail "cannot open the tokenizer vocabulary .*none.vocab" \
  "$DTRAIN" data convert --format token-ids --task mlm --input "$work/list.txt" \
  --tokenizer "$work/none.model" --out "$work/bad"
[[ ! -e $work/bad/manifest.json ]] || fail "a failed conversion left a manifest"

# A tokenizer file changed after conversion: opening the set says so.
cp -r "$work/genre" "$work/genre-edited"
printf 'x' >>"$work/genre-edited/tokenizer.model"
! "$DTRAIN" data info "$work/genre-edited" >"$work/edited.txt" 2>&1 ||
  fail "data info accepted a changed tokenizer"
grep -q "FAILED: tokenizer .*genre-edited/tokenizer.model has .* bytes and CRC-32" \
  "$work/edited.txt" || { cat "$work/edited.txt"; fail "changed tokenizer not named"; }
echo "ok: $(grep -o 'FAILED: .*' "$work/edited.txt" | head -1)"

# A second tokenizer (another vocabulary) and the genre set made with it.
spm "$work/tok2" 150 || fail "spm_train (second tokenizer) failed"
for d in 0 1 2 3 4 5; do
  spm_encode --model="$work/tok2.model" --output_format=id <"$work/text/doc$d.txt" \
    >"$work/ids/doc$d.ids"
done
"$DTRAIN" data convert --format token-ids --task class --class-names news,fiction \
  --input "$work/list.txt" --tokenizer "$work/tok2.model" --seq-len 32 \
  --out "$work/genre2" >/dev/null || fail "conversion with the second tokenizer"

# Train a small genre classifier on 2 ranks; its checkpoint records the
# tokenizer. Then the vocabulary checks and fine-tuning by layer name.
cat >"$work/genre.yaml" <<EOF
seed: 3
data: {path: $work/genre}
model:
  layers:
    - {kind: embedding, name: emb, vocab: 256, dim: 8}
    - {kind: flatten}
    - {kind: linear, name: head, units: 2}
loss: {kind: cross_entropy}
optim: {kind: adam, lr: 0.01}
train: {batch_size: 16, epochs: 2, log_every: 5, run_dir: $work/runs}
runtime: {progress: lines}
EOF
mpi 2 train "$work/genre.yaml" >"$work/train.out" 2>&1 || { cat "$work/train.out"; fail "train"; }
run=$(run_dir_of "$work/train.out")
ckpt="$run/checkpoints/last.h5"
crc=$(sed -n 's/^tokenizer .* crc32 //p' "$work/genre.txt")
h5dump -a tokenizer_crc32 "$ckpt" | grep -q "\"$crc\"" ||
  fail "checkpoint does not record tokenizer CRC-32 $crc"
echo "ok: checkpoint records tokenizer $crc"
mpi 2 eval "$work/genre.yaml" --checkpoint "$ckpt" >/dev/null 2>&1 || fail "eval, same data"

expect_fail "evaluating checkpoint .*last.h5: its tokenizer .*genre/tokenizer.model has CRC-32 \
$crc, but data set .*genre2 was made with tokenizer .*genre2/tokenizer.model, CRC-32" \
  mpi 2 eval "$work/genre.yaml" --checkpoint "$ckpt" data.path="$work/genre2"
expect_fail "resuming from checkpoint .*last.h5: its tokenizer .* CRC-32 $crc, but data set" \
  mpi 2 train "$work/genre.yaml" data.path="$work/genre2" train.resume="$ckpt" \
  train.epochs=3
expect_fail "train.init_from: checkpoint .*last.h5: its tokenizer .* CRC-32 $crc" \
  mpi 2 train "$work/genre.yaml" data.path="$work/genre2" train.init_from="$ckpt"

# Fine-tuning: the embedding comes from the checkpoint, the new head
# (another name) stays as initialized, the old head is unused.
mpi 2 train "$work/genre.yaml" train.init_from="$ckpt" model.layers.2.name=classifier \
  train.epochs=1 >"$work/ft.out" 2>&1 || { cat "$work/ft.out"; fail "init_from"; }
grep -q "init_from .*last.h5: loaded 1 tensor(s), 2048 values; 2 left as initialized: \
classifier/weight, classifier/bias; 2 of the checkpoint unused: head/bias, head/weight" \
  "$work/ft.out" || { cat "$work/ft.out"; fail "init_from report"; }
echo "ok: $(grep -o 'init_from .*' "$work/ft.out" | head -1)"
expect_fail "init_from .*: parameter emb/weight has shape \(256, 8\) there, the model's is \
\(256, 16\)" mpi 2 train "$work/genre.yaml" train.init_from="$ckpt" model.layers.0.dim=16
expect_fail "train.init_from .*: no parameter of the model is in the checkpoint" \
  mpi 2 train "$work/genre.yaml" train.init_from="$ckpt" model.layers.0.name=e \
  model.layers.2.name=c

# Masking belongs to sets of token labels, with shares that add up.
expect_fail "data.mlm.*expected a set of token ids with token labels" \
  mpi 2 train "$work/genre.yaml" data.mlm.prob=0.2
expect_fail "data.mlm.mask 0.9 and data.mlm.random 0.2 must be shares" \
  mpi 2 train "$work/genre.yaml" data.path="$work/mlm" data.mlm.mask=0.9 data.mlm.random=0.2
rm -rf "$work"
