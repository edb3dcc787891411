#!/bin/sh
# Fills fuzz/corpus/<target>/ (not committed) with the seeds of every target: the hand seeds in
# fuzz/seeds/, the test fixtures' dates and texts (one per line in seeds/*.txt), the sitemap
# fixtures of the tests (tests/feeds/sitemap_*), and the real feeds in $SAMPLES (default
# /work/shared/samples), read from there and never committed.
# libFuzzer adds what it finds to the same directories; running this again only adds seeds.
set -eu
cd "$(dirname "$0")"
samples=${SAMPLES:-/work/shared/samples}
for t in feed html_list html_article date text topics config unsubscribe opml sitemap page_query; do
    mkdir -p "corpus/$t"
done
cp seeds/feed/* corpus/feed/
if [ -d "$samples" ]; then
    cp "$samples"/* corpus/feed/
fi
cp seeds/html/* corpus/html_list/
cp seeds/html/* corpus/html_article/
# The feeds' HTML summaries are article-like markup too.
cp seeds/feed/* corpus/html_article/
cp seeds/topics/* corpus/topics/
cp seeds/config/* corpus/config/
cp seeds/unsubscribe/* corpus/unsubscribe/
cp seeds/opml/* corpus/opml/
cp seeds/sitemap/* ../tests/feeds/sitemap_* corpus/sitemap/
for t in date text page_query; do
    n=0
    while IFS= read -r line; do
        n=$((n + 1))
        printf '%s' "$line" > "corpus/$t/seed-$n"
    done < "seeds/$t.txt"
done
for t in feed html_list html_article date text topics config unsubscribe opml sitemap page_query; do
    echo "$t: $(ls "corpus/$t" | wc -l) files"
done
