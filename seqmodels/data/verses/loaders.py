"""The verse datasets: chapter splits, and `tf.data` loaders of pairs and of English verses.

Splits are assigned per chapter by a stable hash, so no verse and no chapter is in two splits,
and evaluation splits drop a sentence that training also has.

The two loaders read the verses through the package (`seqmodels.data.verses.read_verse_pairs`,
`.read_english_verses`), looked up when they are called, so that replacing those two names on
the package (as the training tests do, to train on fixture verses) reaches every loader.
"""

import hashlib

import tensorflow as tf

from seqmodels.data.dataset_info import DatasetInfo

SPLITS = ("train", "validation", "test")
SPLIT_FRACTIONS = (0.9, 0.05, 0.05)

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
    from seqmodels.data import verses  # the package's reader: see the module docstring

    _check_split(split)
    _check_max_chars(max_chars)
    return pairs_dataset(verses.read_verse_pairs(data_dir), split, max_chars, seed)


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
    from seqmodels.data import verses  # the package's reader: see the module docstring

    _check_split(split)
    return texts_dataset(verses.read_english_verses(data_dir), split, seed)
