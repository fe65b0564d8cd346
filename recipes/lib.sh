# Shared helpers for recipes: option parsing in icefall's style, and resumable steps.
# Source it from a recipe after setting defaults for its options.

# parse_options "$@": --foo-bar VALUE sets $foo_bar (the variable must already exist); --flag alone sets it to true.
parse_options() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --help|-h) usage; exit 0 ;;
      --*)
        local name=${1#--}; name=${name//-/_}
        if ! declare -p "$name" >/dev/null 2>&1; then
          echo "$0: unknown option $1 (see --help)" >&2; exit 2
        fi
        if [ $# -ge 2 ] && [[ "$2" != --* ]]; then
          printf -v "$name" '%s' "$2"; shift 2
        else
          printf -v "$name" '%s' true; shift
        fi ;;
      *) echo "$0: unexpected argument $1 (see --help)" >&2; exit 2 ;;
    esac
  done
}

log() { echo "$(date '+%F %T') [$(basename "$0")] $*" >&2; }

# step NAME OUTPUT [AFTER...] -- CMD...: runs CMD unless step NAME finished before with the same
# command and after the steps it needs (AFTER: names of earlier steps whose output it reads).
# A step killed half-way left no marker, so its OUTPUT (a folder, or "-" for none) is removed and
# the step is redone cleanly; a step whose command changed (another seed, say) or whose inputs were
# remade since is redone too. OUTPUT "resume:DIR" is for commands that resume from what they left in
# DIR (training): DIR is kept when the same command was merely interrupted, and removed when the
# command or its inputs changed. The seconds each step took go to $done_dir/NAME.seconds; with
# $visited_steps set, each step's name (run or skipped) is appended to that file: the path a run takes.
step() {
  local name=$1 output=$2; shift 2
  local after=()
  while [ "$1" != "--" ]; do after+=("$1"); shift; done
  shift
  local marker=$done_dir/$name.done started=$done_dir/$name.started command stale=false dep
  if [ -n "${visited_steps:-}" ]; then mkdir -p "$done_dir"; echo "$name" >> "$visited_steps"; fi
  command=$(printf '%q ' "$@")
  for dep in "${after[@]}"; do
    [ "$done_dir/$dep.done" -nt "$marker" ] && stale=true
  done
  if [ "$stale" = false ] && [ -f "$marker" ] && [ "$(cat "$marker")" = "$command" ]; then
    log "step $name: done before, skipped"; return 0
  fi
  rm -f "$marker"
  if [[ "$output" == resume:* ]]; then
    output=${output#resume:}
    local resumable=false
    if [ -f "$started" ] && [ "$(cat "$started")" = "$command" ]; then
      resumable=true
      for dep in "${after[@]}"; do
        [ "$done_dir/$dep.done" -nt "$started" ] && resumable=false
      done
    fi
    if [ "$resumable" = true ] && [ -e "$output" ]; then
      log "step $name: resuming from what the interrupted run left in $output"
    else
      rm -rf "$output"
    fi
  elif [ "$output" != "-" ]; then
    rm -rf "$output"
  fi
  mkdir -p "$done_dir"
  printf '%s' "$command" > "$started.tmp" && mv "$started.tmp" "$started"
  log "step $name: $*"
  local start=$SECONDS
  "$@"
  echo $((SECONDS - start)) > "$done_dir/$name.seconds"
  printf '%s' "$command" > "$marker.tmp" && mv "$marker.tmp" "$marker"
  log "step $name: finished in $((SECONDS - start)) s"
}

# librispeech_parts DIR PART...: makes sure each LibriSpeech part is in DIR (a folder named LibriSpeech):
# there if lhotse downloaded it (.completed) or it was unpacked by hand (a folder, no archive half-fetched
# beside it); otherwise a step downloads it through lhotse (OpenSLR 12), which resumes a partial download
# and re-extracts, so a killed step just continues ("-": nothing removed; the archive stays beside the corpus).
librispeech_parts() {
  local dir=$1 part; shift
  for part in "$@"; do
    if [ -f "$dir/$part/.completed" ] || { [ -d "$dir/$part" ] && [ ! -e "$(dirname "$dir")/$part.tar.gz" ]; }; then
      continue
    fi
    if [ "$(basename "$dir")" != LibriSpeech ]; then
      echo "$0: LibriSpeech part $part is not in $dir (lhotse downloads into a folder named LibriSpeech)" >&2
      exit 1
    fi
    step download-librispeech-$part - -- python -c \
      'import sys; from lhotse.recipes import download_librispeech; download_librispeech(sys.argv[1], dataset_parts=[sys.argv[2]])' \
      "$(dirname "$dir")" "$part"
  done
}
