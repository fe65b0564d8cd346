#!/usr/bin/env bash
# Libri-light limited supervision: self-supervised pretraining of a BASE encoder on Libri-light's unlabelled
# audio, CTC fine-tuning on its labelled 10 min / 1 h / 10 h splits, and WER on LibriSpeech dev/test clean and
# other with greedy decoding and KenLM 4-gram beam search (the wav2vec 2.0 / HuBERT / data2vec benchmark).
#
#   stage 0  corpora: Libri-light (--parts of small/medium/large, and librispeech_finetuning) must be fetched
#            by hand: the stage checks it and otherwise says where to get it and how to unpack it (and exits 1);
#            LibriSpeech dev-clean, dev-other, test-clean, test-other are downloaded by lhotse; the LM text
#            librispeech-lm-norm.txt.gz (openslr 11) only with --download-lm true (or give --lm-text FILE).
#            --preset tiny: synthesises all of them instead (asr synth ... --preset tiny)
#   stage 1  lhotse manifests (asr prepare librispeech / librilight / librilight-finetuning)
#   stage 2  the unlabelled audio of --parts as Lhotse Shar: the windows pretraining reads (speech only, at most
#            15.6 s) in FLAC shards, which asr pretrain streams sequentially, each GPU its own shards
#   stage 3  pretraining with --objective wav2vec2 | hubert | data2vec | data2vec2 (BASE; conf/pretrain_*.yaml)
#            on the Shar shards; HuBERT: two iterations (k-means of MFCCs, k=100; then of iteration 1's 6th
#            block, k=500) on manifests (the k-means labels are stored with the cuts). --init PATH skips it.
#   stage 4  output units (--units char | bpe) and, from the LM text, a word 4-gram (KenLM)
#   stage 5  CTC fine-tuning of the pretrained encoder on each of --splits (the wav2vec 2.0 paper's settings:
#            conf/finetune_<split>.yaml)
#   stage 6  decode dev-clean, dev-other, test-clean, test-other: greedy, and lexicon beam search with the
#            4-gram (weights tuned on dev-clean, then used as they are); WER; the table into <exp>/<tag>/RESULTS.md
#
# Every step is resumable (recipes/lib.sh): a finished step is skipped on rerun, a step killed half-way is
# redone, a killed training resumes from its last checkpoint. Several GPUs: --nproc N runs the training
# stages under torchrun (one process per GPU); several nodes: see recipes/librilight/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
invocation="bash recipes/librilight/run.sh$(printf ' %q' "$@")"

stage=0
stop_stage=100
preset=real                  # real: the corpora on disk (and downloaded); tiny: synthetic stand-ins (CI)
seed=0
nj=4
data=$here/data
exp=$here/exp
conf=$here/conf              # settings folder: copy and edit it to change batch sizes for your GPUs
skip_setup=false
librilight=""                # folder holding small/ (medium/ large/) and librispeech_finetuning/; empty: $data/corpora/librilight
librispeech=""               # LibriSpeech folder; empty: $data/corpora/LibriSpeech, downloaded by lhotse
parts=small                  # Libri-light parts to pretrain on: small (577 h), medium (5193 h), large (51934 h)
objective=wav2vec2           # wav2vec2 | hubert | data2vec | data2vec2
init=""                      # fine-tune this encoder (encoder.pt, a fairseq or Hugging Face checkpoint) instead of stage 3's
splits=""                    # labelled splits; empty: "10min 1h 10h" (tiny: 10min)
units=char                   # char (the papers') | bpe
bpe_size=256
lm_text=""                   # LM text; empty: $data/corpora/lm/librispeech-lm-norm.txt.gz if there (tiny: synthesised)
download_lm=false            # stage 0 fetches librispeech-lm-norm.txt.gz from openslr.org/11 (1.4 GB)
lm_order=4
lm_prune=""                  # lmplz count thresholds, or none; empty: "0 1 1 1" (singletons of orders 2-4 dropped; tiny: none)
methods=""                   # decoders; empty: "greedy beam" (greedy alone without an LM text; tiny: greedy)
beam_size=""                 # beam of the search on dev-other, test-clean, test-other; empty: 500 (tiny: 20)
tune_beam_size=""            # beam while tuning the LM weights on dev-clean; empty: 50 (tiny: 10)
hubert_clusters=""           # k of HuBERT's two iterations; empty: "100 500" (tiny: "20 50")
kmeans_frames=""             # frames sampled to fit each k-means; empty: 2000000 (tiny: 20000)
shard_size=""                # windows per Shar shard; empty: 1000 (tiny: 10)
pretrain_steps=""            # updates of each pretraining run; empty: the config's
finetune_steps=""            # updates of each fine-tuning run; empty: the config's
average=""                   # checkpoints averaged into each CTC model; empty: 3 (tiny: 1)
nproc=1                      # processes (GPUs) per training run; > 1: torchrun --standalone --nproc-per-node N

usage() {
  sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
  echo "options: --stage N --stop-stage N --preset real|tiny --seed N --nj N --data DIR --exp DIR --conf DIR --skip-setup"
  echo "         --librilight DIR --librispeech DIR --parts \"small medium large\" --objective wav2vec2|hubert|data2vec|data2vec2"
  echo "         --init PATH --splits \"10min 1h 10h\" --units char|bpe --bpe-size N --lm-text FILE --download-lm true|false"
  echo "         --lm-order N --lm-prune \"0 1 1 1\" --methods \"greedy beam\" --beam-size N --tune-beam-size N"
  echo "         --hubert-clusters \"100 500\" --kmeans-frames N --shard-size N --pretrain-steps N --finetune-steps N"
  echo "         --average N --nproc N"
}
source "$root/recipes/lib.sh"
parse_options "$@"
# choose NAME VALUE ALLOWED...: a one-line usage error unless VALUE is one of ALLOWED
choose() {
  local name=$1 value=$2; shift 2
  [[ " $* " == *" $value "* ]] || { echo "$0: --$name must be one of $*; got '$value'" >&2; exit 2; }
}
choose preset "$preset" real tiny
choose objective "$objective" wav2vec2 hubert data2vec data2vec2
choose units "$units" char bpe

tag=${preset}_seed$seed  # another preset or seed gets its own folders, so nothing stale is reused
manifests=$data/manifests/$tag
lang=$data/lang/$tag
done_dir=$data/.done/$tag
exp=$exp/$tag
if [ "$preset" = tiny ]; then
  corpora=$data/corpora/$tag  # synthetic corpora depend on the seed
else
  corpora=$data/corpora       # real ones do not
fi
lm_text_given=$lm_text
synth=()  # tiny: the corpora to synthesise (those not given by --librilight / --librispeech / --lm-text)
[ -n "$librilight" ] || { librilight=$corpora/librilight; synth+=(librilight); }
[ -n "$librispeech" ] || { librispeech=$corpora/LibriSpeech; synth+=(librispeech); }
[ -n "$lm_text" ] || { lm_text=$corpora/lm/librispeech-lm-norm.txt.gz; synth+=(librispeech-lm); }
[ "$preset" = tiny ] || synth=()
tiny() { if [ "$preset" = tiny ]; then echo "$1"; else echo "$2"; fi; }  # tiny VALUE REAL_VALUE
[ -n "$splits" ] || splits=$(tiny 10min "10min 1h 10h")
[ -n "$lm_prune" ] || lm_prune=$(tiny none "0 1 1 1")
[ "$lm_prune" = none ] && lm_prune=""
[ -n "$hubert_clusters" ] || hubert_clusters=$(tiny "20 50" "100 500")
[ -n "$kmeans_frames" ] || kmeans_frames=$(tiny 20000 2000000)
[ -n "$shard_size" ] || shard_size=$(tiny 10 1000)
[ -n "$average" ] || average=$(tiny 1 3)
[ -n "$beam_size" ] || beam_size=$(tiny 20 500)
[ -n "$tune_beam_size" ] || tune_beam_size=$(tiny 10 50)
tune_grid=()  # tiny: 4 points of the LM weights; real: asr decode's default grid (lm_weight 0-3 x word_score -1-2)
[ "$preset" = tiny ] && tune_grid=(--grid lm_weight=0.5,2 --grid word_score=0,1)
for part in $parts; do choose parts "$part" small medium large; done
for split in $splits; do choose splits "$split" 10min 1h 10h; done
if [ "$preset" = tiny ] && [ "$parts" != small ]; then
  echo "$0: --preset tiny synthesises Libri-light small only; got --parts '$parts'" >&2; exit 2
fi
if [ -n "$init" ]; then
  [ -e "$init" ] || { echo "$0: --init $init: no such file or folder" >&2; exit 2; }
  init=$(cd "$(dirname "$init")" && pwd)/$(basename "$init")  # the step markers record it; make it absolute
fi
# LM text: given, synthesised (tiny), downloaded (--download-lm true), or already there; else greedy only
if [ -n "$lm_text_given" ] && [ ! -f "$lm_text_given" ]; then
  echo "$0: --lm-text $lm_text_given: no such file" >&2; exit 2
fi
have_lm=false
{ [ -f "$lm_text" ] || [ "$preset" = tiny ] || [ "$download_lm" = true ]; } && have_lm=true
if [ -z "$methods" ]; then
  if [ "$preset" = tiny ]; then methods=greedy; elif [ "$have_lm" = true ]; then methods="greedy beam"; else methods=greedy; fi
fi
for method in $methods; do choose methods "$method" greedy beam; done
if [[ " $methods " == *" beam "* ]] && [ "$have_lm" != true ]; then
  echo "$0: beam search needs the LM text: $lm_text is missing (--download-lm true fetches it)" >&2; exit 2
fi
decode_parts=$(tiny "dev-clean test-clean" "dev-clean dev-other test-clean test-other")  # dev-clean first: it tunes

if [ "$skip_setup" != true ]; then
  bash "$root/scripts/setup.sh"
fi
export PATH=$root/.venv/bin:$PATH
# tiny: one thread per process; the xs model's small batches gain nothing from more, and several threads
# spinning against other jobs on a busy CPU make each update many times slower
[ "$preset" = tiny ] && export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
shar=$data/shar/$tag/librilight_${parts// /_}  # other --parts, another export
trainer=(asr)
[ "$nproc" -gt 1 ] && trainer=(torchrun --standalone --nproc-per-node "$nproc" -m asr.cli)
mkdir -p "$manifests"

# where to get Libri-light, which no script fetches for the user (3 TB for all of it)
print_instructions() {
  cat >&2 <<EOF

Libri-light is not in $librilight (missing: ${missing[*]}).
It is free to download (https://github.com/facebookresearch/libri-light) but too large to fetch unasked.
Fetch the parts you pretrain on (--parts) and the labelled fine-tuning sets, and unpack them into one folder:
  https://dl.fbaipublicfiles.com/librilight/data/small.tar                  577 h,    35 GB
  https://dl.fbaipublicfiles.com/librilight/data/medium.tar                5193 h,   321 GB
  https://dl.fbaipublicfiles.com/librilight/data/large.tar                51934 h,  3.05 TB
  https://dl.fbaipublicfiles.com/librilight/data/librispeech_finetuning.tgz   10 h labelled (1h/ and 9h/)
e.g.
  mkdir -p $librilight && cd $librilight
  wget -c https://dl.fbaipublicfiles.com/librilight/data/small.tar && tar -xf small.tar
  wget -c https://dl.fbaipublicfiles.com/librilight/data/librispeech_finetuning.tgz && tar -xzf librispeech_finetuning.tgz
so that it holds small/<speaker>/<book>/*.flac (+ .json) and librispeech_finetuning/1h/ and 9h/;
then rerun this stage (or pass --librilight DIR to use another folder).
EOF
}

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  if [ "$preset" = tiny ]; then
    log "stage 0: synthesise ${synth[*]:-nothing} (tiny preset, seed $seed) in $corpora"
    for corpus in "${synth[@]}"; do
      case $corpus in
        librispeech) step synth-librispeech "$librispeech" -- asr synth librispeech --preset tiny --seed "$seed" -j "$nj" --out "$corpora" ;;
        librilight) step synth-librilight "$librilight" -- asr synth librilight --preset tiny --seed "$seed" -j "$nj" --out "$corpora" ;;
        librispeech-lm) step synth-librispeech-lm "$(dirname "$lm_text")" -- asr synth librispeech-lm --out "$(dirname "$lm_text")" ;;
      esac
    done
  else
    log "stage 0: check Libri-light ($parts, librispeech_finetuning), download LibriSpeech dev/test"
    missing=()
    for part in $parts; do
      compgen -G "$librilight/$part/*/*/*.flac" >/dev/null || missing+=("$part/")
    done
    [ -d "$librilight/librispeech_finetuning/1h" ] || missing+=(librispeech_finetuning/)
    if [[ " $splits " == *" 10h "* ]] && [ -d "$librilight/librispeech_finetuning/1h" ] &&
      [ ! -d "$librilight/librispeech_finetuning/9h" ]; then
      missing+=(librispeech_finetuning/9h/)
    fi
    if [ ${#missing[@]} -gt 0 ]; then
      log "stage 0: Libri-light not found in $librilight"
      print_instructions
      exit 1
    fi
    librispeech_parts "$librispeech" $decode_parts
    if [ "$download_lm" = true ] && [ ! -f "$lm_text" ]; then
      # OpenSLR 11, resumed if interrupted; renamed into place only when whole, so a part never passes for it
      mkdir -p "$(dirname "$lm_text")"
      step download-lm-text - -- python -c \
        'import os, sys; from lhotse.utils import resumable_download; resumable_download(sys.argv[1], filename=sys.argv[2] + ".part"); os.replace(sys.argv[2] + ".part", sys.argv[2])' \
        https://www.openslr.org/resources/11/librispeech-lm-norm.txt.gz "$lm_text"
    fi
  fi
fi

synth_deps() { [[ " ${synth[*]} " == *" $1 "* ]] && echo "synth-$1"; true; }  # the synth step a corpus comes from
unlabelled=()  # the manifests of --parts
for part in $parts; do unlabelled+=("$manifests/librilight_cuts_$part.jsonl.gz"); done

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "stage 1: lhotse manifests in $manifests"
  rm -f "$manifests"/.*.tmp  # temp files of a killed run (manifests themselves are renamed into place whole)
  parts_opt=()
  for part in $decode_parts; do parts_opt+=(-p "$part"); done
  step prepare-librispeech - $(synth_deps librispeech) -- \
    asr prepare librispeech "$librispeech" "$manifests" -j "$nj" "${parts_opt[@]}"
  step prepare-librilight - $(synth_deps librilight) -- asr prepare librilight "$librilight" "$manifests" -j "$nj"
  step prepare-librilight-finetuning - $(synth_deps librilight) -- \
    asr prepare librilight-finetuning "$librilight/librispeech_finetuning" "$manifests" -j "$nj"
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "stage 2: Libri-light $parts as Lhotse Shar in $shar"
  step export-shar "$shar" prepare-librilight -- python "$here/local/export_shar.py" --cuts "${unlabelled[@]}" \
    --out "$shar" --shard-size "$shard_size" --seed "$seed" -j "$nj"
fi

pretrained=$exp/pretrain/$objective/encoder.pt   # what fine-tuning starts from
pretrain_step=pretrain-$objective
if [ "$objective" = hubert ]; then pretrained=$exp/pretrain/hubert/iter2/encoder.pt; pretrain_step=pretrain-hubert2; fi
if [ -n "$init" ]; then pretrained=$init; pretrain_step=""; fi
name=$objective; [ -n "$init" ] && name=init  # the encoder's name in the fine-tuning and decoding folders

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  steps_opt=(); [ -n "$pretrain_steps" ] && steps_opt=(--max-steps "$pretrain_steps")
  pretrain_config() { if [ "$preset" = tiny ]; then echo "$conf/pretrain_tiny.yaml"; else echo "$conf/pretrain_$1.yaml"; fi; }
  if [ -n "$init" ]; then
    log "stage 3: skipped: fine-tuning starts from --init $init"
  elif [ "$objective" != hubert ]; then
    log "stage 3: pretrain a $objective encoder on the Shar shards ($(basename "$(pretrain_config "$objective")"))"
    step pretrain-$objective "resume:$exp/pretrain/$objective" export-shar -- \
      "${trainer[@]}" pretrain --objective "$objective" --config "$(pretrain_config "$objective")" --cuts "$shar" \
      --exp-dir "$exp/pretrain/$objective" --seed "$seed" --no-progress "${steps_opt[@]}"
  else
    log "stage 3: pretrain a HuBERT encoder, two iterations ($(basename "$(pretrain_config hubert1)"), $(basename "$(pretrain_config hubert2)"))"
    # k-means labels are stored with the cuts (hubert_labels), so HuBERT reads the manifest of --parts
    hubert=$exp/pretrain/hubert
    source_cuts=${unlabelled[0]}; after=(prepare-librilight)
    if [ ${#unlabelled[@]} -gt 1 ]; then
      source_cuts=$manifests/librilight_cuts_${parts// /_}.jsonl.gz
      step combine-unlabelled - prepare-librilight -- lhotse combine "${unlabelled[@]}" "$source_cuts"
      after=(combine-unlabelled)
    fi
    read -r k1 k2 <<< "$hubert_clusters"
    kmeans_opt=(--max-frames "$kmeans_frames" --seed "$seed")
    step hubert-kmeans1 "$hubert/kmeans1" "${after[@]}" -- asr hubert-kmeans fit --cuts "$source_cuts" --features mfcc \
      --config "$(pretrain_config hubert1)" -k "$k1" "${kmeans_opt[@]}" --out "$hubert/kmeans1/centres.npz"
    step hubert-label1 "$hubert/labels1" hubert-kmeans1 -- asr hubert-kmeans label --cuts "$source_cuts" --features mfcc \
      --config "$(pretrain_config hubert1)" --centres "$hubert/kmeans1/centres.npz" --out-dir "$hubert/labels1"
    step pretrain-hubert1 "resume:$hubert/iter1" hubert-label1 -- \
      "${trainer[@]}" pretrain --objective hubert --config "$(pretrain_config hubert1)" --cuts "$hubert/labels1/cuts.jsonl.gz" \
      --num-clusters "$k1" --exp-dir "$hubert/iter1" --seed "$seed" --no-progress "${steps_opt[@]}"
    # iteration 2's targets: k-means of iteration 1's middle block (the 6th of BASE's 12; the CLI's default)
    step hubert-kmeans2 "$hubert/kmeans2" pretrain-hubert1 -- asr hubert-kmeans fit --cuts "$source_cuts" \
      --features "$hubert/iter1/encoder.pt" -k "$k2" "${kmeans_opt[@]}" --out "$hubert/kmeans2/centres.npz"
    step hubert-label2 "$hubert/labels2" hubert-kmeans2 -- asr hubert-kmeans label --cuts "$source_cuts" \
      --features "$hubert/iter1/encoder.pt" --centres "$hubert/kmeans2/centres.npz" --out-dir "$hubert/labels2"
    step pretrain-hubert2 "resume:$hubert/iter2" hubert-label2 -- \
      "${trainer[@]}" pretrain --objective hubert --config "$(pretrain_config hubert2)" --cuts "$hubert/labels2/cuts.jsonl.gz" \
      --num-clusters "$k2" --exp-dir "$hubert/iter2" --seed "$seed" --no-progress "${steps_opt[@]}"
  fi
fi

lm=$lang/lm_${lm_order}gram
case $units in
  char) tokenizer=$lang/char; tokenizer_step=tokenizer-char ;;
  bpe) tokenizer=$lang/bpe_$bpe_size; tokenizer_step=tokenizer-bpe ;;
esac
if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "stage 4: $units units in $tokenizer; $([ "$have_lm" = true ] && echo "word $lm_order-gram in $lm" || echo "no LM text ($lm_text): no LM")"
  finetuning_cuts=()  # a transcript the units cannot spell fails here, not mid-training
  for split in $splits; do finetuning_cuts+=(--cuts "$manifests/librispeech_finetuning_cuts_$split.jsonl.gz"); done
  if [ "$units" = char ]; then
    step tokenizer-char "$tokenizer" prepare-librilight-finetuning -- \
      asr tokenizer train --kind char "${finetuning_cuts[@]}" --out "$tokenizer"
  else
    # the largest split's transcripts (text only; 10 min is part of 1 h, 1 h of 10 h)
    for largest in 10h 1h 10min; do [[ " $splits " == *" $largest "* ]] && break; done
    step tokenizer-bpe "$tokenizer" prepare-librilight-finetuning -- asr tokenizer train --kind bpe \
      --vocab-size "$bpe_size" --cuts "$manifests/librispeech_finetuning_cuts_$largest.jsonl.gz" --out "$tokenizer"
  fi
  if [ "$have_lm" = true ]; then
    lm_deps=(download-lm-text); [ "$preset" = tiny ] && lm_deps=($(synth_deps librispeech-lm))
    prune_opt=(); [ -n "$lm_prune" ] && prune_opt=(--prune "$lm_prune")
    step lm-${lm_order}gram "$lm" "${lm_deps[@]}" -- asr lm build --text "$lm_text" --order "$lm_order" "${prune_opt[@]}" --out "$lm"
  fi
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  log "stage 5: CTC fine-tuning ($units) of $pretrained on ${splits// /, }"
  steps_opt=(); [ -n "$finetune_steps" ] && steps_opt=(--max-steps "$finetune_steps")
  for split in $splits; do
    config=$conf/finetune_$split.yaml; [ "$preset" = tiny ] && config=$conf/finetune_tiny.yaml
    step finetune-$name-$split "resume:$exp/finetune/$name/$split" prepare-librilight-finetuning "$tokenizer_step" $pretrain_step -- \
      "${trainer[@]}" finetune --cuts "$manifests/librispeech_finetuning_cuts_$split.jsonl.gz" --tokenizer "$tokenizer" \
      --init "$pretrained" --config "$config" --exp-dir "$exp/finetune/$name/$split" --average "$average" \
      --seed "$seed" --no-progress "${steps_opt[@]}"
  done
fi

# score_wer CUTS HYP DIR PART: WER against the transcripts (DIR/wer.json + recogs-, errs-, wer-summary-PART.txt)
score_wer() {
  mkdir -p "$3"
  asr score wer --ref "$1" --hyp "$2" --out-dir "$3" --name "$4" --json > "$3/wer.json"
}

if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  log "stage 6: decode ${decode_parts// /, } with: $methods"
  for split in $splits; do
    model=$exp/finetune/$name/$split/ctc_model.pt
    decode=$exp/decode/$name/$split
    for method in $methods; do
      for part in $decode_parts; do
        cuts=$manifests/librispeech_cuts_$part.jsonl.gz
        out=$decode/$method/$part
        opt=(); after=(finetune-$name-$split prepare-librispeech)
        if [ "$method" = beam ]; then  # LM weights tuned on dev-clean, then used as they are on the other parts
          opt=(--lm "$lm"); after+=(lm-${lm_order}gram)
          if [ "$part" = dev-clean ]; then
            opt+=(--tune "${tune_grid[@]}" --beam-size "$tune_beam_size")
          else
            opt+=(--params "$decode/beam/dev-clean/hyp.tune.json" --beam-size "$beam_size")
            after+=(decode-$name-$split-beam-dev-clean)
          fi
        fi
        step decode-$name-$split-$method-$part "$out" "${after[@]}" -- \
          asr decode --method "$method" --model "$model" --cuts "$cuts" --out "$out/hyp.txt" "${opt[@]}" \
          --emissions "$decode/posteriors/$part.pt" --no-progress  # the network runs once per model and part
        step score-$name-$split-$method-$part "$out/score" decode-$name-$split-$method-$part -- \
          score_wer "$cuts" "$out/hyp.txt" "$out/score" "$part"
      done
    done
  done
  lm_note=()
  [[ " $methods " == *" beam "* ]] && lm_note=(--lm "the word $lm_order-gram of $(basename "$lm_text")${lm_prune:+ (lmplz --prune $lm_prune)}")
  python "$here/local/results_table.py" --exp "$exp" --command "$invocation" --units "$(basename "$tokenizer")" \
    "${lm_note[@]}" > /dev/null
  log "stage 6: WER table in $exp/RESULTS.md"
fi

log "done; manifests in $manifests, experiments in $exp"
