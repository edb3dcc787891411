#!/usr/bin/env python3
"""The plain Python aggregator bantin's cold ingest is compared with: feedparser + sqlite3, the
obvious implementation. Fetches each feed URL over HTTP with feedparser, stores a row per entry
(UNIQUE on the entry's guid, else its link), commits once per feed, and prints the number of
stored articles.

    python_aggregator.py DATABASE URL...
"""

import sqlite3
import sys

import feedparser


def main(db_path, urls):
    db = sqlite3.connect(db_path)
    db.execute(
        """CREATE TABLE IF NOT EXISTS articles (
               id        INTEGER PRIMARY KEY,
               feed      TEXT NOT NULL,
               key       TEXT NOT NULL UNIQUE,
               link      TEXT,
               title     TEXT,
               summary   TEXT,
               published TEXT
           )"""
    )
    for url in urls:
        feed = feedparser.parse(url)
        for e in feed.entries:
            key = e.get("id") or e.get("link")
            if not key:
                continue
            db.execute(
                "INSERT OR IGNORE INTO articles (feed, key, link, title, summary, published) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (url, key, e.get("link"), e.get("title"), e.get("summary"), e.get("published")),
            )
        db.commit()
    print(db.execute("SELECT count(*) FROM articles").fetchone()[0])


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
