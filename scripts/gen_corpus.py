#!/usr/bin/env python3
"""Writes tests/fixtures/corpus/: feed files in the shapes publishers serve.

The files are committed; this script is how they were made (the byte-level
ones, in legacy encodings, are easier to produce than to type). Text is
invented. Run from the repository root: python3 scripts/gen_corpus.py
"""
import os
import random

OUT = os.path.join("tests", "fixtures", "corpus")
os.makedirs(OUT, exist_ok=True)


def w(name, data, enc="utf-8"):
    if isinstance(data, str):
        data = data.encode(enc)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def rss(items, extra_ns="", channel_extra="", version="2.0", decl='<?xml version="1.0" encoding="UTF-8"?>\n', title="Corpus feed"):
    return (
        f'{decl}<rss version="{version}"{extra_ns}>\n<channel>\n<title>{title}</title>\n'
        f"<link>https://site.example/</link>\n<description>Invented news for tests</description>\n"
        f"{channel_extra}{items}</channel>\n</rss>\n"
    )


# 1. RSS 2.0 as the specification shows it.
w("rss20-spec.rss", rss("""<item><title>Harbour reopens after storm</title><link>https://spec.example/news/1</link>
<description>The harbour reopened on Monday.</description><guid>https://spec.example/news/1</guid>
<pubDate>Mon, 04 Mar 2024 10:15:00 GMT</pubDate><author>desk@spec.example (News Desk)</author></item>
<item><title>Council approves budget</title><link>https://spec.example/news/2</link>
<description>The city council approved the budget.</description><guid isPermaLink="false">spec-2</guid>
<pubDate>Tue, 05 Mar 2024 08:00:00 +0100</pubDate></item>
<item><title>Library extends hours</title><link>https://spec.example/news/3</link>
<guid>https://spec.example/news/3</guid><pubDate>Wed, 06 Mar 2024 17:30:00 -0500</pubDate></item>
""", channel_extra="<language>en-us</language><lastBuildDate>Wed, 06 Mar 2024 18:00:00 GMT</lastBuildDate><ttl>30</ttl>\n"))

# 2. RSS 0.91 with the Netscape DOCTYPE, no guids, no dates.
w("rss091.rss", """<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old Portal</title><link>https://old.example/</link><description>Since 1999</description><language>en</language>
<image><title>Old Portal</title><url>https://old.example/logo.gif</url><link>https://old.example/</link></image>
<item><title>Weather turns cold</title><link>https://old.example/story/101</link><description>Snow expected.</description></item>
<item><title>Market closes higher</title><link>https://old.example/story/102</link></item>
</channel></rss>
""")

# 3. RSS 0.92: items may lack a title; enclosures.
w("rss092.rss", """<?xml version="1.0"?>
<rss version="0.92"><channel><title>Radio Show</title><link>https://radio092.example/</link><description>Weekly</description>
<item><description>Episode notes without a title.</description><link>https://radio092.example/ep/7</link>
<enclosure url="https://radio092.example/ep7.mp3" length="1234" type="audio/mpeg"/></item>
<item><title>Episode 8</title><description>More notes &amp; music.</description><link>https://radio092.example/ep/8</link>
<category>music</category></item>
</channel></rss>
""")

# 4. RSS 1.0 (RDF) with Dublin Core dates and creators.
w("rss10.rdf", """<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://rdf.example/index.rdf"><title>RDF Wire</title><link>https://rdf.example/</link><description>RSS 1.0</description>
<items><rdf:Seq><rdf:li rdf:resource="https://rdf.example/a/1"/><rdf:li rdf:resource="https://rdf.example/a/2"/></rdf:Seq></items></channel>
<item rdf:about="https://rdf.example/a/1"><title>Rail line extended</title><link>https://rdf.example/a/1</link>
<description>Two new stations.</description><dc:creator>Anna Petrova</dc:creator><dc:date>2024-03-04T12:00:00+03:00</dc:date></item>
<item rdf:about="https://rdf.example/a/2"><title>Bridge repairs finish early</title><link>https://rdf.example/a/2</link>
<dc:date>2024-03-05</dc:date></item>
</rdf:RDF>
""")

# 5. Atom 1.0, clean.
w("atom10.atom", """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Daily</title><id>urn:uuid:60a76c80-d399-11d9-b93c-0003939e0af6</id>
<updated>2024-03-04T18:30:02Z</updated><link href="https://atom.example/"/><author><name>Atom Desk</name></author>
<entry><title>Observatory finds comet</title><link href="https://atom.example/2024/03/comet"/><id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
<published>2024-03-04T18:30:02Z</published><updated>2024-03-04T19:00:00Z</updated><summary>A new comet.</summary></entry>
<entry><title type="html">Ferry &lt;em&gt;timetable&lt;/em&gt; changes</title><link rel="alternate" href="https://atom.example/2024/03/ferry"/>
<link rel="enclosure" href="https://atom.example/ferry.pdf"/><id>tag:atom.example,2024:ferry</id>
<updated>2024-03-03T09:00:00+02:00</updated><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>New times.</p></div></content></entry>
</feed>
""")

# 6. Atom 0.3.
w("atom03.atom", """<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Legacy Atom</title><link rel="alternate" type="text/html" href="https://atom03.example/"/>
<modified>2005-06-01T12:00:00Z</modified><tagline>Old format</tagline>
<entry><title>Garden show opens</title><link rel="alternate" type="text/html" href="https://atom03.example/2005/06/garden"/>
<id>tag:atom03.example,2005:garden</id><issued>2005-06-01T10:00:00+02:00</issued><modified>2005-06-01T12:00:00Z</modified>
<summary>Flowers.</summary></entry>
<entry><title>Museum night</title><link rel="alternate" type="text/html" href="https://atom03.example/2005/06/museum"/>
<id>tag:atom03.example,2005:museum</id><issued>2005-06-02T20:00:00Z</issued></entry>
</feed>
""")

# 7. JSON Feed 1.0.
w("jsonfeed10.json", """{
  "version": "https://jsonfeed.org/version/1",
  "title": "JSON One",
  "home_page_url": "https://json10.example/",
  "feed_url": "https://json10.example/feed.json",
  "author": {"name": "J. Writer"},
  "items": [
    {"id": "1", "url": "https://json10.example/posts/1", "title": "Trams return", "content_html": "<p>Trams are back.</p>", "date_published": "2024-03-04T09:00:00-05:00"},
    {"id": "2", "url": "https://json10.example/posts/2", "content_text": "A post without a title.", "date_published": "2024-03-05T09:00:00Z"}
  ]
}
""")

# 8. JSON Feed 1.1: authors array, a missing date, external_url.
w("jsonfeed11.json", """{
  "version": "https://jsonfeed.org/version/1.1",
  "title": "JSON Eleven",
  "home_page_url": "https://json11.example/",
  "language": "en",
  "items": [
    {"id": "a", "url": "https://json11.example/a", "title": "Airport opens terminal", "content_text": "Opened.", "authors": [{"name": "K. Lee"}], "date_published": "2024-03-04T10:15:00.500Z", "tags": ["travel"]},
    {"id": "b", "external_url": "https://elsewhere.example/b", "title": "Linked elsewhere", "summary": "No date here."}
  ]
}
""")

# 9. HTML pasted unescaped into a description, with unclosed tags.
w("unclosed-html.rss", rss("""<item><title>Unclosed paragraph</title><link>https://unclosed.example/1</link>
<description><p>First line<br>second line <img src="x.jpg"></description><guid>unclosed-1</guid>
<pubDate>Mon, 04 Mar 2024 10:00:00 GMT</pubDate></item>
<item><title>Fine item</title><link>https://unclosed.example/2</link><description>ok</description><guid>unclosed-2</guid>
<pubDate>Mon, 04 Mar 2024 11:00:00 GMT</pubDate></item>
"""))

# 10. An item whose closing tag is missing.
w("unclosed-item.rss", rss("""<item><title>Lost closing tag</title><link>https://unclosed-item.example/1</link><guid>ui-1</guid>
<item><title>Next item</title><link>https://unclosed-item.example/2</link><guid>ui-2</guid></item>
"""))

# 11. Bare ampersands in text and links.
w("bare-ampersand.rss", rss("""<item><title>AT&T and Barnes & Noble merge talks</title><link>https://amp.example/story?id=5&section=biz</link>
<description>Q&A: what it means</description><guid>amp-1</guid><pubDate>Mon, 04 Mar 2024 10:00:00 GMT</pubDate></item>
"""))

# 12. Undeclared HTML entities.
w("html-entities.rss", rss("""<item><title>Prices rise&nbsp;&mdash; again&hellip; it&rsquo;s official</title><link>https://ent.example/1</link>
<description>&copy; 2024 &laquo;Ent&raquo; &eacute;t&eacute;</description><guid>ent-1</guid><pubDate>Mon, 04 Mar 2024 10:00:00 GMT</pubDate></item>
"""))

RU = "Москва и Токио обсудили мирный договор"
RU2 = "Погода в Санкт-Петербурге"
# 13. windows-1251 bytes declared as UTF-8.
w("cp1251-declared-utf8.rss", rss(f"""<item><title>{RU}</title><link>https://ru1251.example/1</link><guid>ru-1</guid>
<description>{RU2}</description><pubDate>Mon, 04 Mar 2024 10:00:00 +0300</pubDate></item>
""", title="Новости"), "cp1251")
# 14. KOI8-R, declared.
w("koi8r-declared.rss", rss(f"""<item><title>{RU}</title><link>https://koi8.example/1</link><guid>k-1</guid>
<pubDate>Mon, 04 Mar 2024 10:00:00 MSK</pubDate></item>
""", decl='<?xml version="1.0" encoding="KOI8-R"?>\n', title="Новости"), "koi8_r")
# 15. KOI8-R, undeclared.
w("koi8r-undeclared.rss", rss(f"""<item><title>{RU}</title><link>https://koi8u.example/1</link><guid>k-1</guid>
<description>{RU2}. Россия, Япония, переговоры продолжатся в следующем месяце.</description></item>
""", decl='<?xml version="1.0"?>\n', title="Новости"), "koi8_r")
# 16. windows-1251, declared (the usual Russian case).
w("cp1251-declared.rss", rss(f"""<item><title>{RU2}</title><link>https://ru.example/1</link><guid>r-1</guid></item>
""", decl='<?xml version="1.0" encoding="windows-1251"?>\n', title="Новости"), "cp1251")

JA = "日本とロシアの外相が会談"
JA2 = "東京で桜が開花しました。気象庁によると平年より早いということです。"
# 17-20. Shift_JIS and EUC-JP, with and without a declaration.
w("sjis-declared.rss", rss(f"""<item><title>{JA}</title><link>https://sjis.example/1</link><guid>s-1</guid>
<pubDate>Mon, 04 Mar 2024 19:00:00 JST</pubDate></item>
""", decl='<?xml version="1.0" encoding="Shift_JIS"?>\n', title="ニュース"), "shift_jis")
w("sjis-undeclared.rss", rss(f"""<item><title>{JA}</title><link>https://sjisu.example/1</link><guid>s-1</guid>
<description>{JA2}</description></item>
""", decl='<?xml version="1.0"?>\n', title="ニュース"), "shift_jis")
w("eucjp-declared.rdf", f"""<?xml version="1.0" encoding="EUC-JP"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://eucjp.example/"><title>ニュース</title><link>https://eucjp.example/</link><description>{JA2}</description></channel>
<item rdf:about="https://eucjp.example/1"><title>{JA}</title><link>https://eucjp.example/1</link><dc:date>2024-03-04T19:00:00+09:00</dc:date></item>
</rdf:RDF>
""", "euc_jp")
w("eucjp-undeclared.rdf", f"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://eucjpu.example/"><title>ニュース</title><link>https://eucjpu.example/</link><description>{JA2}</description></channel>
<item rdf:about="https://eucjpu.example/1"><title>{JA}</title><link>https://eucjpu.example/1</link><description>{JA2}</description></item>
</rdf:RDF>
""", "euc_jp")

# 21-22. UTF-16 with a byte order mark.
w("utf16le-bom.atom", "\ufeff" + """<?xml version="1.0" encoding="UTF-16"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Sixteen</title><id>tag:u16le.example,2024:feed</id><updated>2024-03-04T00:00:00Z</updated>
<entry><title>Café « Zürich » reopens</title><id>tag:u16le.example,2024:1</id><link href="https://u16le.example/1"/><updated>2024-03-04T08:00:00Z</updated></entry>
</feed>
""", "utf-16-le")
w("utf16be-bom.rss", "\ufeff" + rss(f"""<item><title>{RU}</title><link>https://u16be.example/1</link><guid>b-1</guid>
<pubDate>Mon, 04 Mar 2024 10:00:00 GMT</pubDate></item>
""", decl='<?xml version="1.0" encoding="UTF-16"?>\n'), "utf-16-be")

# 23-24. Latin-1, undeclared and declared.
w("latin1-undeclared.rss", rss("""<item><title>Caf\u00e9 cr\u00e8me na\u00efve fa\u00e7ade</title><link>https://latin.example/1</link><guid>l-1</guid>
<description>\u00c0 la fran\u00e7aise</description></item>
""", decl=""), "latin-1")
w("latin1-declared.rss", rss("""<item><title>M\u00fcnchen \u00d6ffnungszeiten \u00e4ndern sich</title><link>https://latin2.example/1</link><guid>l-1</guid></item>
""", decl='<?xml version="1.0" encoding="ISO-8859-1"?>\n'), "latin-1")

# 25. HTML in titles: escaped, in CDATA, and entity-encoded twice.
w("html-in-titles.rss", rss("""<item><title>&lt;b&gt;Breaking:&lt;/b&gt; dam holds</title><link>https://htitle.example/1</link><guid>h-1</guid></item>
<item><title><![CDATA[<em>Exclusive</em> interview with the mayor]]></title><link>https://htitle.example/2</link><guid>h-2</guid></item>
<item><title>Tom &amp;amp; Jerry festival</title><link>https://htitle.example/3</link><guid>h-3</guid></item>
"""))

# 26. Relative links with xml:base (Atom).
w("relative-xmlbase.atom", """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://base.example/blog/"><title>Based</title><id>tag:base.example,2024:f</id><updated>2024-03-04T00:00:00Z</updated>
<entry><title>Relative to the feed base</title><id>tag:base.example,2024:1</id><link href="posts/one.html"/><updated>2024-03-04T01:00:00Z</updated></entry>
<entry xml:base="https://other.example/news/"><title>Relative to the entry base</title><id>tag:base.example,2024:2</id><link href="../two.html"/><updated>2024-03-04T02:00:00Z</updated></entry>
<entry><title>Root relative</title><id>tag:base.example,2024:3</id><link href="/three.html"/><updated>2024-03-04T03:00:00Z</updated></entry>
</feed>
""")

# 27. Relative links without any base: the feed's own address is the base.
w("relative-nobase.rss", rss("""<item><title>Root-relative link</title><link>/news/2024/one.html</link><guid isPermaLink="false">rn-1</guid></item>
<item><title>Path-relative link</title><link>two.html?x=1</link><guid isPermaLink="false">rn-2</guid></item>
<item><title>Protocol-relative link</title><link>//cdn.relative.example/three</link><guid isPermaLink="false">rn-3</guid></item>
"""))

# 28. A dozen date formats in RSS pubDate.
DATES = [
    ("Mon, 04 Mar 2024 10:15:00 +0000", "2024-03-04T10:15:00Z"),
    ("04 Mar 2024 10:15:00 GMT", "2024-03-04T10:15:00Z"),
    ("Mon, 4 Mar 2024 9:15 UT", "2024-03-04T09:15:00Z"),
    ("Mon, 04 Mar 24 10:15:00 EST", "2024-03-04T15:15:00Z"),
    ("Mon, 04 Mar 2024 10:15:00 EDT", "2024-03-04T14:15:00Z"),
    ("Mon, 04 Mar 2024 10:15:00 PST", "2024-03-04T18:15:00Z"),
    ("Monday, 04 March 2024 10:15:00 MSK", "2024-03-04T07:15:00Z"),
    ("Mon, 04 Mar 2024 10:15:00 JST", "2024-03-04T01:15:00Z"),
    ("Mon, 04 Mar 2024 10:15:00 CET", "2024-03-04T09:15:00Z"),
    ("Mon, 04 Mar 2024 10:15:00 Z", "2024-03-04T10:15:00Z"),
    ("Mon, 04 Mar 2024 10:15:00 +05:30", "2024-03-04T04:45:00Z"),
    ("2024-03-04T10:15:00+09:00", "2024-03-04T01:15:00Z"),
    ("2024-03-04 10:15:00", "2024-03-04T10:15:00Z"),
    ("March 4, 2024 10:15 AM EST", "2024-03-04T15:15:00Z"),
    ("Mon Mar 04 2024 10:15:00 GMT+0300 (Moscow Standard Time)", "2024-03-04T07:15:00Z"),
]
w("dates-rss.rss", rss("".join(
    f"<item><title>Date format {i + 1}</title><link>https://dates.example/{i + 1}</link><pubDate>{d}</pubDate></item>\n"
    for i, (d, _) in enumerate(DATES))))

# 29. ISO 8601 variants in Atom and dc:date.
ISO = [
    ("2024-03-04T10:15Z", "2024-03-04T10:15:00Z"),
    ("2024-03-04T10:15:00", "2024-03-04T10:15:00Z"),
    ("2024-03-04 10:15:00Z", "2024-03-04T10:15:00Z"),
    ("2024-03-04T10:15:00.123+01:00", "2024-03-04T09:15:00.123Z"),
    ("20240304T101500Z", "2024-03-04T10:15:00Z"),
    ("2024-03-04T10:15:00-0800", "2024-03-04T18:15:00Z"),
]
w("dates-iso.atom", '<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>ISO</title><id>tag:iso.example,2024:f</id><updated>2024-03-04T00:00:00Z</updated>\n' + "".join(
    f'<entry><title>ISO format {i + 1}</title><id>tag:iso.example,2024:{i + 1}</id><link href="https://iso.example/{i + 1}"/><updated>{d}</updated></entry>\n'
    for i, (d, _) in enumerate(ISO)) + "</feed>\n")

w("dates-dc.rss", rss("""<item><title>Dublin Core date only</title><link>https://dcdate.example/1</link><dc:date>2024-03-04T10:15:00+03:00</dc:date><dc:creator>Ivan Sidorov</dc:creator></item>
""", extra_ns=' xmlns:dc="http://purl.org/dc/elements/1.1/"'))

# 30-32. Missing, future and placeholder dates: sorted by first-seen time.
w("dates-missing.rss", rss("""<item><title>No date at all</title><link>https://nodate.example/1</link><guid>nd-1</guid></item>
<item><title>Empty date</title><link>https://nodate.example/2</link><guid>nd-2</guid><pubDate></pubDate></item>
"""))
w("dates-future.rss", rss("""<item><title>Dated in 2099</title><link>https://future.example/1</link><guid>f-1</guid><pubDate>Thu, 01 Jan 2099 00:00:00 GMT</pubDate></item>
"""))
w("dates-garbage.rss", rss("""<item><title>Placeholder zero date</title><link>https://garbage.example/1</link><guid>g-1</guid><pubDate>0000-00-00 00:00:00</pubDate></item>
<item><title>Epoch placeholder</title><link>https://garbage.example/2</link><guid>g-2</guid><pubDate>Thu, 01 Jan 1970 00:00:00 +0000</pubDate></item>
<item><title>Words for a date</title><link>https://garbage.example/3</link><guid>g-3</guid><pubDate>yesterday afternoon</pubDate></item>
"""))

# 33-34. Missing guids, links and ids.
w("missing-guids.rss", rss("""<item><title>Link but no guid</title><link>https://noguid.example/1</link></item>
<item><title>Neither guid nor link</title><description>Only text, so identity is a hash.</description></item>
<item><description>No title, no guid, no link: only a description.</description></item>
"""))
w("missing-ids.atom", """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>No ids</title><updated>2024-03-04T00:00:00Z</updated>
<entry><title>Entry without id</title><link href="https://noid.example/1"/><updated>2024-03-04T05:00:00Z</updated></entry>
<entry><title>Entry without id or link</title><content>Just content.</content></entry>
</feed>
""")

# 35. One 2 MB item.
random.seed(9)
words = "port city council budget rail bridge storm market school river".split()
big = " ".join(random.choice(words) for _ in range(330000))[:2 * 1024 * 1024]
w("huge-item.rss", rss(f"""<item><title>A very long article</title><link>https://huge.example/1</link><guid>huge-1</guid>
<pubDate>Mon, 04 Mar 2024 10:00:00 GMT</pubDate><description><![CDATA[<p>{big}</p>]]></description></item>
<item><title>A short one after it</title><link>https://huge.example/2</link><guid>huge-2</guid></item>
"""))

NS = (' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
      ' xmlns:media="http://search.yahoo.com/mrss/" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
      ' xmlns:georss="http://www.georss.org/georss" xmlns:slash="http://purl.org/rss/1.0/modules/slash/"'
      ' xmlns:atom="http://www.w3.org/2005/Atom" xmlns:wfw="http://wellformedweb.org/CommentAPI/"'
      ' xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"')
# 36. Namespaces galore.
w("namespaces.rss", rss("""<item><title>Everything at once</title><link>https://ns.example/1</link><guid>ns-1</guid>
<dc:creator>Maria Ivanova</dc:creator><dc:date>2024-03-04T10:15:00Z</dc:date><dc:subject>Politics</dc:subject>
<content:encoded><![CDATA[<p>Full <b>content</b> here.</p>]]></content:encoded><description>Short summary.</description>
<media:content url="https://ns.example/img/1.jpg" medium="image" width="800" height="600"><media:title>Photo</media:title><media:credit>Agency</media:credit></media:content>
<media:thumbnail url="https://ns.example/img/1-thumb.jpg"/><georss:point>55.75 37.61</georss:point><slash:comments>12</slash:comments>
<wfw:commentRss>https://ns.example/1/comments/feed</wfw:commentRss><itunes:explicit>no</itunes:explicit><category domain="https://ns.example/c">World</category></item>
""", extra_ns=NS, channel_extra='<atom:link href="https://ns.example/feed" rel="self" type="application/rss+xml"/><atom:link rel="hub" href="https://pubsubhubbub.appspot.com"/><sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>1</sy:updateFrequency>\n'))

# 37. A podcast (iTunes).
w("podcast.rss", rss("""<item><title>Episode 12: Rivers</title><itunes:title>Rivers</itunes:title><itunes:episode>12</itunes:episode>
<enclosure url="https://pod.example/12.mp3" length="31337" type="audio/mpeg"/><guid isPermaLink="false">pod-12</guid>
<pubDate>Fri, 01 Mar 2024 06:00:00 -0800</pubDate><itunes:duration>00:32:10</itunes:duration><itunes:author>Pod People</itunes:author>
<itunes:summary>About rivers.</itunes:summary><description>About rivers.</description><link>https://pod.example/12</link></item>
""", extra_ns=NS, channel_extra='<itunes:author>Pod People</itunes:author><itunes:image href="https://pod.example/art.jpg"/><itunes:category text="News"><itunes:category text="Daily News"/></itunes:category><itunes:explicit>false</itunes:explicit><itunes:owner><itunes:name>Pod</itunes:name><itunes:email>pod@pod.example</itunes:email></itunes:owner>\n'))

# 38. WordPress.
w("wordpress.rss", rss("""<item><title>Hello world!</title><link>https://wp.example/2024/03/04/hello-world/</link>
<comments>https://wp.example/2024/03/04/hello-world/#respond</comments><dc:creator><![CDATA[admin]]></dc:creator>
<pubDate>Mon, 04 Mar 2024 10:15:00 +0000</pubDate><category><![CDATA[Uncategorized]]></category>
<guid isPermaLink="false">https://wp.example/?p=1</guid><description><![CDATA[Welcome to WordPress. This is your first post. [&#8230;]]]></description>
<content:encoded><![CDATA[<!-- wp:paragraph --><p>Welcome to WordPress.</p><!-- /wp:paragraph -->]]></content:encoded>
<wfw:commentRss>https://wp.example/2024/03/04/hello-world/feed/</wfw:commentRss><slash:comments>1</slash:comments></item>
""", extra_ns=NS, title="My Blog", channel_extra='<atom:link href="https://wp.example/feed/" rel="self" type="application/rss+xml"/><lastBuildDate>Mon, 04 Mar 2024 10:15:00 +0000</lastBuildDate><language>en-US</language><sy:updatePeriod>\n\thourly\t</sy:updatePeriod><sy:updateFrequency>\n\t1\t</sy:updateFrequency><generator>https://wordpress.org/?v=6.4.3</generator>\n'))

# 39. Blogger (Atom with openSearch, thr, gd).
w("blogger.atom", """<?xml version='1.0' encoding='UTF-8'?><?xml-stylesheet href="http://www.blogger.com/styles/atom.css" type="text/css"?><feed xmlns='http://www.w3.org/2005/Atom' xmlns:openSearch='http://a9.com/-/spec/opensearchrss/1.0/' xmlns:blogger='http://schemas.google.com/blogger/2008' xmlns:georss='http://www.georss.org/georss' xmlns:gd="http://schemas.google.com/g/2005" xmlns:thr='http://purl.org/syndication/thread/1.0'><id>tag:blogger.com,1999:blog-1234567890</id><updated>2024-03-04T11:22:33.444-08:00</updated><category term="travel"/><title type='text'>Trail Notes</title><subtitle type='html'></subtitle><link rel='http://schemas.google.com/g/2005#feed' type='application/atom+xml' href='https://trail.example/feeds/posts/default'/><link rel='self' type='application/atom+xml' href='https://www.blogger.com/feeds/1234567890/posts/default'/><link rel='alternate' type='text/html' href='https://trail.example/'/><author><name>Hiker</name><uri>http://www.blogger.com/profile/1</uri><email>noreply@blogger.com</email><gd:image rel='http://schemas.google.com/g/2005#thumbnail' width='16' height='16' src='https://img1.blogblog.com/img/b16-rounded.gif'/></author><generator version='7.00' uri='http://www.blogger.com'>Blogger</generator><openSearch:totalResults>1</openSearch:totalResults><openSearch:startIndex>1</openSearch:startIndex><openSearch:itemsPerPage>25</openSearch:itemsPerPage><entry><id>tag:blogger.com,1999:blog-1234567890.post-42</id><published>2024-03-04T11:00:00.000-08:00</published><updated>2024-03-04T11:22:33.444-08:00</updated><category scheme="http://www.blogger.com/atom/ns#" term="travel"/><title type='text'>Up the ridge</title><content type='html'>&lt;p&gt;We walked &amp;amp; talked.&lt;/p&gt;</content><link rel='replies' type='application/atom+xml' href='https://trail.example/feeds/42/comments/default' title='Post Comments'/><link rel='replies' type='text/html' href='https://trail.example/2024/03/up-the-ridge.html#comment-form' title='0 Comments'/><link rel='edit' type='application/atom+xml' href='https://www.blogger.com/feeds/1234567890/posts/default/42'/><link rel='self' type='application/atom+xml' href='https://www.blogger.com/feeds/1234567890/posts/default/42'/><link rel='alternate' type='text/html' href='https://trail.example/2024/03/up-the-ridge.html' title='Up the ridge'/><author><name>Hiker</name></author><georss:featurename>Ridge</georss:featurename><georss:point>46.5 8.0</georss:point><thr:total>0</thr:total></entry></feed>""")

# 40. Medium.
w("medium.rss", rss("""<item><title><![CDATA[How we rebuilt the night bus map]]></title><link>https://medium.example/@team/night-bus-3f2a1b?source=rss----abc---4</link>
<guid isPermaLink="false">https://medium.com/p/3f2a1b</guid><category><![CDATA[transport]]></category><dc:creator><![CDATA[Transit Team]]></dc:creator>
<pubDate>Mon, 04 Mar 2024 10:15:42 GMT</pubDate><atom:updated>2024-03-04T10:20:00.123Z</atom:updated>
<content:encoded><![CDATA[<h3>Night buses</h3><p>We redrew the map.</p><img src="https://medium.com/_/stat?event=post.clientViewed" width="1" height="1">]]></content:encoded></item>
""", extra_ns=NS, channel_extra='<image><url>https://cdn.medium.example/logo.png</url><title>Transit</title><link>https://medium.example/transit</link></image><generator>Medium</generator><lastBuildDate>Mon, 04 Mar 2024 10:21:00 GMT</lastBuildDate><atom:link href="https://medium.example/feed/transit" rel="self" type="application/rss+xml"/><webMaster><![CDATA[yourfriends@medium.com]]></webMaster><atom:link href="http://medium.superfeedr.com" rel="hub"/>\n'))

# 41. YouTube-like Atom with media:group.
w("video.atom", """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">
<link rel="self" href="https://video.example/feeds/videos.xml?channel_id=UC1"/><id>yt:channel:UC1</id><yt:channelId>UC1</yt:channelId><title>City Channel</title>
<author><name>City Channel</name><uri>https://video.example/channel/UC1</uri></author><published>2015-01-01T00:00:00+00:00</published>
<entry><id>yt:video:abc123</id><yt:videoId>abc123</yt:videoId><title>Council meeting, 4 March</title>
<link rel="alternate" href="https://video.example/watch?v=abc123"/><author><name>City Channel</name></author>
<published>2024-03-04T18:00:00+00:00</published><updated>2024-03-05T01:02:03+00:00</updated>
<media:group><media:title>Council meeting, 4 March</media:title><media:content url="https://video.example/v/abc123" type="application/x-shockwave-flash" width="640" height="390"/>
<media:thumbnail url="https://i.video.example/vi/abc123/hqdefault.jpg" width="480" height="360"/><media:description>Full session.</media:description>
<media:community><media:starRating count="5" average="5.00" min="1" max="5"/><media:statistics views="100"/></media:community></media:group></entry>
</feed>
""")

# 42. GeoRSS in Atom (GML).
w("georss.atom", """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:georss="http://www.georss.org/georss" xmlns:gml="http://www.opengis.net/gml">
<title>Quakes</title><id>tag:quake.example,2024:feed</id><updated>2024-03-04T00:00:00Z</updated>
<entry><title>M 4.1 - 10 km N of Town</title><id>tag:quake.example,2024:q1</id><link href="https://quake.example/q1"/><updated>2024-03-04T03:04:05Z</updated>
<georss:where><gml:Point><gml:pos>45.256 -110.45</gml:pos></gml:Point></georss:where><georss:elev>-10000</georss:elev></entry>
</feed>
""")

# 43. <rss> without a version; 44. RSS 0.94.
w("rss-no-version.rss", """<?xml version="1.0"?><rss><channel><title>Versionless</title><link>https://nover.example/</link>
<item><title>Still a feed</title><link>https://nover.example/1</link><pubDate>Mon, 04 Mar 2024 10:00:00 GMT</pubDate></item></channel></rss>""")
w("rss094.rss", """<?xml version="1.0"?><rss version="0.94"><channel><title>Ninety-four</title><link>https://r094.example/</link>
<item><title>Odd version</title><link>https://r094.example/1</link><guid>r094-1</guid></item></channel></rss>""")

# 45. UTF-8 with BOM and blank lines before the declaration; control characters.
w("bom-and-controls.rss", "\ufeff\n\n" + rss("""<item><title>Tab\tand \x0bvertical\x01 junk</title><link>https://ctl.example/1</link><guid>c-1</guid>
<description>Form\x0cfeed gone</description></item>
"""))

# 46. A DOCTYPE with an internal subset and entities that are then used.
w("doctype-entities.rss", """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY company "Example Corp"><!ENTITY x SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>Entities</title><link>https://dtd.example/</link>
<item><title>News from &company; &x;</title><link>https://dtd.example/1</link><guid>d-1</guid></item></channel></rss>""")

# 47. Tracking parameters and fragments on links (Google-News-like shape).
w("tracking-links.rss", rss("""<item><title>Story - The Example Times</title><link>https://track.example/2024/story.html?utm_source=rss&amp;utm_medium=feed#top</link>
<guid isPermaLink="false">CBMiTmh0dHBzOi8vdHJhY2suZXhhbXBsZS8</guid><pubDate>Mon, 04 Mar 2024 10:00:00 GMT</pubDate>
<description>&lt;a href="https://track.example/2024/story.html"&gt;Story&lt;/a&gt;&amp;nbsp;&amp;nbsp;&lt;font color="#6f6f6f"&gt;The Example Times&lt;/font&gt;</description>
<source url="https://track.example">The Example Times</source></item>
"""))

# Refused inputs.
w("html-page.xml", """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Example News - Home</title>
<link rel="alternate" type="application/rss+xml" title="RSS" href="/rss/all.xml">
</head><body><h1>Example News</h1><p>Welcome.</p></body></html>
""")
w("empty.xml", b"")
w("whitespace.xml", b"\n\n   \r\n\t\n")
random.seed(42)
w("binary-garbage.bin", bytes(random.randrange(256) for _ in range(4096)))
w("gzip-as-plain.xml", bytes([0x1f, 0x8b, 0x08, 0x00]) + bytes(random.randrange(256) for _ in range(512)))
w("truncated.rss", rss("""<item><title>Complete item</title><link>https://trunc.example/1</link><guid>t-1</guid></item>
<item><title>Cut off in the mid""")[:-1].split("<item><title>Cut")[0] + "<item><title>Cut off in the mid")
w("json-broken.json", '{"version": "https://jsonfeed.org/version/1.1", "title": "Broken", "items": [{"id": "1", "title": "x"')
w("not-a-feed.xml", """<?xml version="1.0"?><config><setting name="a">1</setting></config>""")
w("plain-text.txt", "This is not a feed. Please use our RSS page instead.\n")

# Well-formed, but HTML pasted raw (not escaped, not CDATA) into text elements.
w("raw-html-wellformed.rss", rss("""<item><title>Raw <i>markup</i> in a title</title><link>https://rawhtml.example/1</link><guid>rh-1</guid>
<description><p>Paragraph one.</p><p>Paragraph <a href="https://rawhtml.example/more">two</a>.</p></description></item>
"""))

# --- issue 20: what another reader reads, feedsift reads ------------------

# RSS 0.90: RDF with items in Netscape's namespace (a real news site's feed
# of this shape came through with 0 items and status ok).
w("rss090.rdf", """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">
<channel><title>Nineties Wire</title><link>https://wire090.example/</link><description>Headlines</description></channel>
<image><title>Nineties Wire</title><url>https://wire090.example/logo.gif</url><link>https://wire090.example/</link></image>
<item><title>Ferry service resumes</title><link>https://wire090.example/1</link></item>
<item><title>Bridge repairs finished</title><link>https://wire090.example/2</link></item>
<item><title>Snow closes mountain pass</title><link>https://wire090.example/3</link></item>
<textinput><title>Search</title><description>Search the wire</description><name>q</name><link>https://wire090.example/search</link></textinput>
</rdf:RDF>
""")

# Atom 1.0 text constructs with the types feed-rs refused the feed over.
w("atom-text-types.atom", """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title type="application/xhtml+xml"><div xmlns="http://www.w3.org/1999/xhtml">Typed <b>titles</b></div></title>
<id>tag:types.example,2024:f</id><updated>2024-03-04T00:00:00Z</updated><author><name>T</name></author>
<entry><title type="text/plain">Plain MIME title</title><id>tag:types.example,2024:1</id><link href="https://types.example/1"/><updated>2024-03-04T00:00:00Z</updated><summary type="">Empty type reads as text</summary></entry>
<entry><title type="application/xhtml+xml"><div xmlns="http://www.w3.org/1999/xhtml">XHTML <i>MIME</i> title</div></title><id>tag:types.example,2024:2</id><link href="https://types.example/2"/><updated>2024-03-04T00:00:00Z</updated></entry>
<entry><title type="application/octet-stream">QmFzZTY0IHRpdGxl</title><id>tag:types.example,2024:3</id><link href="https://types.example/3"/><updated>2024-03-04T00:00:00Z</updated><content type="application/x-unknown"></content></entry>
<entry><title type="nonsense">Unknown type reads as text</title><id>tag:types.example,2024:4</id><link href="https://types.example/4"/><updated>2024-03-04T00:00:00Z</updated><content src="https://types.example/4.pdf" type="pdf"/></entry>
</feed>
""")

# Atom 0.3 with its MIME types and modes.
w("atom03-modes.atom", """<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title mode="escaped" type="text/html">Modes &amp;amp; types</title>
<link rel="alternate" type="text/html" href="https://modes.example/"/><modified>2004-01-02T00:00:00Z</modified>
<entry><title type="text/plain" mode="escaped">Escaped plain</title><id>tag:modes.example,2004:1</id><link rel="alternate" type="text/html" href="https://modes.example/1"/><issued>2004-01-01T00:00:00Z</issued>
<content type="text/html" mode="escaped">&lt;p&gt;Escaped &lt;b&gt;HTML&lt;/b&gt; body&lt;/p&gt;</content></entry>
<entry><title type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml">Inline XHTML</div></title><id>tag:modes.example,2004:2</id><link rel="alternate" type="text/html" href="https://modes.example/2"/><issued>2004-01-01T00:00:00Z</issued>
<content type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Inline <em>XHTML</em> body</p></div></content></entry>
<entry><title type="text/plain" mode="base64">QmFzZTY0IGRlY29kZWQ=</title><id>tag:modes.example,2004:3</id><link rel="alternate" type="text/html" href="https://modes.example/3"/><issued>2004-01-01T00:00:00Z</issued>
<content type="text/html" mode="base64">PHA+QmFzZTY0IDxiPkhUTUw8L2I+IGJvZHk8L3A+</content></entry>
</feed>
""")

# Ill-formed: an unclosed tag in the textinput; the items are whole.
w("unclosed-textinput.rss", rss("""<item><title>Before the form</title><link>https://textin.example/1</link><guid>ti-1</guid></item>
<item><title>Also whole</title><link>https://textin.example/2</link><guid>ti-2</guid></item>
""", channel_extra="""<textInput><title>Search<description>Search the site</description><name>q</name><link>https://textin.example/s</link></textInput>
"""))

# Cut off inside a CDATA section of the last item.
w("truncated-cdata.rss", rss("""<item><title>First whole item</title><link>https://cdcut.example/1</link><guid>cc-1</guid></item>
<item><title>Second whole item</title><link>https://cdcut.example/2</link><guid>cc-2</guid></item>
<item><title>Cut</title><link>https://cdcut.example/3</link><description><![CDATA[<p>The text goes on and""").split("<![CDATA[<p>The text goes on and")[0] + "<![CDATA[<p>The text goes on and")

# Parses, but nothing in it: never "ok".
w("empty-channel.rss", rss(""))
w("unknown-dialect.rdf", """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:x="https://dialect.example/ns#">
<channel rdf:about="https://dialect.example/"><title>Private dialect</title><link>https://dialect.example/</link><description>d</description></channel>
<x:item><x:title>Not RSS</x:title></x:item><x:item><x:title>Nor this</x:title></x:item>
</rdf:RDF>
""")
