#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for a while with cargo-fuzz
# (libFuzzer). Usage: bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Default: 60 s each for ingest, query, config and sanitize. Seeds live in
# fuzz/seeds/TARGET (kept in git); what libFuzzer learns goes to
# fuzz/corpus/TARGET and crashes to fuzz/artifacts/TARGET (both ignored).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(ingest query config sanitize)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz passes nightly-only compiler flags (sanitizer coverage); the
# machine's stable toolchain accepts them when told it may.
export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "== fuzzing $t for ${secs}s"
  cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -max_len=262144 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
done
