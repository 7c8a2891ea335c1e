"""Cleaning one verse's OSIS markup into plain text, by named rules.

The SWORD modules store each verse as OSIS XML fragments. pysword's own cleaner deletes
footnotes without a space and so glues words ("Godcreated"); the rules here replace each removed
element by what keeps the words apart, repair what markup removal glued, and read the Strong's
numbers that `alignment` checks the pairing against. Each rule is named where it is defined,
and `clean_osis` counts the verses each rule changed.
"""

import collections
import html
import re

# Rule "appendix": the WEB module appends its whole glossary (17,500 characters) to its last verse,
# Rev 22:21, after the book's closing <div type="book" eID=.../>. Everything from a book end, a
# glossary or an introduction division onward is not verse text.
_APPENDIX = re.compile(r'<div\b(?=[^>]*\btype="book")(?=[^>]*\beID=)[^>]*>.*'  # a book's end
                       r'|<div\b[^>]*\btype="(?:glossary|introduction)"[^>]*>.*', re.S)
_APPENDIX_HINT = re.compile(r'type="(?:book|glossary|introduction)"')  # a cheap pre-check
# Rule "notes": footnotes and cross references (with their <reference>, <catchWord>, <rdg>
# content) are not verse text. They sit between two words with no space around them
# ("God<note>…</note>created"), so each is replaced by a space, not by nothing.
_NOTE = re.compile(r"<note\b[^>]*>.*?</note>|<note\b[^>]*/>", re.S)
# Rule "titles": section headings are editorial and dropped; the canonical psalm superscriptions
# ("A Psalm by David.") are kept as text, because the Reina-Valera (KJV versification) has them
# inside verse 1, and the pair would otherwise be misaligned.
_CANONICAL_TITLE = re.compile(r'<title\b[^>]*\bcanonical="true"[^>]*>(.*?)</title>', re.S)
_TITLE = re.compile(r"<title\b[^>]*>.*?</title>", re.S)
# Rule "speakers": the WEB's Song of Songs labels speakers ("Beloved", "Friends"); not text.
_SPEAKER = re.compile(r"<speaker\b[^>]*>.*?</speaker>", re.S)
# Rule "word boundaries": the Reina-Valera marks words with <w> and translator-added words with
# <transChange>, often back to back: "allí</w><transChange>también</transChange><w>bdelio".
# An element that closes right where the next opens is a word boundary: a space goes there.
# (A <transChange> opened inside a word, "preguntándo<transChange>le", stays glued.)
_ADJACENT = re.compile(r"(</(?:w|transChange)>)(?=<(?:w|transChange)\b)")
# Rule "structure": paragraph, line, line group, list and item boundaries separate words.
_STRUCTURAL = re.compile(r"</?(?:div|p|l|lg|lb|list|item|chapter|milestone|br)\b[^>]*>")
_RULES = (("notes", _NOTE, " "), ("psalm_titles", _CANONICAL_TITLE, r" \1 "),
          ("titles", _TITLE, " "), ("speakers", _SPEAKER, " "),
          ("word_boundaries", _ADJACENT, r"\1 "))
# Every other element (<w>, <q>, <transChange>, <seg>, <name>, ...) keeps its text.
_TAG = re.compile(r"<[^>]*>")


def clean_osis(raw, counts=None):
    """Plain text of one verse's OSIS markup, by the rules above.

    Args:
        raw: the verse as stored in the SWORD module (OSIS XML fragments).
        counts: an optional `collections.Counter`; each rule that changed the verse adds 1 to
            its entry (`appendix`, `notes`, `psalm_titles`, `titles`, `speakers`,
            `word_boundaries`).

    Returns:
        The text with markup removed by the rules above, whitespace normalised by
        `normalize_whitespace`.

    Example:

    >>> clean_osis('<w>God</w><note placement="foot">Elohim.</note><w>created</w>.')
    'God created.'
    """
    counts = collections.Counter() if counts is None else counts
    text = raw
    appendix = _APPENDIX.search(raw) if _APPENDIX_HINT.search(raw) else None
    if appendix:
        text = raw[:appendix.start()]
        counts["appendix"] += bool(_TAG.sub("", appendix.group()).strip())  # not just a book end
    for rule, pattern, replacement in _RULES:
        text, changed = pattern.subn(replacement, text)
        counts[rule] += changed > 0
    text = _STRUCTURAL.sub(" ", text)
    text = _TAG.sub("", text)
    return normalize_whitespace(html.unescape(text))


# Rule "whitespace": runs of whitespace become one space; no space before , . ; : ! ? or a closing
# quote or parenthesis (removing a note before punctuation leaves "word ."), none after an
# opening one.
_SPACE_BEFORE = re.compile(r" (?=[,.;:!?)\]”»])")
_SPACE_AFTER = re.compile(r"(?<=[(\[“«¿¡]) ")


def normalize_whitespace(text):
    """Collapses whitespace and removes spaces before closing / after opening punctuation.

    Example:

    >>> normalize_whitespace("  In the  beginning ,\\n“ God ” . ")
    'In the beginning, “God”.'
    """
    text = " ".join(text.split())
    text = _SPACE_BEFORE.sub("", text)
    return _SPACE_AFTER.sub("", text)


# Rule "glued words": a word that runs into the next with no space ("wordAnother": a lower-case
# letter followed by a capitalised word) and footnote numbers glued after punctuation ("word.1"
# or "word,12 next") are what markup removal leaves behind when it deletes an element without a
# space. The first gets its space back, the second loses the number. (A name like "McDonald" would
# be split too; neither Bible has one.)
_GLUED_CAPITAL = re.compile(r"(?<=[a-zà-öø-ÿ])(?=[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ])")
_DIGIT = re.compile(r"\d")  # a cheap pre-check: most verses have no digit
_GLUED_NUMBER = re.compile(r"([^\W\d_][.,;:!?”’)\]]{1,3})\d+(?=\s|$)")


def repair_glued_words(text):
    """Splits glued words and drops glued footnote numbers; returns `(text, repairs)`.

    Example:

    >>> repair_glued_words("the wordAnother day.1 Then")
    ('the word Another day. Then', 2)
    """
    text, capitals = _GLUED_CAPITAL.subn(" ", text)
    text, numbers = _GLUED_NUMBER.subn(r"\1", text) if _DIGIT.search(text) else (text, 0)
    return (normalize_whitespace(text) if numbers else text), capitals + numbers


# Rule "subscriptions": the Reina-Valera ends Paul's letters and Hebrews with the KJV-style
# subscription after the final "Amén." ("Fué escrita de Corinto á los Romanos ..."), which the
# WEB does not have. Cut it when it says where the letter was written or sent from.
_SUBSCRIPTION = re.compile(r"(?<=Amén\.)\s+(?=[^.]*\b(?:[Ee]scrita|[Ee]nviada)\b)[^\n]*$")


def strip_subscription(spanish):
    """Removes a KJV-style subscription after the final "Amén." of a Spanish verse.

    Example:

    >>> strip_subscription("Gracia sea con vosotros. Amén. Escrita de Roma con Epafrodito.")
    'Gracia sea con vosotros. Amén.'
    """
    return _SUBSCRIPTION.sub("", spanish)


_LEMMA = re.compile(r'lemma="([^"]*)"')
_STRONG = re.compile(r"(?:strong:|\s)([HG])0*(\d+)")


def strong_numbers(raw):
    """The set of Strong's numbers a verse's `<w lemma="strong:...">` tags carry ("H430").

    Both modules tag words with the Hebrew / Greek word they translate; the Spanish ones are
    what `find_misaligned` checks a pair's alignment against.

    Example:

    >>> sorted(strong_numbers('<w lemma="strong:H0430">Dios</w> <w lemma="strong:G2424 G5547">'))
    ['G2424', 'G5547', 'H430']
    """
    return frozenset(h + n for h, n in _STRONG.findall(" ".join(_LEMMA.findall(raw))))

