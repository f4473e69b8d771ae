#!/usr/bin/env bash
# Times story grouping of a first poll's backlog: copies a database the
# poll benchmark kept, forgets its stories, runs `feedsift run` on it and
# stops it when no item waits for a story (unwrapped, once it has settled,
# printing its VmRSS with the story window still loaded).
#
#   FEEDSIFT_BENCH_KEEP=/tmp/keep cargo bench --bench poll -- \
#       --feeds 1000 --runs 1 --no-peer --idle-only --idle-days 0
#   bash scripts/group_backlog.sh target/release/feedsift \
#       "/tmp/keep/items-over-8-hours,-all-in-the-story-window"
#
# Anything after the directory wraps the daemon (a profiler:
# `perf record -F 199 -g -o grouping.perf --`). Needs sqlite3.
set -euo pipefail
bin=$(realpath "$1"); src=$2; shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$src/feedsift.db" "$src/config.toml" "$work/"
cd "$work"
sqlite3 feedsift.db "UPDATE items SET story_id = NULL, sketch = NULL, cites = NULL; DELETE FROM stories;"
# The feeds' servers are gone: their polls fail at once and are retried later.
sed -i 's/^listen = .*/listen = "127.0.0.1:0"/' config.toml
start=$(date +%s.%N)
"$@" "$bin" --config config.toml run >run.log 2>&1 &
pid=$!
until [ "$(sqlite3 feedsift.db 'SELECT count(*) FROM items WHERE story_id IS NULL' 2>/dev/null)" = 0 ]; do
  kill -0 "$pid" 2>/dev/null || { echo "feedsift stopped:" >&2; cat run.log >&2; exit 1; }
  sleep 0.2
done
end=$(date +%s.%N)
if [ $# -eq 0 ]; then
  # Unwrapped, the daemon's memory once its CPU time stops moving for 2 s
  # (the story window kept: `unload_after` is far off).
  last=""; quiet=0
  while [ "$quiet" -lt 4 ]; do
    sleep 0.5
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    if [ "$t" = "$last" ]; then quiet=$((quiet + 1)); else quiet=0; fi
    last=$t
  done
  echo "settled: $(grep VmRSS "/proc/$pid/status" | tr -s ' \t' ' ')"
fi
kill -INT "$pid"
wait "$pid" || true
echo "grouped in $(echo "$end - $start" | bc) s; $(sqlite3 feedsift.db 'SELECT count(*) FROM stories') stories"
