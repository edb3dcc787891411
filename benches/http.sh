#!/usr/bin/env bash
# Serving a cached topic feed, against the same bytes served as a static file by nginx.
# Needs wrk and nginx (Debian: apt-get install wrk nginx-light) and python3 (for the fixture
# feed). Everything runs on loopback. Usage: benches/http.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
secs=${1:-10}
conns=${2:-64}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; nginx -p "$work/nginx" -c nginx.conf -s stop 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bantin="$root/target/release/bantin"

# A fixture feed of 100 Vietnamese items, 60 of them about dân vận.
mkdir -p "$work/feed"
python3 - "$work/feed/rss.xml" <<'PY'
import sys
items = []
for i in range(100):
    topic = "công tác dân vận" if i % 5 < 3 else "phát triển kinh tế"
    items.append(f"""<item><title>Tỉnh ủy tăng cường {topic} trong tình hình mới, số {i}</title>
<link>https://bao.example.vn/tin-{i}.html</link><guid>tin-{i}</guid>
<pubDate>Sat, 22 Aug 2026 {i % 24:02d}:{i % 60:02d}:00 +0700</pubDate>
<description><![CDATA[<p>Chiều 22/8, Ban Thường vụ Tỉnh ủy làm việc về {topic}, nâng cao chất lượng,
hiệu quả, lắng nghe ý kiến nhân dân và giải quyết kịp thời những vấn đề bức xúc ở cơ sở.</p>]]></description></item>""")
open(sys.argv[1], "w").write('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Báo thử</title><link>https://bao.example.vn/</link><description>d</description>' + "".join(items) + "</channel></rss>")
PY
python3 -m http.server 18090 --bind 127.0.0.1 --directory "$work/feed" >/dev/null 2>&1 &

cat > "$work/bantin.toml" <<TOML
topics_file = "$root/config/topics.toml"
[storage]
path = "$work/bantin.db"
[http]
listen = "127.0.0.1:18091"
[[sources]]
id = "bao-thu"
url = "http://127.0.0.1:18090/rss.xml"
tags = ["dang", "chinh-phu", "quan-doi"]
TOML
for _ in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:18090/rss.xml && break; sleep 0.1; done
"$bantin" --config "$work/bantin.toml" fetch >/dev/null
"$bantin" --config "$work/bantin.toml" export --dir "$work/static" >/dev/null
RUST_LOG=warn "$bantin" --config "$work/bantin.toml" run 2>/dev/null &
for _ in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:18091/healthz && break; sleep 0.1; done

mkdir -p "$work/nginx/logs"
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  types { application/rss+xml rss; }
  server { listen 127.0.0.1:18092; root $work/static; }
}
NGINX
chmod -R a+rX "$work"   # nginx's workers run as another user
nginx -p "$work/nginx" -c nginx.conf
for url in http://127.0.0.1:18091/topics/dan-van.rss http://127.0.0.1:18092/topics/dan-van.rss; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$url")
  [ "$code" = 200 ] || { echo "$url answers $code" >&2; exit 1; }
done

size=$(curl -s http://127.0.0.1:18091/topics/dan-van.rss | wc -c)
echo "topic feed: $size bytes, $(curl -s http://127.0.0.1:18091/topics/dan-van.rss | grep -o '<item>' | wc -l) items"
for target in "bantin http://127.0.0.1:18091/topics/dan-van.rss" "nginx(static) http://127.0.0.1:18092/topics/dan-van.rss"; do
  set -- $target
  echo "== $1: wrk -t2 -c$conns -d${secs}s $2"
  wrk -t2 -c"$conns" -d"${secs}s" "$2" | grep -E "Requests/sec|Latency|Transfer/sec"
done
