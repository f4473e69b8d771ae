#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script).
# On Debian it first installs what the tests use: jing (the RFC 4287 grammar
# check), systemd-analyze (the unit check), newsboat (the reader the topic
# feeds are read with, and the polling benchmark's peer) and wrk (the
# serving benchmark's load generator).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v jing >/dev/null || need+=(jing)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v newsboat >/dev/null || need+=(newsboat)
command -v wrk >/dev/null || need+=(wrk)
if ((${#need[@]})); then
  echo "installing test tools: ${need[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
# A short run of each benchmark: its assertions (every request conditional,
# hanging feeds bounded by the timeout) are tests too. The smoke profile is
# the release one without fat LTO: the same checks, minutes less linking.
for bench in poll topics stories serve; do
  cargo bench --locked --profile smoke --bench "$bench" -- --smoke
done
log=$(mktemp); trap 'rm -f "$log"' EXIT
cargo test --locked --no-fail-fast 2>&1 | tee "$log"
# One closing line for the whole suite, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "feedsift tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
