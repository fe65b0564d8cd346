#!/usr/bin/env bash
# The mini recipe: the whole toolkit on synthetic corpora, on a laptop CPU.
#
#   stage 0  synthesise LibriSpeech, Libri-light (+ fine-tuning splits) and L2-ARCTIC with espeak-ng
#   stage 1  prepare lhotse manifests with the same commands real corpora use
#
# Every stage is resumable: a finished step is skipped on rerun, a step killed half-way is redone.
# Later stages (pretraining, fine-tuning, decoding, pseudo-labelling, MDD, the app) are added by
# the issues that build them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

stage=0
stop_stage=100
preset=mini          # tiny: seconds per corpus (CI); mini: the main job
seed=0
nj=2
data=$here/data
skip_setup=false

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  echo "options: --stage N --stop-stage N --preset tiny|mini --seed N --nj N --data DIR --skip-setup"
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
mkdir -p "$corpora" "$manifests"

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

log "done; manifests in $manifests"
