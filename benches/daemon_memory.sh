#!/usr/bin/env bash
# Peak memory of a daemon beside huge feeds: `bantin run` polls six real outlets' feeds (the
# samples in ../shared/samples, served as they are; the one-item excerpts of Thanh Niên, Dân Trí
# and VietNamNet wrapped in a channel) together with a valid 5 MB RSS feed of 60,000 items and
# a feed whose one title is 4 MB, all on loopback, all due at once (the shipped politeness lets
# all eight be fetched together). Once every source has been polled and recorded, the daemon is
# stopped with SIGTERM; `/usr/bin/time -v` reports its peak RSS.
#
# Usage: [BANTIN=binary] benches/daemon_memory.sh [SAMPLES_DIR] [ROUNDS]
#   SAMPLES_DIR: the real feed samples (default: ../shared/samples next to the checkout)
#   ROUNDS: how many fresh runs (default 3); each prints its peak, and the largest is the figure.
# Needs python3 (the fixture server and the generated feeds) and GNU time (/usr/bin/time).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
samples=${1:-$root/../shared/samples}
rounds=${2:-3}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# BANTIN=path/to/bantin measures that binary instead of building this checkout's.
if [ -z "${BANTIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
fi
bantin=${BANTIN:-$root/target/release/bantin}

mkdir -p "$work/feeds"
python3 - "$samples" "$work/feeds" <<'PY'
import os, sys
samples, out = sys.argv[1], sys.argv[2]
def link(name, as_):
    os.symlink(os.path.join(samples, name), os.path.join(out, as_))
# Whole feeds, as published.
link("01_vnexpress_tin-moi-nhat_2019-02-17.rss", "vnexpress-tin-moi-nhat.rss")
link("03_vnexpress_the-gioi_2025-02-06_example.xml", "vnexpress-the-gioi.rss")
link("06_vnexpress_tin-moi-nhat_2017-04-19_from-js.rss.txt", "vnexpress-2017.rss")
# Item excerpts, in the channel they came from.
for name, as_, title in [
    ("10_thanhnien_item_2024-01-27_from-ts-comment.xml.txt", "thanhnien.rss", "Thanh Niên"),
    ("11_dantri_item_2024-01-27_from-ts-comment.xml.txt", "dantri.rss", "Dân trí"),
    ("12_vietnamnet_item_2024-01-28_from-ts-comment.xml.txt", "vietnamnet.rss", "VietNamNet"),
]:
    item = open(os.path.join(samples, name), encoding="utf-8").read()
    open(os.path.join(out, as_), "w", encoding="utf-8").write(
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:slash="http://purl.org/rss/1.0/modules/slash/"><channel>'
        f"<title>{title}</title><link>https://example.vn/</link><description>d</description>\n"
        f"{item}\n</channel></rss>\n")
# A valid 5 MB feed of 60,000 items.
with open(os.path.join(out, "huge.rss"), "w", encoding="utf-8") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            "<title>Tin lớn</title><link>https://bao.example.vn/</link><description>d</description>\n")
    for i in range(60000):
        f.write(f"<item><title>Bản tin {i}</title><link>https://bao.example.vn/tin/{i}.html</link></item>\n")
    f.write("</channel></rss>\n")
# A feed whose one title is 4 MB (of Vietnamese words), beside an ordinary item.
with open(os.path.join(out, "long-title.rss"), "w", encoding="utf-8") as f:
    words = "Hội nghị toàn quốc quán triệt công tác dân vận của hệ thống chính trị "
    title = (words * (4 * 1024 * 1024 // len(words.encode()) + 1)).strip()
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            "<title>Tiêu đề dài</title><link>https://dai.example.vn/</link><description>d</description>\n"
            f"<item><title>{title}</title><link>https://dai.example.vn/tin/1.html</link></item>\n"
            "<item><title>Tin thường</title><link>https://dai.example.vn/tin/2.html</link></item>\n"
            "</channel></rss>\n")
PY
ls -l --dereference "$work/feeds" | awk 'NR > 1 { printf "  %-28s %10d bytes\n", $9, $5 }'

python3 -m http.server 18190 --bind 127.0.0.1 --directory "$work/feeds" >/dev/null 2>&1 &
for _ in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:18190/huge.rss && break; sleep 0.1; done

for round in $(seq "$rounds"); do
  rm -rf "$work/data"
  {
    echo "[storage]"
    echo "path = \"$work/data/bantin.db\""
    echo "[http]"
    echo "listen = \"127.0.0.1:18191\""
    for f in "$work"/feeds/*.rss; do
      id=$(basename "$f" .rss)
      printf '[[sources]]\nid = "%s"\nurl = "http://127.0.0.1:18190/%s.rss"\n' "$id" "$id"
    done
  } > "$work/bantin.toml"
  sources=$(ls "$work"/feeds/*.rss | wc -l)
  RUST_LOG=warn /usr/bin/time -v -o "$work/time.txt" "$bantin" --config "$work/bantin.toml" run 2>"$work/log" &
  timer=$!
  # Every source polled and recorded: none pending in /healthz.
  for _ in $(seq 600); do
    pending=$(curl -sf http://127.0.0.1:18191/healthz | python3 -c 'import json,sys; print(json.load(sys.stdin)["sources"]["pending"])' 2>/dev/null || echo x)
    [ "$pending" = 0 ] && break
    sleep 0.2
  done
  [ "$pending" = 0 ] || { echo "sources still pending after 120 s" >&2; cat "$work/log" >&2; exit 1; }
  kill -TERM "$(pgrep -P "$timer")"
  wait "$timer" || true
  peak=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt")
  echo "round $round: peak RSS $((peak / 1024)) MiB ($peak KiB), $(awk -F': ' '/Elapsed/ { print $2 }' "$work/time.txt") wall"
done

# What was stored (the last round): articles per source, and each source's state.
"$bantin" --config "$work/bantin.toml" sources --json > "$work/sources.json"
python3 - "$work/sources.json" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1])):
    print(f"  {s['id']:24} {s['state']:8} {s['articles']:6} articles  {s.get('note') or ''}{s.get('last_error') or ''}")
PY
