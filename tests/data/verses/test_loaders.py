"""Chapter splits, pair and text selection, the `tf.data` datasets, argument errors, and the
loaders end to end on module folders read by a stand-in for pysword (`conftest`)."""

import collections
import re

import pytest
import tensorflow as tf

from seqmodels import data
from seqmodels.data import verses
from seqmodels.data.verses import loaders


def test_chapter_split_is_stable_by_chapter_and_about_90_5_5():
    expected = {"Gen.1.1": "train", "Gen.5.9": "validation", "Gen.11.2": "validation",
                "Gen.32.1": "test", "Rev.22.21": "train"}
    assert {key: loaders.chapter_split(key) for key in expected} == expected
    assert loaders.chapter_split("Rev.22.21", seed=1) == "test"
    assert {loaders.chapter_split(f"Gen.32.{v}") for v in range(1, 40)} == {"test"}
    counts = collections.Counter(loaders.chapter_split(f"Book.{c}.1") for c in range(1, 4001))
    assert 0.88 < counts["train"] / 4000 < 0.92
    assert 0.035 < counts["validation"] / 4000 < 0.065 and 0.035 < counts["test"] / 4000 < 0.065
    moved = sum(loaders.chapter_split(f"Book.{c}.1") != loaders.chapter_split(f"Book.{c}.1", 1)
                for c in range(1, 401))
    assert moved > 20


def _pairs(chapters=40, per_chapter=3):
    return [(f"Gen.{c}.{v}", f"chapter {c} verse {v}", f"capítulo {c} versículo {v}")
            for c in range(1, chapters + 1) for v in range(1, per_chapter + 1)]


def test_select_pairs_partitions_by_chapter_and_filters_by_characters():
    pairs = _pairs()
    chosen = {split: loaders.select_pairs(pairs, split, max_chars=None) for split in loaders.SPLITS}
    assert sorted(p for split in chosen for p in chosen[split]) == sorted(
        (en, es) for _, en, es in pairs)
    chapters = {split: {en.split()[1] for en, _ in chosen[split]} for split in loaders.SPLITS}
    assert chapters["validation"] == {"5", "11", "27"} and chapters["test"] == {"32"}
    assert not chapters["train"] & (chapters["validation"] | chapters["test"])
    assert loaders.select_pairs(pairs, "validation") == chosen["validation"]  # twice, same

    # max_chars counts characters, not UTF-8 bytes, on both sides.
    accents = [("Gen.1.1", "abcde", "ññññ"), ("Gen.1.2", "abcd", "ñññññ"),
               ("Gen.1.3", "abcdef", "ñ")]
    assert loaders.select_pairs(accents, "train", max_chars=5) == [("abcde", "ññññ"),
                                                                  ("abcd", "ñññññ")]
    assert loaders.select_pairs(accents, "train", max_chars=4) == []


def test_evaluation_splits_drop_sentences_seen_in_training():
    pairs = _pairs() + [("Gen.5.4", "Give thanks to Yahweh.", "Alabad á Jehová."),
                        ("Gen.1.4", "Give thanks to Yahweh.", "Alabad á Jehová."),
                        ("Gen.32.4", "Selah.", "Selah.")]
    validation = loaders.select_pairs(pairs, "validation")
    assert ("Give thanks to Yahweh.", "Alabad á Jehová.") not in validation
    assert len(validation) == 9
    assert ("Selah.", "Selah.") in loaders.select_pairs(pairs, "test")
    texts = [(key, en) for key, en, _ in pairs]
    assert "Give thanks to Yahweh." not in loaders.select_texts(texts, "validation")
    assert "Give thanks to Yahweh." in loaders.select_texts(texts, "train")


def test_datasets_hold_string_scalars():
    dataset = loaders.pairs_dataset(_pairs(), "test")
    assert dataset.element_spec == (tf.TensorSpec((), tf.string), tf.TensorSpec((), tf.string))
    english, spanish = next(iter(dataset))
    assert english.numpy().decode() == "chapter 32 verse 1"
    assert spanish.numpy().decode() == "capítulo 32 versículo 1"
    empty = loaders.pairs_dataset(_pairs(), "test", max_chars=3)
    assert empty.element_spec == dataset.element_spec and len(list(empty)) == 0
    texts = loaders.texts_dataset([("Gen.32.1", "ñandú")], "test")
    assert texts.element_spec == tf.TensorSpec((), tf.string)
    assert [t.numpy().decode() for t in texts] == ["ñandú"]


def test_bad_split_and_max_chars_name_the_argument():
    with pytest.raises(ValueError, match=re.escape(
            "`split` must be one of train, validation, test. Received: split='dev'")):
        loaders.load_en_es_verses("dev")
    with pytest.raises(ValueError, match=re.escape(
            "`max_chars` must be a positive integer or None. Received: max_chars=0")):
        loaders.load_en_es_verses("train", max_chars=0)
    with pytest.raises(ValueError, match=re.escape(
            "`max_chars` must be a positive integer or None. Received: max_chars=12.5")):
        loaders.select_pairs(_pairs(), "train", max_chars=12.5)
    with pytest.raises(ValueError, match=re.escape(
            "`split` must be one of train, validation, test. Received: split='all'")):
        loaders.load_verses_text("all")


def test_loaders_pair_clean_and_split_the_modules(fake_modules):
    rows = {split: [(en.numpy().decode(), es.numpy().decode())
                    for en, es in loaders.load_en_es_verses(split, fake_modules)]
            for split in loaders.SPLITS}
    assert [len(rows[split]) for split in loaders.SPLITS] == [108, 9, 3]
    assert rows["test"][0] == ("In chapter 32 verse 1.", "En capítulo 32 versículo 1.")
    # "En capítulo 9 versículo 3." is 26 characters (28 UTF-8 bytes): chapters 1-9 but 5.
    assert sum(1 for _ in loaders.load_en_es_verses("train", fake_modules, max_chars=26)) == 24

    texts = {split: [t.numpy().decode() for t in loaders.load_verses_text(split, fake_modules)]
             for split in loaders.SPLITS}
    assert texts["test"] == [en for en, _ in rows["test"]]
    assert sum(map(len, texts.values())) == 121
    assert "Tobit went." in texts[loaders.chapter_split("Tob.1.1")]


def test_catalog_load_reaches_the_verse_loaders(fake_modules):
    dataset = data.load("en_es_verses", "validation", data_dir=fake_modules, max_chars=None)
    assert len(list(dataset)) == 9
    assert len(list(data.load("verses_text", "test", data_dir=fake_modules, seed=0))) == 3


def test_loaders_read_through_the_package_names(monkeypatch):
    # Replacing the readers on the package (what tests of the training binary do) reaches the
    # loaders and the catalog, whatever module the readers are defined in.
    pairs = _pairs()
    monkeypatch.setattr(verses, "read_verse_pairs", lambda sword_dir=None: pairs)
    monkeypatch.setattr(verses, "read_english_verses",
                        lambda sword_dir=None: [(key, en) for key, en, _ in pairs])
    expected = loaders.select_pairs(pairs, "test")
    assert [(en.decode(), es.decode()) for en, es in
            data.load("en_es_verses", "test").as_numpy_iterator()] == expected
    assert [t.decode() for t in loaders.load_verses_text("test").as_numpy_iterator()] == [
        en for en, _ in expected]
