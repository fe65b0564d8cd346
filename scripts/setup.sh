#!/usr/bin/env bash
# Idempotent set-up of a fresh Debian machine for this project:
#   1. system packages (espeak-ng, sctk, cmake + boost for KenLM, flac tools, chromium for the browser test),
#   2. a virtual environment in .venv with the project and its dev extra,
#   3. KenLM's lmplz and build_binary, built from the kenlm sdist into .venv/bin.
# Every step is skipped when its result is already there, so running it again is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv=${VENV:-$root/.venv}
log() { echo "[setup] $*" >&2; }

# ---- 1. system packages -----------------------------------------------------------------
apt_pkgs=(espeak-ng fortunes sctk cmake build-essential libboost-program-options-dev libboost-system-dev
          libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev libsndfile1
          chromium flite festival festvox-us-slt-hts)  # flite, festival: voices of data_prep.voices; chromium: the app's real-browser test (Playwright drives it; `playwright install` cannot download here)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing system packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "system packages present"
fi

# ---- 2. virtual environment ---------------------------------------------------------------
py=${PYTHON:-python3.11}
command -v "$py" >/dev/null || py=python3
if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  "$py" -m venv "$venv"
fi
stamp=$venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  log "installing Python packages (first time: a few minutes, torch is large)"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e ".[dev]"
  rm -f "$venv"/.installed-*
  touch "$stamp"
else
  log "Python packages up to date"
fi

# ---- 3. KenLM command-line tools ------------------------------------------------------------
if [ ! -x "$venv/bin/lmplz" ] || [ ! -x "$venv/bin/build_binary" ]; then
  log "building KenLM lmplz/build_binary from the kenlm sdist"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  "$venv/bin/python" -m pip download -q --no-deps --no-binary kenlm -d "$work" "kenlm==0.3.0"
  tar -xzf "$work"/kenlm-*.tar.gz -C "$work"
  src=$(find "$work" -maxdepth 1 -type d -name 'kenlm-*' | head -1)
  # compiler chatter goes to a log, shown only if the build fails
  if ! { cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DKENLM_MAX_ORDER=6 &&
         cmake --build "$src/build" --target lmplz build_binary -j "$(nproc)"; } >"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log" >&2
    log "KenLM build failed (full log above, last 40 lines)"; exit 1
  fi
  install -m 755 "$src/build/bin/lmplz" "$src/build/bin/build_binary" "$venv/bin/"
else
  log "KenLM tools present"
fi
log "done: activate with 'source $venv/bin/activate'"
