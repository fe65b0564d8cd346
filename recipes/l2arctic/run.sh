#!/usr/bin/env bash
# Mispronunciation detection and diagnosis (MDD) on the real L2-ARCTIC corpus: a CTC phone recogniser
# trained on native speech + the annotated L2 speakers' perceived phones, improved with online-ensemble
# pseudo-labelling on the unannotated L2 speech, scored on the six standard test speakers.
#
#   stage 0  corpora: LibriSpeech (--native-parts, downloaded by lhotse if missing); L2-ARCTIC v5 and
#            (optionally, --timit) TIMIT must be fetched by hand: the stage checks them and otherwise
#            says where to get them and where to unpack them (and exits 1).
#            --preset tiny: synthesises LibriSpeech and L2-ARCTIC instead (asr synth ... --preset tiny)
#   stage 1  lhotse manifests (asr prepare l2arctic / librispeech / timit: TIMIT's phone labels mapped to
#            ARPAbet); one training manifest = native cuts + L2-ARCTIC train cuts (+ TIMIT)
#   stage 2  the phone tokenizer (39 ARPAbet phones + sil + err); native transcripts become phones through
#            the lexicon, L2 cuts train on their annotated perceived phones, TIMIT on its phone labels
#   stage 3  the phone recogniser: CTC fine-tuning of --init (a BASE wav2vec 2.0 encoder: asr pretrain's
#            encoder.pt, or an imported Hugging Face / fairseq checkpoint; conf/phones_base.yaml), or of a
#            random BASE Conformer without --init (conf/phones_scratch.yaml)
#   stage 4  online-ensemble (momentum) pseudo-labelling from the stage 3 model with the unannotated
#            utterances of the 18 training speakers (Yang et al.'s setting; conf/online_ensemble_*.yaml)
#   stage 5  decode the test speakers (TLV NJS TNI TXHC ZHAA YKWK) with both models; MDD scores
#            (asr score mdd: precision, recall, F1, DER, ...; alignment.txt, confusion.png) and PER;
#            the table goes to <exp>/<tag>/RESULTS.md
#
# Every step is resumable (recipes/lib.sh): a finished step is skipped on rerun, a step killed half-way is
# redone, a killed training resumes from its last checkpoint. Several GPUs: --nproc N runs the training
# stages under torchrun (one process per GPU). See recipes/l2arctic/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
invocation="bash recipes/l2arctic/run.sh$(printf ' %q' "$@")"

stage=0
stop_stage=100
preset=real                  # real: the corpora in --l2arctic, --librispeech (, --timit); tiny: synthetic (CI)
seed=0
nj=4
data=$here/data
exp=$here/exp
skip_setup=false
l2arctic=""                  # L2-ARCTIC folder holding ABA/ ... TLV/; empty: $data/corpora/L2-ARCTIC (tiny: synthesised)
librispeech=""               # LibriSpeech folder; empty: $data/corpora/LibriSpeech, downloaded by lhotse (tiny: synthesised)
native_parts=train-clean-100 # LibriSpeech parts in the training manifest ("": none, L2 speech only)
timit=""                     # TIMIT folder (lhotse's layout: DIR/data/TRAIN/DR1/FCJF0/SA1.WAV ...); empty: not used
init=""                      # pretrained encoder for stage 3; empty: from random weights
phones_config=""             # stage 3 settings; empty: conf/phones_base.yaml (--init), phones_scratch.yaml, phones_tiny.yaml
semi_config=""               # stage 4 settings; empty: conf/online_ensemble_{base,scratch,tiny}.yaml likewise
finetune_steps=""            # stage 3 updates; empty: the config's
semi_steps=""                # stage 4 updates; empty: the config's
average=""                   # checkpoints averaged into each model; empty: 3 (tiny: 1)
nproc=1                      # processes (GPUs) per training run; > 1: torchrun --standalone --nproc-per-node N

usage() {
  sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
  echo "options: --stage N --stop-stage N --preset real|tiny --seed N --nj N --data DIR --exp DIR --skip-setup"
  echo "         --l2arctic DIR --librispeech DIR --native-parts \"train-clean-100 ...\" --timit DIR --init PATH"
  echo "         --phones-config YAML --semi-config YAML --finetune-steps N --semi-steps N --average N --nproc N"
}
source "$root/recipes/lib.sh"
parse_options "$@"
case $preset in
  real|tiny) ;;
  *) echo "$0: --preset must be real or tiny, got $preset" >&2; exit 2 ;;
esac

if [ "$skip_setup" != true ]; then
  bash "$root/scripts/setup.sh"
fi
export PATH=$root/.venv/bin:$PATH
tag=${preset}_seed$seed  # another preset or seed gets its own folders, so nothing stale is reused
manifests=$data/manifests/$tag
lang=$data/lang/$tag
done_dir=$data/.done/$tag
exp=$exp/$tag
conf=$here/conf
if [ "$preset" = tiny ]; then
  corpora=$data/corpora/$tag  # synthetic corpora depend on the seed
else
  corpora=$data/corpora       # real ones do not
fi
synth=()  # tiny: the corpora to synthesise (those not given by --l2arctic / --librispeech)
[ -n "$l2arctic" ] || { l2arctic=$corpora/L2-ARCTIC; synth+=(l2arctic); }
[ -n "$librispeech" ] || { librispeech=$corpora/LibriSpeech; synth+=(librispeech); }
[ "$preset" = tiny ] || synth=()
if [ -n "$init" ]; then
  [ -e "$init" ] || { echo "$0: --init $init: no such file or folder" >&2; exit 2; }
  init=$(cd "$(dirname "$init")" && pwd)/$(basename "$init")  # the step markers record it; make it absolute
fi
kind=scratch; [ -n "$init" ] && kind=base; [ "$preset" = tiny ] && kind=tiny
[ -n "$phones_config" ] || phones_config=$conf/phones_$kind.yaml
[ -n "$semi_config" ] || semi_config=$conf/online_ensemble_$kind.yaml
if [ -z "$average" ]; then if [ "$preset" = tiny ]; then average=1; else average=3; fi; fi
trainer=(asr)
[ "$nproc" -gt 1 ] && trainer=(torchrun --standalone --nproc-per-node "$nproc" -m asr.cli)
mkdir -p "$manifests"

# where to get the corpora that cannot be downloaded by a script; print_instructions NAME
print_instructions() {
  case $1 in
    l2arctic) cat >&2 <<EOF

L2-ARCTIC (v5.0) is not in $l2arctic (missing: ${missing[*]}).
It is free for non-commercial research (CC BY-NC 4.0) but handed out after a request form, so this
recipe cannot download it:
  1. ask for it at https://psi.engr.tamu.edu/l2-arctic-corpus/ and download l2arctic_release_v5.0.zip;
  2. unzip the release, then every speaker's zip inside it, so that one folder holds the 24 speaker
     folders ABA/ SKA/ YBAA/ ... TLV/, each with wav/ transcript/ textgrid/ and annotation/, e.g.
       mkdir -p $l2arctic && cd $l2arctic && unzip -q /path/to/l2arctic_release_v5.0.zip
       find . -name '*.zip' ! -name 'suitcase_corpus.zip' -exec unzip -qn {} \\;   # speaker zips, here
     (move the speaker folders up if the release unpacked into a subfolder);
  3. rerun this stage (or pass --l2arctic DIR to use another folder).
EOF
    ;;
    timit) cat >&2 <<EOF

TIMIT is not in $timit (lhotse's reader wants $timit/data/TRAIN/DR1/FCJF0/SA1.WAV with .TXT .WRD .PHN).
TIMIT is licensed by the LDC (LDC93S1, https://catalog.ldc.upenn.edu/LDC93S1), so this recipe cannot
download it. With the LDC copy (TIMIT/TRAIN/DR1/..., upper-case names):
  mkdir -p $timit/data && ln -s /path/to/TIMIT/TRAIN $timit/data/TRAIN && ln -s /path/to/TIMIT/TEST $timit/data/TEST
then rerun, or leave --timit out to train on LibriSpeech + L2-ARCTIC only.
EOF
    ;;
  esac
}

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  if [ "$preset" = tiny ]; then
    log "stage 0: synthesise ${synth[*]:-nothing} (tiny preset, seed $seed) in $corpora"
    for corpus in "${synth[@]}"; do
      folder=LibriSpeech; [ "$corpus" = l2arctic ] && folder=L2-ARCTIC
      step synth-$corpus "$corpora/$folder" -- asr synth "$corpus" --preset tiny --seed "$seed" -j "$nj" --out "$corpora"
    done
  else
    log "stage 0: check L2-ARCTIC${timit:+ and TIMIT}, download LibriSpeech ${native_parts:-(no parts)}"
    missing=()
    for speaker in ABA SKA YBAA ZHAA BWC LXC NCC TXHC ASI RRBI SVBI TNI HJK HKK YDCK YKWK EBVS ERMS MBMPS NJS HQTV PNV THV TLV; do
      [ -d "$l2arctic/$speaker/wav" ] || missing+=("$speaker")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      [ ${#missing[@]} -eq 24 ] && missing=("all 24 speaker folders")
      log "stage 0: L2-ARCTIC not found in $l2arctic"
      print_instructions l2arctic
      exit 1
    fi
    if [ -n "$timit" ] && ! compgen -G "$timit/data/TRAIN/*/*/*.WAV" >/dev/null; then
      log "stage 0: TIMIT not found in $timit"
      print_instructions timit
      exit 1
    fi
    librispeech_parts "$librispeech" $native_parts
  fi
fi

native=()   # the native manifests that join the training manifest
for part in $native_parts; do native+=("$manifests/librispeech_cuts_$part.jsonl.gz"); done
[ -n "$timit" ] && native+=("$manifests/timit_cuts_train.jsonl.gz")
train=$manifests/phones_train.jsonl.gz
test_cuts=$manifests/l2arctic_cuts_test.jsonl.gz
unlabelled=$manifests/l2arctic_cuts_unlabelled.jsonl.gz
# combine_cuts IN... OUT: lhotse combine (which fails on a single manifest: --native-parts "" without TIMIT)
combine_cuts() { if [ $# -eq 2 ]; then cp "$1" "$2"; else lhotse combine "$@"; fi; }
synth_deps() { [[ " ${synth[*]} " == *" $1 "* ]] && echo "synth-$1"; true; }  # the synth step a corpus comes from


if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "stage 1: lhotse manifests in $manifests"
  rm -f "$manifests"/.*.tmp  # temp files of a killed run (manifests themselves are renamed into place whole)
  step prepare-l2arctic - $(synth_deps l2arctic) -- asr prepare l2arctic "$l2arctic" "$manifests" -j "$nj"
  parts_opt=()
  for part in $native_parts; do parts_opt+=(-p "$part"); done
  if [ ${#parts_opt[@]} -gt 0 ]; then
    step prepare-librispeech - $(synth_deps librispeech) -- \
      asr prepare librispeech "$librispeech" "$manifests" -j "$nj" "${parts_opt[@]}"
  fi
  combine_deps=(prepare-l2arctic)
  [ ${#parts_opt[@]} -gt 0 ] && combine_deps+=(prepare-librispeech)
  if [ -n "$timit" ]; then
    # TIMIT's hand-labelled phones mapped to ARPAbet (asr/data/timit.py): trained on as said
    step prepare-timit - -- asr prepare timit "$timit" "$manifests" -j "$nj"
    combine_deps+=(prepare-timit)
  fi
  # one training manifest: native speech (targets: the lexicon's phones, or TIMIT's) + annotated L2 speech
  step combine-train - "${combine_deps[@]}" -- \
    combine_cuts "${native[@]}" "$manifests/l2arctic_cuts_train.jsonl.gz" "$train"
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "stage 2: phone tokenizer in $lang/phone"
  # --cuts: every training target is checked now (a word without a pronunciation fails here, not mid-training)
  step tokenizer-phone "$lang/phone" combine-train -- asr tokenizer train --kind phone --cuts "$train" --out "$lang/phone"
fi

supervised=$exp/supervised
online=$exp/online_ensemble
if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  log "stage 3: CTC phone recogniser from ${init:-random weights} ($(basename "$phones_config"))"
  opt=(--config "$phones_config" --average "$average" --seed "$seed" --no-progress)
  [ -n "$init" ] && opt+=(--init "$init")
  [ -n "$finetune_steps" ] && opt+=(--max-steps "$finetune_steps")
  step train-supervised "resume:$supervised" combine-train tokenizer-phone -- \
    "${trainer[@]}" finetune --cuts "$train" --tokenizer "$lang/phone" --exp-dir "$supervised" "${opt[@]}"
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "stage 4: online-ensemble pseudo-labelling with the unannotated L2 utterances ($(basename "$semi_config"))"
  opt=(--config "$semi_config" --average "$average" --seed "$seed" --no-progress)
  [ -n "$semi_steps" ] && opt+=(--max-steps "$semi_steps")
  step train-online-ensemble "resume:$online" train-supervised -- \
    "${trainer[@]}" finetune --semi online-ensemble --cuts "$train" --unlabelled "$unlabelled" \
    --init "$supervised/ctc_model.pt" --tokenizer "$lang/phone" --exp-dir "$online" "${opt[@]}"
fi

# score_per CUTS HYP DIR: phone error rate against the annotators' perceived phones (DIR/per.json + reports)
score_per() {
  mkdir -p "$3"
  asr score wer --ref "$1" --ref-field perceived_phones --hyp "$2" --out-dir "$3" --name test --json > "$3/per.json"
}

# write_results: the table of every scored system, into $exp/RESULTS.md
write_results() {
  python "$here/local/results_table.py" --exp "$exp" --command "$invocation" --init "${init:-none (random weights)}" \
    --native-parts "$native_parts" --timit "$timit"
}

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  log "stage 5: decode the test speakers, MDD and PER"
  reference=$exp/decode/reference
  step mdd-reference "$reference" prepare-l2arctic -- asr mdd reference --cuts "$test_cuts" --out-dir "$reference"
  for system in supervised online_ensemble; do
    after=train-supervised; [ "$system" = online_ensemble ] && after=train-online-ensemble
    out=$exp/decode/$system/test
    step decode-$system "$out" "$after" prepare-l2arctic -- \
      asr decode --model "$exp/$system/ctc_model.pt" --cuts "$test_cuts" --out "$out/hyp.txt" --no-progress
    step score-mdd-$system "$out/mdd" decode-$system mdd-reference -- \
      asr score mdd --canonical "$reference/canonical.txt" --perceived "$reference/perceived.txt" \
      --hyp "$out/hyp.txt" --json --out-dir "$out/mdd"
    step score-per-$system "$out/per" decode-$system -- score_per "$test_cuts" "$out/hyp.txt" "$out/per"
  done
  write_results
fi

log "done; manifests in $manifests, experiments in $exp"
