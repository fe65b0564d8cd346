#!/usr/bin/env bash
# Runs every benchmark of bench/ in turn, with the settings that made the raw files in bench/results/ (each
# benchmark writes its own figures there, one JSON line per figure with its unit), then bench/collect.py,
# which checks and gathers them into bench/results.jsonl (RESULTS.md reads it).
#
#   name      command (from the checkout's root)                                 raw file, typical time
#   pretrain  python bench/pretrain.py                                           pretrain-DATE.jsonl (rewritten,
#             (also rewrites its own table in RESULTS.md)                        and its table), ~15 min
#   finetune  python bench/finetune.py --steps 30 >> bench/results/finetune-DATE.jsonl           ~4 min
#   semi      python bench/semi.py                                               semi-DATE.jsonl, ~3 min
#   mdd       python bench/mdd_diagnose.py --model MODEL --cuts L2ARCTIC_TEST    mdd-DATE.jsonl, ~1 min
#             for MODEL = the mini recipe's mdd/native-online, then mdd/native
#   app       python bench/app_latency.py --model MODEL                          app-DATE.jsonl, ~3 min
#             for MODEL = the mini recipe's app_model (what the app serves)
#
# All of it takes about 25-30 minutes of both cores of a 2-core CPU; run it on an otherwise idle machine.
# Raw files are appended to (pretrain's is rewritten); collect.py takes the last line of each setting.
# A benchmark whose inputs (the mini recipe's manifests and trained models) are missing is skipped with the
# command that makes them; one that fails is reported and the others still run. Each successful benchmark's
# wall time is appended to bench/results/run_all-DATE.jsonl, which collect.py reads too.
#
#   bash bench/run_all.sh                          # all, then collect.py
#   bash bench/run_all.sh --only mdd,app           # these only (names as above)
#   bash bench/run_all.sh --skip pretrain          # all but these (repeatable, or NAME,NAME)
#   bash bench/run_all.sh --dry-run                # what would run or be skipped, running nothing
#
# Exit status: 0 when every benchmark that ran succeeded, 1 when one failed, 2 for a wrong option.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=$root/.venv/bin:$PATH

names=(pretrain finetune semi mdd app)
only=""
skip=""
dry_run=false

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "$(basename "$0"): $*" >&2; exit 2; }
log() { echo "$(date '+%F %T') [run_all.sh] $*" >&2; }
# known LIST: LIST (comma- or space-separated) holds only benchmark names
known() {
  local name list
  IFS=', ' read -r -a list <<< "$1"
  [ ${#list[@]} -gt 0 ] || die "no benchmark name in '$1' (one of: ${names[*]})"
  for name in "${list[@]}"; do
    [[ " ${names[*]} " == *" $name "* ]] || die "unknown benchmark '$name' (one of: ${names[*]})"
  done
}

while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --only|--skip)
      [ $# -ge 2 ] && [[ "$2" != -* ]] || die "$1 needs a benchmark name (one of: ${names[*]})"
      known "$2"
      if [ "$1" = --only ]; then only="$only ${2//,/ }"; else skip="$skip ${2//,/ }"; fi
      shift 2 ;;
    --only=*|--skip=*)
      value=${1#*=}; [ -n "$value" ] || die "${1%%=*} needs a benchmark name (one of: ${names[*]})"
      known "$value"
      if [[ "$1" == --only=* ]]; then only="$only ${value//,/ }"; else skip="$skip ${value//,/ }"; fi
      shift ;;
    --dry-run) dry_run=true; shift ;;
    *) die "unknown option or argument '$1' (see --help)" ;;
  esac
done

today=$(date +%F)
manifests=recipes/mini/data/manifests/mini_seed0
lm=recipes/mini/data/lang/mini_seed0/lm
exp=recipes/mini/exp/mini_seed0
scratch_1h=$exp/finetune/1h/scratch/ctc_model.pt

# plan NAME: sets needs (files the benchmark reads), make (the command that makes them) and commands
# (the shell commands, run in turn from the checkout's root; each figure names the command that made it).
plan() {
  case $1 in
    pretrain)
      needs=("$manifests/librilight_cuts_small.jsonl.gz")
      make="bash recipes/mini/run.sh --stop-stage 1"
      commands=("python bench/pretrain.py") ;;
    finetune)  # without the mini recipe's files it would measure a digits corpus instead: not comparable
      needs=("$manifests/librispeech_finetuning_cuts_1h.jsonl.gz" "$manifests/librispeech_cuts_dev-clean.jsonl.gz"
             "$lm/lm.arpa" "$scratch_1h")
      make="bash recipes/mini/run.sh --stop-stage 5"
      # the script only prints its JSON lines (its commands' output goes to stderr)
      commands=("python bench/finetune.py --steps 30 >> bench/results/finetune-$today.jsonl") ;;
    semi)
      needs=("$scratch_1h" "$manifests/librispeech_finetuning_cuts_1h.jsonl.gz"
             "$manifests/librilight_cuts_small.jsonl.gz" "$lm/lm.arpa")
      make="bash recipes/mini/run.sh --stop-stage 5"
      commands=("python bench/semi.py") ;;
    mdd)
      needs=("$manifests/l2arctic_cuts_test.jsonl.gz" "$exp/mdd/native-online/ctc_model.pt"
             "$exp/mdd/native/ctc_model.pt")
      make="bash recipes/mini/run.sh --all --stop-stage 10"
      commands=()
      for model in native-online native; do
        commands+=("python bench/mdd_diagnose.py --model $exp/mdd/$model --cuts $manifests/l2arctic_cuts_test.jsonl.gz")
      done ;;
    app)
      needs=("$exp/app_model/ctc_model.pt")
      make="bash recipes/mini/run.sh --stop-stage 10"
      # the model the app serves (the default path's round-2 noisy student)
      commands=("python bench/app_latency.py --model $exp/app_model") ;;
  esac
}

duration() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

[ "$dry_run" = true ] || mkdir -p bench/results
log "python: $(command -v python); raw results: bench/results/*-$today.jsonl"
summary=()
failed=0
run_start=$SECONDS
for name in "${names[@]}"; do
  if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then continue; fi
  if [[ " $skip " == *" $name "* ]]; then
    summary+=("$(printf '%-9s skipped (--skip)' "$name")"); continue
  fi
  plan "$name"
  missing=()
  for file in "${needs[@]}"; do [ -e "$file" ] || missing+=("$file"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "$name: SKIPPED: missing ${missing[*]}; make it with: $make"
    summary+=("$(printf '%-9s skipped: inputs missing (%s)' "$name" "$make")"); continue
  fi
  if [ "$dry_run" = true ]; then
    for command in "${commands[@]}"; do log "$name: would run: $command"; done
    summary+=("$(printf '%-9s would run' "$name")"); continue
  fi
  start=$SECONDS
  status=0
  for command in "${commands[@]}"; do
    log "$name: start: $command"
    if bash -o pipefail -c "$command"; then :; else status=$?; break; fi
  done
  seconds=$((SECONDS - start))
  if [ "$status" -ne 0 ]; then
    log "$name: FAILED (exit $status) after $(duration "$seconds"): $command"
    summary+=("$(printf '%-9s FAILED (exit %d) after %s' "$name" "$status" "$(duration "$seconds")")")
    failed=1; continue
  fi
  log "$name: done in $(duration "$seconds")"
  summary+=("$(printf '%-9s ok in %s' "$name" "$(duration "$seconds")")")
  # the wall time as a figure of its own, so that results.jsonl says what each benchmark costs
  python -c 'import sys
from asr.results import figures, write_figures
name, seconds, *commands = sys.argv[1:]
found = figures("wall_time", {"seconds": int(seconds)}, {"seconds": "s"}, {"name": name}, " && ".join(commands))
write_figures(None, found)' \
    "$name" "$seconds" "${commands[@]}" >> "bench/results/run_all-$today.jsonl"
done

collect_status=0
if [ "$dry_run" = true ]; then
  log "would run: python bench/collect.py"
else
  log "collect: python bench/collect.py"
  python bench/collect.py || collect_status=$?
fi
log "summary ($(duration $((SECONDS - run_start))) in all):"
for line in "${summary[@]}"; do echo "  $line" >&2; done
[ "$collect_status" -eq 0 ] || exit "$collect_status"
exit "$failed"
