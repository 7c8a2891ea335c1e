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

import numpy as np
import tensorflow as tf

from seqmodels.data.dataset_info import DataNotFoundError, DatasetInfo
from seqmodels.data.files import system_file

SWORD_DIR = "/usr/share/sword/modules/texts/ztext"
# language: (SWORD module, versification of the module's .conf, Debian package)
MODULES = {"english": ("engWEB2015eb", "nrsva", "sword-text-web"),
           "spanish": ("spaRV1909eb", "kjv", "sword-text-sparv")}
SPLITS = ("train", "validation", "test")
SPLIT_FRACTIONS = (0.9, 0.05, 0.05)
RATIO_BAND = (0.5, 2.0)  # allowed len(spanish) / len(english) of a pair, see `clean_pairs`

EN_ES_VERSES_INFO = DatasetInfo(
    name="en_es_verses", task="translation",
    description="English (World English Bible) - Spanish (Reina-Valera 1909) Bible verse pairs, "
                "cleaned and aligned by verse key, both sides at most 120 characters (the "
                "default max_chars); no chapter crosses splits.",
    features={"english": "string", "spanish": "string"}, num_classes=0,
    splits={"train": 13774, "validation": 712, "test": 552},
    license="public domain (both texts)",
    source="Debian sword-text-web (engWEB2015eb) + sword-text-sparv (spaRV1909eb), read with "
           "PyPI pysword==0.2.8")
VERSES_TEXT_INFO = DatasetInfo(
    name="verses_text", task="language_modeling",
    description="The cleaned English verses of the World English Bible with Deuterocanon, one "
                "string each; split by chapter with the same hash as en_es_verses.",
    features={"text": "string"}, num_classes=0,
    splits={"train": 34187, "validation": 1744, "test": 1502}, license="public domain",
    source="Debian sword-text-web (engWEB2015eb), read with PyPI pysword==0.2.8")

# --- Cleaning one verse's OSIS markup ------------------------------------------------------------

# Rule "appendix": the WEB module appends its whole glossary (17,500 characters) to its last verse,
# Rev 22:21, after the book's closing <div type="book" eID=.../>. Everything from a book end, a
# glossary or an introduction division onward is not verse text.
_APPENDIX = re.compile(r'<div\b(?=[^>]*\btype="book")(?=[^>]*\beID=)[^>]*>.*'  # a book's end
                       r'|<div\b[^>]*\btype="(?:glossary|introduction)"[^>]*>.*', re.S)
_APPENDIX_HINT = re.compile(r'type="(?:book|glossary|introduction)"')  # a cheap pre-check
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
_RULES = (("notes", _NOTE, " "), ("psalm_titles", _CANONICAL_TITLE, r" \1 "),
          ("titles", _TITLE, " "), ("speakers", _SPEAKER, " "),
          ("word_boundaries", _ADJACENT, r"\1 "))
# Every other element (<w>, <q>, <transChange>, <seg>, <name>, ...) keeps its text.
_TAG = re.compile(r"<[^>]*>")


def clean_osis(raw, counts=None):
    """Plain text of one verse's OSIS markup, by the rules above.

    Args:
        raw: the verse as stored in the SWORD module (OSIS XML fragments).
        counts: an optional `collections.Counter`; each rule that changed the verse adds 1 to
            its entry (`appendix`, `notes`, `psalm_titles`, `titles`, `speakers`,
            `word_boundaries`).

    Returns:
        The text with markup removed by the rules above, whitespace normalised by
        `normalize_whitespace`.

    Example:

    >>> clean_osis('<w>God</w><note placement="foot">Elohim.</note><w>created</w>.')
    'God created.'
    """
    counts = collections.Counter() if counts is None else counts
    text = raw
    appendix = _APPENDIX.search(raw) if _APPENDIX_HINT.search(raw) else None
    if appendix:
        text = raw[:appendix.start()]
        counts["appendix"] += bool(_TAG.sub("", appendix.group()).strip())  # not just a book end
    for rule, pattern, replacement in _RULES:
        text, changed = pattern.subn(replacement, text)
        counts[rule] += changed > 0
    text = _STRUCTURAL.sub(" ", text)
    text = _TAG.sub("", text)
    return normalize_whitespace(html.unescape(text))


# Rule "whitespace": runs of whitespace become one space; no space before , . ; : ! ? or a closing
# quote or parenthesis (removing a note before punctuation leaves "word ."), none after an
# opening one.
_SPACE_BEFORE = re.compile(r" (?=[,.;:!?)\]”»])")
_SPACE_AFTER = re.compile(r"(?<=[(\[“«¿¡]) ")


def normalize_whitespace(text):
    """Collapses whitespace and removes spaces before closing / after opening punctuation.

    Example:

    >>> normalize_whitespace("  In the  beginning ,\\n“ God ” . ")
    'In the beginning, “God”.'
    """
    text = " ".join(text.split())
    text = _SPACE_BEFORE.sub("", text)
    return _SPACE_AFTER.sub("", text)


# Rule "glued words": a word that runs into the next with no space ("wordAnother": a lower-case
# letter followed by a capitalised word) and footnote numbers glued after punctuation ("word.1"
# or "word,12 next") are what markup removal leaves behind when it deletes an element without a
# space. The first gets its space back, the second loses the number. (A name like "McDonald" would
# be split too; neither Bible has one.)
_GLUED_CAPITAL = re.compile(r"(?<=[a-zà-öø-ÿ])(?=[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ])")
_DIGIT = re.compile(r"\d")  # a cheap pre-check: most verses have no digit
_GLUED_NUMBER = re.compile(r"([^\W\d_][.,;:!?”’)\]]{1,3})\d+(?=\s|$)")


def repair_glued_words(text):
    """Splits glued words and drops glued footnote numbers; returns `(text, repairs)`.

    Example:

    >>> repair_glued_words("the wordAnother day.1 Then")
    ('the word Another day. Then', 2)
    """
    text, capitals = _GLUED_CAPITAL.subn(" ", text)
    text, numbers = _GLUED_NUMBER.subn(r"\1", text) if _DIGIT.search(text) else (text, 0)
    return (normalize_whitespace(text) if numbers else text), capitals + numbers


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


_LEMMA = re.compile(r'lemma="([^"]*)"')
_STRONG = re.compile(r"(?:strong:|\s)([HG])0*(\d+)")


def strong_numbers(raw):
    """The set of Strong's numbers a verse's `<w lemma="strong:...">` tags carry ("H430").

    Both modules tag words with the Hebrew / Greek word they translate; the Spanish ones are
    what `find_misaligned` checks a pair's alignment against.

    Example:

    >>> sorted(strong_numbers('<w lemma="strong:H0430">Dios</w> <w lemma="strong:G2424 G5547">'))
    ['G2424', 'G5547', 'H430']
    """
    return frozenset(h + n for h, n in _STRONG.findall(" ".join(_LEMMA.findall(raw))))


# --- Alignment ----------------------------------------------------------------------------------
# The two modules' own Strong's numbers cannot be compared directly: the WEB's tags follow the
# Hebrew verse numbering (English Psalm 49:8 carries the numbers of 49:7's words, because Hebrew
# counts the superscription as verse 1), so they disagree with their own verse's text exactly
# where the versifications differ. The Reina-Valera's tags sit on its Spanish words. So English
# *words* are mapped to Strong's numbers by a lexicon learned from the pairs themselves, and a
# pair is scored by how many of its Spanish verse's numbers its English words map to.

_WORD = re.compile(r"[a-z]+")


def learn_lexicon(english_texts, spanish_numbers, min_df=2, max_df=0.05, min_dice=0.3):
    """Maps English words to the Strong's number they translate, learned from verse pairs.

    A word's number is the one it co-occurs with most, by the Dice coefficient
    `2 * both / (verses with the word + verses with the number)`, over all pairs; the few
    misaligned pairs barely move it. Very common words and numbers (articles, "and", "the") say
    nothing about alignment and are left out.

    Args:
        english_texts: the English side of each pair, cleaned.
        spanish_numbers: the Spanish side's Strong's numbers, one set per pair.
        min_df: words and numbers in fewer pairs are left out.
        max_df: words and numbers in more than this fraction of the pairs are left out.
        min_dice: the weakest association kept.

    Returns:
        `{english word: Strong's number}`.
    """
    words = [set(_WORD.findall(text.lower())) for text in english_texts]
    word_df = collections.Counter(w for ws in words for w in ws)
    number_df = collections.Counter(n for ns in spanish_numbers for n in ns)
    most = max_df * len(words)
    # Sorted, so that ties break the same way in every process (set order is salted).
    word_ids = {w: i for i, w in enumerate(sorted(w for w, df in word_df.items()
                                                  if min_df <= df <= most))}
    number_list = sorted(n for n, df in number_df.items() if min_df <= df <= most)
    number_ids = {n: i for i, n in enumerate(number_list)}
    if not word_ids or not number_ids:
        return {}
    codes = []
    for ws, ns in zip(words, spanish_numbers):
        w = np.array([word_ids[x] for x in ws if x in word_ids], np.int64)
        n = np.array([number_ids[x] for x in ns if x in number_ids], np.int64)
        if w.size and n.size:
            codes.append((w[:, None] * len(number_ids) + n[None, :]).ravel())  # (words * numbers,)
    if not codes:
        return {}
    pairs, both = np.unique(np.concatenate(codes), return_counts=True)
    word_of, number_of = pairs // len(number_ids), pairs % len(number_ids)
    word_counts = np.array([word_df[w] for w in word_ids], np.float64)
    number_counts = np.array([number_df[n] for n in number_list], np.float64)
    dice = 2 * both / (word_counts[word_of] + number_counts[number_of])
    order = np.lexsort((-dice, word_of))  # by word, strongest association first
    first = order[np.r_[True, word_of[order][1:] != word_of[order][:-1]]]
    words_by_id = list(word_ids)
    return {words_by_id[word_of[i]]: number_list[number_of[i]]
            for i in first if dice[i] >= min_dice}


def _dice(a, b):
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


MAX_SHIFT = 6  # verses the Spanish numbering is searched away from the English one
HALF_WINDOW = 2  # a verse's shift is judged over itself and this many verses on each side
VERSE_MARGIN = 0.15  # a shifted alignment must beat the keyed one by this much (mean Dice)
CHAPTER_MARGIN = 0.05  # same, averaged over a whole chapter


def find_misaligned(keys, english_texts, spanish_numbers, lexicon):
    """Which pairs are numbered differently on the two sides; returns `(verses, chapters)`.

    For every shift `s` in `[-MAX_SHIFT, MAX_SHIFT]`, `score[s][i]` is the Dice overlap of the
    numbers English verse `i`'s words map to (through `lexicon`) with Spanish verse `i + s`'s
    numbers, within one book. Two tests:

    - runs: pair `i` is flagged when, averaged over the pairs within `HALF_WINDOW` of it, some
      shift beats shift 0 by `VERSE_MARGIN`, and so are its two neighbours (the edges of a
      shifted run score half shifted, half not);
    - chapters: every pair of a chapter is flagged when, averaged over the chapter, some shift
      beats shift 0 by `CHAPTER_MARGIN` (poetry scores low everywhere, so a whole shifted chapter
      of it, Job 39, can slip through the run test).

    Args:
        keys: the pairs' keys ("Gen.1.1"), in canonical order.
        english_texts: the cleaned English verses.
        spanish_numbers: the Strong's numbers of the Spanish verses.
        lexicon: `{english word: Strong's number}` from `learn_lexicon`.

    Returns:
        A set of flagged indices from the run test and a set from the chapter test.
    """
    count = len(keys)
    books = [key.split(".")[0] for key in keys]
    chapters = [key.rsplit(".", 1)[0] for key in keys]
    mapped = [frozenset(lexicon[w] for w in _WORD.findall(text.lower()) if w in lexicon)
              for text in english_texts]
    shifts = list(range(-MAX_SHIFT, MAX_SHIFT + 1))
    scores = np.zeros((len(shifts), count))  # (shifts, pairs)
    for row, shift in enumerate(shifts):
        for i in range(max(0, -shift), min(count, count - shift)):
            if books[i + shift] == books[i]:
                scores[row, i] = _dice(mapped[i], spanish_numbers[i + shift])
    keyed = shifts.index(0)

    runs = set()
    start = 0
    while start < count:  # one book at a time: shifts do not cross books
        stop = start
        while stop < count and books[stop] == books[start]:
            stop += 1
        kernel = np.ones(2 * HALF_WINDOW + 1)
        sums = np.stack([np.convolve(row, kernel, "same") for row in scores[:, start:stop]])
        local = sums / np.convolve(np.ones(stop - start), kernel, "same")  # (shifts, book pairs)
        best_shifted = np.delete(local, keyed, axis=0).max(axis=0)
        for offset in np.flatnonzero(best_shifted >= local[keyed] + VERSE_MARGIN):
            first, last = max(start, start + offset - 1), min(stop, start + offset + 2)
            runs.update(range(first, last))
        start = stop

    whole = set()
    members = collections.defaultdict(list)
    for i, chapter in enumerate(chapters):
        members[chapter].append(i)
    for indices in members.values():
        mean = scores[:, indices].mean(axis=1)  # (shifts,)
        if np.delete(mean, keyed).max() >= mean[keyed] + CHAPTER_MARGIN:
            whole.update(indices)
    return runs, whole


# --- Cleaning pairs -----------------------------------------------------------------------------


def clean_pairs(english, spanish, counts=None, lexicon=None):
    """Cleans and pairs the raw verses of both modules; returns `[(key, english, spanish)]`.

    Rules, in order (what each did to the real modules: `cleaning_counts`):

    1. `unpaired`: a key only one module has (the WEB's deuterocanon, 3 John 1:15, Rev 12:18) is
       dropped.
    2. Each side is cleaned by `clean_osis` (notes, titles, markup, whitespace), the Spanish
       side by `strip_subscription` (counted as `subscription_stripped`), then both by
       `repair_glued_words` (counted as `glued_repaired`).
    3. `empty`: a pair with an empty side is dropped (verses the WEB leaves to a footnote or
       merges into a neighbour; Reina-Valera verses its source numbers elsewhere).
    4. `misaligned_run` / `misaligned_chapter`: pairs flagged by `find_misaligned` (the
       Reina-Valera module follows the Hebrew numbering in a few chapters, Num 13, 1 Sam 24,
       Hos 12, Jonah 2, Job 39-40, ..., and is off by one inside a few others) are dropped.
    5. `length_ratio`: a pair whose `len(spanish) / len(english)` lies outside `RATIO_BAND` is
       dropped (one side holds two verses, or the numbering differs where too few words carry
       Strong's numbers for rule 4).

    Args:
        english: `{key: raw OSIS}` of the English module, keys like "Gen.1.1" in canonical order.
        spanish: `{key: raw OSIS}` of the Spanish module.
        counts: an optional `collections.Counter` that receives the count of every rule.
        lexicon: `{english word: Strong's number}` for rule 4; learned from the pairs by
            `learn_lexicon` when `None`.

    Returns:
        The kept pairs in the English module's order.
    """
    counts = collections.Counter() if counts is None else counts
    keys = [key for key in english if key in spanish]
    counts["english_verses"] += len(english)
    counts["spanish_verses"] += len(spanish)
    counts["unpaired"] += len(english) + len(spanish) - 2 * len(keys)

    candidates = []
    en_counts, es_counts = collections.Counter(), collections.Counter()
    for key in keys:
        en, es = clean_osis(english[key], en_counts), clean_osis(spanish[key], es_counts)
        stripped = strip_subscription(es)
        counts["subscription_stripped"] += stripped != es
        en, en_repairs = repair_glued_words(en)
        es, es_repairs = repair_glued_words(stripped)
        counts["glued_repaired"] += bool(en_repairs or es_repairs)
        if not en or not es:
            counts["empty"] += 1
            continue
        candidates.append((key, en, es, strong_numbers(spanish[key])))

    counts.update({f"english_{rule}": n for rule, n in en_counts.items() if n})
    counts.update({f"spanish_{rule}": n for rule, n in es_counts.items() if n})
    kept_keys = [c[0] for c in candidates]
    english_texts = [c[1] for c in candidates]
    numbers = [c[3] for c in candidates]
    if lexicon is None:
        lexicon = learn_lexicon(english_texts, numbers)
    runs, chapters = find_misaligned(kept_keys, english_texts, numbers, lexicon)
    pairs = []
    for index, (key, en, es, _) in enumerate(candidates):
        if index in runs:
            counts["misaligned_run"] += 1
        elif index in chapters:
            counts["misaligned_chapter"] += 1
        elif not RATIO_BAND[0] <= len(es) / len(en) <= RATIO_BAND[1]:
            counts["length_ratio"] += 1
        else:
            pairs.append((key, en, es))
    counts["kept"] += len(pairs)
    return pairs


# --- Reading the SWORD modules ------------------------------------------------------------------


def _module_dir(language, dataset, data_dir):
    """The module folder of `language`, or `DataNotFoundError` naming its Debian package."""
    name, _, package = MODULES[language]
    return system_file(os.path.join(SWORD_DIR, name), dataset, package, data_dir)


def _require_pysword(dataset):
    if importlib.util.find_spec("pysword") is None:
        raise DataNotFoundError(
            f"Dataset {dataset!r} needs the Python package 'pysword' to read its SWORD modules, "
            "which is not installed. Run `make data` (it installs the data packages without "
            "their dependencies).")


@functools.lru_cache(maxsize=4)
def read_module(path, versification):
    """`((key, raw OSIS), ...)` of every verse slot of a zText SWORD module, in canonical order.

    Keys are "Book.chapter.verse" with OSIS book names ("Gen.1.1", "1Kgs.22.53"); a verse the
    module lacks is an empty string. Cached per `(path, versification)`.
    """
    from pysword.bible import SwordBible  # lazy: only the verse datasets need pysword

    try:
        bible = SwordBible(path, "ztext", versification, "utf-8", "OSIS")
    except IOError as error:
        raise DataNotFoundError(
            f"{path} holds no readable SWORD zText module ({error}). Run `make data`, or pass "
            "data_dir= pointing at your own copy.") from error
    # pysword (0.2.8) decompresses the module's whole block (a book) again for every verse it
    # reads; remembering the last blocks makes reading a module about 30 times faster.
    if hasattr(bible, "_decompressed_text"):
        bible._decompressed_text = functools.lru_cache(maxsize=4)(bible._decompressed_text)
    verses = []
    for books in bible.get_structure().get_books().values():  # "ot", then "nt"
        for book in books:
            texts = list(bible.get_iter(books=[book.osis_name], clean=False))
            if len(texts) != sum(book.chapter_lengths):
                raise ValueError(f"{path}: {book.osis_name} has {len(texts)} verses, its "
                                 f"versification {sum(book.chapter_lengths)}.")
            numbered = iter(texts)
            for chapter, length in enumerate(book.chapter_lengths, start=1):
                verses.extend((f"{book.osis_name}.{chapter}.{verse}", next(numbered))
                              for verse in range(1, length + 1))
    return tuple(verses)


def _read(languages, dataset, sword_dir):
    """`{key: raw}` of each language's module; every folder and pysword checked before parsing."""
    paths = [_module_dir(language, dataset, sword_dir) for language in languages]
    _require_pysword(dataset)
    return [dict(read_module(path, MODULES[language][1]))
            for path, language in zip(paths, languages)]


@functools.lru_cache(maxsize=4)
def _cleaned_pairs(sword_dir):
    counts = collections.Counter()
    english, spanish = _read(("english", "spanish"), "en_es_verses", sword_dir)
    return tuple(clean_pairs(english, spanish, counts)), dict(counts)


def read_verse_pairs(sword_dir=None):
    """All cleaned, aligned `(key, english, spanish)` verse pairs, in canonical order.

    Args:
        sword_dir: a folder holding the `engWEB2015eb/` and `spaRV1909eb/` module folders
            (default: where the Debian packages put them, `SWORD_DIR`).

    Returns:
        A list of `(key, english, spanish)`, `key` like "Gen.1.1". Parsed once per `sword_dir`
        and kept in memory.

    Raises:
        DataNotFoundError: a module folder or pysword is missing; the message names `make data`.
    """
    return list(_cleaned_pairs(sword_dir)[0])


def cleaning_counts(sword_dir=None):
    """How many verses / pairs each rule of `clean_pairs` touched, on the modules of `sword_dir`."""
    return dict(_cleaned_pairs(sword_dir)[1])


@functools.lru_cache(maxsize=4)
def _english_verses(sword_dir):
    english, = _read(("english",), "verses_text", sword_dir)
    verses = []
    for key, raw in english.items():
        text, _ = repair_glued_words(clean_osis(raw))
        if text:
            verses.append((key, text))
    return tuple(verses)


def read_english_verses(sword_dir=None):
    """All non-empty cleaned English verses `(key, text)`, deuterocanon included, in order.

    The same cleaning as the English side of `read_verse_pairs` (`clean_osis`,
    `repair_glued_words`), without the pairing rules: the unlabeled corpus keeps the verses the
    Spanish module lacks or numbers differently.
    """
    return list(_english_verses(sword_dir))


# --- Splits and datasets ------------------------------------------------------------------------


def chapter_split(key, seed=0):
    """The split of the chapter a verse key belongs to ("Gen.1.1" -> the split of "Gen.1").

    A stable hash (SHA-256 of `"{seed}:{book}.{chapter}"`, not Python's per-process salted
    `hash`) mapped to [0, 1) and cut at 0.90 and 0.95: about 90% / 5% / 5% of the chapters, the
    same on every machine and run. All verses of a chapter share its split.

    Example:

    >>> chapter_split("Gen.1.1") == chapter_split("Gen.1.31")
    True
    """
    chapter = key.rsplit(".", 1)[0]
    digest = hashlib.sha256(f"{seed}:{chapter}".encode("utf-8")).digest()
    unit = int.from_bytes(digest[:8], "big") / 2.0 ** 64
    if unit < SPLIT_FRACTIONS[0]:
        return "train"
    return "validation" if unit < SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1] else "test"


def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {', '.join(SPLITS)}. Received: split={split!r}")


def _check_max_chars(max_chars):
    if max_chars is not None and (isinstance(max_chars, bool) or not isinstance(max_chars, int)
                                  or max_chars < 1):
        raise ValueError("`max_chars` must be a positive integer or None. Received: "
                         f"max_chars={max_chars!r}")


def select_pairs(pairs, split, max_chars=120, seed=0):
    """The `(english, spanish)` of the pairs in `split` with both sides at most `max_chars`.

    Validation and test also drop a pair whose English or Spanish text is a training pair's
    too (a refrain repeated in another chapter, "Give thanks to Yahweh, for he is good"), so no
    sentence is seen in training and then evaluated.

    Args:
        pairs: `(key, english, spanish)` triples, as `read_verse_pairs` returns.
        split: `"train"`, `"validation"` or `"test"`.
        max_chars: the longest side kept, in characters (Unicode code points); `None`: any.
        seed: the `chapter_split` seed.

    Returns:
        A list of `(english, spanish)`, in the order of `pairs`.
    """
    _check_split(split)
    _check_max_chars(max_chars)
    chosen = [(en, es) for key, en, es in pairs if chapter_split(key, seed) == split
              and (max_chars is None or (len(en) <= max_chars and len(es) <= max_chars))]
    if split != "train":
        seen = set()
        for key, en, es in pairs:
            if chapter_split(key, seed) == "train":
                seen.update((en, es))
        chosen = [(en, es) for en, es in chosen if en not in seen and es not in seen]
    return chosen


def select_texts(verses, split, seed=0):
    """The texts of the `(key, text)` verses in `split`; validation and test drop a text that
    is also in the training split."""
    _check_split(split)
    chosen = [text for key, text in verses if chapter_split(key, seed) == split]
    if split != "train":
        seen = {text for key, text in verses if chapter_split(key, seed) == "train"}
        chosen = [text for text in chosen if text not in seen]
    return chosen


def pairs_dataset(pairs, split, max_chars=120, seed=0):
    """`select_pairs` as a `tf.data.Dataset` of `(english, spanish)` tf.string scalars.

    What `load_en_es_verses` builds from the real pairs; usable on any `(key, english, spanish)`
    list.
    """
    chosen = select_pairs(pairs, split, max_chars, seed)
    english = tf.constant([en for en, _ in chosen], tf.string, shape=(len(chosen),))
    spanish = tf.constant([es for _, es in chosen], tf.string, shape=(len(chosen),))
    return tf.data.Dataset.from_tensor_slices((english, spanish))


def texts_dataset(verses, split, seed=0):
    """`select_texts` as a `tf.data.Dataset` of tf.string scalars."""
    texts = select_texts(verses, split, seed)
    return tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string, shape=(len(texts),)))


def load_en_es_verses(split, data_dir=None, max_chars=120, seed=0):
    """English–Spanish verse pairs of `split` as a `tf.data.Dataset` of `(english, spanish)`.

    Args:
        split: `"train"`, `"validation"` or `"test"`; whole chapters are assigned to a split by
            `chapter_split`.
        data_dir: a folder holding the `engWEB2015eb/` and `spaRV1909eb/` SWORD module folders
            (default: the Debian packages' `SWORD_DIR`).
        max_chars: keep the pairs with both sides at most this many characters (`None`: all).
        seed: changes the chapter assignment.

    Returns:
        An unbatched dataset of tf.string scalar pairs, in canonical order (deterministic).

    Raises:
        ValueError: bad `split` or `max_chars`.
        DataNotFoundError: the modules or pysword are missing; the message names `make data`.

    Example:

    >>> for english, spanish in load_en_es_verses("validation").take(1):  # doctest: +SKIP
    ...     print(english.numpy().decode(), "->", spanish.numpy().decode())
    """
    _check_split(split)
    _check_max_chars(max_chars)
    return pairs_dataset(read_verse_pairs(data_dir), split, max_chars, seed)


def load_verses_text(split, data_dir=None, seed=0):
    """English verses of `split` (an unlabeled language-modelling corpus) as tf.string scalars.

    Every non-empty cleaned verse of the WEB (`read_english_verses`), split by chapter with the
    same `chapter_split` as `load_en_es_verses`, so a chapter is in the same split in both.

    Args:
        split: `"train"`, `"validation"` or `"test"`.
        data_dir: a folder holding the `engWEB2015eb/` module folder (default `SWORD_DIR`).
        seed: changes the chapter assignment.

    Raises:
        ValueError: bad `split`.
        DataNotFoundError: the module or pysword is missing; the message names `make data`.
    """
    _check_split(split)
    return texts_dataset(read_english_verses(data_dir), split, seed)
