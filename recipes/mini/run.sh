#!/usr/bin/env bash
# The mini recipe: the whole toolkit on synthetic corpora, on a laptop CPU.
#
#   stage 0  synthesise LibriSpeech, Libri-light (+ fine-tuning splits) and L2-ARCTIC with espeak-ng
#   stage 1  prepare lhotse manifests with the same commands real corpora use
#   stage 2  self-supervised pretraining of the xs encoder on Libri-light small, one run per objective
#            (--objectives; HuBERT: two iterations, k-means of MFCCs then of the iteration-1 model)
#
# Every stage is resumable: a finished step is skipped on rerun, a step killed half-way is redone
# (training resumes from its last checkpoint). Later stages (fine-tuning, decoding, pseudo-labelling,
# MDD, the app) are added by the issues that build them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

stage=0
stop_stage=100
preset=mini          # tiny: seconds per corpus (CI); mini: the main job
seed=0
nj=2
data=$here/data
exp=$here/exp
skip_setup=false
objectives="wav2vec2 hubert data2vec data2vec2"
hubert_clusters="100 500"   # k of HuBERT's iteration 1 (MFCC) and iteration 2 (iteration-1 features)
pretrain_steps=""            # updates per pretraining run; empty: the conf files' (tiny preset: 3)

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  echo "options: --stage N --stop-stage N --preset tiny|mini --seed N --nj N --data DIR --exp DIR --skip-setup"
  echo "         --objectives \"wav2vec2 hubert data2vec data2vec2\" --hubert-clusters \"100 500\" --pretrain-steps N"
}
source "$root/recipes/lib.sh"
parse_options "$@"

if [ "$skip_setup" != true ]; then
  bash "$root/scripts/setup.sh"
fi
export PATH=$root/.venv/bin:$PATH
tag=${preset}_seed$seed  # another preset or seed gets its own folders, so nothing stale is reused
corpora=$data/corpora/$tag
manifests=$data/manifests/$tag
done_dir=$data/.done/$tag
exp=$exp/$tag
conf=$here/conf
mkdir -p "$corpora" "$manifests"
if [ -z "$pretrain_steps" ] && [ "$preset" = tiny ]; then pretrain_steps=3; fi

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  log "stage 0: synthesise corpora ($preset preset, seed $seed)"
  step synth-librispeech "$corpora/LibriSpeech" -- asr synth librispeech --preset "$preset" --seed "$seed" -j "$nj" --out "$corpora"
  step synth-librilight "$corpora/librilight" -- asr synth librilight --preset "$preset" --seed "$seed" -j "$nj" --out "$corpora"
  step synth-l2arctic "$corpora/L2-ARCTIC" -- asr synth l2arctic --preset "$preset" --seed "$seed" -j "$nj" --out "$corpora"
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "stage 1: prepare lhotse manifests in $manifests"
  rm -f "$manifests"/.*.tmp  # temp files of a killed run (manifests themselves are renamed into place whole)
  step prepare-librispeech - synth-librispeech -- asr prepare librispeech "$corpora/LibriSpeech" "$manifests" -j "$nj"
  step prepare-librilight - synth-librilight -- asr prepare librilight "$corpora/librilight" "$manifests" -j "$nj"
  step prepare-librilight-finetuning - synth-librilight -- asr prepare librilight-finetuning "$corpora/librilight/librispeech_finetuning" "$manifests" -j "$nj"
  step prepare-l2arctic - synth-l2arctic -- asr prepare l2arctic "$corpora/L2-ARCTIC" "$manifests" -j "$nj"
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "stage 2: pretrain the xs encoder on Libri-light small: $objectives"
  unlabelled=$manifests/librilight_cuts_small.jsonl.gz
  steps_opt=()
  [ -n "$pretrain_steps" ] && steps_opt=(--max-steps "$pretrain_steps")
  for objective in $objectives; do
    if [ "$objective" != hubert ]; then
      step pretrain-$objective "resume:$exp/pretrain/$objective" prepare-librilight -- \
        asr pretrain --objective "$objective" --config "$conf/pretrain_$objective.yaml" --cuts "$unlabelled" \
        --exp-dir "$exp/pretrain/$objective" --seed "$seed" "${steps_opt[@]}"
      continue
    fi
    # HuBERT: iteration 1 predicts k-means units of MFCCs; iteration 2 those of iteration 1's middle block.
    read -r k1 k2 <<< "$hubert_clusters"
    hubert=$exp/pretrain/hubert
    step hubert-kmeans1 "$hubert/kmeans1" prepare-librilight -- \
      asr hubert-kmeans fit --cuts "$unlabelled" --features mfcc --config "$conf/pretrain_hubert.yaml" -k "$k1" --seed "$seed" --out "$hubert/kmeans1/centres.npz"
    step hubert-label1 "$hubert/labels1" hubert-kmeans1 -- \
      asr hubert-kmeans label --cuts "$unlabelled" --features mfcc --config "$conf/pretrain_hubert.yaml" --centres "$hubert/kmeans1/centres.npz" --out-dir "$hubert/labels1"
    step pretrain-hubert1 "resume:$hubert/iter1" hubert-label1 -- \
      asr pretrain --objective hubert --config "$conf/pretrain_hubert.yaml" --cuts "$hubert/labels1/cuts.jsonl.gz" \
      --num-clusters "$k1" --exp-dir "$hubert/iter1" --seed "$seed" "${steps_opt[@]}"
    step hubert-kmeans2 "$hubert/kmeans2" pretrain-hubert1 -- \
      asr hubert-kmeans fit --cuts "$unlabelled" --features "$hubert/iter1/encoder.pt" -k "$k2" --seed "$seed" --out "$hubert/kmeans2/centres.npz"
    step hubert-label2 "$hubert/labels2" hubert-kmeans2 -- \
      asr hubert-kmeans label --cuts "$unlabelled" --features "$hubert/iter1/encoder.pt" --centres "$hubert/kmeans2/centres.npz" --out-dir "$hubert/labels2"
    step pretrain-hubert2 "resume:$hubert/iter2" hubert-label2 -- \
      asr pretrain --objective hubert --config "$conf/pretrain_hubert.yaml" --cuts "$hubert/labels2/cuts.jsonl.gz" \
      --num-clusters "$k2" --exp-dir "$hubert/iter2" --seed "$seed" "${steps_opt[@]}"
    ln -sfn iter2 "$hubert/final"  # the HuBERT encoder fine-tuning uses: $exp/pretrain/hubert/final/encoder.pt
  done
fi

log "done; manifests in $manifests, experiments in $exp"
