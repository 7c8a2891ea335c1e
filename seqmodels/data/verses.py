"""English–Spanish Bible verse pairs (translation) and English verses (language modelling).

Real, public-domain text that installs offline: the World English Bible (Debian package
`sword-text-web`, SWORD module `engWEB2015eb`, NRSVA versification) and the Reina-Valera 1909
(`sword-text-sparv`, module `spaRV1909eb`, KJV versification), read with PyPI `pysword`. The
raw OSIS markup is cleaned here (pysword's own cleaner deletes footnotes without a space and so
glues words: "Godcreated"), verses are paired by their key ("Gen.1.1") and misaligned pairs are
dropped (`clean_pairs` lists every rule). Splits are assigned per chapter by a stable hash, so
no verse and no chapter is in two splits.

Example:

>>> train = load_en_es_verses("train")  # doctest: +SKIP
>>> corpus = load_verses_text("validation")  # doctest: +SKIP
"""

import collections
import functools
import hashlib
import html
import importlib.util
import os
import re

import tensorflow as tf

from seqmodels.data.dataset_info import DataNotFoundError, DatasetInfo
from seqmodels.data.files import system_file

SWORD_DIR = "/usr/share/sword/modules/texts/ztext"
# language: (SWORD module, versification of the module's .conf, Debian package)
MODULES = {"english": ("engWEB2015eb", "nrsva", "sword-text-web"),
           "spanish": ("spaRV1909eb", "kjv", "sword-text-sparv")}
SPLITS = ("train", "validation", "test")
SPLIT_FRACTIONS = (0.9, 0.05, 0.05)
RATIO_BAND = (0.6, 1.9)  # allowed len(spanish) / len(english) of a pair, see `clean_pairs`

EN_ES_VERSES_INFO = DatasetInfo(
    name="en_es_verses", task="translation",
    description="English (World English Bible) - Spanish (Reina-Valera 1909) Bible verse pairs, "
                "cleaned and aligned by verse key, both sides at most 120 characters (the "
                "default max_chars); no chapter crosses splits.",
    features={"english": "string", "spanish": "string"}, num_classes=0,
    splits={"train": 0, "validation": 0, "test": 0}, license="public domain (both texts)",
    source="Debian sword-text-web (engWEB2015eb) + sword-text-sparv (spaRV1909eb), read with "
           "PyPI pysword==0.2.8")
VERSES_TEXT_INFO = DatasetInfo(
    name="verses_text", task="language_modeling",
    description="The cleaned English verses of the World English Bible with Deuterocanon, one "
                "string each; split by chapter with the same hash as en_es_verses.",
    features={"text": "string"}, num_classes=0,
    splits={"train": 0, "validation": 0, "test": 0}, license="public domain",
    source="Debian sword-text-web (engWEB2015eb), read with PyPI pysword==0.2.8")

# --- Cleaning one verse's OSIS markup ------------------------------------------------------------

# Rule "appendix": the WEB module appends its whole glossary (17,000 characters) to its last verse,
# Rev 22:21, after the book's closing <div type="book" eID=.../>. Everything from a book end, a
# glossary or an introduction division onward is not verse text.
_APPENDIX = re.compile(r'<div\b[^>]*\btype="(?:book|glossary|introduction)"[^>]*\beID=[^>]*/>.*'
                       r'|<div\b[^>]*\btype="(?:glossary|introduction)"[^>]*/>.*', re.S)
# Rule "notes": footnotes and cross references (with their <reference>, <catchWord>, <rdg>
# content) are not verse text. They sit between two words with no space around them
# ("God<note>…</note>created"), so each is replaced by a space, not by nothing.
_NOTE = re.compile(r"<note\b[^>]*>.*?</note>|<note\b[^>]*/>", re.S)
# Rule "titles": section headings are editorial and dropped; the canonical psalm superscriptions
# ("A Psalm by David.") are kept as text, because the Reina-Valera (KJV versification) has them
# inside verse 1, and the pair would otherwise be misaligned.
_CANONICAL_TITLE = re.compile(r'<title\b[^>]*\bcanonical="true"[^>]*>(.*?)</title>', re.S)
_TITLE = re.compile(r"<title\b[^>]*>.*?</title>", re.S)
# Rule "speakers": the WEB's Song of Songs labels speakers ("Beloved", "Friends"); not text.
_SPEAKER = re.compile(r"<speaker\b[^>]*>.*?</speaker>", re.S)
# Rule "word boundaries": the Reina-Valera marks words with <w> and translator-added words with
# <transChange>, often back to back: "allí</w><transChange>también</transChange><w>bdelio".
# An element that closes right where the next opens is a word boundary: a space goes there.
# (A <transChange> opened inside a word, "preguntándo<transChange>le", stays glued.)
_ADJACENT = re.compile(r"(</(?:w|transChange)>)(?=<(?:w|transChange)\b)")
# Rule "structure": paragraph, line, line group, list and item boundaries separate words.
_STRUCTURAL = re.compile(r"</?(?:div|p|l|lg|lb|list|item|chapter|milestone|br)\b[^>]*>")
# Every other element (<w>, <q>, <transChange>, <seg>, <name>, ...) keeps its text.
_TAG = re.compile(r"<[^>]*>")


def clean_osis(raw):
    """Plain text of one verse's OSIS markup (before whitespace and glued-word repair).

    Args:
        raw: the verse as stored in the SWORD module (OSIS XML fragments).

    Returns:
        The text with markup removed by the rules above, whitespace normalised by
        `normalize_whitespace`.

    Example:

    >>> clean_osis('<w>God</w><note placement="foot">Elohim.</note><w>created</w>.')
    'God created.'
    """
    text = _APPENDIX.sub("", raw)
    text = _NOTE.sub(" ", text)
    text = _CANONICAL_TITLE.sub(r" \1 ", text)
    text = _TITLE.sub(" ", text)
    text = _SPEAKER.sub(" ", text)
    text = _ADJACENT.sub(r"\1 ", text)
    text = _STRUCTURAL.sub(" ", text)
    text = _TAG.sub("", text)
    return normalize_whitespace(html.unescape(text))


# Rule "whitespace": runs of whitespace become one space; no space before , . ; : ! ? or a closing
# quote or parenthesis (removing a note before punctuation leaves "word ."), none after an
# opening one.
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE = re.compile(r" (?=[,.;:!?)\]”»])")
_SPACE_AFTER = re.compile(r"(?<=[(\[“«¿¡]) ")


def normalize_whitespace(text):
    """Collapses whitespace and removes spaces before closing / after opening punctuation.

    Example:

    >>> normalize_whitespace("  In the  beginning ,\\n“ God ” . ")
    'In the beginning, “God”.'
    """
    text = _SPACES.sub(" ", text).strip()
    text = _SPACE_BEFORE.sub("", text)
    return _SPACE_AFTER.sub("", text)


# Rule "glued words": a word that runs into the next with no space ("wordAnother": a lower-case
# letter followed by a capitalised word) and footnote numbers glued after punctuation ("word.1"
# or "word,12 next") are what markup removal leaves behind when it deletes an element without a
# space. The first gets its space back, the second loses the number.
_GLUED_CAPITAL = re.compile(r"(?<=[a-zà-öø-ÿ])(?=[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ])")
_GLUED_NUMBER = re.compile(r"(?<=[^\W\d_][.,;:!?”’])\d+(?=\s|$)")


def repair_glued_words(text):
    """Splits glued words and drops glued footnote numbers; returns `(text, repairs)`.

    Example:

    >>> repair_glued_words("the wordAnother day.1 Then")
    ('the word Another day. Then', 2)
    """
    text, capitals = _GLUED_CAPITAL.subn(" ", text)
    text, numbers = _GLUED_NUMBER.subn("", text)
    return normalize_whitespace(text), capitals + numbers


# Rule "subscriptions": the Reina-Valera ends Paul's letters and Hebrews with the KJV-style
# subscription after the final "Amén." ("Fué escrita de Corinto á los Romanos ..."), which the
# WEB does not have. Cut it when it says where the letter was written or sent from.
_SUBSCRIPTION = re.compile(r"(?<=Amén\.)\s+(?=[^.]*\b(?:[Ee]scrita|[Ee]nviada)\b)[^\n]*$")


def strip_subscription(spanish):
    """Removes a KJV-style subscription after the final "Amén." of a Spanish verse.

    Example:

    >>> strip_subscription("Gracia sea con vosotros. Amén. Escrita de Roma con Epafrodito.")
    'Gracia sea con vosotros. Amén.'
    """
    return _SUBSCRIPTION.sub("", spanish)


_STRONG = re.compile(r"\b[HG]\d+\b")


def strong_numbers(raw):
    """The set of Strong's numbers a verse's `<w lemma="strong:...">` tags carry ("H430").

    Both modules tag words with the Hebrew / Greek word they translate, which lets a pair be
    checked for alignment without any dictionary.

    Example:

    >>> sorted(strong_numbers('<w lemma="strong:H0430">God</w> <w lemma="strong:G2424 G5547">x</w>'))
    ['G2424', 'G5547', 'H430']
    """
    numbers = set()
    for lemma in re.findall(r'lemma="([^"]*)"', raw):
        numbers.update(n[0] + str(int(n[1:])) for n in _STRONG.findall(lemma.replace("strong:", " ")))
    return frozenset(numbers)


def _overlap(a, b):
    """Shared Strong's numbers over the smaller set (0 when either is empty)."""
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


# --- Cleaning pairs ------------------------------------------------------------------------------

MISALIGNMENT_WINDOW = 6  # verses on each side a pair is compared with, see `clean_pairs`
MISALIGNMENT_MARGIN = 0.25
MIN_STRONG_NUMBERS = 4


def clean_pairs(english, spanish, counts=None):
    """Cleans and pairs the raw verses of both modules; returns `[(key, english, spanish)]`.

    Rules, in order (what each did to the real modules is measured in `cleaning_counts`):

    1. `unpaired`: a key only one module has (the deuterocanon, 3 John 1:15, Rev 12:18) is
       dropped.
    2. Each side is cleaned by `clean_osis` (notes, titles, markup, whitespace), the Spanish
       side by `strip_subscription` (counted as `subscription_stripped`), then both by
       `repair_glued_words` (counted as `glued_repaired`).
    3. `empty`: a pair with an empty side is dropped (verses the WEB moves to a footnote or
       merges into a neighbour; Reina-Valera verses its source numbers elsewhere).
    4. `misaligned`: the versifications differ in places (Job 38-41, 2 Cor 13, Rom 14/16,
       Malachi ...). A pair whose English verse shares at least `MISALIGNMENT_MARGIN` more of
       its Strong's numbers with a Spanish verse up to `MISALIGNMENT_WINDOW` verses away (or the
       reverse) than with its own partner is dropped; both sides need `MIN_STRONG_NUMBERS`
       numbers for the test to count.
    5. `length_ratio`: a pair whose `len(spanish) / len(english)` lies outside `RATIO_BAND` is
       dropped (a verse numbered differently but with too few Strong's tags for rule 4, or a
       side that holds two verses).

    Args:
        english: `{key: raw OSIS}` of the English module, keys like "Gen.1.1" in canonical order.
        spanish: `{key: raw OSIS}` of the Spanish module.
        counts: an optional `collections.Counter` that receives the count of every rule.

    Returns:
        The kept pairs in the English module's order.
    """
    counts = collections.Counter() if counts is None else counts
    keys = [key for key in english if key in spanish]
    counts["english_verses"] += len(english)
    counts["spanish_verses"] += len(spanish)
    counts["unpaired"] += len(english) + len(spanish) - 2 * len(keys)

    candidates = []
    for key in keys:
        en, es = clean_osis(english[key]), clean_osis(spanish[key])
        stripped = strip_subscription(es)
        counts["subscription_stripped"] += stripped != es
        en, en_repairs = repair_glued_words(en)
        es, es_repairs = repair_glued_words(stripped)
        counts["glued_repaired"] += bool(en_repairs or es_repairs)
        if not en or not es:
            counts["empty"] += 1
            continue
        candidates.append((key, en, es, strong_numbers(english[key]), strong_numbers(spanish[key])))

    misaligned = _misaligned(candidates)
    pairs = []
    for index, (key, en, es, _, _) in enumerate(candidates):
        if index in misaligned:
            counts["misaligned"] += 1
        elif not RATIO_BAND[0] <= len(es) / len(en) <= RATIO_BAND[1]:
            counts["length_ratio"] += 1
        else:
            pairs.append((key, en, es))
    counts["kept"] += len(pairs)
    return pairs


def _misaligned(candidates):
    """Indices of candidates whose partner matches a neighbour (same book) better than itself."""
    flagged = set()
    for i, (key, _, _, en_numbers, es_numbers) in enumerate(candidates):
        book = key.split(".")[0]
        own = _overlap(en_numbers, es_numbers)
        for j in range(max(0, i - MISALIGNMENT_WINDOW), i + MISALIGNMENT_WINDOW + 1):
            if j == i or j >= len(candidates) or candidates[j][0].split(".")[0] != book:
                continue
            _, _, _, other_en, other_es = candidates[j]
            for mine, theirs in ((en_numbers, other_es), (es_numbers, other_en)):
                if (min(len(mine), len(theirs)) >= MIN_STRONG_NUMBERS
                        and _overlap(mine, theirs) >= own + MISALIGNMENT_MARGIN):
                    flagged.add(i)
    return flagged
