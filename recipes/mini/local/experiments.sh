#!/usr/bin/env bash
# The experiments behind docs/LEARNING.md: what the miniature needs to learn, found by experiment.
#
#   bash recipes/mini/local/experiments.sh [--threads N] [--tag mini_seed0] NAME...
#   bash recipes/mini/local/experiments.sh --list
#
# Each NAME is one run over the mini recipe's manifests (stages 0-3 must have run: corpora, manifests,
# tokenizers), written to recipes/mini/exp/<tag>/experiments/NAME:
#   pretrain-*   asr pretrain with conf/experiments/<name>.yaml, then `asr probe` of its final encoder and of
#                each checkpoint it kept (probe-<step>/probe.json: the probe along the pretraining);
#   finetune-*   asr finetune on the 1 h split (10 min: finetune-10min-*) with a learning curve on dev-clean
#                (valid.jsonl);
#   probe-random the probe of random weights, the baseline.
# A finished run (encoder.pt, train_result.json or probe.json there) is skipped, an interrupted one
# resumed; `python recipes/mini/local/experiments_table.py` tabulates them all.
# Runs use --threads torch threads (default 1, for two runs side by side; one run alone: --threads 2).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/../.." && pwd)
tag=mini_seed0
threads=1
names=()
while [ $# -gt 0 ]; do
  case $1 in
    --tag) tag=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --list) names=(--list); shift ;;
    *) names+=("$1"); shift ;;
  esac
done
export PATH=$root/.venv/bin:$PATH OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
manifests=$here/data/manifests/$tag
lang=$here/data/lang/$tag
out=$here/exp/$tag/experiments
conf=$here/conf/experiments
hubert_labels=$out/hubert-labels1/cuts.jsonl.gz

# name -> "kind config [extra options]"; init=NAME fine-tunes from experiment NAME's encoder
declare -A EXPERIMENTS=(
  [probe-random]="probe"
  [pretrain-data2vec-200x60]="pretrain data2vec pretrain_data2vec_200x60"
  [pretrain-data2vec-200x60-fast-ema]="pretrain data2vec pretrain_data2vec_200x60_fast_ema"
  [pretrain-data2vec-200x60-frozen-frontend]="pretrain data2vec pretrain_data2vec_200x60_frozen_frontend"
  [pretrain-data2vec-1600x30]="pretrain data2vec pretrain_data2vec_1600x30"
  [pretrain-data2vec-4000x30]="pretrain data2vec pretrain_data2vec_4000x30"
  [pretrain-data2vec-1600x30-top2]="pretrain data2vec pretrain_data2vec_1600x30_top2"
  [pretrain-hubert-200x60]="pretrain hubert pretrain_hubert_200x60"
  [pretrain-hubert-1600x30-lr2e-3]="pretrain hubert pretrain_hubert_1600x30_lr2e-3"
  [pretrain-hubert-400x30-unmasked]="pretrain hubert pretrain_hubert_400x30_unmasked"
  [pretrain-hubert-1200x30-unmasked]="pretrain hubert pretrain_hubert_1200x30_unmasked"
  [pretrain-data2vec2-400x30]="pretrain data2vec2 pretrain_data2vec2_400x30"
  [pretrain-hubert2-600x30-unmasked]="pretrain hubert pretrain_hubert2_600x30_unmasked from=pretrain-hubert-1200x30-unmasked"
  [finetune-scratch-1500x15]="finetune finetune_scratch_1500x15"
  [finetune-scratch-1500x15-nomask]="finetune finetune_scratch_1500x15_nomask"
  [finetune-scratch-1000x15]="finetune finetune_1000x15"
  [finetune-scratch-1000x15-speed]="finetune finetune_1000x15 --speed-perturb"
  [finetune-scratch-1000x15-lr4e-3]="finetune finetune_1000x15_lr4e-3"
  [finetune-scratch-2000x7.5]="finetune finetune_2000x7.5"
  [finetune-hubert-1200x30-unmasked-1000x15]="finetune finetune_1000x15 init=pretrain-hubert-1200x30-unmasked"
  [finetune-hubert-1200x30-unmasked-1000x15-enc0.25]="finetune finetune_1000x15_enc0.25 init=pretrain-hubert-1200x30-unmasked"
  [finetune-10min-scratch-1000x15]="finetune finetune_1000x15 split=10min"
  [finetune-10min-hubert-1200x30-unmasked-1000x15-enc0.25]="finetune finetune_1000x15_enc0.25 split=10min init=pretrain-hubert-1200x30-unmasked"
  [finetune-hubert-400x30-unmasked-1000x15]="finetune finetune_1000x15 init=pretrain-hubert-400x30-unmasked"
  [pretrain-hubert-3200x30-unmasked]="pretrain hubert pretrain_hubert_3200x30_unmasked"
  [finetune-scratch-1000x15-nomask]="finetune finetune_1000x15_nomask"
  [finetune-scratch-2000x15-nomask]="finetune finetune_2000x15_nomask"
  [finetune-10h-scratch-2400x15-nomask]="finetune finetune_2400x15_nomask split=10h"
  [finetune-hubert-3200x30-unmasked-1000x15-enc0.25]="finetune finetune_1000x15_enc0.25 init=pretrain-hubert-3200x30-unmasked"
  [finetune-hubert-3200x30-unmasked-1000x15-enc0.25-nomask]="finetune finetune_1000x15_enc0.25_nomask init=pretrain-hubert-3200x30-unmasked"
  [finetune-10min-scratch-1000x15-nomask]="finetune finetune_1000x15_nomask split=10min"
  [finetune-10min-hubert-3200x30-unmasked-1000x15-enc0.25-nomask]="finetune finetune_1000x15_enc0.25_nomask split=10min init=pretrain-hubert-3200x30-unmasked"
)

if [ "${names[*]}" = --list ]; then
  for name in "${!EXPERIMENTS[@]}"; do echo "$name: ${EXPERIMENTS[$name]}"; done | sort
  exit 0
fi

probe() {  # probe OUT --encoder PATH | --random ...
  local dir=$1; shift
  [ -f "$dir/probe.json" ] && return 0
  asr probe "$@" --cuts "$manifests/librispeech_finetuning_cuts_1h.jsonl.gz" \
    --dev "$manifests/librispeech_cuts_dev-clean.jsonl.gz" --tokenizer "$lang/phone" --out "$dir"
}

hubert_labels() {  # iteration 1's targets, once: k-means (k = 100) of MFCCs of the unlabelled set
  [ -f "$hubert_labels" ] && return 0
  local cuts=$manifests/librilight_cuts_small.jsonl.gz
  asr hubert-kmeans fit --cuts "$cuts" --features mfcc --config "$here/conf/pretrain_hubert.yaml" -k 100 --seed 0 \
    --out "$out/hubert-kmeans1/centres.npz"
  asr hubert-kmeans label --cuts "$cuts" --features mfcc --config "$here/conf/pretrain_hubert.yaml" \
    --centres "$out/hubert-kmeans1/centres.npz" --out-dir "$out/hubert-labels1"
}

for name in "${names[@]}"; do
  spec=${EXPERIMENTS[$name]:-}
  [ -n "$spec" ] || { echo "$0: unknown experiment $name (--list shows them)" >&2; exit 2; }
  read -r kind rest <<< "$spec"
  dir=$out/$name
  echo "[experiments] $name: $kind $rest" >&2
  case $kind in
    probe) probe "$dir" --random --config "$here/conf/finetune_scratch.yaml" ;;
    pretrain)
      read -r objective config from <<< "$rest"
      cuts=$manifests/librilight_cuts_small.jsonl.gz; extra=()
      if [ "$objective" = hubert ] && [ -z "$from" ]; then hubert_labels; cuts=$hubert_labels; extra=(--num-clusters 100); fi
      if [ -n "$from" ]; then  # HuBERT iteration 2: clusters of block 3 of experiment FROM's encoder, continued from it
        previous=$out/${from#from=}/encoder.pt
        if [ ! -f "$dir-labels/cuts.jsonl.gz" ]; then
          asr hubert-kmeans fit --cuts "$cuts" --features "$previous" --layer 3 -k 100 --seed 0 --out "$dir-kmeans/centres.npz"
          asr hubert-kmeans label --cuts "$cuts" --features "$previous" --layer 3 --centres "$dir-kmeans/centres.npz" \
            --out-dir "$dir-labels"
        fi
        cuts=$dir-labels/cuts.jsonl.gz; extra=(--num-clusters 100 --init "$previous")
      fi
      [ -f "$dir/encoder.pt" ] || asr pretrain --objective "$objective" --config "$conf/$config.yaml" --cuts "$cuts" \
        --exp-dir "$dir" --no-progress "${extra[@]}"
      for ckpt in "$dir"/checkpoint-*.pt; do
        [ -f "$ckpt" ] || continue  # a finished run whose checkpoints were removed: its encoder only
        step=${ckpt##*checkpoint-}; step=${step%.pt}
        probe "$dir/probe-$step" --encoder "$ckpt"
      done
      probe "$dir/probe" --encoder "$dir/encoder.pt" ;;
    finetune)
      read -r config options <<< "$rest"
      opt=(); split=1h
      for word in $options; do
        case $word in
          init=*) opt+=(--init "$out/${word#init=}/encoder.pt") ;;
          split=*) split=${word#split=} ;;
          *) opt+=("$word") ;;
        esac
      done
      [ -f "$dir/train_result.json" ] && continue
      asr finetune --cuts "$manifests/librispeech_finetuning_cuts_$split.jsonl.gz" --tokenizer "$lang/char" \
        --config "$conf/$config.yaml" --exp-dir "$dir" --dev "$manifests/librispeech_cuts_dev-clean.jsonl.gz" \
        --valid-minutes 5 --no-progress "${opt[@]}" ;;
  esac
done
