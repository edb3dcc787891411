#!/usr/bin/env bash
# Cold ingest side by side with a plain Python aggregator (feedparser + sqlite3), re-polling,
# and the memory of `bantin fetch`, over loopback:
#
#   benches/ingest_vs_python.sh [ITEMS] [SMALL_FEEDS]      # defaults: 14434 2000
#
# 1. Builds the corpus from ../shared/samples (benches/ingest_corpus.py): 17 feeds, one per
#    outlet, ITEMS items in all, every one new; and SMALL_FEEDS feeds of 15 items (0: skipped).
# 2. Serves them on 127.0.0.1 without validators (every fetch reads the whole feed).
# 3. A cold `bantin fetch` (release build, the shipped topics) into a fresh database, then
#    benches/python_aggregator.py over the same URLs into another, each under /usr/bin/time -v;
#    both must store ITEMS articles. Prints wall and CPU times, peak RSS and the ratios.
# 4. The same `bantin fetch` again on the same database: a re-poll of 17 unchanged feeds.
# 5. A cold `bantin fetch` of the SMALL_FEEDS feeds into a fresh database.
#
# Needs python3 (feedparser is installed into a venv under target/ when missing) and GNU time.
# Politeness is off ([poll] host_interval = "0s", per_host = concurrency): every feed is on one
# loopback host, which the default spacing would turn into one request per second.
set -euo pipefail
items=${1:-14434}
small=${2:-2000}
root=$(cd "$(dirname "$0")/.." && pwd)
samples=${BANTIN_SAMPLES:-$root/../shared/samples}
[ -d "$samples" ] || samples=/work/shared/samples
work="$root/target/bench-ingest"
port=${BANTIN_BENCH_PORT:-18093}
rm -rf "$work"
mkdir -p "$work"
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

cargo build --release --quiet --bin bantin --manifest-path "$root/Cargo.toml"
bantin="$root/target/release/bantin"

venv="$root/target/bench-venv"
if ! "$venv/bin/python" -c "import feedparser" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet feedparser
fi
python="$venv/bin/python"

python3 "$root/benches/ingest_corpus.py" generate "$samples" "$work" --items "$items" --small "$small"
python3 "$root/benches/ingest_corpus.py" serve "$work" "$port" &
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf -o /dev/null "$base/feeds/vnexpress.xml" && break; sleep 0.1; done

# config NAME SOURCES: run-NAME.toml, a config with the shipped topics, a fresh database, and those sources.
config() {
  cat > "$work/run-$1.toml" <<TOML
topics_file = "$root/config/topics.toml"
[storage]
path = "$work/$1.db"
[poll]
host_interval = "0s"
per_host = 8
[log]
level = "warn"
TOML
  sed "s|{BASE}|$base|" "$work/$2" >> "$work/run-$1.toml"
}

# timed NAME CMD...: runs CMD under /usr/bin/time -v; sets wall, cpu (user + sys, s), rss (MiB).
timed() {
  local name=$1
  shift
  /usr/bin/time -v -o "$work/$name.time" "$@" > "$work/$name.out"
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$work/$name.time")
  cpu=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f", u + s }' "$work/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$work/$name.time")
}

count() { "$python" -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM articles').fetchone()[0])" "$1"; }

check_ok() {
  grep -q "sources polled, all ok" "$work/$1.out" || { echo "$1: not every source was stored:" >&2; cat "$work/$1.out" >&2; exit 1; }
}

config cold sources.toml
timed cold "$bantin" --config "$work/run-cold.toml" fetch
check_ok cold
b_wall=$wall b_cpu=$cpu b_rss=$rss b_n=$(count "$work/cold.db")

urls=$(sed -n 's|^url = "{BASE}\(.*\)"|'"$base"'\1|p' "$work/sources.toml")
# shellcheck disable=SC2086
timed python "$python" "$root/benches/python_aggregator.py" "$work/python.db" $urls
p_wall=$wall p_cpu=$cpu p_rss=$rss p_n=$(cat "$work/python.out")

timed repoll "$bantin" --config "$work/run-cold.toml" fetch
check_ok repoll
r_wall=$wall r_cpu=$cpu r_n=$(count "$work/cold.db")

for n in "$b_n" "$p_n" "$r_n"; do
  [ "$n" = "$items" ] || { echo "stored $n articles, expected $items" >&2; exit 1; }
done

echo
echo "cold ingest: 17 feeds, $items items, $(du -sk "$work/feeds" | cut -f1) KiB of XML, over loopback"
printf "  %-28s %9s %9s %12s %10s %9s\n" "" "wall (s)" "CPU (s)" "CPU/article" "peak RSS" "articles"
printf "  %-28s %9.2f %9.2f %10.1f µs %6s MiB %9s\n" "bantin fetch (release)" "$b_wall" "$b_cpu" "$(echo "$b_cpu * 1000000 / $items" | bc -l)" "$b_rss" "$b_n"
printf "  %-28s %9.2f %9.2f %10.1f µs %6s MiB %9s\n" "python feedparser + sqlite3" "$p_wall" "$p_cpu" "$(echo "$p_cpu * 1000000 / $items" | bc -l)" "$p_rss" "$p_n"
printf "  ratio (python / bantin): %.1fx wall, %.1fx CPU\n" "$(echo "$p_wall / $b_wall" | bc -l)" "$(echo "$p_cpu / $b_cpu" | bc -l)"
printf "re-poll of the 17 unchanged feeds: %.2f s wall, %.2f s CPU: %.0f items/s (wall), %.0f items/s (CPU)\n" \
  "$r_wall" "$r_cpu" "$(echo "$items / $r_wall" | bc -l)" "$(echo "$items / $r_cpu" | bc -l)"

if [ "$small" -gt 0 ]; then
  config small small.toml
  timed small "$bantin" --config "$work/run-small.toml" fetch
  check_ok small
  s_n=$(count "$work/small.db")
  [ "$s_n" = $((small * 15)) ] || { echo "stored $s_n articles, expected $((small * 15))" >&2; exit 1; }
  printf "%s small feeds (15 items each) in one fetch: %.2f s wall, %.2f s CPU, peak RSS %s MiB, %s articles\n" \
    "$small" "$wall" "$cpu" "$rss" "$s_n"
fi
