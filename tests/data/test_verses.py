"""Verse pairs: cleaning rules, alignment filter, chapter splits, contracts, missing data."""

import re

import pytest
import tensorflow as tf

from seqmodels.data import DataNotFoundError, verses

PAIRS = tuple(
    (f"{book} {chapter}:{verse}", f"english {book} {chapter} {verse}", f"spanish {book} {chapter} {verse}")
    for book in ("Gen", "Matt", "Rev") for chapter in range(1, 30) for verse in range(1, 4))


@pytest.mark.parametrize("raw, clean", [
    ('God<note placement="foot">The Hebrew word is Elohim.</note>created', "God created"),
    ('Jesus Christ,the son of David', "Jesus Christ, the son of David"),
    ('<w lemma="strong:H0430">In</w> <w>the</w> beginning .', "In the beginning."),
    ("LIBRO de la generación", "Libro de la generación"),
    ("Amen. World English Bible Glossary The following words are used", "Amen."),
    ('<title type="psalm">A Psalm of David.</title>Yahweh is my shepherd', "Yahweh is my shepherd"),
    ("one,  two ;three", "one, two; three"),
    ("1,000 men: 3:16", "1,000 men: 3:16"),
])
def test_cleaning_rules(raw, clean):
    assert verses.clean_verse(raw) == clean


def test_alignment_filter():
    assert verses.aligned("In the beginning", "En el principio")
    assert not verses.aligned("", "En el principio")
    assert not verses.aligned("Amen.", "Y dijo Dios: Sea la luz, y fué la luz, y vió Dios que era buena.")


def test_splits_are_by_chapter_disjoint_and_stable():
    assert verses.chapter_split("Gen", 1) == verses.chapter_split("Gen", 1)
    seen = {}
    for split in verses.SPLITS:
        for english, _ in verses.pairs_dataset(PAIRS, split).as_numpy_iterator():
            book, chapter, _ = english.decode().split()[1:]
            seen.setdefault((book, chapter), set()).add(split)
    assert all(len(splits) == 1 for splits in seen.values()), "a chapter crosses splits"
    assert {s for splits in seen.values() for s in splits} == set(verses.SPLITS)


def test_max_chars_and_element_contract():
    long_pairs = PAIRS + (("Gen 1:9", "x" * 200, "y" * 200),)
    split = verses.chapter_split("Gen", 1)
    dataset = verses.pairs_dataset(long_pairs, split, max_chars=120)
    assert dataset.element_spec == (tf.TensorSpec((), tf.string), tf.TensorSpec((), tf.string))
    assert all(len(en) <= 120 for en, _ in dataset.as_numpy_iterator())
    texts = verses.text_dataset(PAIRS, "train")
    assert texts.element_spec == tf.TensorSpec((), tf.string)


def test_missing_module_names_the_fix(tmp_path):
    verses.read_verse_pairs.cache_clear()
    with pytest.raises(DataNotFoundError, match=re.escape(
            f"SWORD module {tmp_path}/engWEB2015eb not found. It comes from the Debian package "
            "'sword-text-web': run `make data`")):
        verses.load_en_es_verses("train", str(tmp_path))


def test_unknown_split():
    with pytest.raises(ValueError, match=re.escape(
            "`split` must be one of train, validation, test. Received: split='dev'")):
        verses.pairs_dataset(PAIRS, "dev")
