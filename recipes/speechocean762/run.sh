#!/usr/bin/env bash
# Pronunciation scores against human experts on speechocean762 (Zhang et al., 2021): a phone recogniser's
# GOP features, a score model fitted on the train split's expert scores, and Pearson correlations (PCC) on
# the test split per level and aspect, as GOPT (Gong et al., 2022) and Kaldi's gop_speechocean762 report.
#
#   stage 0  the corpus: --corpus DIR, or OpenSLR 101 downloaded to <data>/corpora/speechocean762;
#            --preset tiny: the shared sample ../shared/speechocean762-sample (40 scored train-split and
#            20 scored test-split utterances of real learners, 320 unscored ones)
#   stage 1  lhotse manifests (asr prepare speechocean762: canonical phones and expert scores per cut)
#   stage 2  the phone recogniser: --model (an experiment folder, ctc_model.pt or ONNX export of a phone
#            model, e.g. the mini or L2-ARCTIC recipe's, or an imported checkpoint fine-tuned on phones), or
#            CTC training on the canonical phones of every learner who is not a scored test speaker
#            (conf/phones.yaml; --init a pretrained encoder; tiny: conf/phones_tiny.yaml)
#   stage 3  features per canonical phone for the scored utterances of both splits (asr mdd features:
#            GOP, posteriors, durations, phone identity, the recogniser's verdict)
#   stage 4  the score model fitted on the train split (asr mdd score-model fit: ridge per level and
#            aspect, bottom-up) and its predictions for the test split; over the scored utterances of both
#            splits, leave-one-speaker-out predictions (asr mdd score-model cv: every utterance scored by a
#            model that never saw its speaker); the app's heuristic scores of both splits (asr mdd scores)
#   stage 5  PCC and MSE on the test split (asr score pronunciation --split test) of the score model and
#            the heuristic; over every scored utterance, of the cross-validated predictions and the
#            heuristic (which fits nothing); the experts' own agreement (each against the mean of the
#            others) where per-expert scores exist; the table, with the published systems
#            (local/published.json), goes to <exp>/RESULTS.md (and --results FILE's section T8)
#
# Every step is resumable (recipes/lib.sh): a finished step is skipped on rerun, a step killed half-way is
# redone, a killed training resumes from its last checkpoint. See recipes/speechocean762/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
invocation="bash recipes/speechocean762/run.sh$(printf ' %q' "$@")"

stage=0
stop_stage=100
preset=real                # real: --corpus or the download; tiny: the shared sample (CI)
seed=0
nj=4
data=$here/data
exp=$here/exp
skip_setup=false
corpus=""                  # speechocean762 folder (WAVE/ train/ test/ resource/); empty: see stage 0
model=""                   # phone model to score with; empty: train one in stage 2
init=""                    # stage 2: pretrained encoder to fine-tune; empty: random weights
phones_config=""           # stage 2 settings; empty: conf/phones.yaml (tiny: conf/phones_tiny.yaml)
steps=""                   # stage 2 updates; empty: the config's
tag=""                     # experiment folder name; empty: <preset>_seed<seed>, or <preset>_<model's name>
threads=""                 # torch CPU threads for feature extraction; empty: torch's default
results=""                 # also put the table into this file's section T8 (e.g. RESULTS.md); empty: no

usage() {
  sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'
  echo "options: --stage N --stop-stage N --preset real|tiny --seed N --nj N --data DIR --exp DIR --skip-setup"
  echo "         --corpus DIR --model PATH --init PATH --phones-config YAML --steps N --tag NAME --threads N --results FILE"
}
source "$root/recipes/lib.sh"
parse_options "$@"
case $preset in
  real|tiny) ;;
  *) echo "$0: --preset must be real or tiny, got $preset" >&2; exit 2 ;;
esac
# absolute paths: the step markers record them, and a rerun from elsewhere must see the same command
absolute() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
for name in model init; do
  value=${!name}
  [ -z "$value" ] && continue
  [ -e "$value" ] || { echo "$0: --$name $value: no such file or folder" >&2; exit 2; }
  printf -v "$name" '%s' "$(absolute "$value")"
done
if [ -z "$corpus" ]; then
  if [ "$preset" = tiny ]; then corpus=$root/../shared/speechocean762-sample; else corpus=$data/corpora/speechocean762; fi
fi
[ -n "$phones_config" ] || { phones_config=$here/conf/phones.yaml; [ "$preset" = tiny ] && phones_config=$here/conf/phones_tiny.yaml; }
if [ -z "$tag" ]; then
  if [ -n "$model" ]; then
    # the model's folder name (an experiment folder, or the one holding ctc_model.pt) and a short hash of its path
    name=$model; [ -f "$model" ] && name=$(dirname "$model")
    tag=${preset}_$(basename "$name")-$(printf '%s' "$model" | sha1sum | cut -c1-6)
  else
    tag=${preset}_seed$seed
  fi
fi

if [ "$skip_setup" != true ]; then
  bash "$root/scripts/setup.sh"
fi
export PATH=$root/.venv/bin:$PATH
manifests=$data/manifests/$tag
done_dir=$data/.done/$tag
exp=$exp/$tag
mkdir -p "$manifests" "$exp"
threads_opt=(); [ -n "$threads" ] && threads_opt=(--threads "$threads")
train_cuts=$manifests/speechocean762_cuts_train.jsonl.gz
test_cuts=$manifests/speechocean762_cuts_test.jsonl.gz

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  log "stage 0: the corpus in $corpus"
  if [ ! -d "$corpus/WAVE" ]; then
    if [ "$preset" = tiny ]; then
      echo "$0: the shared speechocean762 sample is not in $corpus; give its folder with --corpus DIR" >&2
      exit 1
    fi
    # OpenSLR 101; resumable, and its SHA-256 is kept beside the archive (asr prepare download-speechocean762)
    step download - -- asr prepare download-speechocean762 "$(dirname "$corpus")"
  fi
  if ! compgen -G "$corpus/resource/scores*.json" >/dev/null && [ ! -f "$corpus/expert-scores-mi1/utt2score" ]; then
    log "stage 0: $corpus has no expert scores (resource/scores.json, scores-detail.json or the MI-1 sample)"
    cat >&2 <<EOF
The GitHub copy of speechocean762 (jimbozhang/speechocean762) keeps resource/scores.json and
scores-detail.json outside git; the OpenSLR archive (https://www.openslr.org/101) has them: unpack it over
$corpus, or rerun without --corpus to download it.
EOF
    exit 1
  fi
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "stage 1: lhotse manifests in $manifests"
  step prepare "$manifests" -- asr prepare speechocean762 "$corpus" "$manifests" -j "$nj"
fi

recogniser=$exp/recogniser
if [ -z "$model" ]; then model=$recogniser; fi
if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  if [ "$model" != "$recogniser" ]; then
    log "stage 2: the given phone recogniser $model (nothing to train)"
  else
    log "stage 2: CTC phone recogniser from ${init:-random weights} ($(basename "$phones_config"))"
    lang=$exp/lang/phone
    training=$exp/recogniser_cuts.jsonl.gz
    step recogniser-cuts - -- python "$here/local/recogniser_cuts.py" --train "$train_cuts" --test "$test_cuts" --out "$training"
    step tokenizer "$lang" recogniser-cuts -- asr tokenizer train --kind phone --cuts "$training" --out "$lang"
    opt=(--config "$phones_config" --seed "$seed" --no-progress)
    [ -n "$init" ] && opt+=(--init "$init")
    [ -n "$steps" ] && opt+=(--max-steps "$steps")
    step train-recogniser "resume:$recogniser" tokenizer -- \
      asr finetune --cuts "$training" --tokenizer "$lang" --exp-dir "$recogniser" "${opt[@]}"
  fi
fi

features=$exp/features
scores=$exp/scores
# every step below depends on the recogniser: its steps carry it as "after" when this run trained it
trained=(); [ "$model" = "$recogniser" ] && trained=(train-recogniser)
if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  log "stage 3: features of the scored utterances with $model"
  mkdir -p "$features"
  for part in train test; do
    step features-$part - "${trained[@]}" -- asr mdd features --model "$model" --cuts "$manifests/speechocean762_cuts_$part.jsonl.gz" \
      --scored-only --no-progress "${threads_opt[@]}" --out "$features/$part.npz"
  done
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "stage 4: the score model (fit on train, predict test) and the app's heuristic scores"
  mkdir -p "$scores"
  step fit "$exp/score_model" features-train -- asr mdd score-model fit --features "$features/train.npz" --out-dir "$exp/score_model"
  step predict - fit features-test -- \
    asr mdd score-model predict --model-dir "$exp/score_model" --features "$features/test.npz" --out "$scores/score_model.json"
  step cross-validate - features-train features-test -- asr mdd score-model cv \
    --features "$features/train.npz" --features "$features/test.npz" --cuts "$train_cuts" --cuts "$test_cuts" \
    --out "$scores/cross_validated.json"
  for part in train test; do  # the heuristic fits nothing: both splits are fair to score it on
    step heuristic-$part - "${trained[@]}" -- asr mdd scores --model "$model" --cuts "$manifests/speechocean762_cuts_$part.jsonl.gz" \
      --scored-only --no-progress "${threads_opt[@]}" --out "$scores/heuristic_$part.json"
  done
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  log "stage 5: PCC against the experts on the test split"
  step evaluate-score_model - predict -- \
    asr score pronunciation --ref "$corpus" --split test --hyp "$scores/score_model.json" --json "$scores/score_model.pcc.json"
  step evaluate-heuristic - heuristic-test -- \
    asr score pronunciation --ref "$corpus" --split test --hyp "$scores/heuristic_test.json" --json "$scores/heuristic.pcc.json"
  step evaluate-heuristic-all - heuristic-train heuristic-test -- asr score pronunciation --ref "$corpus" \
    --hyp "$scores/heuristic_train.json" --hyp "$scores/heuristic_test.json" --json "$scores/heuristic_all.pcc.json"
  step evaluate-cross-validated - cross-validate -- \
    asr score pronunciation --ref "$corpus" --hyp "$scores/cross_validated.json" \
    --json "$scores/cross_validated.pcc.json"
  if compgen -G "$corpus/resource/scores-detail.json" >/dev/null || [ -f "$corpus/expert-scores-mi1/utt2score" ]; then
    step evaluate-experts - -- asr score pronunciation --ref "$corpus" --split test --experts --json "$scores/experts.pcc.json"
    step evaluate-experts-all - -- asr score pronunciation --ref "$corpus" --experts --json "$scores/experts_all.pcc.json"
  else
    log "stage 5: $corpus has the experts' means only (scores.json): no human ceiling"
  fi
  python "$here/local/results_table.py" --exp "$exp" --command "$invocation" --model "$model" --corpus "$corpus" \
    ${results:+--results "$results"}
fi

log "done; manifests in $manifests, experiment in $exp"
