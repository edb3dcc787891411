#!/usr/bin/env python3
"""The cold-ingest corpus, built at bench time from the real material in shared/samples, and
the loopback server that serves it.

    ingest_corpus.py generate SAMPLES_DIR OUT_DIR [--items 14434] [--small 2000]
    ingest_corpus.py serve DIR PORT

`generate` writes OUT_DIR/feeds/<outlet>.xml: 17 RSS feeds, one per outlet of samples file 16,
in that outlet's item shape and `pubDate` form, with the outlet's real items (samples file 15:
titles, HTML summaries, links; Thanh Niên's from file 10) varied into `--items` distinct ones
(numbered titles and links, dates stepping back from now, so every item is new and every date
plausible). Non-NFC text, U+00D0 for Đ, zero-width spaces, NBSP and double escapes stay as the
outlets sent them. With `--small N` it also writes OUT_DIR/small/f<i>.xml: N feeds of 15 items
each. Then OUT_DIR/sources.toml (the `[[sources]]` of the 17) and OUT_DIR/small.toml (those of
the N), with URLs under http://127.0.0.1:PORT/ left as `{BASE}` for the caller to fill in.

`serve` answers GET for the files under DIR from memory over HTTP/1.1, with neither ETag nor
Last-Modified and never 304: every fetch reads the whole feed, as a re-poll of changed feeds
would.
"""

import datetime as dt
import html.entities
import json
import os
import re
import sys

# Outlet (as samples file 16 names it) → (source id, host, item shape, date form, mdy).
# Shapes are those of the sample feeds: "vnexpress" (01–09: escaped title, CDATA description
# with an image link, guid = link), "cdata" (10, 12: titles and descriptions in CDATA padded
# with spaces and newlines), "entities" (10: Thanh Niên, HTML entities left inside CDATA),
# "dantri" (11: dc:creator and category), "noguid" (Tuổi Trẻ and Báo Chính phủ send no guid),
# "bbc" (guid is the URL with a #0 fragment, links carry at_medium tracking parameters).
OUTLETS = {
    "VnExpress": ("vnexpress", "vnexpress.net", "vnexpress", "+0700", False),
    "Tuổi Trẻ Online": ("tuoitre", "tuoitre.vn", "noguid", "mdy-nnbsp", True),
    "Báo Thanh Niên": ("thanhnien", "thanhnien.vn", "entities", "+0700-yy", False),
    "Báo Dân Trí": ("dantri", "dantri.com.vn", "dantri", "+0700", False),
    "CafeF": ("cafef", "cafef.vn", "cdata", "+07", False),
    "BBC News Tiếng Việt": ("bbc", "www.bbc.com", "bbc", "GMT", False),
    "Báo Tiền Phong": ("tienphong", "tienphong.vn", "vnexpress", "+07:00", False),
    "Thời báo VTV (VTV Online)": ("vtv", "vtv.vn", "cdata", "+07", False),
    "Báo Điện tử VOV": ("vov", "vov.vn", "vnexpress", "+0700", False),
    "Báo Nhân Dân": ("nhandan", "nhandan.vn", "vnexpress", "+07:00", False),
    "VietnamPlus (TTXVN)": ("vietnamplus", "www.vietnamplus.vn", "vnexpress", "+07:00", False),
    "Báo Điện tử Chính phủ": ("baochinhphu", "baochinhphu.vn", "noguid", "mdy", True),
    "Báo Công an Nhân dân": ("cand", "cand.vn", "vnexpress", "+07:00", False),
    "Báo Sài Gòn Giải Phóng": ("sggp", "www.sggp.org.vn", "cdata", "+07:00", False),
    "Báo Xây dựng": ("baoxaydung", "baoxaydung.vn", "cdata", "+07", False),
    "VnEconomy": ("vneconomy", "vneconomy.vn", "vnexpress", "GMT", False),
    "Kênh 14": ("kenh14", "kenh14.vn", "cdata", "+07", False),
}

ICT = dt.timezone(dt.timedelta(hours=7))
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def pub_date(t, form, k):
    """`t` (aware) written the way the outlet writes it."""
    if form == "GMT":
        u = t.astimezone(dt.timezone.utc)
        return f"{DAYS[u.weekday()]}, {u.day:02d} {MONTHS[u.month - 1]} {u.year} {u:%H:%M:%S} GMT"
    t = t.astimezone(ICT)
    if form.startswith("mdy"):
        hour = t.hour % 12 or 12
        # Tuổi Trẻ sometimes puts U+202F before the AM/PM marker.
        space = "\u202f" if form == "mdy-nnbsp" and k % 10 == 3 else " "
        return f"{t.month}/{t.day}/{t.year} {hour}:{t:%M:%S}{space}{'PM' if t.hour >= 12 else 'AM'}"
    year = f"{t.year % 100:02d}" if form.endswith("-yy") else str(t.year)
    zone = form.removesuffix("-yy")
    return f"{DAYS[t.weekday()]}, {t.day:02d} {MONTHS[t.month - 1]} {year} {t:%H:%M:%S} {zone}"


def numbered_link(link, k):
    """The outlet's link made the k-th distinct one: its trailing article id moved on by k (or
    `-k` added before the extension when it has none); the query is kept."""
    base, sep, query = link.partition("?")
    m = re.search(r"(\d+)(\.[a-z]+)?$", base)
    if m and len(m.group(1)) >= 4:
        base = base[: m.start(1)] + str(int(m.group(1)) + k) + (m.group(2) or "")
    else:
        m = re.search(r"(\.[a-z]+)?$", base)
        base = base[: m.start()] + f"-{k}" + (m.group(1) or "")
    return base + sep + query


def xml_text(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def entities(s):
    """Latin-1 letters as named HTML entities, as Thanh Niên leaves them inside CDATA."""
    out = []
    for c in s:
        name = html.entities.codepoint2name.get(ord(c)) if 0xA0 <= ord(c) <= 0xFF else None
        out.append(f"&{name};" if name else c)
    return "".join(out)


def item_xml(shape, title, link, guid, date, summary, author):
    if shape == "entities":
        title, summary = entities(title), entities(summary)
    if shape in ("cdata", "entities"):
        return (
            f"        <item>\n          <title>\n            <![CDATA[ {title} ]]>\n          </title>\n"
            f"          <link>{xml_text(link)}</link>\n"
            f"          <description>\n            <![CDATA[ {summary} ]]>\n          </description>\n"
            f"          <pubDate>{date}</pubDate>\n          <guid>{xml_text(guid)}</guid>\n"
            "        </item>\n"
        )
    parts = [f"    <item>\n      <title>{xml_text(title)}</title>\n"]
    parts.append(f"      <description><![CDATA[{summary}]]></description>\n")
    parts.append(f"      <pubDate>{date}</pubDate>\n      <link>{xml_text(link)}</link>\n")
    if shape == "bbc":
        parts.append(f'      <guid isPermaLink="false">{xml_text(guid)}#0</guid>\n')
    elif shape != "noguid":
        parts.append(f"      <guid>{xml_text(guid)}</guid>\n")
    if shape == "dantri":
        parts.append(f"      <dc:creator>{xml_text(author)}</dc:creator>\n")
        parts.append('      <category domain="https://dantri.com.vn/thoi-su.htm">Thời sự</category>\n')
    if shape == "vnexpress":
        parts.append("      <slash:comments>0</slash:comments>\n")
    parts.append("    </item>\n")
    return "".join(parts)


def feed_xml(name, home, items):
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:slash="http://purl.org/rss/1.0/modules/slash/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">\n  <channel>\n'
        f"    <title>{xml_text(name)}</title>\n    <link>{home}</link>\n"
        f"    <description>{xml_text(name)} RSS</description>\n"
    )
    return head + "".join(items) + "  </channel>\n</rss>\n"


def outlet_items(samples):
    """Real items per outlet: file 15, and Thanh Niên's item of file 10."""
    items = {}
    with open(os.path.join(samples, "15_press-scanning_pitfall-items_extracted.json"), encoding="utf-8") as f:
        for x in json.load(f):
            items.setdefault(x["outlet"], []).append((x["title"], x["link"], x.get("summary") or ""))
    with open(os.path.join(samples, "10_thanhnien_item_2024-01-27_from-ts-comment.xml.txt"), encoding="utf-8") as f:
        raw = f.read()
    grab = lambda tag: re.search(rf"<{tag}>\s*(?:<!\[CDATA\[)?\s*(.*?)\s*(?:\]\]>)?\s*</{tag}>", raw, re.S).group(1)
    title, summary = html.unescape(grab("title")), html.unescape(grab("description"))
    items["Báo Thanh Niên"] = [(title, grab("link"), summary)]
    return items


def generate(samples, out, total, small):
    with open(os.path.join(samples, "16_press-scanning_raw-pubDate-strings-by-outlet_extracted.json"), encoding="utf-8") as f:
        outlets = list(json.load(f))
    assert sorted(outlets) == sorted(OUTLETS), "samples file 16 names other outlets"
    real = outlet_items(samples)
    now = dt.datetime.now(ICT).replace(microsecond=0) - dt.timedelta(minutes=5)
    os.makedirs(os.path.join(out, "feeds"), exist_ok=True)
    sources, written = [], 0
    # The shipped topics file scopes a topic to these tags: every tag must have a source.
    tags = {"nhandan": "dang", "sggp": "dang", "baochinhphu": "chinh-phu", "vtv": "chinh-phu", "cand": "quan-doi"}
    per, extra = divmod(total, len(outlets))
    for o, outlet in enumerate(outlets):
        sid, host, shape, form, mdy = OUTLETS[outlet]
        count = per + (1 if o < extra else 0)
        pool = real[outlet]
        items = []
        for k in range(count):
            title, link, summary = pool[k % len(pool)]
            new_link = numbered_link(link, k + 1)
            if shape == "bbc":
                new_link = new_link if "?" in new_link else new_link + "?at_medium=RSS&at_campaign=rss"
            guid = new_link.partition("?")[0]
            # Numbered titles: the real title, then which one it is.
            numbered = f"{title} ({k + 1})"
            # Dates step back 7 minutes per item (about four days for 850 items).
            date = pub_date(now - dt.timedelta(minutes=7 * k + o), form, k)
            text = summary.replace(link, new_link)
            items.append(item_xml(shape, numbered, new_link, guid, date, text, f"Phóng viên {k % 40}"))
        with open(os.path.join(out, "feeds", f"{sid}.xml"), "w", encoding="utf-8") as f:
            f.write(feed_xml(outlet, f"https://{host}/", items))
        written += count
        sources.append((sid, outlet, f"feeds/{sid}.xml", mdy, tags.get(sid)))
    assert written == total
    write_sources(os.path.join(out, "sources.toml"), sources)
    if small:
        small_feeds(out, small, real, now)


def small_feeds(out, n, real, now):
    """N feeds of 15 items each, every item distinct: the shapes and items of the 17 in turn."""
    os.makedirs(os.path.join(out, "small"), exist_ok=True)
    names = list(OUTLETS)
    sources = []
    for i in range(n):
        outlet = names[i % len(names)]
        _, host, shape, form, mdy = OUTLETS[outlet]
        pool = real[outlet]
        items = []
        for j in range(15):
            title, link, summary = pool[(i + j) % len(pool)]
            k = 100_000 + i * 15 + j
            new_link = numbered_link(link, k)
            date = pub_date(now - dt.timedelta(minutes=11 * j + i % 60), form, j)
            items.append(item_xml(shape, f"{title} ({k})", new_link, new_link.partition("?")[0], date,
                                  summary.replace(link, new_link), "Phóng viên"))
        with open(os.path.join(out, "small", f"f{i}.xml"), "w", encoding="utf-8") as f:
            f.write(feed_xml(f"{outlet} {i}", f"https://{host}/", items))
        tag = ["dang", "chinh-phu", "quan-doi", None][i % 4]
        sources.append((f"f{i}", f"{outlet} {i}", f"small/f{i}.xml", mdy, tag))
    write_sources(os.path.join(out, "small.toml"), sources)


def write_sources(path, sources):
    with open(path, "w", encoding="utf-8") as f:
        for sid, name, rel, mdy, tag in sources:
            f.write(f'[[sources]]\nid = "{sid}"\nname = "{name}"\nurl = "{{BASE}}/{rel}"\n')
            if tag:
                f.write(f'tags = ["{tag}"]\n')
            if mdy:
                f.write('date_order = "mdy"\n')
            f.write("\n")


def serve(root, port):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    files = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                files["/" + os.path.relpath(p, root).replace(os.sep, "/")] = f.read()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = files.get(self.path.partition("?")[0])
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()


def main(argv):
    if len(argv) >= 3 and argv[0] == "generate":
        total = int(argv[argv.index("--items") + 1]) if "--items" in argv else 14434
        small = int(argv[argv.index("--small") + 1]) if "--small" in argv else 0
        generate(argv[1], argv[2], total, small)
    elif len(argv) == 3 and argv[0] == "serve":
        serve(argv[1], argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
