"""The pair rules and misalignment: unpaired, empty, glued, length ratio, shifted verse numbering
found through the Spanish side's Strong's numbers, and the learned lexicon."""

import collections

from seqmodels.data.verses import alignment


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
    pairs = alignment.clean_pairs(english, spanish, counts, lexicon={})
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
    runs, chapters = alignment.find_misaligned(keys, english, numbers, lexicon)
    assert set(shifted) <= runs
    assert not runs & (set(range(0, 8)) | set(range(24, 32)))  # 3+ verses from the shift
    assert chapters == set(shifted)

    keys, english, numbers, lexicon = _synthetic_book("Gen", [10, 12, 10], lambda p: p)
    assert alignment.find_misaligned(keys, english, numbers, lexicon) == (set(), set())


def test_clean_pairs_drops_misaligned_pairs_through_spanish_strong_numbers():
    shifted = range(10, 22)
    keys, english_texts, numbers, lexicon = _synthetic_book(
        "Num", [10, 12, 10], lambda p: p + 1 if p in shifted else p)
    english = dict(zip(keys, english_texts))
    spanish = {key: " ".join(f'<w lemma="strong:{n}">pal</w>' for n in sorted(ns)) + "."
               for key, ns in zip(keys, numbers)}
    counts = collections.Counter()
    pairs = alignment.clean_pairs(english, spanish, counts, lexicon=lexicon)
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
    lexicon = alignment.learn_lexicon(texts, numbers)
    assert lexicon == {"lamb": "H3532"}
    assert alignment.learn_lexicon(["a b"], [frozenset()]) == {}
