#!/usr/bin/env python3
"""Writes tests/fixtures/w3c-expected.tsv, the table tests/w3c_corpus.rs
compares a poll of the W3C Feed Validator test files against.

Each row: the file, feedparser's entry count (from the corpus's index.tsv),
the items feedsift stores, the outcome (read / no-items / refused) and a
reason wherever feedsift's count differs from feedparser's or is 0. The
counts come from a run of the test (the observed file); the reasons come
from REASONS and RULES below, written by hand after reading the files. A
file where feedparser reads entries and feedsift stores none, or fewer, with
no reason here stops the script: fix feedsift, or state why.

    FEEDSIFT_W3C_OBSERVED=/tmp/w3c.tsv cargo test --test integration w3c_corpus::
    python3 scripts/gen_w3c_expected.py /tmp/w3c.tsv [CORPUS_DIR]
"""

import csv
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "tests", "fixtures", "w3c-expected.tsv")

# Files read by hand, and why feedsift's count is what it is.
REASONS = {
    "feedvalidator/testcases/rss/must/rss10_item_in_channel.xml":
        "an RSS 1.0 item inside <channel> (RSS 1.0 puts items beside it); "
        "feed-rs reads only the latter, status no-items says so",
    "feedvalidator/testcases/gbase/rss1/vehicles1.xml":
        "both items link the same page: one item, seen twice",
    "feedvalidator/testcases/rss20/element-channel-item-guid/guid_duplicate_value_cdata.xml":
        "the same guid, once escaped and once in CDATA: one item",
    "feedvalidator/testcases/rss20/element-channel-item-guid/guid_duplicate_value_ncr.xml":
        "the same guid, once as &amp; and once as &#38;: one item",
}

# (outcome, pattern on the error or status note, reason), first match wins.
RULES = [
    ("refused", r"no root element",
     "an <rss> or RSS 1.1 root with no channel in it: nothing to read "
     "(feedparser reads no entries either)"),
    ("refused", r"unable to parse XML",
     "ill-formed XML with no complete entry in it: nothing to keep "
     "(feedparser reads no entries either)"),
    ("no-items", r"dialect feedsift does not read",
     "item elements feed-rs does not read; status no-items names it"),
    ("no-items", r"empty channel",
     "the feed has no entries (a test of feed-level elements)"),
]


def duplicate_ids(path):
    """True when the file repeats a guid, id or link value: one item."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    for tag in ("guid", "id", "link", "sx:sync"):
        values = re.findall(r"<%s\b[^>]*>\s*([^<]+?)\s*<" % tag, text)
        values += re.findall(r'<%s\b[^>]*\bid="([^"]+)"' % tag, text)
        if len(values) != len(set(values)):
            return True
    return False


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    observed_file = sys.argv[1]
    corpus = sys.argv[2] if len(sys.argv) > 2 else os.path.join(REPO, "..", "shared", "corpus")
    with open(os.path.join(corpus, "index.tsv"), newline="") as f:
        index = {r["path"]: int(r["feedparser_entries"])
                 for r in csv.DictReader(f, delimiter="\t")}
    with open(observed_file, newline="") as f:
        observed = {r["path"]: r for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)}
    if set(index) != set(observed):
        sys.exit("the observed run and index.tsv list different files")

    rows, unexplained = [], []
    for path in sorted(index):
        fp, o = index[path], observed[path]
        items, outcome, note = int(o["items"]), o["outcome"], o["error"]
        reason = REASONS.get(path, "")
        if not reason and outcome != "read":
            reason = next((r for out, pat, r in RULES
                           if out == outcome and re.search(pat, note)), "")
        if not reason and outcome == "read" and items > fp:
            reason = ("more than feedparser's count, which leaves out "
                      "entries without a title or link")
        if not reason and outcome == "read" and items < fp:
            if duplicate_ids(os.path.join(corpus, path)):
                reason = "entries repeating a guid, id or link are one item"
        if not reason and (items < fp or outcome != "read"):
            unexplained.append(f"{path}: feedparser {fp}, feedsift {items} ({outcome}: {note})")
        rows.append((path, fp, items, outcome, reason))

    if unexplained:
        sys.exit("no reason stated for:\n" + "\n".join(unexplained))
    with open(OUT, "w") as f:
        f.write("# Made by scripts/gen_w3c_expected.py from a run of tests/w3c_corpus.rs;\n")
        f.write("# the test compares every file's stored items and outcome with this table.\n")
        f.write("path\tfeedparser\titems\toutcome\treason\n")
        for path, fp, items, outcome, reason in rows:
            f.write(f"{path}\t{fp}\t{items}\t{outcome}\t{reason}\n")
    counts = {}
    for r in rows:
        counts[r[3]] = counts.get(r[3], 0) + 1
    print(f"wrote {OUT}: {len(rows)} files, {counts}")


if __name__ == "__main__":
    main()
