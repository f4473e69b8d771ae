#!/usr/bin/env bash
# Benchmarks, on loopback. Installs newsboat (the peer polled in the same
# run) when missing. Pass --smoke for the short version CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v newsboat >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq newsboat >/dev/null
fi
cargo bench --locked --bench poll -- "$@"
