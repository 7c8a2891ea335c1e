"""One verse's OSIS markup: notes, word boundaries, titles, appendix, whitespace, glued words,
subscriptions, Strong's numbers. The rules run on hand-written OSIS fragments."""

import collections

from seqmodels.data.verses import markup


def test_footnotes_become_a_space_so_words_do_not_glue():
    raw = ('<w lemma="strong:H0430">God</w><note placement="foot"><reference type="annotateRef">'
           '1:1 </reference>The Hebrew word rendered “God” is “אֱלֹהִ֑ים” (Elohim).</note>'
           '<w lemma="strong:H1254">created</w> <w lemma="strong:H0853">the</w> '
           '<w lemma="strong:H0776">earth</w>. ')
    counts = collections.Counter()
    assert markup.clean_osis(raw, counts) == "God created the earth."
    assert counts["notes"] == 1
    # A note before punctuation leaves no space before it; a cross reference goes too.
    assert markup.clean_osis('half a shekel<note placement="foot">about 10 grams</note>, and'
                             '<note type="crossReference"><reference>Genesis 22:18</reference>'
                             '</note> more') == "half a shekel, and more"


def test_adjacent_word_elements_get_a_space_but_a_suffix_stays_glued():
    raw = ('<w lemma="strong:H8033">hay allí</w><transChange type="added">también</transChange>'
           '<w lemma="strong:H0916">bdelio</w> <w lemma="strong:H0068">y piedra</w>.')
    counts = collections.Counter()
    assert markup.clean_osis(raw, counts) == "hay allí también bdelio y piedra."
    assert counts["word_boundaries"] == 1
    raw = '<w>al pythón</w>, preguntándo<transChange type="added">le</transChange>, '
    assert markup.clean_osis(raw) == "al pythón, preguntándole,"


def test_psalm_titles_kept_section_titles_and_speakers_dropped_lines_spaced():
    raw = ('<div type="x-milestone" subType="x-preverse" sID="pv1"/><title canonical="true" '
           'type="psalm">A Psalm by David.</title> <lg sID="g1"/> <l level="1" sID="g2"/>'
           '<div type="x-milestone" subType="x-preverse" eID="pv1"/>Yahweh, how my adversaries '
           'have increased!<l eID="g2" level="1"/><l level="2" sID="g3"/>Many rise up against '
           'me.<l eID="g3" level="2"/>')
    counts = collections.Counter()
    assert markup.clean_osis(raw, counts) == (
        "A Psalm by David. Yahweh, how my adversaries have increased! Many rise up against me.")
    assert counts["psalm_titles"] == 1
    assert markup.clean_osis('<title type="section">The Creation</title><speaker>Beloved'
                             '</speaker> <lg sID="a"/>Let him kiss me<lb type="x-p"/>with the '
                             'kisses<q who="x">.</q>', counts) == "Let him kiss me with the kisses."
    assert counts["titles"] == 1 and counts["speakers"] == 1


def test_appended_glossary_is_cut_but_a_bare_book_end_is_not_counted():
    raw = ('<w>Amen</w>. <chapter eID="Rev.22"/><div canonical="true" eID="gen9" osisID="Rev" '
           'type="book"/> <div sID="gen10" type="glossary"/> <milestone n="Glossary" '
           'type="x-usfm-h"/> <title level="1" type="main">World English Bible Glossary</title> '
           'Abba: Father or Daddy in Aramaic.')
    counts = collections.Counter()
    assert markup.clean_osis(raw, counts) == "Amen."
    assert counts["appendix"] == 1
    assert markup.clean_osis('Egypt. <div canonical="true" eID="g" osisID="Gen" type="book"/>',
                             counts) == "Egypt."
    assert counts["appendix"] == 1


def test_entities_and_whitespace():
    assert markup.clean_osis("Tom &amp; Jerry") == "Tom & Jerry"
    text = "  In the\n beginning ,  “ God ” said ( softly ) . "
    assert markup.normalize_whitespace(text) == "In the beginning, “God” said (softly)."
    assert markup.normalize_whitespace("¿ Quién ? ¡ Oh Jehová !") == "¿Quién? ¡Oh Jehová!"


def test_glued_words_are_repaired_and_legitimate_text_left_alone():
    assert markup.repair_glued_words("the wordAnother day") == ("the word Another day", 1)
    assert markup.repair_glued_words("rest.1 Then he said,12 go") == ("rest. Then he said, go", 2)
    assert markup.repair_glued_words("the end.”3") == ("the end.”", 1)
    for text in ("JEHOVÁ-SHAMMA, LORD God", "Psalm 23.1 and John 3:16 say", "Y HABLÓ Dios",
                 "he said, “Go.”", "áÉ"):
        assert markup.repair_glued_words(text) == (text, 0)


def test_subscriptions_are_stripped_only_after_amen():
    assert markup.strip_subscription(
        "Al solo Dios sabio, sea gloria por Jesucristo para siempre. Amén. Fué escrita de "
        "Corinto á los Romanos, enviada por medio de Febe.") == (
        "Al solo Dios sabio, sea gloria por Jesucristo para siempre. Amén.")
    assert markup.strip_subscription("Gracia sea con vosotros. Amén. Enviada de Roma á los "
                                     "Gálatas.") == "Gracia sea con vosotros. Amén."
    for text in ("Amén. Y dijo el pueblo: Amén.", "La carta fué escrita de Roma.",
                 "Hijitos, guardaos de los ídolos. Amén."):
        assert markup.strip_subscription(text) == text


def test_strong_numbers_read_every_lemma():
    raw = ('<w lemma="strong:H0430">Dios</w> <w lemma="strong:G2424 G5547">de Jesucristo</w> '
           '<w lemma="strong:H0000">x</w> <transChange type="added">son</transChange>')
    assert markup.strong_numbers(raw) == {"H430", "G2424", "G5547", "H0"}
    assert markup.strong_numbers("no tags") == frozenset()
