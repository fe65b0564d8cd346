#!/usr/bin/env bash
# The mini recipe: the whole toolkit on synthetic corpora, on a laptop CPU.
#
# Two paths through the same stages. The default (the README's main command, ~40 min on 2 CPU cores):
# one pretraining objective (HuBERT), the 1 h split from scratch and from that encoder, greedy and LM beam
# decoding, the phone recogniser with one noisy-student generation against its labels-only control, MDD
# scores and the app. --all adds every comparison behind RESULTS.md's tables (hours): all four objectives,
# the 10 min split, WFST decoding, the fine-tuning ablations, semi-supervised word recognition, two
# noisy-student generations, online-ensemble pseudo-labels, and native speech for the phone recogniser.
#
#   stage 0  synthesise LibriSpeech, Libri-light (+ fine-tuning splits) and L2-ARCTIC with espeak-ng
#   stage 1  prepare lhotse manifests with the same commands real corpora use (+ speechocean762: the real
#            learners of --real-l2, and the expert-scored ones T6 judges on, see below)
#   stage 2  self-supervised pretraining of the xs encoder on Libri-light small (+ --real-l2's train split),
#            one run per objective
#            (--objectives; HuBERT: two iterations, k-means of MFCCs then of the iteration-1 model)
#   stage 3  the LibriSpeech LM text; tokenizers: characters (fine-tuning's units, --units) and BPE
#   stage 4  LMs from the LM text: a word 3-gram (KenLM) and a token 6-gram (lexicon-free beam search)
#   stage 5  CTC fine-tuning on the Libri-light splits (--splits), from random weights and from every
#            pretrained encoder of stage 2 (--all: + the ablations that separate init from settings)
#   stage 6  decode dev-clean and test-clean (greedy, LM beam, --all: WFST; LM weights tuned on dev-clean)
#   stage 7  (--all) semi-supervised word recognition from the 1 h baseline of stage 5 with the Libri-light
#            unlabelled set: the same training continued on labels only (control), noisy student
#            (--generations, LM-beam pseudo-labels), online-ensemble momentum pseudo-labels
#   stage 8  the phone recogniser on L2-ARCTIC: baseline on the annotated speakers' perceived phones, its
#            labels-only continuation, then from that stronger model: the control (labels only, the same
#            updates again) and noisy student (its pseudo-labels on the unannotated L2 utterances);
#            --all: also noisy student and online ensemble from the baseline, and online ensemble round 2
#   stage 9  decode and score every stage 7-8 system (WER on dev/test-clean; PER on the L2 dev and
#            held-out test speakers)
#   stage 10 mispronunciation detection and diagnosis: (--all: phone recognisers with native speech,
#            with and without online-ensemble pseudo-labels), MDD scores (precision, recall, F1, DER, PER)
#            of every phone recogniser on the held-out speakers; the served model's verdicts against
#            the experts on real learners (T6, when a scored speechocean762 folder is there); its judgements
#            beyond the phone on speech whose truth is constructed (T7: local/t7.py); RESULTS.md
#   stage 11 serve the pronunciation app (apps/pronunciation) on the noisy-student phone model
#            ($exp/app_model) and print its local URL; it runs until Ctrl-C (--app false skips it)
#
# Real voices: --real-l2 DIR (speechocean762: the full corpus or the shared sample; "download": OpenSLR 101
# into data/corpora) adds real Mandarin-L1 learners: their train split joins pretraining as unlabelled audio
# and the phone recogniser's training (as noisy student's unlabelled speech, and with --real-labels canonical
# also labelled by the prompt's canonical phones: weak labels). Its test speakers never enter training. Such a
# run gets its own experiment folder (<tag>_real). T6 judges the served model on the expert-scored test
# utterances of --l2-judge (default: --real-l2 if it has scores, else ../shared/speechocean762-sample).
#
# Every stage is resumable: a finished step is skipped on rerun, a step killed half-way is redone
# (training resumes from its last checkpoint). Each step's seconds go to data/.done/<tag>/NAME.seconds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

stage=0
stop_stage=100
preset=mini          # tiny: seconds per corpus (CI); mini: the main job
all=false            # true: every comparison of RESULTS.md (see above); false: the default path
seed=0
nj=2
data=$here/data
exp=$here/exp
skip_setup=false
objectives=""                # stage 2; empty: hubert (--all: "wav2vec2 hubert data2vec data2vec2")
hubert_clusters=""          # k of HuBERT's iteration 1 (MFCC) and iteration 2 (iteration-1 features); empty: "100 100" (tiny: "20 50")
hubert_iterations=""         # HuBERT iterations; empty: 1 (--all: 2)
pretrain_steps=""            # updates per pretraining run; empty: the conf files' (tiny preset: 3)
finetune_steps=""            # updates per fine-tuning run; empty: the conf files' (tiny preset: 3)
splits=""                    # Libri-light fine-tuning splits; empty: 1h (--all: "10min 1h"; tiny preset: 10min)
units=char                   # fine-tuning targets: char | bpe
bpe_size=256
methods=""                   # stage 6 decoders; empty: "greedy beam" (--all: "greedy beam wfst")
semi_split=""                # stage 7's labelled split; empty: 1h (tiny preset: 10min)
semi_steps=""                # updates per stage 7-10 training run; empty: the conf files' (tiny preset: 3)
generations=""               # noisy-student generations from the baseline (--all); empty: 2 (tiny: 1)
semi_methods=""              # stage 9 word decoders; empty: "greedy beam" (tiny preset: greedy; stage 6 tests beam)
app=""                       # stage 11 serves the pronunciation app (blocks until Ctrl-C); empty: true (tiny: false)
port=7860                    # the app's port
valid_minutes=""             # minutes of dev-clean each learning-curve point decodes; empty: 5 (tiny: 0.5)
inits=""                     # encoders to fine-tune from: scratch and/or objectives; empty: scratch + every
                             # pretrained one present
ablations=""                 # --all, on the 1 h split: random weights with the pretrained encoders' fine-tuning
                             # settings, and an encoder with the from-scratch settings; empty:
                             # "scratch-as-pretrained hubert-as-scratch" ("none": no ablations)
voices=""                    # stage 0 voice shares for every corpus, e.g. espeak=1 (as before human-like
                             # voices); empty: the preset's mix (data_prep/voices.py)
real_l2=""                   # speechocean762 folder (or "download"); empty: synthetic voices only
real_labels=canonical        # canonical: --real-l2's train split also trains with its canonical phones; none: unlabelled only
l2_judge=""                  # expert-scored speechocean762 folder for T6; empty: see above ("none": no T6)
cross_voice=""               # stage 10: also score MDD on the held-out L2 speakers spoken by this voice family
                             # alone (T6's cross-voice rows, e.g. piper); empty: none (--all: piper)

usage() {
  sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'
  echo "options: --stage N --stop-stage N --preset tiny|mini --all --seed N --nj N --data DIR --exp DIR --skip-setup"
  echo "         --objectives \"wav2vec2 hubert data2vec data2vec2\" --hubert-clusters \"100 500\" --pretrain-steps N"
  echo "         --finetune-steps N --splits \"10min 1h\" --units char|bpe --bpe-size N --methods \"greedy beam wfst\""
  echo "         --inits \"scratch wav2vec2 hubert data2vec data2vec2\" --ablations \"scratch-as-pretrained hubert-as-scratch\""
  echo "         --semi-split 1h --semi-steps N --generations N --semi-methods \"greedy beam\" --app true|false --port N"
  echo "         --valid-minutes M --hubert-iterations N --voices SHARES --real-l2 DIR|download --real-labels canonical|none --l2-judge DIR|none"
  echo "         --cross-voice piper"
}
source "$root/recipes/lib.sh"
parse_options "$@"

if [ "$skip_setup" != true ]; then
  bash "$root/scripts/setup.sh"
fi
export PATH=$root/.venv/bin:$PATH
tag=${preset}_seed$seed  # another preset, seed or voice mix gets its own folders, so nothing stale is reused
[ -n "$voices" ] && tag+=_$(echo "$voices" | tr -c 'a-z0-9.\n' '-')
voices_opt=(); [ -n "$voices" ] && voices_opt=(--voices "$voices")
corpora=$data/corpora/$tag
manifests=$data/manifests/$tag
corpus_done=$data/.done/$tag  # the synthetic corpora and their manifests: shared by the runs with and without --real-l2
real=""; [ -n "$real_l2" ] && real=_real
done_dir=$corpus_done$real
exp=$exp/$tag$real
conf=$here/conf
mkdir -p "$corpora" "$manifests"
case $all in true|false) ;; *) echo "$0: --all takes true or false, got $all" >&2; exit 2 ;; esac
tiny=false; [ "$preset" = tiny ] && tiny=true
# pick VAR DEFAULT ALL TINY: an empty option gets the default path's value, --all's, or the tiny preset's
pick() {
  local value=$2
  [ "$all" = true ] && value=$3
  [ "$tiny" = true ] && [ -n "$4" ] && value=$4
  [ -z "${!1}" ] && printf -v "$1" '%s' "$value"
  return 0
}
pick objectives hubert "wav2vec2 hubert data2vec data2vec2" ""
pick hubert_clusters "100 100" "100 100" "20 50"
pick hubert_iterations 1 2 ""
pick pretrain_steps "" "" 3
pick finetune_steps "" "" 3
pick semi_steps "" "" 3
pick splits 1h "10min 1h" 10min
pick methods "greedy beam" "greedy beam wfst" ""
pick generations 1 2 1
pick semi_methods "greedy beam" "greedy beam" greedy
pick semi_split 1h 1h 10min
pick app true true false
pick ablations none "scratch-as-pretrained hubert-as-scratch" ""
pick valid_minutes 5 5 0.5
pick cross_voice "" piper ""
[ "$ablations" = none ] && ablations=""
run_start=$SECONDS
# the steps this path visits (RESULTS.md's T4 times the default path and --all apart); a run from stage 0 starts it anew
visited_steps=$done_dir/path-$([ "$all" = true ] && echo all || echo default).steps
mkdir -p "$done_dir"; [ "$stage" -le 0 ] && : > "$visited_steps"
lang=$data/lang/$tag

# real learners: --real-l2's corpus and the expert-scored one T6 judges on (prepared in stage 1)
if [ "$real_l2" = download ]; then
  real_l2=$data/corpora/speechocean762
  if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
    step download-speechocean762 - -- asr prepare download-speechocean762 "$data/corpora"
  fi
fi
shared_sample=$root/../shared/speechocean762-sample
if [ -z "$l2_judge" ]; then
  if [ -n "$real_l2" ] && compgen -G "$real_l2/resource/scores*.json" > /dev/null; then l2_judge=$real_l2
  elif [ -d "$shared_sample" ]; then l2_judge=$shared_sample
  else l2_judge=none; fi
fi
real_manifests=$manifests/real-l2$real; judge_manifests=$manifests/l2-judge$real
real_train=$real_manifests/train_for_training.jsonl.gz  # --real-l2's train split less the calibration learners
# the app is calibrated on the judge's train-split learners, kept out of training; when the judge is the real
# corpus itself (the shared sample as both), those learners are the training set and there is no calibration
calibrate=false; [ "$l2_judge" != none ] && calibrate=true
[ -n "$real_l2" ] && [ "$(realpath "$real_l2")" = "$(realpath "$l2_judge" 2>/dev/null)" ] && calibrate=false

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  log "stage 0: synthesise corpora ($preset preset, seed $seed)"
  done_dir=$corpus_done
  step synth-librispeech "$corpora/LibriSpeech" -- asr synth librispeech --preset "$preset" --seed "$seed" -j "$nj" --out "$corpora" "${voices_opt[@]}"
  step synth-librilight "$corpora/librilight" -- asr synth librilight --preset "$preset" --seed "$seed" -j "$nj" --out "$corpora" "${voices_opt[@]}"
  step synth-l2arctic "$corpora/L2-ARCTIC" -- asr synth l2arctic --preset "$preset" --seed "$seed" -j "$nj" --out "$corpora" "${voices_opt[@]}"
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "stage 1: prepare lhotse manifests in $manifests"
  done_dir=$corpus_done
  rm -f "$manifests"/.*.tmp  # temp files of a killed run (manifests themselves are renamed into place whole)
  step prepare-librispeech - synth-librispeech -- asr prepare librispeech "$corpora/LibriSpeech" "$manifests" -j "$nj"
  step prepare-librilight - synth-librilight -- asr prepare librilight "$corpora/librilight" "$manifests" -j "$nj"
  step prepare-librilight-finetuning - synth-librilight -- asr prepare librilight-finetuning "$corpora/librilight/librispeech_finetuning" "$manifests" -j "$nj"
  step prepare-l2arctic - synth-l2arctic -- asr prepare l2arctic "$corpora/L2-ARCTIC" "$manifests" -j "$nj"
  done_dir=$corpus_done$real
  if [ -n "$real_l2" ]; then
    step prepare-real-l2 "$real_manifests" -- asr prepare speechocean762 "$real_l2" "$real_manifests"
  fi
  if [ "$l2_judge" != none ]; then
    step prepare-l2-judge "$judge_manifests" -- asr prepare speechocean762 "$l2_judge" "$judge_manifests"
  fi
  if [ -n "$real_l2" ]; then  # the learners the app is calibrated on (the judge's train part) stay out of training
    step real-train-cuts "$real_train" prepare-real-l2 prepare-l2-judge -- \
      python "$here/local/drop_speakers.py" --cuts "$real_manifests/speechocean762_cuts_train.jsonl.gz" \
      $([ "$calibrate" = true ] && echo --drop "$judge_manifests/speechocean762_cuts_train.jsonl.gz") --out "$real_train"
  fi
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "stage 2: pretrain the xs encoder on Libri-light small${real_l2:+ and the real learners}: $objectives"
  unlabelled=$manifests/librilight_cuts_small.jsonl.gz
  if [ -n "$real_l2" ]; then  # the real learners' train split joins as unlabelled audio
    mkdir -p "$exp/pretrain"
    step pretrain-cuts-real "$exp/pretrain/cuts_real.jsonl.gz" real-train-cuts -- \
      lhotse combine "$unlabelled" "$real_train" "$exp/pretrain/cuts_real.jsonl.gz"
    unlabelled=$exp/pretrain/cuts_real.jsonl.gz
  fi
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
    if [ "$hubert_iterations" -ge 2 ]; then
      # iteration 2: clusters of iteration 1's third block (the probe weighs it most, docs/LEARNING.md), and
      # training continues from iteration 1 (the paper restarts from random weights; a short budget cannot)
      layer=(--layer 3); [ "$tiny" = true ] && layer=()
      step hubert-kmeans2 "$hubert/kmeans2" pretrain-hubert1 -- \
        asr hubert-kmeans fit --cuts "$unlabelled" --features "$hubert/iter1/encoder.pt" "${layer[@]}" -k "$k2" --seed "$seed" \
        --out "$hubert/kmeans2/centres.npz"
      step hubert-label2 "$hubert/labels2" hubert-kmeans2 -- \
        asr hubert-kmeans label --cuts "$unlabelled" --features "$hubert/iter1/encoder.pt" "${layer[@]}" \
        --centres "$hubert/kmeans2/centres.npz" --out-dir "$hubert/labels2"
      step pretrain-hubert2 "resume:$hubert/iter2" hubert-label2 -- \
        asr pretrain --objective hubert --config "$conf/pretrain_hubert.yaml" --cuts "$hubert/labels2/cuts.jsonl.gz" \
        --init "$hubert/iter1/encoder.pt" --num-clusters "$k2" --exp-dir "$hubert/iter2" --seed "$seed" "${steps_opt[@]}"
    fi
    # the HuBERT encoder fine-tuning uses: $exp/pretrain/hubert/final/encoder.pt, the last iteration's
    ln -sfn "iter$hubert_iterations" "$hubert/final"
  done
fi

lm_text=$corpora/lm/librispeech-lm-norm.txt.gz
if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  done_dir=$corpus_done  # the LM text, tokenizers and LMs come from the synthetic corpora: shared like them
  log "stage 3: LibriSpeech LM text and tokenizers in $lang"
  # real data: download librispeech-lm-norm.txt.gz from openslr.org/11 into $corpora/lm instead
  step lm-text "$corpora/lm" -- asr synth librispeech-lm --out "$corpora/lm"
  step tokenizer-char "$lang/char" -- asr tokenizer train --kind char --out "$lang/char"
  step tokenizer-bpe "$lang/bpe_$bpe_size" lm-text -- \
    asr tokenizer train --kind bpe --vocab-size "$bpe_size" --text "$lm_text" --out "$lang/bpe_$bpe_size"
  # phones: the frozen-encoder probe (stage 5) and the phone recogniser (stage 8)
  step tokenizer-phone "$lang/phone" -- asr tokenizer train --kind phone --out "$lang/phone"
fi
case $units in
  char) tokenizer=$lang/char; tokenizer_step=tokenizer-char ;;
  bpe) tokenizer=$lang/bpe_$bpe_size; tokenizer_step=tokenizer-bpe ;;
  *) echo "$0: --units must be char or bpe, got $units" >&2; exit 2 ;;
esac

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  done_dir=$corpus_done
  log "stage 4: n-gram LMs from the LM text (dev/test sentences never occur in it)"
  lm_source=$lm_text
  # tiny (CI): an LM of the few training transcripts, so the WFST graph takes milliseconds, not 20 s
  [ "$preset" = tiny ] && lm_source=$manifests/librispeech_cuts_train-clean-100.jsonl.gz
  step lm-3gram "$lang/lm" lm-text prepare-librispeech -- asr lm build --text "$lm_source" --order 3 --out "$lang/lm"
  # beside it, a token 6-gram for lexicon-free search (asr decode --method beam --lexicon-free --lm $lang/lm)
  step lm-tokens - lm-3gram "$tokenizer_step" -- \
    asr lm tokens --text "$lm_text" --tokenizer "$tokenizer" --order 6 --out "$lang/lm"
fi

encoder_of() { if [ "$1" = hubert ]; then echo "$exp/pretrain/hubert/final/encoder.pt"; else echo "$exp/pretrain/$1/encoder.pt"; fi; }
pretrain_step_of() { if [ "$1" = hubert ]; then echo "pretrain-hubert$hubert_iterations"; else echo "pretrain-$1"; fi; }
# the encoders fine-tuning starts from: "scratch" plus each pretrained one that exists (or --inits)
if [ -n "$inits" ]; then
  read -r -a inits <<< "$inits"
else
  inits=(scratch)
  for objective in $objectives; do
    [ -f "$(encoder_of "$objective")" ] && inits+=("$objective")
  done
fi
# fresh SCORE HYP: the score file exists, is not empty and is newer than the hypotheses (rescoring is skipped)
fresh() { [ -s "$1" ] && [ "$1" -nt "$2" ]; }

dev_clean=$manifests/librispeech_cuts_dev-clean.jsonl.gz
done_dir=$corpus_done$real

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  log "stage 5: frozen-encoder phone probes of random weights and of each pretrained encoder"
  # SUPERB's phoneme recognition, scaled down: a linear CTC head on each frozen encoder's layers, trained on
  # the 1 h split's phones, scored on dev-clean (T5); random weights of the same shape are the baseline
  probe_opt=(--cuts "$manifests/librispeech_finetuning_cuts_1h.jsonl.gz" --dev "$dev_clean" --tokenizer "$lang/phone"
             --seed "$seed")
  [ "$tiny" = true ] && probe_opt+=(--steps 20 --dev-cuts 10)
  step probe-random "$exp/probe/random" prepare-librilight-finetuning prepare-librispeech tokenizer-phone -- \
    asr probe --random --config "$conf/finetune_scratch.yaml" --out "$exp/probe/random" "${probe_opt[@]}"
  for init in "${inits[@]}"; do
    [ "$init" = scratch ] && continue
    encoders=("$init $(encoder_of "$init") $(pretrain_step_of "$init")")
    # HuBERT: each iteration (iteration 2 is the one fine-tuning uses)
    if [ "$init" = hubert ]; then
      encoders=()
      for i in $(seq 1 "$hubert_iterations"); do
        encoders+=("hubert-iter$i $exp/pretrain/hubert/iter$i/encoder.pt pretrain-hubert$i")
      done
    fi
    for entry in "${encoders[@]}"; do
      read -r name encoder after <<< "$entry"
      step probe-$name "$exp/probe/$name" "$after" prepare-librilight-finetuning prepare-librispeech tokenizer-phone -- \
        asr probe --encoder "$encoder" --out "$exp/probe/$name" "${probe_opt[@]}"
    done
  done
  log "stage 5: CTC fine-tuning ($units) on ${splits// /, } from: ${inits[*]}"
  steps_opt=()
  [ -n "$finetune_steps" ] && steps_opt=(--max-steps "$finetune_steps")
  for split in $splits; do
    split_inits=("${inits[@]}"); [ "$split" = 1h ] && split_inits+=($ablations)
    for init in "${split_inits[@]}"; do
      # the ablations cross weights and settings: scratch-as-pretrained = random weights with the pretrained
      # encoders' settings; OBJECTIVE-as-scratch = that encoder with the from-scratch settings
      case $init in
        scratch) init_opt=(--config "$conf/finetune_scratch.yaml"); after=() ;;
        scratch-as-pretrained) init_opt=(--config "$conf/finetune_pretrained.yaml"); after=() ;;
        *-as-scratch)
          init_opt=(--config "$conf/finetune_scratch.yaml" --init "$(encoder_of "${init%-as-scratch}")")
          after=("$(pretrain_step_of "${init%-as-scratch}")") ;;
        *)
          init_opt=(--config "$conf/finetune_pretrained.yaml" --init "$(encoder_of "$init")")
          after=("$(pretrain_step_of "$init")") ;;
      esac
      step finetune-$split-$init "resume:$exp/finetune/$split/$init" prepare-librilight-finetuning "$tokenizer_step" "${after[@]}" -- \
        asr finetune --cuts "$manifests/librispeech_finetuning_cuts_$split.jsonl.gz" --tokenizer "$tokenizer" \
        --exp-dir "$exp/finetune/$split/$init" "${init_opt[@]}" --average 3 --seed "$seed" "${steps_opt[@]}" \
        --dev "$dev_clean" --valid-minutes "$valid_minutes"  # the learning curve: dev CER along the run
    done
  done
fi

if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  log "stage 6: decode dev-clean and test-clean with: $methods"
  for split in $splits; do
    split_inits=("${inits[@]}"); [ "$split" = 1h ] && split_inits+=($ablations)
    for init in "${split_inits[@]}"; do
      model=$exp/finetune/$split/$init/ctc_model.pt
      out=$exp/decode/$split/$init
      for method in $methods; do
        dev_opt=(); test_opt=(); lm_opt=(); lm_step=()
        if [ "$method" != greedy ]; then  # LM weights tuned on dev-clean, then used on test-clean
          lm_opt=(--lm "$lang/lm"); lm_step=(lm-3gram)
          dev_opt=(--tune); test_opt=(--params "$out/$method/dev-clean/hyp.tune.json")
          if [ "$method" = beam ]; then  # a small grid and beam: each grid point searches all of dev-clean
            dev_opt+=(--grid lm_weight=0.5,1,2 --grid word_score=0,1 --beam-size 20); test_opt+=(--beam-size 20)
          else  # wfst: Kaldi's beam 16 / 7000 states crawl (RTF ~0.2) on the flat posteriors of these small models
            dev_opt+=(--grid acoustic_scale=0.3,0.6,1 --search-beam 8 --max-active 1000)
            test_opt+=(--search-beam 8 --max-active 1000)
          fi
        fi
        for part in dev-clean test-clean; do
          after=(finetune-$split-$init "${lm_step[@]}"); opt=("${dev_opt[@]}")
          [ "$part" = test-clean ] && after+=(decode-$split-$init-$method-dev-clean) && opt=("${test_opt[@]}")
          cuts=$manifests/librispeech_cuts_$part.jsonl.gz
          step decode-$split-$init-$method-$part "$out/$method/$part" "${after[@]}" -- \
            asr decode --method "$method" --model "$model" --cuts "$cuts" --out "$out/$method/$part/hyp.txt" "${lm_opt[@]}" "${opt[@]}" \
            --emissions "$out/posteriors/$part.pt"  # the network runs once per model and part
          fresh "$out/$method/$part/wer.json" "$out/$method/$part/hyp.txt" ||
            asr score wer --ref "$cuts" --hyp "$out/$method/$part/hyp.txt" --out-dir "$out/$method/$part" \
              --name "$part" --json > "$out/$method/$part/wer.json"
        done
      done
    done
  done
  python "$here/local/wer_table.py" --decode-dir "$exp/decode" --preset "$preset"
fi

# stages 7-9: the systems semi-supervised training compares, for words ($semi_words) and phones ($semi_phones)
semi_words=$exp/semi/words
semi_phones=$exp/semi/phones
phone_tokenizer=$lang/phone
l2=$manifests/l2arctic_split
semi_opt=(--average 3 --seed "$seed")
[ -n "$semi_steps" ] && semi_opt+=(--max-steps "$semi_steps")
# pseudo-label filter: sanity rules only (not tuned): drop empty output and output far from speech's rate
pl_filter=(--min-tokens-per-second 2 --max-tokens-per-second 30)
# tiny (CI): a 3-update teacher outputs nothing or a stray token; keep all its pseudo-labels so the plumbing
# still runs (training drops and counts the empty ones as empty transcripts)
[ "$preset" = tiny ] && pl_filter=(--min-tokens-per-second 0 --max-tokens-per-second 1000 --keep-empty)

if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ] && [ "$all" = true ]; then
  log "stage 7: semi-supervised word recognition from the $semi_split baseline ($units units)"
  baseline=$exp/finetune/$semi_split/scratch/ctc_model.pt
  labelled=$manifests/librispeech_finetuning_cuts_$semi_split.jsonl.gz
  unlabelled=$manifests/librilight_cuts_small.jsonl.gz
  after=(finetune-$semi_split-scratch)
  # the baseline's LM-beam weights tuned on dev-clean by stage 6 (if it ran): the teacher decodes with them
  tuned=$exp/decode/$semi_split/scratch/beam/dev-clean/hyp.tune.json
  beam_opt=(--method beam --lm "$lang/lm" --beam-size 20); [ -f "$tuned" ] && beam_opt+=(--params "$tuned")
  step semi-words-continued "resume:$semi_words/continued" "${after[@]}" -- \
    asr finetune --cuts "$labelled" --tokenizer "$tokenizer" --init "$baseline" --config "$conf/semi_words.yaml" \
    --exp-dir "$semi_words/continued" "${semi_opt[@]}" --dev "$dev_clean" --valid-minutes "$valid_minutes"
  step semi-words-nst "resume:$semi_words/nst" "${after[@]}" lm-3gram -- \
    asr nst --labelled "$labelled" --unlabelled "$unlabelled" --dev "$manifests/librispeech_cuts_dev-clean.jsonl.gz" \
    --tokenizer "$tokenizer" --teacher "$baseline" --config "$conf/semi_words.yaml" --exp-dir "$semi_words/nst" \
    --generations "$generations" "${beam_opt[@]}" "${pl_filter[@]}" "${semi_opt[@]}" --valid-minutes "$valid_minutes" \
    --no-speed-perturb  # the students' noise is the config's masking and dropout; speed perturbation slows a
                        # 500-update run down (docs/LEARNING.md), and the control has none
  step semi-words-online "resume:$semi_words/online" "${after[@]}" -- \
    asr finetune --semi online-ensemble --cuts "$labelled" --unlabelled "$unlabelled" --tokenizer "$tokenizer" \
    --init "$baseline" --config "$conf/semi_words.yaml" --exp-dir "$semi_words/online" "${semi_opt[@]}" \
    --dev "$dev_clean" --valid-minutes "$valid_minutes"
fi

if [ "$stage" -le 8 ] && [ "$stop_stage" -ge 8 ]; then
  log "stage 8: semi-supervised phone recognition on L2-ARCTIC"
  # two annotated training speakers become the dev set; the six standard test speakers stay held out
  done_dir=$corpus_done  # synthetic manifests only: shared by the runs with and without --real-l2
  step l2-dev-split "$l2" prepare-l2arctic -- \
    python "$here/local/split_dev.py" --cuts "$manifests/l2arctic_cuts_train.jsonl.gz" --speakers "ybaa ydck" --out-dir "$l2"
  done_dir=$corpus_done$real
  labelled=$l2/train.jsonl.gz; unlabelled=$manifests/l2arctic_cuts_unlabelled.jsonl.gz
  if [ -n "$real_l2" ]; then  # real learners: unlabelled speech for noisy student (+ canonical phones as weak labels)
    if [ "$real_labels" = canonical ]; then
      step phones-labelled-real "$real_manifests/phones_labelled.jsonl.gz" l2-dev-split real-train-cuts -- \
        lhotse combine "$l2/train.jsonl.gz" "$real_train" "$real_manifests/phones_labelled.jsonl.gz"
      labelled=$real_manifests/phones_labelled.jsonl.gz
    fi
    step phones-unlabelled-real "$real_manifests/phones_unlabelled.jsonl.gz" real-train-cuts -- \
      lhotse combine "$unlabelled" "$real_train" "$real_manifests/phones_unlabelled.jsonl.gz"
    unlabelled=$real_manifests/phones_unlabelled.jsonl.gz
  fi
  base_opt=(--average 3 --seed "$seed"); [ -n "$semi_steps" ] && base_opt+=(--max-steps "$semi_steps")
  l2_curve=(--dev "$l2/dev.jsonl.gz" --valid-minutes "$valid_minutes")  # PER on the two dev speakers along each run
  # the supervised seed learns on the annotated synthetic L2 speech alone (from random weights, on 2.9 h of
  # real speech with weak labels it would need far more updates to start emitting phones); the real
  # learners join from the next round on
  step semi-phones-baseline "resume:$semi_phones/baseline" tokenizer-phone l2-dev-split -- \
    asr finetune --cuts "$l2/train.jsonl.gz" --tokenizer "$phone_tokenizer" --config "$conf/phones_baseline.yaml" \
    --exp-dir "$semi_phones/baseline" "${base_opt[@]}" "${l2_curve[@]}"
  baseline=$semi_phones/baseline/ctc_model.pt
  step semi-phones-continued "resume:$semi_phones/continued" semi-phones-baseline -- \
    asr finetune --cuts "$labelled" --tokenizer "$phone_tokenizer" --init "$baseline" \
    --config "$conf/semi_phones.yaml" --exp-dir "$semi_phones/continued" "${semi_opt[@]}" "${l2_curve[@]}"
  if [ "$all" = true ]; then  # round 1: pseudo-labels from the weak baseline
    step semi-phones-nst "resume:$semi_phones/nst" semi-phones-baseline -- \
      asr nst --labelled "$labelled" --unlabelled "$unlabelled" --dev "$l2/dev.jsonl.gz" \
      --tokenizer "$phone_tokenizer" --teacher "$baseline" --config "$conf/semi_phones.yaml" --exp-dir "$semi_phones/nst" \
      --generations "$generations" --method greedy "${pl_filter[@]}" "${semi_opt[@]}" --valid-minutes "$valid_minutes"
    step semi-phones-online "resume:$semi_phones/online" semi-phones-baseline -- \
      asr finetune --semi online-ensemble --cuts "$labelled" --unlabelled "$unlabelled" \
      --tokenizer "$phone_tokenizer" --init "$baseline" --config "$conf/semi_phones.yaml" \
      --exp-dir "$semi_phones/online" "${semi_opt[@]}" "${l2_curve[@]}"
  fi
  # round 2, the default path's comparison: from the stronger labels-only model (round 1's control), its
  # control (labels only, the same updates again) against noisy student with it as the teacher
  r2=$semi_phones/round2; teacher=$semi_phones/continued/ctc_model.pt
  step semi-phones-r2-continued "resume:$r2/continued" semi-phones-continued -- \
    asr finetune --cuts "$labelled" --tokenizer "$phone_tokenizer" --init "$teacher" \
    --config "$conf/semi_phones.yaml" --exp-dir "$r2/continued" "${semi_opt[@]}" "${l2_curve[@]}"
  step semi-phones-r2-nst "resume:$r2/nst" semi-phones-continued -- \
    asr nst --labelled "$labelled" --unlabelled "$unlabelled" --dev "$l2/dev.jsonl.gz" \
    --tokenizer "$phone_tokenizer" --teacher "$teacher" --config "$conf/semi_phones.yaml" --exp-dir "$r2/nst" \
    --generations 1 --method greedy "${pl_filter[@]}" "${semi_opt[@]}" --valid-minutes "$valid_minutes"
  if [ "$all" = true ]; then
    step semi-phones-r2-online "resume:$r2/online" semi-phones-continued -- \
      asr finetune --semi online-ensemble --cuts "$labelled" --unlabelled "$unlabelled" \
      --tokenizer "$phone_tokenizer" --init "$teacher" --config "$conf/semi_phones.yaml" \
      --exp-dir "$r2/online" "${semi_opt[@]}" "${l2_curve[@]}"
  fi
fi

# semi_systems DIR BASELINE STEP [PREFIX G]: "name model step" lines of the systems stages 7-8 trained
# under DIR (round 2: PREFIX r2- for its step names, G noisy-student generations); online ensemble and
# round 1's noisy student only with --all
semi_systems() {
  local task=${1##*/} prefix=${4:-} g
  [ "$task" = round2 ] && task=phones
  echo "baseline $2 $3"
  echo "continued $1/continued/ctc_model.pt semi-$task-${prefix}continued"
  if [ "$all" = true ] || [ -n "$prefix" ]; then
    for g in $(seq 1 "${5:-$generations}"); do echo "nst-gen$g $1/nst/gen$g/student/ctc_model.pt semi-$task-${prefix}nst"; done
  fi
  [ "$all" = true ] && echo "online-ensemble $1/online/ctc_model.pt semi-$task-${prefix}online"
  return 0
}

if [ "$stage" -le 9 ] && [ "$stop_stage" -ge 9 ]; then
  log "stage 9: decode and score the semi-supervised systems"
  if [ "$all" = true ]; then
    semi_systems "$semi_words" "$exp/finetune/$semi_split/scratch/ctc_model.pt" "finetune-$semi_split-scratch"
  fi | while read -r system model after; do
    out=$semi_words/decode/$system
    for method in $semi_methods; do
      for part in dev-clean test-clean; do
        cuts=$manifests/librispeech_cuts_$part.jsonl.gz
        opt=(); deps=("$after")
        if [ "$method" = beam ]; then  # LM weights tuned on dev-clean for each system, then used on test-clean
          opt=(--lm "$lang/lm" --beam-size 20 --tune --grid lm_weight=0.5,1,2 --grid word_score=0,1); deps+=(lm-3gram)
          [ "$part" = test-clean ] && opt=(--lm "$lang/lm" --beam-size 20 --params "$out/beam/dev-clean/hyp.tune.json") &&
            deps+=(semi-decode-words-$system-beam-dev-clean)
        fi
        step semi-decode-words-$system-$method-$part "$out/$method/$part" "${deps[@]}" -- \
          asr decode --method "$method" --model "$model" --cuts "$cuts" --out "$out/$method/$part/hyp.txt" "${opt[@]}" \
          --emissions "$out/posteriors/$part.pt" --no-progress
        fresh "$out/$method/$part/wer.json" "$out/$method/$part/hyp.txt" ||
          asr score wer --ref "$cuts" --hyp "$out/$method/$part/hyp.txt" --json > "$out/$method/$part/wer.json"
      done
    done
  done
  { semi_systems "$semi_phones" "$semi_phones/baseline/ctc_model.pt" semi-phones-baseline
    # round 2's baseline is round 1's control, decoded above
    semi_systems "$semi_phones/round2" "$semi_phones/continued/ctc_model.pt" semi-phones-continued r2- 1 | tail -n +2 |
      sed 's/^/round2-/'
  } | while read -r system model after; do
    out=$semi_phones/decode/$system
    for part in dev test; do
      cuts=$l2/dev.jsonl.gz; [ "$part" = test ] && cuts=$manifests/l2arctic_cuts_test.jsonl.gz
      step semi-decode-phones-$system-$part "$out/greedy/$part" "$after" -- \
        asr decode --model "$model" --cuts "$cuts" --out "$out/greedy/$part/hyp.txt" --no-progress
      fresh "$out/greedy/$part/wer.json" "$out/greedy/$part/hyp.txt" ||
        asr score wer --ref "$cuts" --ref-field perceived_phones --hyp "$out/greedy/$part/hyp.txt" --json > "$out/greedy/$part/wer.json"
    done
  done
  python "$here/local/semi_table.py" --semi-dir "$exp/semi" --preset "$preset" --split "$semi_split"
fi

# stage 10: mispronunciation detection and diagnosis (MDD) on the six held-out L2-ARCTIC speakers
mdd=$exp/mdd
app_model=$semi_phones/round2/nst/gen1/student  # stage 8's noisy student: the best MDD system of the mini run
if [ "$stage" -le 10 ] && [ "$stop_stage" -ge 10 ]; then
  log "stage 10: MDD on the held-out L2 speakers: scoring every phone recogniser (--all: + native speech)"
  test_cuts=$manifests/l2arctic_cuts_test.jsonl.gz
  step mdd-reference "$mdd/reference" prepare-l2arctic -- asr mdd reference --cuts "$test_cuts" --out-dir "$mdd/reference"
  if [ "$all" = true ]; then
    # native speech joins the L2 labels: LibriSpeech's labelled split, its words turned into phones by the lexicon
    mkdir -p "$mdd"
    step mdd-train-cuts "$mdd/native_l2.jsonl.gz" l2-dev-split prepare-librispeech -- \
      lhotse combine "$l2/train.jsonl.gz" "$manifests/librispeech_finetuning_cuts_$semi_split.jsonl.gz" "$mdd/native_l2.jsonl.gz"
    # both from round 1's control (the labels-only L2 model), the same updates and settings as stage 8's systems
    init=$semi_phones/continued/ctc_model.pt
    step mdd-native "resume:$mdd/native" mdd-train-cuts semi-phones-continued -- \
      asr finetune --cuts "$mdd/native_l2.jsonl.gz" --tokenizer "$phone_tokenizer" --init "$init" \
      --config "$conf/semi_phones.yaml" --exp-dir "$mdd/native" "${semi_opt[@]}"
    step mdd-native-online "resume:$mdd/native-online" mdd-train-cuts semi-phones-continued -- \
      asr finetune --semi online-ensemble --cuts "$mdd/native_l2.jsonl.gz" \
      --unlabelled "$manifests/l2arctic_cuts_unlabelled.jsonl.gz" --tokenizer "$phone_tokenizer" --init "$init" \
      --config "$conf/semi_phones.yaml" --exp-dir "$mdd/native-online" "${semi_opt[@]}"
    for system in native native-online; do
      step mdd-decode-$system "$mdd/decode/$system" mdd-$system -- \
        asr decode --model "$mdd/$system/ctc_model.pt" --cuts "$test_cuts" --out "$mdd/decode/$system/hyp.txt" --no-progress
    done
  fi
  # every phone recogniser of stages 8-10, scored on the same test speakers (stage 9 decoded stage 8's)
  for hyp in "$semi_phones"/decode/*/greedy/test/hyp.txt "$mdd"/decode/*/hyp.txt; do
    [ -f "$hyp" ] || continue
    case $hyp in "$mdd"/*) system=${hyp%/hyp.txt}; system=${system##*/};; *) system=${hyp%/greedy/test/hyp.txt}; system=${system##*/};; esac
    out=$mdd/scores/$system
    fresh "$out/mdd.json" "$hyp" || asr score mdd --canonical "$mdd/reference/canonical.txt" \
      --perceived "$mdd/reference/perceived.txt" --hyp "$hyp" --out-dir "$out" --json > /dev/null
  done
  python "$here/local/mdd_table.py" --mdd-dir "$mdd" --preset "$preset"
  ln -sfn "${app_model#"$exp"/}" "$exp/app_model"  # the model `asr app` serves by default
  # what the served model heard, for the app to say (nothing downstream of `asr prepare` can tell)
  heard="synthetic L2-ARCTIC ($(python "$here/local/voices.py" "$corpora/L2-ARCTIC"))"
  if [ -n "$real_l2" ]; then
    heard+=" and real Mandarin-L1 learners (speechocean762 train split: $([ "$real_labels" = canonical ] &&
      echo "canonical phones as weak labels, and " )unlabelled speech for noisy student)"
    card_opt=(--real-speech)
  else
    card_opt=(--synthetic-only)
  fi
  asr mdd card --model "$app_model" --name "mini noisy-student phone recogniser ($tag$real)" --trained-on "$heard" "${card_opt[@]}" > /dev/null
  if [ "$l2_judge" != none ]; then
    # T6: the served model's verdicts against the experts on real learners it never heard
    t6_label="synthetic voices only: $(python "$here/local/voices.py" "$corpora/L2-ARCTIC")"
    [ -n "$real_l2" ] && t6_label="+ real learners ($([ "$real_labels" = canonical ] && echo "weak labels + " )noisy student)"
    train_opt=(); [ -n "$real_l2" ] && train_opt=(--training-cuts "$real_train")
    judge_train=$judge_manifests/speechocean762_cuts_train.jsonl.gz
    if [ "$calibrate" = true ] && [ -f "$judge_train" ]; then
      # the leniency (flag_below_gop) that flags at most 15 % of the expert-correct words of held-out learners
      # (the judge's train part), written beside the model: the app and T6's first row use it
      step calibrate-app-model - semi-phones-r2-nst prepare-l2-judge -- \
        asr mdd calibrate --model "$app_model" --cuts "$judge_train" "${train_opt[@]}"
    fi
    # T6 rows with fixed rules beside it: GOP below 0 (no leniency beyond "another phone is likelier"), and
    # every disagreement of the recogniser (the rule before calibration existed)
    rules="0 none"; [ "$calibrate" = true ] || rules=none  # uncalibrated, the served rule is GOP < 0 already
    for rule in $rules; do
      step t6-experts-$rule "$exp/t6/app_model-$rule" semi-phones-r2-nst prepare-l2-judge -- \
        asr mdd experts --model "$app_model" --cuts "$judge_manifests/speechocean762_cuts_test.jsonl.gz" --scored-only \
        --flag-below-gop "$rule" --out-dir "$exp/t6/app_model-$rule" --label "$t6_label" "${train_opt[@]}"
    done
    [ "$tiny" = true ] && train_opt+=(--scored-only)  # seconds, not minutes: the scored utterances only
    step t6-experts "$exp/t6/app_model" semi-phones-r2-nst prepare-l2-judge $([ "$calibrate" = true ] && [ -f "$judge_train" ] && echo calibrate-app-model) -- \
      asr mdd experts --model "$app_model" --cuts "$judge_manifests/speechocean762_cuts_test.jsonl.gz" \
      --out-dir "$exp/t6/app_model" --label "$t6_label" "${train_opt[@]}"
  fi
  # T7: each judgement beyond the phone (fluency, stress, intonation, breaks, miscues, inline pronunciations)
  # against espeak-ng speech whose truth is set by construction; a few cases each on the tiny preset
  t7_results=$exp/RESULTS.md; [ "$preset" = mini ] && [ -z "$real_l2$voices" ] && t7_results=$root/RESULTS.md
  t7_cases=200; [ "$tiny" = true ] && t7_cases=2
  step t7-known-answers "$exp/t7/app_model" semi-phones-r2-nst -- \
    python "$here/local/t7.py" --model "$app_model" --out-dir "$exp/t7/app_model" --per-judgement "$t7_cases" \
    --seed "$seed" --results "$t7_results"
  if [ -n "$cross_voice" ]; then
    # the held-out L2 speakers in one voice family only (the same corpus for every run of this preset and seed):
    # a model trained without that family shows how far it carries to a new kind of voice
    xv=$data/corpora/${preset}_seed${seed}_only-$cross_voice
    path_steps=$visited_steps; visited_steps=""  # an extra measurement, not part of the path T4 times
    step synth-l2arctic-$cross_voice "$xv/L2-ARCTIC" -- \
      asr synth l2arctic --preset "$preset" --seed "$seed" -j "$nj" --out "$xv" --voices "$cross_voice=1"
    step prepare-l2arctic-$cross_voice "$xv/manifests" synth-l2arctic-$cross_voice -- \
      asr prepare l2arctic "$xv/L2-ARCTIC" "$xv/manifests" -j "$nj"
    out=$exp/t6-voices/app_model/$cross_voice
    step t6-voices-$cross_voice "$out" prepare-l2arctic-$cross_voice semi-phones-r2-nst -- \
      asr decode --model "$app_model/ctc_model.pt" --cuts "$xv/manifests/l2arctic_cuts_test.jsonl.gz" --out "$out/hyp.txt" --no-progress
    fresh "$out/reference/canonical.txt" "$out/hyp.txt" ||
      asr mdd reference --cuts "$xv/manifests/l2arctic_cuts_test.jsonl.gz" --out-dir "$out/reference" > /dev/null
    fresh "$out/mdd.json" "$out/hyp.txt" || asr score mdd --canonical "$out/reference/canonical.txt" \
      --perceived "$out/reference/perceived.txt" --hyp "$out/hyp.txt" --out-dir "$out" --json > /dev/null
    visited_steps=$path_steps
  fi
  # RESULTS.md's T1-T4 from every experiment folder of this tag (the tiny preset writes exp/<tag>/RESULTS.md)
  results=$exp/RESULTS.md; [ "$preset" = mini ] && results=$root/RESULTS.md
  # a run from stage 0 records its wall time for T4
  [ "$stage" -le 0 ] && echo $((SECONDS - run_start)) > "${visited_steps%.steps}.wall"
  label=(); [ "$all" = true ] && label=(--label=--all --command "bash recipes/mini/run.sh --all")
  # learning curves as PNGs beside the tables (the mini preset's are committed with RESULTS.md)
  plots=$exp/plots; [ "$preset" = mini ] && plots=$here/results/$([ "$all" = true ] && echo all || echo default)
  python "$here/local/curves.py" --exp "$exp" --out "$plots"
  if [ -n "$real_l2$voices" ]; then  # T1-T5 of a run with real learners or other voices go beside it
    results=$exp/RESULTS.md; plots=$exp/plots
  fi
  python "$here/local/results.py" --exp "$exp" --done "$done_dir" --preset "$preset" --results "$results" \
    --plots "$plots" "${label[@]}"
  # T6 (every run of this preset and seed that judged real learners: with and without --real-l2, any voices)
  [ -n "$real_l2$voices" ] && { results=$exp/../${preset}_seed$seed/RESULTS.md; [ "$preset" = mini ] && results=$root/RESULTS.md; }
  python "$here/local/t6_table.py" --exp-root "$(dirname "$exp")" --tag "${preset}_seed$seed" --results "$results"
fi

log "done in $((SECONDS - run_start)) s; manifests in $manifests, experiments in $exp"

# stage 11: the pronunciation app on stage 8's noisy-student phone recogniser
if [ "$stage" -le 11 ] && [ "$stop_stage" -ge 11 ] && [ "$app" = true ]; then
  log "stage 11: the pronunciation app: open http://127.0.0.1:$port/ in a browser (Ctrl-C stops it)"
  exec asr app --model "$app_model" --port "$port"
fi
