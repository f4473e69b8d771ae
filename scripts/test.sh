#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script).
# On Debian it first installs what the tests use: jing (the RFC 4287 grammar
# check), systemd-analyze (the unit check), newsboat (the reader the topic
# feeds are read with, and the polling benchmark's peer) and wrk (the
# serving benchmark's load generator). Then PostgreSQL, for the tests of
# the PostgreSQL backend (see below).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v jing >/dev/null || need+=(jing)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v newsboat >/dev/null || need+=(newsboat)
command -v wrk >/dev/null || need+=(wrk)
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
updated=""
apt_install() {
  [ -n "$updated" ] || { $sudo apt-get update -qq; updated=1; }
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if ((${#need[@]})); then
  echo "installing test tools: ${need[*]}"
  apt_install "${need[@]}"
fi

# tests/integration/postgres.rs (and the backend's unit tests) use a server
# at 127.0.0.1:5432 where user postgres connects without a password. Where
# one answers already, nothing here runs; else Debian's package is
# installed, its cluster gets a trust line for that user on loopback only,
# and is started. (Without a server those tests print SKIPPED and pass.)
pg_up() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }
if ! pg_up; then
  command -v pg_ctlcluster >/dev/null || { echo "installing postgresql"; apt_install postgresql; }
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$ver" ]; then
    ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    $sudo pg_createcluster "$ver" main >/dev/null
  fi
  hba="/etc/postgresql/$ver/main/pg_hba.conf"
  trust="host all postgres 127.0.0.1/32 trust"
  # First match wins in pg_hba.conf: the line goes on top.
  if ! $sudo grep -qxF "$trust" "$hba"; then
    $sudo sed -i "1i $trust" "$hba"
  fi
  if pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
    $sudo pg_ctlcluster "$ver" main reload
  else
    $sudo pg_ctlcluster "$ver" main start
  fi
  for _ in $(seq 30); do pg_up && break; sleep 1; done
  pg_up || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
fi

cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
# A short run of each benchmark: its assertions (every request conditional,
# hanging feeds bounded by the timeout) are tests too. The smoke profile is
# the release one without fat LTO: the same checks, minutes less linking.
for bench in poll topics stories serve hub push; do
  cargo bench --locked --profile smoke --bench "$bench" -- --smoke
done
log=$(mktemp); trap 'rm -f "$log"' EXIT
cargo test --locked --no-fail-fast 2>&1 | tee "$log"
# One closing line for the whole suite, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "feedsift tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
