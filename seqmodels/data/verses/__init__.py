"""English–Spanish Bible verse pairs (translation) and English verses (language modelling).

Real, public-domain text that installs offline: the World English Bible (Debian package
`sword-text-web`, SWORD module `engWEB2015eb`, NRSVA versification) and the Reina-Valera 1909
(`sword-text-sparv`, module `spaRV1909eb`, KJV versification), read with PyPI `pysword`. The
raw OSIS markup is cleaned here (pysword's own cleaner deletes footnotes without a space and so
glues words: "Godcreated"), verses are paired by their key ("Gen.1.1") and misaligned pairs are
dropped (`clean_pairs` lists every rule). Splits are assigned per chapter by a stable hash, so
no verse and no chapter is in two splits.

One module per concern: `markup` (one verse's OSIS to text), `alignment` (the pair rules and
misalignment), `sword` (reading the modules, cached), `loaders` (splits and `tf.data` datasets).

Example:

>>> clean_osis('<w>In the beginning</w><note placement="foot">Or, first.</note><w>God</w>')
'In the beginning God'
>>> pairs = [("Gen.1.1", "In the beginning God", "En el principio Dios")]
>>> [(en.decode(), es.decode())
...  for en, es in pairs_dataset(pairs, "train").as_numpy_iterator()]
[('In the beginning God', 'En el principio Dios')]

The real datasets need the Debian modules (`make data`):

>>> train = load_en_es_verses("train")  # doctest: +SKIP
>>> corpus = load_verses_text("validation")  # doctest: +SKIP
"""

from seqmodels.data.verses.alignment import (CHAPTER_MARGIN, HALF_WINDOW, MAX_SHIFT, RATIO_BAND,
                                             VERSE_MARGIN, clean_pairs, find_misaligned,
                                             learn_lexicon)
from seqmodels.data.verses.loaders import (EN_ES_VERSES_INFO, SPLIT_FRACTIONS, SPLITS,
                                           VERSES_TEXT_INFO, chapter_split, load_en_es_verses,
                                           load_verses_text, pairs_dataset, select_pairs,
                                           select_texts, texts_dataset)
from seqmodels.data.verses.markup import (clean_osis, normalize_whitespace, repair_glued_words,
                                          strip_subscription, strong_numbers)
from seqmodels.data.verses.sword import (MODULES, SWORD_DIR, cleaning_counts, clear_caches,
                                         read_english_verses, read_module, read_verse_pairs)

__all__ = ["CHAPTER_MARGIN", "EN_ES_VERSES_INFO", "HALF_WINDOW", "MAX_SHIFT", "MODULES",
           "RATIO_BAND", "SPLITS", "SPLIT_FRACTIONS", "SWORD_DIR", "VERSES_TEXT_INFO",
           "VERSE_MARGIN", "chapter_split", "clean_osis", "clean_pairs", "cleaning_counts",
           "clear_caches", "find_misaligned", "learn_lexicon", "load_en_es_verses",
           "load_verses_text", "normalize_whitespace", "pairs_dataset", "read_english_verses",
           "read_module", "read_verse_pairs", "repair_glued_words", "select_pairs",
           "select_texts", "strip_subscription", "strong_numbers", "texts_dataset"]
