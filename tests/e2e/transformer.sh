#!/usr/bin/env bash
# Transformer models end to end against PyTorch: a one-layer BERT (padding
# mask from the token ids, segments, post-norm, MLM head tied to the token
# embedding) and a causal one (causal and padding masks) train for four
# steps (an epoch) on small token shard sets; the test loss and token accuracy dtrain
# reports must equal those torch.nn computes from the checkpoint (attention
# by torch.nn.MultiheadAttention), the tied table must be saved once and
# counted once, and two ranks must train the BERT as one rank does (the loss is
# a mean over the global batch's target tokens). Skipped without PyTorch
# and h5py.
source "$(dirname "$0")/common.bash"
py=/usr/bin/python3
ref="$SRC/tests/e2e/transformer_torch.py"
[ -x "$py" ] || { echo "no $py"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rc=0
"$py" "$ref" data "$work" || rc=$?
[ $rc -eq 0 ] || exit $rc

# config KIND: the model of transformer_torch.py.
config() {
  local seg="" att="" lnin=pos
  if [ "$1" = mlm ]; then
    seg="    - {kind: segment_embedding, name: seg, inputs: [pos, input], sep_id: 3,
       init: normal, init_std: 0.5}"
    lnin=seg
  else
    att="causal: true, "
  fi
  cat <<YAML
seed: 3
data: {path: $work/$1}
model:
  input: [16]
  layers:
    - {kind: embedding, name: tok, vocab: 40, dim: 16, init: normal, init_std: 0.5}
    - {kind: position_embedding, name: pos, max_len: 20, init: normal, init_std: 0.5}
$seg
    - {kind: layer_norm, name: emb_ln, axis: last, inputs: [$lnin]}
    - {kind: attention, name: attn, heads: 2, ${att}inputs: [emb_ln, input], pad_from: input}
    - {kind: add, name: res1, inputs: [attn, emb_ln]}
    - {kind: layer_norm, name: ln1, axis: last}
    - {kind: linear, name: fc1, units: 32, per_token: true}
    - {kind: gelu}
    - {kind: linear, name: fc2, units: 16, per_token: true}
    - {kind: add, name: res2, inputs: [fc2, ln1]}
    - {kind: layer_norm, name: ln2, axis: last}
    - {kind: linear, name: head, per_token: true, tie: tok}
loss: {kind: token_cross_entropy}
optim: {kind: adamw, lr: 0.01}
train: {batch_size: 16, epochs: 1, eval_batch: 8, log_every: 1,
        run_dir: $work/runs}
YAML
}

field() { sed -E "s/.*$2=([-0-9.e+]+).*/\1/" <<<"$1"; }
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d;
  s = b < 0 ? -b : b; exit !(d <= t * s + 1e-7) }'; }

# dtrain trains both models, then one torch run checks both checkpoints.
for kind in mlm lm; do
  config "$kind" >"$work/$kind.yaml"
  timeout -k 10 300 "$DTRAIN" train "$work/$kind.yaml" >"$work/$kind.txt" 2>&1 ||
    { cat "$work/$kind.txt"; fail "$kind: train"; }
done
runs=("$(run_dir_of "$work/mlm.txt")" "$(run_dir_of "$work/lm.txt")")
torch=$(OMP_NUM_THREADS=1 "$py" "$ref" check "$work" "${runs[0]}/checkpoints/last.h5" \
        "${runs[1]}/checkpoints/last.h5")
for i in 0 1; do
  kind=$([ $i = 0 ] && echo mlm || echo lm)
  run=${runs[$i]}
  ref_line=$(grep "^$kind torch" <<<"$torch")
  total=$("$DTRAIN" info "$work/$kind.yaml" |
          sed -nE 's/^total: ([0-9,]+) parameters.*/\1/p' | tr -d ,)
  echo "$kind: dtrain loss $(last_eval "$run" loss) accuracy $(last_eval "$run" accuracy)" \
       "params $total; $ref_line"
  close "$(last_eval "$run" loss)" "$(field "$ref_line" loss)" 1e-4 || fail "$kind: test loss"
  close "$(last_eval "$run" accuracy)" "$(field "$ref_line" accuracy)" 1e-6 ||
    fail "$kind: accuracy"
  [ "$total" = "$(field "$ref_line" params)" ] || fail "$kind: parameter count"
  grep -q '"perplexity"' "$run/metrics.jsonl" || fail "$kind: no perplexity in the records"
done

# One 2-rank run covers the counting of targets over ranks.
mpi 2 train "$work/mlm.yaml" >"$work/two.txt" 2>&1 || { cat "$work/two.txt"; fail "2 ranks"; }
run2=$(run_dir_of "$work/two.txt")
echo "mlm: 2 ranks loss $(last_eval "$run2" loss)"
close "$(last_eval "$run2" loss)" "$(last_eval "${runs[0]}" loss)" 1e-4 || fail "1 vs 2 ranks"
echo "transformer: ok"
