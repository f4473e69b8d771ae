#!/usr/bin/env python3
"""Writes tests/fixtures/stories/busy.json: an adversarial "busy day" set.

Why it exists: story grouping collapses on busy days. The hand-written
labelled.json (284 items) is too small and too clean to show it. This script
builds ~3,600 items (1,100 events) over 72 hours from 61 feeds in which

  * most events are about the same handful of actors (Japan, Russia, Lavrov,
    Kishida, Peskov, the Kurils, fishing, gas, sanctions ...), so names and
    places alone do not identify an event;
  * events come from template families: the same headline skeleton with a
    different actor, place, company, figure, month or day is a DIFFERENT event;
  * long shared background paragraphs ("Russia and Japan have never signed a
    peace treaty ...") are appended at random to unrelated items, often longer
    than the news sentence, so bag-of-words overlap is dominated by boilerplate;
  * true copies vary the way syndication does: wire reposts with attribution,
    datelines, UPDATE 1- prefixes, shortened versions, rewrites that keep names,
    figures, places and day but change most words, and Russian translations;
  * near misses: previews before talks and reactions after them, a boat seized
    and later released, drills followed by a call for calm and a protest,
    the rouble/yen/Nikkei at several times on several days.

Same output format as labelled.json (see README.md next to it). `story` is the
true-event label. Standard library only; deterministic for a given --seed
(random.Random, no set iteration order, fixed JSON layout).

  python3 scripts/gen_busy_day.py                  # writes the fixture, prints a summary
  python3 scripts/gen_busy_day.py --baseline       # also runs a word-Jaccard single-link baseline
  python3 scripts/gen_busy_day.py --seed 7 --out /tmp/busy7.json
"""
import argparse
import json
import os
import random
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

DEFAULT_SEED = 20231009
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "stories", "busy.json")
START = datetime(2023, 10, 9, 0, 0, tzinfo=timezone.utc)  # a Monday
SPAN_H = 72
N_EVENTS = 1100

WD = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WD_RU = ["в понедельник", "во вторник", "в среду", "в четверг", "в пятницу", "в субботу", "в воскресенье"]
MON = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
MON_RU = ["в январе", "в феврале", "в марте", "в апреле", "в мае", "в июне", "в июле", "в августе", "в сентябре", "в октябре", "в ноябре", "в декабре"]
MON_RU_GEN = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября", "ноября", "декабря"]


def ru_num(x):
    """Russian decimal comma."""
    return str(x).replace(".", ",")


# ---------------------------------------------------------------------------
# Feeds. kind decides how the feed copies others:
#   wire    - can originate; copies with its own dateline or as an UPDATE
#   rewrite - can originate; copies are rewrites (new headline, reworded lead)
#   cite    - reposts with "X reports citing Y."
#   short   - headline + first sentence only
#   ru      - Russian-language; copies are translations
# topics: rj (Russia-Japan), tech, mk (markets), az (Azerbaijan/Armenia), wx (weather), sp (sport)
# ---------------------------------------------------------------------------
FEEDS = [
    ("TASS", "tass", "en", "wire", "rj az mk sp"),
    ("Reuters", "reuters", "en", "wire", "rj tech mk az sp"),
    ("Kyodo News", "kyodonews", "en", "wire", "rj wx sp tech mk"),
    ("Interfax", "interfax", "en", "wire", "rj mk az"),
    ("NHK World", "nhk", "en", "rewrite", "rj wx sp"),
    ("The Japan Times", "japantimes", "en", "rewrite", "rj wx sp tech"),
    ("Nikkei Asia", "nikkei", "en", "rewrite", "rj tech mk"),
    ("The Asahi Shimbun", "asahi", "en", "rewrite", "rj wx"),
    ("The Moscow Times", "themoscowtimes", "en", "rewrite", "rj mk"),
    ("Meduza", "meduza", "en", "rewrite", "rj"),
    ("Axar.az", "axar", "en", "cite", "rj az"),
    ("Trend", "trend", "en", "cite", "az rj mk"),
    ("AzerNews", "azernews", "en", "cite", "az"),
    ("ТАСС", "tass-ru", "ru", "ru", "rj az mk"),
    ("RIA Novosti", "ria", "ru", "ru", "rj mk az"),
    ("Interfax.ru", "interfax-ru", "ru", "ru", "rj mk"),
    ("Коммерсантъ", "kommersant", "ru", "ru", "rj mk az"),
    ("Сахалин.Инфо", "sakhalin-info", "ru", "ru", "rj wx"),
    ("Восток-Медиа", "vostok-media", "ru", "ru", "rj"),
    ("Курильский вестник", "kuril-vestnik", "ru", "ru", "rj wx"),
    ("Hokkaido Shimbun Press", "hokkaido-press", "en", "rewrite", "rj wx sp"),
    ("Nemuro Daily", "nemuro-daily", "en", "cite", "rj wx"),
    ("Sakhalin Herald", "sakhalin-herald", "en", "cite", "rj wx"),
    ("Kuril Coast News", "kuril-coast", "en", "short", "rj wx"),
    ("Vladivostok Times", "vladivostok-times", "en", "rewrite", "rj mk"),
    ("Far East Monitor", "fareast-monitor", "en", "cite", "rj"),
    ("Pacific Desk", "pacific-desk", "en", "short", "rj tech mk wx"),
    ("Eurasia Brief", "eurasia-brief", "en", "short", "rj az mk"),
    ("Global Wire Digest", "globalwire", "en", "cite", "rj tech mk az sp"),
    ("Northern Sea Post", "northern-sea", "en", "rewrite", "rj wx"),
    ("Tokyo Evening Post", "tokyo-evening", "en", "rewrite", "rj tech wx sp"),
    ("Osaka Business Line", "osaka-business", "en", "cite", "mk tech rj"),
    ("Niigata Herald", "niigata-herald", "en", "short", "rj wx"),
    ("Khabarovsk Today", "khabarovsk-today", "en", "cite", "rj"),
    ("Primorye Post", "primorye-post", "en", "short", "rj"),
    ("Moscow Business Wire", "mbw", "en", "cite", "mk rj"),
    ("Neva Daily", "neva-daily", "en", "rewrite", "rj mk sp"),
    ("Caucasus Watch", "caucasus-watch", "en", "rewrite", "az"),
    ("Caspian Wire", "caspian-wire", "en", "cite", "az mk"),
    ("Yerevan Ledger", "yerevan-ledger", "en", "rewrite", "az"),
    ("Baku Observer", "baku-observer", "en", "cite", "az"),
    ("Tech Ledger", "tech-ledger", "en", "rewrite", "tech"),
    ("Chip & Cloud", "chipcloud", "en", "short", "tech"),
    ("Data Privacy Today", "privacy-today", "en", "cite", "tech"),
    ("Market Pulse Asia", "marketpulse", "en", "short", "mk"),
    ("Yen & Rouble", "yen-rouble", "en", "cite", "mk rj"),
    ("Energy Wire Asia", "energywire", "en", "rewrite", "rj mk"),
    ("LNG Monitor", "lng-monitor", "en", "cite", "rj mk"),
    ("Fisheries Bulletin", "fish-bulletin", "en", "cite", "rj"),
    ("Defence Pacific", "defence-pacific", "en", "rewrite", "rj"),
    ("Diplomat Digest", "diplomat-digest", "en", "short", "rj az"),
    ("Trade Route Journal", "trade-route", "en", "rewrite", "rj mk"),
    ("Sapporo Times", "sapporo-times", "en", "rewrite", "rj wx sp"),
    ("Kamchatka Herald", "kamchatka-herald", "en", "cite", "rj wx"),
    ("Okhotsk Sea Review", "okhotsk-review", "en", "rewrite", "rj"),
    ("Weather Desk Pacific", "weatherdesk", "en", "short", "wx"),
    ("Sports Desk Asia", "sportsdesk", "en", "short", "sp"),
    ("Arena Daily", "arena-daily", "en", "rewrite", "sp"),
    ("Asia Headlines", "asia-headlines", "en", "short", "rj tech mk wx sp az"),
    ("World News Roundup", "wnr", "en", "cite", "rj tech mk az wx sp"),
    ("Siberian Courier", "siberian-courier", "en", "cite", "rj mk"),
]
FEED = {f[0]: dict(name=f[0], slug=f[1], lang=f[2], kind=f[3], topics=f[4].split()) for f in FEEDS}
# Wires originate most stories; weight them when choosing an original's feed.
ORIGIN_WEIGHT = {"TASS": 8, "Reuters": 7, "Kyodo News": 7, "Interfax": 4, "NHK World": 4, "Trend": 4, "Nikkei Asia": 3}

# ---------------------------------------------------------------------------
# Shared background: appended to items of unrelated events. Deliberately long,
# often longer than the news sentence, and full of the same names the news uses.
# ---------------------------------------------------------------------------
BG_RJ = [
    "The dispute concerns four islands of the southern Kuril chain, which Japan calls the Northern Territories and which Soviet troops seized in the final days of World War II.",
    "Russia and Japan have never signed a peace treaty formally ending World War II hostilities because of the dispute over the islands off Hokkaido.",
    "Japan joined Western sanctions against Russia in 2022, and Moscow responded by halting peace treaty talks and visa-free visits by former Japanese residents to the islands.",
    "Tokyo has long demanded the return of Kunashir, Iturup, Shikotan and the Habomai islets, while Moscow says the islands became Russian territory as a result of the war.",
    "Japanese fishermen from Hokkaido have operated near the disputed islands for decades under an intergovernmental agreement that Russia suspended last year.",
    "The Sakhalin-2 project, in which Mitsui and Mitsubishi hold stakes, supplies roughly a tenth of Japan's liquefied natural gas imports.",
    "Russia's Eastern Military District regularly holds exercises on the Kuril Islands, which Tokyo has repeatedly protested through diplomatic channels.",
    "Relations between Moscow and Tokyo have sunk to their lowest level in decades since the start of the conflict in Ukraine, with both sides expelling diplomats.",
    "Prime Minister Fumio Kishida has said Japan remains committed to resolving the territorial issue and concluding a peace treaty with Russia.",
    "Kremlin spokesman Dmitry Peskov has said that Moscow sees no basis for continuing peace treaty negotiations with Tokyo under the current circumstances.",
    "Russian Foreign Minister Sergey Lavrov has accused Japan of abandoning its independent foreign policy and of militarising the region together with the United States.",
    "Trade between Russia and Japan fell sharply last year as Tokyo restricted exports of high-tech goods and luxury items and phased out imports of Russian coal.",
]
BG_GEN = [
    "Follow our live coverage for updates on this and other developing stories throughout the day.",
    "This is a developing story and will be updated as more information becomes available from officials and our correspondents in the region.",
    "Subscribe to our morning newsletter to receive the most important news from Asia and Europe in your inbox every day.",
    "Our correspondents could not independently verify the information, and the ministry did not immediately respond to a request for comment.",
    "Markets in Tokyo and Moscow have been volatile in recent weeks amid concerns about energy prices, interest rates and the outlook for the global economy.",
    "Analysts say the coming weeks will be crucial for the region as governments weigh energy security against pressure from their Western partners.",
]
BG_TOPIC = {
    "tech": [
        "Technology companies face growing scrutiny in Europe, the United States and Japan over how they collect personal data and train artificial intelligence models.",
        "Shares of artificial intelligence companies have swung sharply this year as investors weigh heavy spending on data centres against uncertain returns.",
    ],
    "mk": [
        "The Bank of Russia raised its key rate sharply in August after the rouble weakened past 100 per dollar, and has signalled that further tightening is possible.",
        "The Bank of Japan has kept interest rates ultra-low even as the yen slid to its weakest level against the dollar in decades, prompting warnings from the Finance Ministry.",
    ],
    "az": [
        "Azerbaijan and Armenia have been negotiating a peace treaty since the end of the conflict over Karabakh, with talks held in Brussels, Washington and Moscow.",
        "Baku and Yerevan have traded accusations of ceasefire violations along their shared border for months despite international mediation efforts.",
    ],
    "wx": [
        "The Japan Meteorological Agency urges residents to follow instructions from local authorities and to check the latest forecasts before travelling.",
    ],
    "sp": [
        "The season has been marked by a series of upsets, and several teams remain in contention for the title with only a few rounds left to play.",
    ],
}
BG_RU = [
    "Россия и Япония до сих пор не подписали мирный договор по итогам Второй мировой войны из-за спора о принадлежности южных Курил.",
    "Япония присоединилась к западным санкциям против России в 2022 году, после чего Москва приостановила переговоры о мирном договоре.",
    "Токио претендует на острова Кунашир, Итуруп, Шикотан и группу островов Хабомаи, ссылаясь на трактат о торговле и границах 1855 года.",
    "Проект «Сахалин-2», в котором участвуют японские Mitsui и Mitsubishi, обеспечивает около десятой части импорта СПГ в Японию.",
    "Следите за развитием событий в нашей ленте новостей.",
]

# ---------------------------------------------------------------------------
# Actors, places, and other slot values. Each carries its English forms and the
# Russian form the Russian templates need (chosen so no declension is required,
# or given in the one case used).
# ---------------------------------------------------------------------------
JP = [  # key, full, role ("Japan's ..."), surname, ru (nominative)
    ("kishida", "Prime Minister Fumio Kishida", "Japan's Prime Minister", "Kishida", "премьер-министр Японии Фумио Кисида"),
    ("kamikawa", "Foreign Minister Yoko Kamikawa", "Japan's Foreign Minister", "Kamikawa", "глава МИД Японии Ёко Камикава"),
    ("hayashi", "Chief Cabinet Secretary Yoshimasa Hayashi", "Japan's top government spokesman", "Hayashi", "генсек кабинета министров Японии Ёсимаса Хаяси"),
    ("kihara", "Defence Minister Minoru Kihara", "Japan's Defence Minister", "Kihara", "министр обороны Японии Минору Кихара"),
    ("kono", "Digital Minister Taro Kono", "Japan's Digital Minister", "Kono", "министр цифровых технологий Японии Таро Коно"),
    ("suzuki", "Hokkaido Governor Naomichi Suzuki", "Hokkaido's governor", "Suzuki", "губернатор Хоккайдо Наомити Судзуки"),
    ("ishigaki", "Nemuro Mayor Yoshiyuki Ishigaki", "Nemuro's mayor", "Ishigaki", "мэр Немуро Ёсиюки Исигаки"),
]
RU = [
    ("putin", "President Vladimir Putin", "Russia's President", "Putin", "президент России Владимир Путин"),
    ("lavrov", "Foreign Minister Sergey Lavrov", "Russia's Foreign Minister", "Lavrov", "министр иностранных дел России Сергей Лавров"),
    ("peskov", "Kremlin spokesman Dmitry Peskov", "The Kremlin's spokesman", "Peskov", "пресс-секретарь президента России Дмитрий Песков"),
    ("shoigu", "Defence Minister Sergei Shoigu", "Russia's Defence Minister", "Shoigu", "министр обороны России Сергей Шойгу"),
    ("zakharova", "Foreign Ministry spokeswoman Maria Zakharova", "Russia's Foreign Ministry spokeswoman", "Zakharova", "официальный представитель МИД России Мария Захарова"),
    ("limarenko", "Sakhalin Governor Valery Limarenko", "Sakhalin's governor", "Limarenko", "губернатор Сахалинской области Валерий Лимаренко"),
    ("rudenko", "Deputy Foreign Minister Andrei Rudenko", "Russia's Deputy Foreign Minister", "Rudenko", "замминистра иностранных дел России Андрей Руденко"),
]
PLACES = [  # key, en, ru genitive
    ("kunashir", "Kunashir", "Кунашира"),
    ("iturup", "Iturup", "Итурупа"),
    ("shikotan", "Shikotan", "Шикотана"),
    ("habomai", "the Habomai islets", "островов Хабомаи"),
    ("kurils", "the southern Kurils", "южных Курил"),
    ("paramushir", "Paramushir", "Парамушира"),
    ("matua", "Matua", "Матуа"),
    ("sakhalin", "Sakhalin", "Сахалина"),
    ("okhotsk", "the Sea of Okhotsk", "Охотского моря"),
    ("nosappu", "Cape Nosappu", "мыса Носаппу"),
]
ISLANDS = PLACES[:7]
BOAT_NAMES = ["Shinsei", "Kotoshiro", "Hokuyo", "Eiho", "Daikichi", "Koyo", "Hakuryu", "Fukuei", "Kaiun", "Seiho", "Yoshi", "Tomi", "Hoei", "Kinsei", "Daisan", "Shoei", "Ryuho", "Kyoei"]
BOAT_RU = {"Shinsei": "Синсэй", "Kotoshiro": "Котосиро", "Hokuyo": "Хокуё", "Eiho": "Эйхо", "Daikichi": "Дайкити", "Koyo": "Коё", "Hakuryu": "Хакурю", "Fukuei": "Фукуэй", "Kaiun": "Кайун", "Seiho": "Сэйхо", "Yoshi": "Ёси", "Tomi": "Томи", "Hoei": "Хоэй", "Kinsei": "Кинсэй", "Daisan": "Дайсан", "Shoei": "Сёэй", "Ryuho": "Рюхо", "Kyoei": "Кёэй"}
PORTS = [("Nemuro", "Немуро"), ("Rausu", "Раусу"), ("Wakkanai", "Вакканай"), ("Shibetsu", "Сибецу"), ("Abashiri", "Абасири")]
COMPANIES = ["Helix AI", "Nimbus Labs", "Quanta Forge", "Bluefin Data", "Orbital Cloud", "Kestrel Systems", "Lumen Grid", "Tessera Networks", "Vireo Robotics", "Paragon Chips"]
REGULATORS = ["EU regulators", "Japan's privacy watchdog", "Britain's data regulator", "South Korea's privacy commission", "US consumer protection officials", "Ireland's Data Protection Commission"]
SEAS = [("the Sea of Japan", "Японским морем"), ("the Sea of Okhotsk", "Охотским морем"), ("the Pacific off Hokkaido", "Тихим океаном у Хоккайдо"), ("the East China Sea", "Восточно-Китайским морем")]
STRAITS = [("the Soya Strait", "пролив Лаперуза"), ("the Tsugaru Strait", "Сангарский пролив"), ("the Tsushima Strait", "Цусимский пролив")]


FEMALE = {"kamikawa", "zakharova"}


def ru_verb(actor, verb):
    """Past-tense verb agreeing with the actor (Камикава заявила, Лавров заявил)."""
    return verb + "а" if actor[0] in FEMALE else verb


def cap(text):
    return text[:1].upper() + text[1:]


def pick(r, s, key, options):
    """Use the slot if the caller fixed it (linked near-miss events), else draw one."""
    if key not in s:
        s[key] = r.choice(options)
    return s[key]


def fig(r, lo, hi, nd=1):
    return round(r.uniform(lo, hi), nd)


# ---------------------------------------------------------------------------
# Template families. Each takes (rng, slots) and returns:
#   key     - identity of the event: same key => same event, so keys never repeat
#   titles  - headline variants (0 = original's; others used by rewrites)
#   leads   - lead-sentence variants, all keeping the same names, figures, places, day
#   details - extra event-specific sentences
#   ru      - (title, lead) in Russian, or None if never translated
# slots always hold: d (weekday index of the event), date.
# ---------------------------------------------------------------------------
def f_drills_calm(r, s):
    a = pick(r, s, "jp", JP[:5]); p = pick(r, s, "place", ISLANDS); d = WD[s["d"]]
    return dict(
        key=(a[0], p[0], s["d"]),
        titles=[f"{a[2]} calls for calm after Russian drills near {p[1]}",
                f"{a[3]} urges restraint as Russia holds drills near {p[1]}",
                f"Tokyo's {a[3]} voices concern over Russian exercises near {p[1]}"],
        leads=[f"{a[1]} called for calm on {d} after Russian forces held military drills near {p[1]}, saying Tokyo was monitoring the situation closely.",
               f"{a[3]} urged both sides to avoid raising tensions, speaking on {d} after Russia staged exercises near {p[1]}.",
               f"Speaking to reporters on {d}, {a[3]} said Japan wanted calm around {p[1]} following the latest Russian military exercises there."],
        details=[f"{a[3]} said Japan had conveyed its position to Moscow and would continue to watch Russian military activity near {p[1]}.",
                 f"The remarks by {a[3]} came hours after Russian officials confirmed the exercises near {p[1]}."],
        ru=(f"{cap(a[4])} {ru_verb(a, 'призвал')} к спокойствию после учений России в районе {p[2]}",
            f"{cap(a[4])} {WD_RU[s['d']]} {ru_verb(a, 'призвал')} к спокойствию после военных учений России в районе {p[2]}."),
        city="TOKYO")


def f_drills_held(r, s):
    p = pick(r, s, "place", ISLANDS); n = s.setdefault("troops", r.randrange(300, 3100, 50)); v = r.randrange(20, 160, 5); d = WD[s["d"]]
    return dict(
        key=(p[0], s["d"]),
        titles=[f"Russia holds military drills on {p[1]} involving {n} troops",
                f"Russian troops stage exercises on Kuril island of {p[1]}",
                f"{n} Russian soldiers take part in drills on {p[1]}"],
        leads=[f"Russia's Eastern Military District began military drills on {p[1]} on {d} involving about {n} troops and {v} pieces of military hardware, the district's press service said.",
               f"About {n} soldiers and {v} vehicles took part in exercises that started on {d} on {p[1]}, according to Russia's Eastern Military District.",
               f"Russian forces launched drills on {p[1]} on {d}, with some {n} servicemen practising the defence of the island's coastline."],
        details=[f"The exercises on {p[1]} include live firing and the deployment of coastal missile systems, the district said.",
                 f"The drills on {p[1]} will last several days, the press service added."],
        ru=(f"На {p[1]} начались учения с участием {n} военнослужащих",
            f"Учения с участием около {n} военнослужащих и {v} единиц техники начались {WD_RU[s['d']]} в районе {p[2]}, сообщили в пресс-службе Восточного военного округа."),
        city="MOSCOW")


def f_drills_protest(r, s):
    p = pick(r, s, "place", ISLANDS); a = pick(r, s, "jp", [JP[1], JP[2]]); d = WD[s["d"]]
    return dict(
        key=(p[0], s["d"]),
        titles=[f"Japan protests Russian military drills on {p[1]}",
                f"Tokyo lodges protest with Moscow over {p[1]} exercises",
                f"Japan says Russian drills on {p[1]} are unacceptable"],
        leads=[f"Japan lodged a protest with Russia through diplomatic channels on {d} over military drills on {p[1]}, {a[1]} said.",
               f"Tokyo protested to Moscow on {d} about the exercises on {p[1]}, calling them unacceptable, {a[3]} told reporters.",
               f"{a[3]} said on {d} that Japan had formally protested the Russian drills on {p[1]}, which it regards as part of its own territory."],
        details=[f"{a[3]} said the drills on {p[1]} were incompatible with Japan's position on the Northern Territories.",
                 "The protest was delivered to the Russian embassy in Tokyo, the Foreign Ministry said."],
        ru=(f"Япония выразила протест в связи с учениями России в районе {p[2]}",
            f"Япония {WD_RU[s['d']]} выразила России протест по дипломатическим каналам в связи с учениями в районе {p[2]}, {ru_verb(a, 'заявил')} {a[4]}."),
        city="TOKYO")


def f_boat_seized(r, s):
    b = pick(r, s, "boat", [(k, n) for k in range(1, 39) for n in BOAT_NAMES])
    crew = s.setdefault("crew", r.randrange(2, 12)); port = pick(r, s, "port", PORTS); p = pick(r, s, "place", ISLANDS[:4])
    boat = f"No. {b[0]} {b[1]} Maru"; d = WD[s["d"]]
    return dict(
        key=(b, s["d"]),
        titles=[f"Russia seizes Japanese fishing boat off {p[1]}",
                f"Russian border guards detain Japanese fishing boat {boat} with {crew} crew",
                f"Japan demands release of fishing boat held by Russia near {p[1]}"],
        leads=[f"Russian border guards seized the Japanese fishing boat {boat} with {crew} crew members off {p[1]} on {d}, the Japan Coast Guard said.",
               f"The {boat}, a fishing vessel from {port[0]} with {crew} people aboard, was detained by Russia's border service near {p[1]} on {d}.",
               f"Japan's government on {d} demanded the early release of the {boat} and its {crew} crew, seized by Russian border guards off {p[1]}."],
        details=[f"The boat, based in {port[0]} in Hokkaido, was suspected of fishing illegally in Russian waters, according to Russia's FSB border service.",
                 f"The {boat} was taken to a port on {p[1]} for inspection, officials said."],
        ru=(f"Пограничники задержали японскую шхуну «{b[0]} {BOAT_RU[b[1]]}-мару» у {p[2]}",
            f"Российские пограничники {WD_RU[s['d']]} задержали японскую рыболовецкую шхуну «{b[0]} {BOAT_RU[b[1]]}-мару» с {crew} членами экипажа у {p[2]}, сообщили в береговой охране Японии."),
        city="TOKYO")


def f_boat_released(r, s):
    b = pick(r, s, "boat", [(k, n) for k in range(1, 39) for n in BOAT_NAMES])
    crew = s.setdefault("crew", r.randrange(2, 12)); port = pick(r, s, "port", PORTS); p = pick(r, s, "place", ISLANDS[:4])
    fine = r.randrange(200, 3000, 50); boat = f"No. {b[0]} {b[1]} Maru"; d = WD[s["d"]]
    return dict(
        key=(b, s["d"]),
        titles=[f"Russia releases Japanese fishing boat {boat} and {crew} crew",
                f"Crew of Japanese boat held off {p[1]} return to {port[0]}",
                f"Japanese fishing boat freed after captain pays fine"],
        leads=[f"Russia released the Japanese fishing boat {boat} and its {crew} crew on {d} after the captain paid a fine of {fine},000 roubles, the Japan Coast Guard said.",
               f"The {boat} and its {crew} crew members left {p[1]} on {d} and headed home to {port[0]} once a fine of {fine},000 roubles was paid.",
               f"Russian authorities freed the {boat}, detained off {p[1]}, on {d}; its {crew} crew were heading back to {port[0]}."],
        details=[f"Families of the crew welcomed the release of the {boat} in {port[0]}.",
                 f"The captain of the {boat} admitted violating fishing rules, Russian officials said."],
        ru=(f"Россия отпустила японскую шхуну «{b[0]} {BOAT_RU[b[1]]}-мару»",
            f"Японская шхуна «{b[0]} {BOAT_RU[b[1]]}-мару» с {crew} членами экипажа {WD_RU[s['d']]} покинула порт после уплаты штрафа в размере {fine} тыс. рублей."),
        city="TOKYO")


QUAKE_REGIONS = [("the Kuril Islands", "Курильских островов"), ("eastern Hokkaido", "восточного Хоккайдо"), ("Sakhalin", "Сахалина"),
                 ("the Kamchatka Peninsula", "Камчатки"), ("Iturup", "Итурупа"), ("northeastern Japan", "северо-восточной Японии")]


def f_quake(r, s):
    m = fig(r, 4.6, 7.2); reg = pick(r, s, "region", QUAKE_REGIONS); depth = r.randrange(10, 140, 5); d = WD[s["d"]]
    return dict(
        key=(m, reg[0]),
        titles=[f"Earthquake of magnitude {m} hits {reg[0]}",
                f"Magnitude {m} quake strikes off {reg[0]}, no tsunami warning",
                f"Strong quake shakes {reg[0]}"],
        leads=[f"An earthquake of magnitude {m} struck {reg[0]} on {d} at a depth of {depth} kilometres, seismologists said.",
               f"A magnitude {m} quake hit {reg[0]} on {d}; its focus was {depth} km deep and no tsunami warning was issued.",
               f"Buildings shook across {reg[0]} on {d} as a quake measuring {m} struck at a depth of about {depth} km."],
        details=["There were no immediate reports of damage or injuries.",
                 "Authorities said there was no threat of a tsunami."],
        ru=(f"Землетрясение магнитудой {ru_num(m)} произошло в районе {reg[1]}",
            f"Землетрясение магнитудой {ru_num(m)} произошло {WD_RU[s['d']]} в районе {reg[1]} на глубине {depth} км, сообщили сейсмологи."),
        city="YUZHNO-SAKHALINSK")


TRADE = [("exports to Russia", "экспорт из Японии в Россию"), ("imports from Russia", "импорт Японии из России"),
         ("car exports to Russia", "экспорт японских автомобилей в Россию"), ("LNG imports from Russia", "импорт российского СПГ в Японию"),
         ("seafood imports from Russia", "импорт российских морепродуктов в Японию"), ("machinery exports to Russia", "экспорт японского оборудования в Россию")]


def f_trade(r, s):
    c = pick(r, s, "cat", TRADE); mo = r.randrange(0, 9); x = fig(r, 0.5, 40.0); up = r.random() < 0.4
    verb, verb2, ru_v = ("rise", "rose", "вырос") if up else ("fall", "fell", "сократился")
    val = fig(r, 20, 180)
    return dict(
        key=(c[0], mo),
        titles=[f"Japan's {c[0]} {verb} {x}% in {MON[mo]}",
                f"Japanese {c[0]} {verb2} {x}% year on year in {MON[mo]}",
                f"Finance Ministry data: {c[0]} {verb2} {x}% in {MON[mo]}"],
        leads=[f"Japan's {c[0]} {verb2} {x}% in {MON[mo]} from a year earlier to {val} billion yen, Finance Ministry data showed.",
               f"Finance Ministry figures showed on {WD[s['d']]} that {c[0]} {verb2} by {x}% year on year in {MON[mo]}, to {val} billion yen.",
               f"{c[0].capitalize()} came to {val} billion yen in {MON[mo]}, {x}% {'up' if up else 'down'} on the same month last year, official data showed."],
        details=[f"The {MON[mo]} figure for {c[0]} reflects sanctions imposed after 2022, economists said.",
                 "The data were released as part of Japan's monthly trade statistics."],
        ru=(f"{c[1].capitalize()} {MON_RU[mo]} {ru_v} на {ru_num(x)}%",
            f"{c[1].capitalize()} {MON_RU[mo]} {ru_v} на {ru_num(x)}% в годовом выражении, до {ru_num(val)} млрд иен, следует из данных Минфина Японии."),
        city="TOKYO")


TALKS = [  # ru side, jp side, city en, city ru(prep), topic en
    (RU[1], JP[1], "New York", "Нью-Йорке", "fishing and the safety of Japanese nationals"),
    (RU[1], JP[1], "Jakarta", "Джакарте", "the peace treaty and visits to ancestral graves"),
    (RU[6], ("amb", "Ambassador Akira Muto", "Japan's ambassador to Russia", "Muto", "посол Японии в России Акира Муто"), "Moscow", "Москве", "the detention of Japanese fishing boats"),
    (RU[0], JP[0], "Vladivostok", "Владивостоке", "energy projects and Sakhalin-2"),
    (RU[5], JP[5], "Yuzhno-Sakhalinsk", "Южно-Сахалинске", "ferry links between Sakhalin and Hokkaido"),
]


def f_talks_preview(r, s):
    t = pick(r, s, "talks", TALKS); td = s.setdefault("td", (s["d"] + r.randrange(1, 3)) % 7); d = WD[s["d"]]
    return dict(
        key=(t[0][0], t[1][0], td),
        titles=[f"{t[0][3]} to hold talks with {t[1][3]} in {t[2]} on {WD[td]}",
                f"{t[0][3]}, {t[1][3]} set to meet on {WD[td]}",
                f"{t[1][2]} will meet {t[0][3]} on {WD[td]}, officials say"],
        leads=[f"{t[0][1]} will hold talks with {t[1][1]} in {t[2]} on {WD[td]}, officials said on {d}.",
               f"{t[0][3]} and {t[1][3]} are due to meet in {t[2]} on {WD[td]} to discuss {t[4]}, according to officials.",
               f"Officials announced on {d} that {t[1][3]} would sit down with {t[0][3]} in {t[2]} on {WD[td]}."],
        details=[f"The meeting is expected to focus on {t[4]}.",
                 f"It will be the first meeting between {t[0][3]} and {t[1][3]} in months."],
        ru=(f"{t[0][4].split()[-1]} и {t[1][4].split()[-1]} проведут переговоры {WD_RU[td]}",
            f"{cap(t[0][4])} {WD_RU[td]} проведет переговоры с {t[1][4].split()[-1]} в {t[3]}, сообщили {WD_RU[s['d']]} официальные представители."),
        city="MOSCOW")


def f_talks_held(r, s):
    t = pick(r, s, "talks", TALKS); d = WD[s["d"]]
    return dict(
        key=(t[0][0], t[1][0], s["d"]),
        titles=[f"{t[0][3]} and {t[1][3]} discuss {t[4]} in {t[2]}",
                f"{t[0][3]}, {t[1][3]} hold talks in {t[2]} with no breakthrough",
                f"Russia, Japan officials meet in {t[2]}"],
        leads=[f"{t[0][1]} and {t[1][1]} discussed {t[4]} at talks in {t[2]} on {d}.",
               f"Meeting in {t[2]} on {d}, {t[0][3]} and {t[1][3]} talked about {t[4]} but reported no breakthrough.",
               f"{t[1][3]} raised {t[4]} with {t[0][3]} during their meeting in {t[2]} on {d}, officials said."],
        details=[f"{t[0][3]} said the two sides agreed to keep channels of communication open.",
                 f"{t[1][3]} told reporters after the {t[2]} meeting that the talks had been frank."],
        ru=(f"{t[0][4].split()[-1]} и {t[1][4].split()[-1]} провели переговоры в {t[3]}",
            f"{cap(t[0][4])} и {t[1][4]} {WD_RU[s['d']]} провели переговоры в {t[3]}."),
        city="MOSCOW")


def f_talks_reaction(r, s):
    t = pick(r, s, "talks", TALKS); td = s.setdefault("td", s["d"]); who = pick(r, s, "who", [RU[4], JP[2], JP[6], RU[2]]); d = WD[s["d"]]
    return dict(
        key=(t[0][0], t[1][0], td, who[0]),
        titles=[f"{who[3]} criticises outcome of {t[0][3]}-{t[1][3]} talks",
                f"{who[3]} says {t[2]} talks changed nothing",
                f"{who[2]} reacts to {t[0][3]}-{t[1][3]} meeting"],
        leads=[f"{who[1]} said on {d} that the talks between {t[0][3]} and {t[1][3]} in {t[2]} on {WD[td]} had produced nothing new on {t[4]}.",
               f"Reacting on {d} to the {WD[td]} meeting of {t[0][3]} and {t[1][3]}, {who[3]} said the {t[2]} talks had failed to address {t[4]}.",
               f"{who[3]} criticised the outcome of the {t[2]} talks between {t[0][3]} and {t[1][3]}, speaking on {d}."],
        details=[f"{who[3]} said the other side bore responsibility for the state of relations.",
                 f"{who[3]} added that dialogue on {t[4]} would continue only if the other side changed course."],
        ru=(f"{who[4].split()[-1]} {ru_verb(who, 'раскритиковал')} итоги переговоров в {t[3]}",
            f"{cap(who[4])} {WD_RU[s['d']]} {ru_verb(who, 'заявил')}, что переговоры {t[0][4].split()[-1]} и {t[1][4].split()[-1]} в {t[3]} не принесли результата."),
        city="MOSCOW")


SANCTION_TARGETS = [("entities", "организаций"), ("individuals", "физических лиц"), ("banks", "банков"), ("shipping companies", "судоходных компаний"), ("defence firms", "оборонных предприятий")]


def f_sanctions(r, s):
    tg = pick(r, s, "tg", SANCTION_TARGETS); n = r.randrange(3, 90); d = WD[s["d"]]
    return dict(
        key=(tg[0], s["d"]),
        titles=[f"Japan adds {n} Russian {tg[0]} to sanctions list",
                f"Tokyo freezes assets of {n} more Russian {tg[0]}",
                f"Japan widens Russia sanctions to {n} {tg[0]}"],
        leads=[f"Japan added {n} Russian {tg[0]} to its sanctions list on {d}, freezing their assets in Japan, Chief Cabinet Secretary Yoshimasa Hayashi said.",
               f"Tokyo on {d} imposed asset freezes on {n} more Russian {tg[0]}, expanding measures it joined in 2022.",
               f"The Japanese government said on {d} that {n} Russian {tg[0]} would face asset freezes under new sanctions."],
        details=[f"The {n} {tg[0]} were accused of helping Russia evade existing export controls.",
                 "Hayashi said Japan was coordinating the measures with the Group of Seven."],
        ru=(f"Япония расширила санкции против России на {n} {tg[1]}",
            f"Япония {WD_RU[s['d']]} включила в санкционный список {n} российских {tg[1]}, сообщил генсек кабинета министров Ёсимаса Хаяси."),
        city="TOKYO")


BAN_GROUPS = [("journalists", "журналистов"), ("lawmakers", "депутатов"), ("academics", "ученых"), ("business leaders", "бизнесменов"), ("officials", "чиновников")]


def f_entry_ban(r, s):
    g = pick(r, s, "grp", BAN_GROUPS); n = r.randrange(5, 120); d = WD[s["d"]]
    return dict(
        key=(g[0], s["d"]),
        titles=[f"Russia bars entry to {n} Japanese {g[0]}",
                f"Moscow adds {n} Japanese {g[0]} to entry ban list",
                f"Russia retaliates with entry ban on {n} Japanese {g[0]}"],
        leads=[f"Russia's Foreign Ministry said on {d} it had barred {n} Japanese {g[0]} from entering the country in response to Tokyo's sanctions.",
               f"Moscow on {d} banned {n} Japanese {g[0]} indefinitely from entering Russia, the Foreign Ministry said.",
               f"{n} Japanese {g[0]} were put on Russia's entry ban list on {d}, the Russian Foreign Ministry announced."],
        details=["The ministry said the step was a response to Japan's unfriendly policy.",
                 f"The list of {n} names was published on the ministry's website."],
        ru=(f"Россия запретила въезд {n} японским {g[1]}",
            f"МИД России {WD_RU[s['d']]} закрыл въезд в страну {n} японским {g[1]} в ответ на санкции Токио."),
        city="MOSCOW")


LNG_BUYERS = [("JERA", "JERA"), ("Tokyo Gas", "Tokyo Gas"), ("Osaka Gas", "Osaka Gas"), ("Hiroshima Gas", "Hiroshima Gas"), ("Kyushu Electric", "Kyushu Electric"), ("Tohoku Electric", "Tohoku Electric")]
LNG_PORTS = ["Futtsu", "Sodegaura", "Senboku", "Hatsukaichi", "Niigata", "Himeji"]


def f_lng(r, s):
    b = pick(r, s, "buyer", LNG_BUYERS); port = r.choice(LNG_PORTS); t = r.randrange(60, 75); d = WD[s["d"]]
    return dict(
        key=(b[0], s["d"]),
        titles=[f"{b[0]} receives LNG cargo from Sakhalin-2",
                f"Sakhalin-2 tanker delivers {t},000 tonnes of LNG to {b[0]} at {port}",
                f"Japan's {b[0]} takes Russian LNG despite sanctions"],
        leads=[f"{b[0]} received a cargo of about {t},000 tonnes of liquefied natural gas from the Sakhalin-2 project at its {port} terminal on {d}, ship-tracking data showed.",
               f"A tanker carrying roughly {t},000 tonnes of Sakhalin-2 LNG unloaded at {b[0]}'s {port} terminal on {d}.",
               f"Japanese utility {b[0]} took delivery of Russian LNG from Sakhalin-2 at {port} on {d}, a cargo of some {t},000 tonnes."],
        details=[f"{b[0]} has a long-term contract with Sakhalin Energy.",
                 "Japan has exempted Sakhalin-2 from its sanctions for energy security reasons."],
        ru=(f"{b[1]} получила партию СПГ с проекта «Сахалин-2»",
            f"Японская {b[1]} {WD_RU[s['d']]} получила партию сжиженного природного газа объемом около {t} тыс. тонн с проекта «Сахалин-2» на терминале {port}."),
        city="TOKYO")


def f_lng_output(r, s):
    mo = r.randrange(0, 9); x = fig(r, 0.5, 25); up = r.random() < 0.5; w = r.choice(["output", "shipments to Japan"])
    return dict(
        key=(w, mo),
        titles=[f"Sakhalin-2 LNG {w} {'rise' if up else 'fall'} {x}% in {MON[mo]}",
                f"Sakhalin-2 {w} {'up' if up else 'down'} {x}% in {MON[mo]}",
                f"Russian Pacific LNG {w} {'grew' if up else 'dropped'} by {x}% in {MON[mo]}"],
        leads=[f"LNG {w} from the Sakhalin-2 project {'rose' if up else 'fell'} {x}% in {MON[mo]} from a year earlier, data showed on {WD[s['d']]}.",
               f"Sakhalin-2's {w} were {x}% {'higher' if up else 'lower'} year on year in {MON[mo]}, according to figures released on {WD[s['d']]}.",
               f"The Sakhalin-2 plant's {w} {'grew' if up else 'dropped'} by {x}% in {MON[mo]}, industry data showed."],
        details=["Sakhalin-2 has a capacity of about 10 million tonnes of LNG a year.",
                 "Most of the plant's output goes to Japan, South Korea and China."],
        ru=(f"Показатель «Сахалина-2» {MON_RU[mo]} {'вырос' if up else 'снизился'} на {ru_num(x)}%",
            f"{'Производство' if w == 'output' else 'Поставки в Японию'} СПГ с проекта «Сахалин-2» {MON_RU[mo]} {'выросли' if up else 'снизились'} на {ru_num(x)}% в годовом выражении."),
        city="MOSCOW")


STATEMENTS = [  # en (after "said"), short headline, ru
    ("Moscow sees no grounds to resume peace treaty talks with Tokyo", "no grounds for peace treaty talks with Tokyo", "Москва не видит оснований для возобновления переговоров по мирному договору"),
    ("Russia will respond to any deployment of US missiles in Japan", "Russia will respond to US missiles in Japan", "Россия ответит на размещение американских ракет в Японии"),
    ("Japan's new sanctions would not go unanswered", "Japan's new sanctions will not go unanswered", "новые санкции Японии не останутся без ответа"),
    ("Moscow is open to dialogue with Tokyo on fishing", "open to dialogue with Tokyo on fishing", "Москва открыта к диалогу с Токио по рыболовству"),
    ("the Kuril Islands are Russian territory and the issue is closed", "Kurils are Russian, issue closed", "Курилы являются российской территорией и вопрос закрыт"),
    ("Russia has no plans to cut gas supplies to Japan", "no plans to cut gas supplies to Japan", "Россия не планирует сокращать поставки газа в Японию"),
    ("Tokyo's military build-up threatens regional stability", "Tokyo's military build-up threatens the region", "наращивание военного потенциала Токио угрожает региону"),
    ("visa-free visits to the islands will not resume for now", "no return of visa-free visits to islands", "безвизовые поездки на острова пока не возобновятся"),
    ("Japan's participation in NATO meetings is a cause for concern", "Japan at NATO meetings a cause for concern", "участие Японии во встречах НАТО вызывает обеспокоенность"),
    ("Moscow will protect Russian fishermen in the Sea of Okhotsk", "Moscow will protect its fishermen", "Москва защитит российских рыбаков в Охотском море"),
]


def f_statement(r, s):
    who = pick(r, s, "who", [RU[1], RU[2], RU[4], RU[0], RU[6]]); st = r.choice(STATEMENTS); d = WD[s["d"]]
    return dict(
        key=(who[0], st[1], s["d"]),
        titles=[f"{who[3]} says {st[1]}",
                f"{who[2]}: {st[1]}",
                f"Kremlin line on Japan: {st[1]}, says {who[3]}"],
        leads=[f"{who[1]} said on {d} that {st[0]}.",
               f"{st[0][0].upper() + st[0][1:]}, {who[3]} told reporters on {d}.",
               f"Speaking on {d}, {who[3]} insisted that {st[0]}."],
        details=[f"{who[3]} made the remarks in response to a question about relations with Japan.",
                 f"{who[3]} did not elaborate."],
        ru=(f"{who[4].split()[-1]}: {st[2]}",
            f"{cap(who[4])} {WD_RU[s['d']]} {ru_verb(who, 'заявил')}, что {st[2]}."),
        city="MOSCOW")


AIRCRAFT = [("Tu-95 strategic bombers", "стратегических бомбардировщиков Ту-95"), ("Il-38 patrol planes", "патрульных самолетов Ил-38"),
            ("Tu-142 reconnaissance aircraft", "разведывательных самолетов Ту-142"), ("Su-35 fighters", "истребителей Су-35")]


def f_jets(r, s):
    a = pick(r, s, "ac", AIRCRAFT); n = r.randrange(2, 7); sea = pick(r, s, "sea", SEAS); h = r.randrange(3, 13); d = WD[s["d"]]
    return dict(
        key=(a[0], sea[0], s["d"]),
        titles=[f"Japan scrambles jets as {n} Russian {a[0]} fly over {sea[0]}",
                f"{n} Russian {a[0]} make {h}-hour flight over {sea[0]}",
                f"Japanese fighters intercept Russian {a[0]}"],
        leads=[f"Japan's Air Self-Defense Force scrambled fighter jets on {d} after {n} Russian {a[0]} flew over {sea[0]}, the Defence Ministry said.",
               f"{n} Russian {a[0]} carried out a {h}-hour flight over {sea[0]} on {d}, prompting Japan to scramble fighters.",
               f"Japanese fighters were scrambled on {d} to shadow {n} Russian {a[0]} over {sea[0]}, Tokyo said."],
        details=["Japan's airspace was not violated, the ministry said.",
                 f"Russia's Defence Ministry said the {h}-hour flight was planned and complied with international rules."],
        ru=(f"Группа из {n} российских {a[1]} совершила полет над {sea[1]}",
            f"Группа из {n} российских {a[1]} {WD_RU[s['d']]} совершила плановый полет над {sea[1]} продолжительностью {h} часов."),
        city="TOKYO")


def f_warships(r, s):
    st = pick(r, s, "strait", STRAITS); n = r.randrange(2, 11); d = WD[s["d"]]
    return dict(
        key=(st[0], s["d"]),
        titles=[f"{n} Russian warships sail through {st[0]}",
                f"Japan tracks {n} Russian naval vessels in {st[0]}",
                f"Russian naval group passes {st[0]}, Tokyo says"],
        leads=[f"{n} Russian navy ships sailed through {st[0]} on {d}, Japan's Joint Staff said.",
               f"Japan's Self-Defense Forces monitored {n} Russian warships as they passed through {st[0]} on {d}.",
               f"A group of {n} Russian naval vessels transited {st[0]} on {d}, according to the Japanese Defence Ministry."],
        details=["The group included destroyers and a supply ship.", "The ships were heading from the Sea of Japan to the Pacific."],
        ru=(f"Отряд из {n} кораблей ВМФ России прошел {st[1]}",
            f"Отряд из {n} кораблей ВМФ России {WD_RU[s['d']]} прошел {st[1]}, сообщил Объединенный штаб Японии."),
        city="TOKYO")


SPECIES = [("salmon", "лосося"), ("pollock", "минтая"), ("kelp", "ламинарии"), ("sea cucumber", "трепанга"), ("snow crab", "краба-стригуна"), ("saury", "сайры")]


def f_quota(r, s):
    sp = pick(r, s, "sp", SPECIES); n = r.randrange(200, 9000, 10); d = WD[s["d"]]
    return dict(
        key=(sp[0],),
        titles=[f"Russia, Japan agree {sp[0]} quota of {n} tonnes",
                f"Japanese fishermen get {n}-tonne {sp[0]} quota in Russian waters",
                f"Fisheries talks end with {sp[0]} catch limit of {n} tonnes"],
        leads=[f"Russia and Japan agreed on {d} to set the catch quota for {sp[0]} at {n} tonnes under their intergovernmental fisheries agreement, Japan's Fisheries Agency said.",
               f"Japanese boats will be allowed to catch {n} tonnes of {sp[0]} under a deal reached with Russia on {d}.",
               f"Fisheries talks between Moscow and Tokyo concluded on {d} with a {sp[0]} catch limit of {n} tonnes."],
        details=["The talks were held online.", f"Hokkaido fishermen said the {sp[0]} quota was lower than they had hoped."],
        ru=(f"Россия и Япония согласовали квоту на вылов {sp[1]} в {n} тонн",
            f"Россия и Япония {WD_RU[s['d']]} согласовали квоту на вылов {sp[1]} для японских рыбаков в объеме {n} тонн."),
        city="TOKYO")


CONSULATES = [("Vladivostok", "Владивостоке"), ("Khabarovsk", "Хабаровске"), ("Yuzhno-Sakhalinsk", "Южно-Сахалинске"), ("St Petersburg", "Санкт-Петербурге")]


def f_visa(r, s):
    c = pick(r, s, "cons", CONSULATES); n = r.randrange(50, 900, 10); kind = r.choice(["tourist", "business", "student"]); d = WD[s["d"]]
    return dict(
        key=(c[0], kind),
        titles=[f"Japanese consulate in {c[0]} resumes {kind} visa issuance",
                f"Japan restarts {kind} visas for Russians in {c[0]}",
                f"{c[0]} consulate to process {n} {kind} visa applications a week"],
        leads=[f"Japan's consulate general in {c[0]} resumed issuing {kind} visas on {d} and expects to process about {n} applications a week.",
               f"Russians can again apply for Japanese {kind} visas in {c[0]} from {d}, with capacity for some {n} applications weekly.",
               f"The Japanese mission in {c[0]} said it began accepting {kind} visa applications again on {d}."],
        details=["The consulate had limited services since 2022.", "Applicants must book an appointment online."],
        ru=(f"Генконсульство Японии в {c[1]} возобновило выдачу виз",
            f"Генеральное консульство Японии в {c[1]} {WD_RU[s['d']]} возобновило выдачу виз и рассчитывает обрабатывать около {n} заявлений в неделю."),
        city="MOSCOW")


UNITS = [("coastal missile batteries", "береговые ракетные комплексы"), ("a new barracks complex", "новый военный городок"),
         ("the 18th machine-gun artillery division", "18-ю пулеметно-артиллерийскую дивизию"), ("air defence units", "подразделения ПВО")]


def f_shoigu(r, s):
    u = pick(r, s, "unit", UNITS); p = pick(r, s, "place", ISLANDS[:3] + ISLANDS[5:]); d = WD[s["d"]]
    return dict(
        key=(u[0], p[0]),
        titles=[f"Shoigu inspects {u[0]} on {p[1]}",
                f"Russian defence chief visits troops on {p[1]}",
                f"Shoigu checks readiness of {u[0]} in Kurils"],
        leads=[f"Russian Defence Minister Sergei Shoigu inspected {u[0]} on {p[1]} on {d}, the Defence Ministry said.",
               f"On a visit to {p[1]} on {d}, Shoigu checked the combat readiness of {u[0]}.",
               f"Sergei Shoigu toured {u[0]} on the Kuril island of {p[1]} on {d}."],
        details=[f"Shoigu said the defence of {p[1]} would be strengthened.", "The visit was not announced in advance."],
        ru=(f"Шойгу проинспектировал {u[1]} на {p[1]}",
            f"Министр обороны России Сергей Шойгу {WD_RU[s['d']]} проинспектировал {u[1]} в районе {p[2]}."),
        city="MOSCOW")


REASONS = [("the detention of a fishing boat", "задержания рыболовецкого судна"), ("military drills on the islands", "военных учений на островах"),
           ("remarks by a senior official", "высказываний высокопоставленного чиновника"), ("the expulsion of a diplomat", "высылки дипломата"),
           ("new sanctions", "новых санкций")]


def f_summon(r, s):
    jp_side = s.setdefault("jp_side", r.random() < 0.5); why = pick(r, s, "why", REASONS); d = WD[s["d"]]
    a, b, ra, rb = ("Japan", "Russian", "МИД Японии", "российского посла") if jp_side else ("Russia", "Japanese", "МИД России", "японского посла")
    return dict(
        key=(jp_side, why[0], s["d"]),
        titles=[f"{a} summons {b} ambassador over {why[0]}",
                f"{b} envoy summoned in {'Tokyo' if jp_side else 'Moscow'} over {why[0]}",
                f"{a} protests to {b} ambassador"],
        leads=[f"{a}'s Foreign Ministry summoned the {b} ambassador on {d} to protest {why[0]}.",
               f"The {b} ambassador was called to the Foreign Ministry in {'Tokyo' if jp_side else 'Moscow'} on {d} over {why[0]}.",
               f"{a} handed the {b} ambassador a protest on {d} over {why[0]}, the ministry said."],
        details=["The ambassador rejected the protest, the ministry said.", "It was the second such summons this month."],
        ru=(f"{ra} вызвал {rb} из-за {why[1]}",
            f"{ra} {WD_RU[s['d']]} вызвал {rb} в связи с ситуацией вокруг {why[1]}."),
        city="TOKYO" if jp_side else "MOSCOW")


FACILITIES = [("a fish processing plant", "рыбоперерабатывающий завод", 4), ("a geothermal power station", "геотермальную электростанцию", 9),
              ("a new airport terminal", "новый терминал аэропорта", 6), ("a hospital", "больницу", 3), ("a kindergarten", "детский сад", 1), ("a deep-water pier", "глубоководный причал", 7)]


def f_build(r, s):
    f = pick(r, s, "fac", FACILITIES); p = pick(r, s, "place", ISLANDS[:3]); cost = fig(r, 0.5, f[2] * 1.5); d = WD[s["d"]]
    return dict(
        key=(f[0], p[0]),
        titles=[f"Russia to build {f[0]} on {p[1]}",
                f"{p[1]} to get {f[0]} worth {cost} billion roubles",
                f"Sakhalin region plans {f[0]} on Kuril island of {p[1]}"],
        leads=[f"Russia will build {f[0]} on {p[1]} at a cost of {cost} billion roubles, Sakhalin Governor Valery Limarenko said on {d}.",
               f"Limarenko said on {d} that {f[0]} costing {cost} billion roubles would be built on {p[1]}.",
               f"The Sakhalin region plans to spend {cost} billion roubles on {f[0]} on {p[1]}, the governor announced on {d}."],
        details=["Construction is due to start next year.", "Tokyo has objected to Russian investment on the islands."],
        ru=(f"На {p[1]} построят {f[1]}",
            f"На острове в районе {p[2]} построят {f[1]} стоимостью {ru_num(cost)} млрд рублей, сообщил {WD_RU[s['d']]} губернатор Валерий Лимаренко."),
        city="YUZHNO-SAKHALINSK")


# --- other topics ---------------------------------------------------------
def f_probe(r, s):
    c = pick(r, s, "co", COMPANIES); g = pick(r, s, "reg", REGULATORS); d = WD[s["d"]]
    return dict(
        key=(c, g),
        titles=[f"Regulators probe {c} over data practices",
                f"{g} open investigation into {c}",
                f"{c} faces data privacy inquiry"],
        leads=[f"{g} have opened an investigation into {c} over how it collects and uses personal data, they said on {d}.",
               f"{c} is being investigated by {g} over its data practices, according to a statement on {d}.",
               f"{g} said on {d} they were examining whether {c} broke privacy rules when training its models."],
        details=[f"{c} said it would cooperate fully with the inquiry.", f"{c} could face fines if violations are found."],
        ru=None, city="SAN FRANCISCO")


def f_results(r, s):
    c = pick(r, s, "co", COMPANIES); x = fig(r, 1, 25); up = r.random() < 0.5; q = r.choice(["second-quarter", "third-quarter", "quarterly"]); d = WD[s["d"]]
    return dict(
        key=(c, s["d"]),
        titles=[f"{c} shares {'jump' if up else 'slide'} {x}% after {q} results",
                f"{c} stock {'up' if up else 'down'} {x}% on earnings",
                f"{c} {q} revenue {'beats' if up else 'misses'} forecasts"],
        leads=[f"Shares of {c} {'jumped' if up else 'slid'} {x}% on {d} after the company reported {q} results.",
               f"{c}'s stock {'rose' if up else 'fell'} {x}% in trading on {d} as investors reacted to its {q} earnings.",
               f"Investors sent {c} shares {'up' if up else 'down'} {x}% on {d} following its {q} report."],
        details=[f"{c} kept its full-year outlook unchanged.", f"Analysts said demand for {c}'s cloud services was a key factor."],
        ru=None, city="NEW YORK")


PRODUCTS = ["an AI coding assistant", "a data centre chip", "a translation model", "a home robot", "a satellite internet service", "a chatbot for banks"]


def f_launch(r, s):
    c = pick(r, s, "co", COMPANIES); p = pick(r, s, "prod", PRODUCTS); d = WD[s["d"]]
    return dict(
        key=(c, p),
        titles=[f"{c} unveils {p}", f"{c} launches {p}", f"{c} enters market with {p}"],
        leads=[f"{c} unveiled {p} on {d}, the company said.",
               f"{c} said on {d} it was launching {p}.",
               f"On {d}, {c} introduced {p} aimed at business customers."],
        details=[f"{c} did not disclose pricing.", "The product will be available in Japan later this year."],
        ru=None, city="SAN FRANCISCO")


def f_jobs(r, s):
    c = pick(r, s, "co", COMPANIES); n = r.randrange(100, 4000, 50); d = WD[s["d"]]
    return dict(
        key=(c,),
        titles=[f"{c} to cut {n} jobs", f"{c} plans {n} layoffs", f"{c} announces restructuring, {n} jobs to go"],
        leads=[f"{c} said on {d} it would cut {n} jobs as part of a restructuring.",
               f"{c} plans to lay off about {n} employees, it announced on {d}.",
               f"About {n} positions will be eliminated at {c}, the company said on {d}."],
        details=[f"{c} said the cuts would mainly affect its sales division.", "The company employs about 20,000 people."],
        ru=None, city="SAN FRANCISCO")


SESSIONS = ["opening", "midday", "close"]


def f_rouble(r, s):
    sess = pick(r, s, "sess", SESSIONS); x = fig(r, 95, 101, 2); up = r.random() < 0.5; cur = pick(r, s, "cur", [("dollar", "доллару"), ("euro", "евро")])
    if cur[0] == "euro":
        x = round(x + 8, 2)
    d = WD[s["d"]]
    return dict(
        key=(sess, cur[0], s["d"]),
        titles=[f"Rouble {'firms' if up else 'weakens'} to {x} per {cur[0]}",
                f"Rouble at {x} vs {cur[0]} at {sess} in Moscow",
                f"Russian currency {'gains' if up else 'slips'} against {cur[0]} on {d}"],
        leads=[f"The rouble {'firmed' if up else 'weakened'} to {x} per {cur[0]} at the {sess} in Moscow trading on {d}.",
               f"At the {sess} on {d} the rouble traded at {x} against the {cur[0]} on the Moscow Exchange.",
               f"Russia's currency was at {x} per {cur[0]} at the {sess} on {d}, {'up' if up else 'down'} from the previous session."],
        details=["Exporters' tax payments supported the currency, traders said.", "Oil prices were little changed."],
        ru=(f"Курс рубля {'укрепился' if up else 'ослаб'} до {ru_num(x)} за {cur[0] == 'dollar' and 'доллар' or 'евро'}",
            f"Курс рубля {WD_RU[s['d']]} {'укрепился' if up else 'ослаб'} до {ru_num(x)} за {cur[0] == 'dollar' and 'доллар' or 'евро'} по итогам торгов на Мосбирже."),
        city="MOSCOW")


def f_yen(r, s):
    sess = pick(r, s, "sess", SESSIONS); x = fig(r, 148, 150.5, 2); d = WD[s["d"]]
    return dict(
        key=(sess, s["d"]),
        titles=[f"Yen at {x} per dollar in Tokyo {sess}", f"Dollar trades at {x} yen", f"Yen hovers near {x} against dollar"],
        leads=[f"The dollar traded at {x} yen at the {sess} in Tokyo on {d}.",
               f"The yen stood at {x} per dollar at the {sess} on {d} in Tokyo trading.",
               f"In Tokyo on {d}, the dollar changed hands at {x} yen at the {sess}."],
        details=["Traders watched for signs of intervention by Japan's Finance Ministry.", "US bond yields weighed on the yen."],
        ru=(f"Курс иены составил {ru_num(x)} за доллар", f"Курс доллара {WD_RU[s['d']]} на торгах в Токио составил {ru_num(x)} иены."),
        city="TOKYO")


def f_nikkei(r, s):
    sess = pick(r, s, "sess", ["midday", "close"]); x = fig(r, 0.1, 2.8, 2); up = r.random() < 0.5; lvl = fig(r, 30500, 32500, 2); d = WD[s["d"]]
    return dict(
        key=(sess, s["d"]),
        titles=[f"Nikkei {'up' if up else 'down'} {x}% at {lvl} at {sess}", f"Tokyo stocks {'rise' if up else 'fall'}, Nikkei at {lvl}",
                f"Nikkei {'gains' if up else 'loses'} {x}% on {d}"],
        leads=[f"Japan's Nikkei share average was {'up' if up else 'down'} {x}% at {lvl} at the {sess} on {d}.",
               f"The Nikkei {'rose' if up else 'fell'} {x}% to {lvl} by the {sess} on {d} in Tokyo.",
               f"Tokyo stocks {'gained' if up else 'lost'} ground on {d}, with the Nikkei at {lvl} at the {sess}, a move of {x}%."],
        details=["Chip-related shares led the move.", "Exporters tracked the yen."],
        ru=None, city="TOKYO")


def f_brent(r, s):
    sess = pick(r, s, "sess", SESSIONS); x = fig(r, 84, 90, 2); d = WD[s["d"]]
    return dict(
        key=(sess, s["d"]),
        titles=[f"Brent crude at ${x} a barrel", f"Oil trades near ${x}", f"Brent at ${x} at {sess}"],
        leads=[f"Brent crude futures were at ${x} a barrel at the {sess} on {d}.",
               f"Oil prices stood at ${x} for Brent at the {sess} on {d}.",
               f"At the {sess} on {d}, benchmark Brent traded at ${x} per barrel."],
        details=["Traders weighed supply risks in the Middle East.", "OPEC+ output cuts remain in place."],
        ru=(f"Нефть Brent торгуется по ${ru_num(x)} за баррель", f"Стоимость фьючерсов на нефть Brent {WD_RU[s['d']]} составила ${ru_num(x)} за баррель."),
        city="LONDON")


AZ_DISTRICTS = [("Kalbajar", "Кельбаджарском"), ("Lachin", "Лачинском"), ("Nakhchivan", "Нахчыванском"), ("Gadabay", "Гедабекском"), ("Tovuz", "Товузском")]


def f_az_violation(r, s):
    dist = pick(r, s, "dist", AZ_DISTRICTS); n = r.randrange(1, 9); d = WD[s["d"]]
    return dict(
        key=(dist[0], s["d"]),
        titles=[f"Azerbaijan says Armenian forces fired on its positions in {dist[0]}",
                f"Baku reports {n} ceasefire violations on {dist[0]} section of border",
                f"Armenia denies Azerbaijani claims of shooting near {dist[0]}"],
        leads=[f"Azerbaijan's Defence Ministry said on {d} that Armenian forces had fired on its positions in the {dist[0]} district {n} times.",
               f"Baku accused Yerevan on {d} of {n} ceasefire violations along the {dist[0]} section of the border.",
               f"Armenian units opened fire {n} times at Azerbaijani positions in {dist[0]} on {d}, according to Baku; Yerevan denied it."],
        details=["There were no casualties, the ministry said.", "Armenia's Defence Ministry called the report false."],
        ru=(f"Минобороны Азербайджана сообщило об обстрелах в {dist[1]} районе",
            f"Армянские подразделения {WD_RU[s['d']]} {n} раз обстреляли позиции азербайджанской армии в {dist[1]} районе, сообщили в Минобороны Азербайджана."),
        city="BAKU")


AZ_CITIES = [("Brussels", "Брюсселе"), ("Washington", "Вашингтоне"), ("Moscow", "Москве"), ("Granada", "Гранаде"), ("Almaty", "Алматы")]


def f_az_talks(r, s):
    c = pick(r, s, "city", AZ_CITIES); who = pick(r, s, "who", [("Aliyev", "Pashinyan", "Алиев", "Пашинян"), ("Bayramov", "Mirzoyan", "Байрамов", "Мирзоян")]); d = WD[s["d"]]
    return dict(
        key=(c[0], who[0], s["d"]),
        titles=[f"{who[0]}, {who[1]} discuss peace treaty in {c[0]}", f"Azerbaijan, Armenia leaders meet in {c[0]}", f"{who[0]} and {who[1]} hold talks in {c[0]}"],
        leads=[f"{who[0]} and {who[1]} discussed the text of a peace treaty at talks in {c[0]} on {d}.",
               f"Meeting in {c[0]} on {d}, {who[0]} and {who[1]} reviewed the draft Azerbaijan-Armenia peace treaty.",
               f"{who[1]} and {who[0]} held talks in {c[0]} on {d}, focusing on border delimitation and the peace treaty."],
        details=["Both sides said progress had been made.", "A further round is expected next month."],
        ru=(f"{who[2]} и {who[3]} обсудили мирный договор в {c[1]}", f"{who[2]} и {who[3]} {WD_RU[s['d']]} обсудили в {c[1]} текст мирного договора."),
        city="BAKU")


def f_az_gas(r, s):
    mo = r.randrange(0, 9); x = fig(r, 1, 20); dest = pick(r, s, "dest", ["Europe", "Turkey", "Georgia", "Italy"])
    return dict(
        key=(dest, mo),
        titles=[f"Azerbaijan's gas exports to {dest} up {x}% in {MON[mo]}", f"Azerbaijani gas supplies to {dest} rise {x}%", f"SOCAR: gas to {dest} grew {x}% in {MON[mo]}"],
        leads=[f"Azerbaijan's gas exports to {dest} rose {x}% year on year in {MON[mo]}, the Energy Ministry said.",
               f"Gas supplies from Azerbaijan to {dest} grew by {x}% in {MON[mo]}, official data showed.",
               f"In {MON[mo]}, Azerbaijani gas shipments to {dest} were {x}% higher than a year earlier."],
        details=["Most of the gas comes from the Shah Deniz field.", "Deliveries go via the Southern Gas Corridor."],
        ru=(f"Экспорт газа из Азербайджана в {dest} {MON_RU[mo]} вырос на {ru_num(x)}%", f"Экспорт азербайджанского газа {MON_RU[mo]} вырос на {ru_num(x)}% в годовом выражении."),
        city="BAKU")


TYPHOONS = ["Bolaven", "Sanba", "Koinu", "Jelawat", "Ewiniar"]
WX_REGIONS = ["Hokkaido", "Okinawa", "Kyushu", "the Tohoku region", "Sakhalin", "the Kuril Islands", "Niigata"]


def f_typhoon(r, s):
    t = pick(r, s, "ty", TYPHOONS); reg = pick(r, s, "reg", WX_REGIONS); w = r.randrange(25, 60); d = WD[s["d"]]
    return dict(
        key=(t, reg),
        titles=[f"Typhoon {t} heads toward {reg}", f"Typhoon {t} brings winds of {w} m/s to {reg}", f"{reg} braces for Typhoon {t}"],
        leads=[f"Typhoon {t} was moving toward {reg} on {d} with maximum winds of {w} metres per second, the weather agency said.",
               f"Residents of {reg} were told to prepare on {d} as Typhoon {t}, packing winds of {w} m/s, approached.",
               f"Typhoon {t} is expected to reach {reg} after {d}, bringing gusts of up to {w} m/s."],
        details=["Flights and ferries were cancelled.", "Heavy rain is forecast."], ru=None, city="TOKYO")


def f_snow(r, s):
    reg = pick(r, s, "reg", WX_REGIONS); cm = r.randrange(10, 90, 5); d = WD[s["d"]]
    return dict(
        key=(reg, s["d"]),
        titles=[f"Heavy snow warning issued for {reg}", f"Up to {cm} cm of snow forecast for {reg}", f"{reg} faces early snowfall"],
        leads=[f"Forecasters issued a heavy snow warning for {reg} on {d}, predicting up to {cm} centimetres.",
               f"Up to {cm} cm of snow could fall in {reg}, according to a warning issued on {d}.",
               f"{reg} was put on alert for heavy snow on {d}, with {cm} cm expected."],
        details=["Drivers were advised to use winter tyres.", "Some rail services may be suspended."], ru=None, city="TOKYO")


TEAMS = ["Sapporo Eagles", "Tokyo Comets", "Osaka Sharks", "Zenit Kazan", "Lokomotiv Novosibirsk", "Dynamo Moscow", "Neftchi Baku", "Qarabag", "Yokohama Marines", "Spartak Vladivostok"]


def f_match(r, s):
    a, b = r.sample(TEAMS, 2); g1, g2 = r.randrange(1, 6), r.randrange(0, 4); d = WD[s["d"]]
    if g2 >= g1:
        g2 = g1 - 1
    return dict(
        key=(a, b, s["d"]),
        titles=[f"{a} beat {b} {g1}-{g2}", f"{a} defeat {b} {g1}-{g2} on {d}", f"{b} lose {g2}-{g1} to {a}"],
        leads=[f"{a} beat {b} {g1}-{g2} on {d}.",
               f"{b} went down {g2}-{g1} to {a} in their match on {d}.",
               f"A {g1}-{g2} win over {b} on {d} lifted {a} up the table."],
        details=[f"{a} scored the decisive goal in the second half.", "The match was played in front of a full stadium."],
        ru=None, city="TOKYO")


# family, topic, weight. Weights are tuned so ~70% of events are Russia-Japan.
FAMILIES = [
    (f_drills_calm, "rj", 6), (f_drills_held, "rj", 3), (f_drills_protest, "rj", 2), (f_boat_seized, "rj", 6),
    (f_quake, "rj", 6), (f_trade, "rj", 4), (f_sanctions, "rj", 3), (f_entry_ban, "rj", 3),
    (f_lng, "rj", 4), (f_lng_output, "rj", 2), (f_statement, "rj", 9), (f_jets, "rj", 5), (f_warships, "rj", 2),
    (f_quota, "rj", 1), (f_visa, "rj", 2), (f_shoigu, "rj", 2), (f_summon, "rj", 3), (f_build, "rj", 3),
    (f_probe, "tech", 4), (f_results, "tech", 2), (f_launch, "tech", 3), (f_jobs, "tech", 1),
    (f_rouble, "mk", 2), (f_yen, "mk", 1), (f_nikkei, "mk", 1), (f_brent, "mk", 1),
    (f_az_violation, "az", 2), (f_az_talks, "az", 1), (f_az_gas, "az", 1),
    (f_typhoon, "wx", 1), (f_snow, "wx", 2), (f_match, "sp", 3),
]
FAM_TOPIC = {f.__name__: t for f, t, _ in FAMILIES}
FAM_TOPIC.update({"f_boat_released": "rj", "f_talks_preview": "rj", "f_talks_held": "rj", "f_talks_reaction": "rj"})

# Spelling variants real copies show. Applied to some copies only.
SPELLINGS = [(r"\bSergey\b", "Sergei"), (r"\bKunashir\b", "Kunashiri"), (r"\bIturup\b", "Etorofu"), (r"\bDmitry\b", "Dmitri"),
             (r"\bDefence\b", "Defense"), (r"\brouble", "ruble"), (r"\bAndrei\b", "Andrey"), (r"\bsouthern Kurils\b", "southern Kuriles"),
             (r"\bkilometres\b", "kilometers"), (r"\bSoya Strait\b", "La Perouse Strait")]
DATELINE_FMT = {"TASS": "{city}, {mon} {day} /TASS/ - ", "Reuters": "{city}, {mon} {day} (Reuters) - ", "Interfax": "{city}, {mon} {day} (Interfax) - "}


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.used_keys = set()   # membership only; never iterated
        self.events = []         # dicts: fam, topic, t (hours), render

    # -- events ------------------------------------------------------------
    def make(self, fam, t, fixed=None):
        """Instantiate family `fam` at time t (hours from START); None if its key repeats."""
        for _ in range(30):
            s = dict(fixed or {})
            s["d"] = (START + timedelta(hours=t)).weekday()
            ev = fam(self.r, s)
            k = (fam.__name__,) + ev["key"]
            if k not in self.used_keys:
                self.used_keys.add(k)
                ev.update(fam=fam.__name__, topic=FAM_TOPIC[fam.__name__], t=t, slots=s)
                self.events.append(ev)
                return ev
            if fixed:
                return None
        return None

    def rand_time(self, lo=0.0, hi=SPAN_H - 0.05):
        # Busier in daytime (UTC 0-12 covers Tokyo and Moscow working hours).
        while True:
            t = self.r.uniform(lo, hi)
            if self.r.random() < (0.9 if (t % 24) < 14 else 0.45):
                return t

    def build_events(self):
        r = self.r
        # Linked near-miss clusters first.
        # 1. Talks: preview 1-2 days before, the talks, reactions hours after.
        for talks in TALKS:
            t1 = self.rand_time(26, 60)
            held = self.make(f_talks_held, t1, {"talks": talks})
            if not held:
                continue
            tp = max(0.2, t1 - r.uniform(18, 30))
            self.make(f_talks_preview, tp, {"talks": talks, "td": held["slots"]["d"]})
            for who in r.sample([RU[4], JP[2], JP[6], RU[2]], 2):
                self.make(f_talks_reaction, min(SPAN_H - 0.1, t1 + r.uniform(2, 10)), {"talks": talks, "td": held["slots"]["d"], "who": who})
        # 2. Drills on an island, then Japan's call for calm and protest about the same island.
        for _ in range(12):
            t = self.rand_time(0, 60)
            ev = self.make(f_drills_held, t)
            if not ev:
                continue
            p = ev["slots"]["place"]
            self.make(f_drills_calm, t + r.uniform(1, 8), {"place": p})
            if r.random() < 0.7:
                self.make(f_drills_protest, t + r.uniform(1, 10), {"place": p})
        # 3. Boats seized, some released a day or two later (same boat, crew, place).
        for _ in range(20):
            t = self.rand_time(0, 50)
            ev = self.make(f_boat_seized, t)
            if ev and r.random() < 0.5:
                sl = ev["slots"]
                self.make(f_boat_released, t + r.uniform(20, 48) if t < 20 else min(SPAN_H - 0.1, t + r.uniform(8, 20)),
                          {k: sl[k] for k in ("boat", "crew", "port", "place")})
        # 4. Everything else, by family weight.
        fams = [f for f, _, _ in FAMILIES]
        weights = [w for _, _, w in FAMILIES]
        misses = 0
        while len(self.events) < N_EVENTS and misses < 5000:
            fam = r.choices(fams, weights)[0]
            if not self.make(fam, self.rand_time()):
                misses += 1

    # -- items -------------------------------------------------------------
    def background(self, topic, lang):
        """0-2 shared sentences, unrelated to the event, drawn at random."""
        r = self.r
        k = r.choices([0, 1, 2], [0.25, 0.4, 0.35])[0]
        if lang == "ru":
            return r.sample(BG_RU, min(k, 1))
        out = []
        for _ in range(k):
            u = r.random()
            pool = BG_RJ if (topic == "rj" and u < 0.7) or (topic != "rj" and u < 0.25) else (BG_TOPIC.get(topic, BG_GEN) if u < 0.85 else BG_GEN)
            c = r.choice(pool)
            if c not in out:
                out.append(c)
        return out

    def dateline(self, feed, city, t):
        dt = START + timedelta(hours=t)
        if feed == "ТАСС":
            return f"{ {'MOSCOW': 'МОСКВА', 'TOKYO': 'ТОКИО', 'BAKU': 'БАКУ'}.get(city, 'МОСКВА') }, {dt.day} {MON_RU_GEN[dt.month - 1]}. /ТАСС/. "
        fmt = DATELINE_FMT.get(feed)
        return fmt.format(city=city, mon=MON[dt.month - 1][:3], day=dt.day) if fmt else ""

    def item(self, ev, feed, t, title, sentences, lang, original=False, translated=False):
        parts = [x for x in sentences if x][:4]
        return dict(story=None, original=original, translated=translated, feed=feed, lang=lang, title=title,
                    summary=" ".join(parts), t=t, ev=ev)

    def size(self):
        r = self.r
        u = r.random()
        if u < 0.45:
            return 1
        if u < 0.475:
            return r.randint(10, 15)
        return r.choices([2, 3, 4, 5, 6, 7, 8], [12, 14, 14, 13, 12, 10, 9])[0]

    def spellings(self):
        """The spelling variants one copy uses, applied to its title and summary alike."""
        return [(p, rep) for p, rep in SPELLINGS if self.r.random() < 0.35]

    @staticmethod
    def spell(text, rules):
        for pat, rep in rules:
            text = re.sub(pat, rep, text)
        return text

    def build_items(self):
        r = self.r
        items = []
        for ev in self.events:
            n = self.size()
            topic = ev["topic"]
            pool = [f for f in FEED.values() if topic in f["topics"]]
            en_pool = [f for f in pool if f["lang"] == "en"]
            # Original's feed: wires weighted; singles may come from any English feed,
            # and a few single events appear only in Russian (not marked translated).
            if n == 1 and ev["ru"] and r.random() < 0.08:
                of = r.choice([f for f in pool if f["lang"] == "ru"])
            else:
                cands = [f for f in en_pool if f["kind"] in ("wire", "rewrite")] if n > 1 else en_pool
                of = r.choices(cands, [ORIGIN_WEIGHT.get(f["name"], 1) for f in cands])[0]
            t0 = ev["t"]
            bg0 = self.background(topic, of["lang"])
            if of["lang"] == "ru":
                items.append(self.item(ev, of["name"], t0, ev["ru"][0], [ev["ru"][1]] + bg0, "ru"))
                continue
            lead0 = self.dateline(of["name"], ev["city"], t0) + ev["leads"][0]
            det0 = ev["details"][0] if r.random() < 0.6 else None
            orig = self.item(ev, of["name"], t0, ev["titles"][0], [lead0, det0] + bg0, "en", original=n > 1)
            items.append(orig)
            if n == 1:
                continue
            # Copies: distinct feeds; translations only where the family has Russian text.
            others = [f for f in pool if f["name"] != of["name"] and (f["lang"] == "en" or ev["ru"])]
            if n - 1 > len(others):
                n = len(others) + 1
            ru_allowed = 1 if r.random() < 0.5 else 2
            chosen = []
            for f in r.sample(others, len(others)):
                if len(chosen) == n - 1:
                    break
                if f["lang"] == "ru":
                    if ru_allowed == 0 or r.random() < 0.5:
                        continue
                    ru_allowed -= 1
                chosen.append(f)
            src = of["name"]
            for f in chosen:
                # Most copies within 6 h; the rest up to 30 h; never past the window.
                delay = r.uniform(0.05, 6) if r.random() < 0.75 else r.uniform(6, 30)
                t = min(t0 + delay, SPAN_H - 0.01)
                if t <= t0:
                    t = t0 + 0.01
                kind = f["kind"]
                # Copies sometimes carry different background from the original.
                bg = bg0 if r.random() < 0.5 else self.background(topic, f["lang"])
                if kind == "ru":
                    bg = self.background(topic, "ru")
                    lead = ev["ru"][1]
                    if f["name"] == "ТАСС":
                        lead = self.dateline("ТАСС", ev["city"], t) + lead
                    elif r.random() < 0.5:
                        lead = lead + f" Об этом сообщает {('ТАСС' if src == 'TASS' else src)}."
                    items.append(self.item(ev, f["name"], t, ev["ru"][0], [lead] + bg, "ru", translated=True))
                    continue
                if kind == "rewrite" and r.random() < 0.3:
                    kind = "cite"
                if kind == "wire" and f["name"] == "Kyodo News":
                    kind = "rewrite"
                if kind == "cite":
                    title = ev["titles"][0] if r.random() < 0.7 else ev["titles"][r.randrange(1, 3)]
                    sents = [ev["leads"][0], f"{f['name']} reports citing {src}.", det0] + bg
                elif kind == "short":
                    title = ev["titles"][r.randrange(0, 3)]
                    sents = [ev["leads"][0]]
                elif kind == "wire":
                    if f["name"] == "Reuters" and r.random() < 0.6:
                        title = "UPDATE 1-" + ev["titles"][r.randrange(0, 3)]
                        sents = [self.dateline(f["name"], ev["city"], t) + ev["leads"][r.randrange(0, 3)], ev["details"][1], "(Adds details)"]
                    else:
                        title = ev["titles"][r.randrange(0, 3)]
                        sents = [self.dateline(f["name"], ev["city"], t) + ev["leads"][0], ev["details"][r.randrange(0, 2)]] + bg
                else:  # rewrite: new headline, reworded lead, same facts
                    i = r.randrange(1, 3)
                    title = ev["titles"][i]
                    lead = ev["leads"][i]
                    if r.random() < 0.4:
                        lead = lead.rstrip(".") + f", {src} reported."
                    sents = [lead, ev["details"][1] if r.random() < 0.6 else None] + bg
                rules = self.spellings()
                title = self.spell(title, rules)
                sents = [self.spell(x, rules) if x else x for x in sents]
                items.append(self.item(ev, f["name"], t, title, sents, "en"))
        return items

    def finish(self, items):
        """Sort, assign story ids (chronological), item ids and links."""
        items.sort(key=lambda it: (it["t"], it["feed"], it["title"]))
        story_of = {}
        for it in items:
            e = id(it["ev"])
            if e not in story_of:
                story_of[e] = f"b{len(story_of) + 1:04d}"
            it["story"] = story_of[e]
        counters = {f: 100000 + self.r.randrange(0, 90000) for f in FEED}
        out = []
        for it in items:
            f = FEED[it["feed"]]
            counters[f["name"]] += self.r.randrange(1, 40)
            rec = {"id": f"{it['story']}-{f['slug']}", "story": it["story"]}
            if it["original"]:
                rec["original"] = True
            if it["translated"]:
                rec["translated"] = True
            sec = {"rj": "politics", "tech": "tech", "mk": "markets", "az": "region", "wx": "weather", "sp": "sport"}[it["ev"]["topic"]]
            rec.update(feed=f["name"], lang=it["lang"], title=it["title"], summary=it["summary"],
                       link=f"https://{f['slug']}.example/{sec}/{counters[f['name']]}",
                       published=(START + timedelta(seconds=round(it["t"] * 3600 / 60) * 60)).strftime("%Y-%m-%dT%H:%M:%SZ"))
            out.append(rec)
        return out


# ---------------------------------------------------------------------------
# Summary and baseline
# ---------------------------------------------------------------------------
def all_bg():
    return set(BG_RJ + BG_GEN + BG_RU + [x for v in BG_TOPIC.values() for x in v])


def summary(items):
    stories = Counter(it["story"] for it in items)
    hist = Counter(stories.values())
    bg = all_bg()
    with_bg = sum(1 for it in items if any(b in it["summary"] for b in bg))
    bg_chars = sum(sum(len(b) + 1 for b in bg if b in it["summary"]) for it in items)
    tot_chars = sum(len(it["summary"]) for it in items)
    longer = sum(1 for it in items if 2 * sum(len(b) + 1 for b in bg if b in it["summary"]) > len(it["summary"]))
    langs = Counter(it["lang"] for it in items)
    ts = sorted(it["published"] for it in items)
    print(f"items: {len(items)}  feeds: {len({it['feed'] for it in items})}  events: {len(stories)}  "
          f"multi-copy events: {sum(1 for v in stories.values() if v > 1)}")
    print("event sizes: " + ", ".join(f"{k}:{hist[k]}" for k in sorted(hist)))
    print(f"languages: {dict(sorted(langs.items()))}  translated copies: {sum(1 for it in items if it.get('translated'))}")
    print(f"items with a shared background sentence: {with_bg / len(items):.1%}; background share of summary text: {bg_chars / tot_chars:.1%}; "
          f"items whose summary is mostly background: {longer / len(items):.1%}")
    print(f"time span: {ts[0]} .. {ts[-1]}")


def words(text):
    return frozenset(re.findall(r"\w+", text.lower()))


def single_link(items, ws, thresholds, strip_note=""):
    """Word-set Jaccard single-link within 72 h; prints pairwise P/R per threshold."""
    n = len(items)
    ts = [datetime.strptime(it["published"], "%Y-%m-%dT%H:%M:%SZ").timestamp() for it in items]
    lo = min(thresholds)
    edges = []  # (sim, i, j) for every pair at or above the lowest threshold
    for i in range(n):
        a = ws[i]; la = len(a)
        for j in range(i + 1, n):
            if ts[j] - ts[i] > 72 * 3600:
                break
            b = ws[j]
            inter = len(a & b)
            if inter and inter >= lo * (la + len(b) - inter):
                edges.append((inter / (la + len(b) - inter), i, j))
    labels = [it["story"] for it in items]
    # True pairs that do not involve a translated copy: word overlap cannot be
    # expected to find those, so recall is also shown without them.
    nt = [it["story"] for it in items if not it.get("translated")]
    true_pairs = sum(c * (c - 1) // 2 for c in Counter(labels).values())
    true_nt = sum(c * (c - 1) // 2 for c in Counter(nt).values())
    print(f"baseline{strip_note}: {n} items, {true_pairs} true pairs ({true_pairs - true_nt} involve a translation)")
    print("  thr   precision  recall  recall-no-transl  F1     clusters  largest cluster: items / true events")
    for th in sorted(thresholds, reverse=True):
        parent = list(range(n))

        def find(x):
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x
        for s, i, j in edges:
            if s >= th:
                a, b = find(i), find(j)
                if a != b:
                    parent[a] = b
        cl = [find(i) for i in range(n)]
        pred_pairs = sum(c * (c - 1) // 2 for c in Counter(cl).values())
        tp = sum(c * (c - 1) // 2 for c in Counter(zip(cl, labels)).values())
        tp_nt = sum(c * (c - 1) // 2 for c in Counter((c, it["story"]) for c, it in zip(cl, items) if not it.get("translated")).values())
        p = tp / pred_pairs if pred_pairs else 1.0
        rc = tp / true_pairs
        f1 = 2 * p * rc / (p + rc) if p + rc else 0
        ev_per = defaultdict(set)
        size = Counter(cl)
        for c, l in zip(cl, labels):
            ev_per[c].add(l)
        big = max(ev_per, key=lambda c: (len(ev_per[c]), size[c]))
        print(f"  {th:.2f}  {p:.3f}      {rc:.3f}   {tp_nt / true_nt:.3f}             {f1:.3f}  {len(size):6d}    {size[big]} / {len(ev_per[big])}")


def baseline(items, thresholds=(0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)):
    """On title + summary as served; then, for comparison, with the shared background removed."""
    ws = [words(it["title"] + " " + it["summary"]) for it in items]
    single_link(items, ws, thresholds)
    bg = sorted(all_bg())
    stripped = []
    for it in items:
        t = it["summary"]
        for b in bg:
            t = t.replace(b, "")
        stripped.append(words(it["title"] + " " + t))
    single_link(items, stripped, thresholds, " (shared background removed: an upper bound, not available to the detector)")


def write(items, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write('{"items": [\n')
        f.write(",\n".join(json.dumps(it, ensure_ascii=False) for it in items))
        f.write("\n]}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--baseline", action="store_true", help="run the word-Jaccard single-link baseline")
    a = ap.parse_args()
    g = Gen(a.seed)
    g.build_events()
    items = g.finish(g.build_items())
    write(items, a.out)
    print(f"wrote {os.path.normpath(a.out)} ({os.path.getsize(a.out)} bytes)")
    summary(items)
    if a.baseline:
        baseline(items)


if __name__ == "__main__":
    main()
