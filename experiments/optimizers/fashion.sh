#!/usr/bin/env bash
# Fashion-MNIST classification with different optimizers, in one command:
#   experiments/optimizers/fashion.sh [OUT_DIR]   (default experiments/optimizers/out-fashion)
# Trains experiments/optimizers/fashion.yaml (784-128-10 MLP, batch 128) once
# per optimizer from the same initial weights and writes into OUT_DIR:
#   table.md       test accuracy after every epoch and the final test loss
#   accuracy.png   test accuracy per epoch, one curve per optimizer
#   loss.png       training loss per logged step
#   runs/NAME/     the run directories
# NP=2 trains on 2 MPI ranks; EPOCHS=N changes the length (default 5).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-experiments/optimizers/out-fashion}
np=${NP:-1}
epochs=${EPOCHS:-5}
dtrain=${DTRAIN:-build/dtrain}
data=${DATA:-data/fashion-mnist}
cfg=experiments/optimizers/fashion.yaml
[ -x "$dtrain" ] || { echo "fashion.sh: build dtrain first ($dtrain)" >&2; exit 1; }
[ -f "$data/manifest.json" ] || datasets/fashion-mnist.sh "$dtrain" "$data"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

optimizers=(
  "sgd|optim.kind=sgd optim.lr=0.05"
  "momentum|optim.kind=sgd optim.lr=0.05 optim.momentum=0.9"
  "nesterov|optim.kind=sgd optim.lr=0.05 optim.momentum=0.9 optim.nesterov=true"
  "rmsprop|optim.kind=rmsprop optim.lr=0.0005"
  "adam|optim.kind=adam optim.lr=0.001"
)

mkdir -p "$out"
rm -rf "$out/runs"
for entry in "${optimizers[@]}"; do
  name=${entry%%|*}
  read -r -a over <<<"${entry#*|}"
  echo "== $name: ${over[*]}"
  launch=("$dtrain")
  [ "$np" -gt 1 ] && launch=(mpiexec -n "$np" --oversubscribe --allow-run-as-root "$dtrain")
  "${launch[@]}" train "$cfg" "data.path=$data" "train.run_dir=$out/runs" "train.name=$name" \
    "train.epochs=$epochs" "${over[@]}"
done

{
  printf '| optimizer | settings |'
  for e in $(seq 1 "$epochs"); do printf ' epoch %d |' "$e"; done
  printf ' final test loss |\n|---|---|'
  for e in $(seq 1 "$epochs"); do printf -- '---|'; done
  printf -- '---|\n'
  for entry in "${optimizers[@]}"; do
    name=${entry%%|*}
    m="$out/runs/$name/metrics.jsonl"
    printf '| %s | %s |' "$name" "$(sed 's/optim\.//g' <<<"${entry#*|}")"
    grep '"split":"test"' "$m" |
      sed -E 's/.*"accuracy":([-0-9.e+]+).*/\1/' | awk '{ printf " %.2f%% |", 100 * $1 }'
    grep '"split":"test"' "$m" | tail -1 | sed -E 's/.*"loss":([-0-9.e+]+),"accuracy".*/\1/' |
      awk '{ printf " %.4f |\n", $1 }'
  done
} >"$out/table.md"
cat "$out/table.md"

specs=()
for entry in "${optimizers[@]}"; do specs+=("$out/runs/${entry%%|*}"); done
launcher/plot.sh --compare --out "$out/accuracy.png" --metric test_accuracy \
  --title "Fashion-MNIST, 784-128-10 MLP: test accuracy per epoch" "${specs[@]}"
launcher/plot.sh --compare --out "$out/loss.png" --metric train_loss --logy \
  --title "Fashion-MNIST, 784-128-10 MLP: training loss" "${specs[@]}"
echo "wrote $out/table.md $out/accuracy.png $out/loss.png"
