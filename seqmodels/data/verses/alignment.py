"""Pairing the two modules' verses: the pair rules, and finding verses numbered differently.

`clean_pairs` keeps the verse pairs whose two sides say the same thing: it cleans both sides
(`markup`), drops unpaired and empty verses, and drops the pairs `find_misaligned` flags (the
Reina-Valera follows the Hebrew verse numbering in a few chapters) or whose lengths disagree.
"""

import collections
import re

import numpy as np

from seqmodels.data.verses.markup import (clean_osis, repair_glued_words, strip_subscription,
                                          strong_numbers)

RATIO_BAND = (0.5, 2.0)  # allowed len(spanish) / len(english) of a pair, see `clean_pairs`

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
