"""Vocabularies as SavedModel asset files, read by lookup tables when the export is loaded.

TF Serving (and `tf.saved_model.load`) copies nothing from our Python objects: each table here is
initialised from a text file that `tf.saved_model.save` copies into `<version>/assets/`, so the
vocabulary of an export is a file a person can read, diff and replace, not a constant buried in
the graph. Files are UTF-8, one entry per line:

- `<name>.txt` of a `TextVectorization` (`vocabulary.txt`, `source_vocabulary.txt`): the tokens
  of ids 2, 3, ... (Keras' vocabulary-file convention: id 0 is padding and id 1 `[UNK]`).
- `id -> word` files (`class_names.txt`, `output_vocabulary.txt`): `<id>\\t<word>`; a word may be
  empty (padding), which a line of its own could not hold.
- `characters.txt` of a MiniGPT: `<id>\\t<Unicode code point>` for ids 1, 2, ... (id 0 is
  padding and unknown characters), so newline and tab characters are entries like any other.
"""

import os

import keras
import tensorflow as tf


def _write(directory, filename, lines):
    path = os.path.join(directory, filename)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines))
    return path


def _check_words(argument, words, forbidden):
    for i, word in enumerate(words):
        bad = [c for c in forbidden if c in word]
        if bad:
            raise ValueError(f"`{argument}` entries are written one per line of a SavedModel "
                             f"asset file, so they cannot contain {bad[0]!r}. Received: "
                             f"{argument}[{i}]={word!r}")


def text_asset(directory, filename, lines, argument):
    """A `tf.saved_model.Asset` of `lines`, one per line: a file the export carries as is.

    Args:
        directory: where to write the file.
        filename: the file's name in the export's `assets/`.
        lines: the entries, in order.
        argument: what the lines are, named in errors.

    Raises:
        ValueError: an entry contains a newline or carriage return.
    """
    lines = [str(line) for line in lines]
    _check_words(argument, lines, ("\n", "\r"))
    return tf.saved_model.Asset(_write(directory, filename, lines))


def id_to_word_table(directory, filename, words, argument):
    """A table id (int64) -> `words[id]` (string; "" for other ids) read from an asset file.

    Args:
        directory: where to write the file (it only has to live until the export is saved).
        filename: the file's name in the export's `assets/`.
        words: the word of each id; an entry may be empty.
        argument: the export argument the words came from, named in errors.

    Returns:
        A `tf.lookup.StaticHashTable`.

    Raises:
        ValueError: a word contains a newline, carriage return or tab.

    Example:

    >>> import tempfile
    >>> import tensorflow as tf
    >>> table = id_to_word_table(tempfile.mkdtemp(), "output_vocabulary.txt", ["", "hola"],
    ...                          "vocabulary")
    >>> table.lookup(tf.constant([1, 7], tf.int64)).numpy()
    array([b'hola', b''], dtype=object)
    """
    words = [str(word) for word in words]
    _check_words(argument, words, ("\n", "\r", "\t"))
    path = _write(directory, filename, [f"{i}\t{word}" for i, word in enumerate(words)])
    return tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(path, tf.int64, 0, tf.string, 1, delimiter="\t"),
        default_value="")


def words_of_ids(table, ids):
    """Words (string, the shape of `ids`) of integer `ids` through an `id_to_word_table`."""
    return table.lookup(tf.cast(ids, tf.int64))


def ids_to_text(ids, vocabulary, skip_ids=(), separator=" "):
    """Joins the words of `ids` (batch, t), leaving out `skip_ids`: (batch,) tf.string.

    Args:
        ids: int token ids.
        vocabulary: the word of each id: a 1-D tf.string tensor, or a lookup table from int64
            ids to strings (an `id_to_word_table`).
        skip_ids: ids that produce no word (padding, start, end).
        separator: put between words (`""` for characters).

    Example:

    >>> ids_to_text(tf.constant([[1, 2, 0]]), tf.constant(["", "a", "b"]), (0,)).numpy()
    array([b'a b'], dtype=object)
    """
    ids = tf.cast(ids, tf.int32)
    keep = tf.ones_like(ids, tf.bool)
    for skip in skip_ids:
        keep = tf.logical_and(keep, tf.not_equal(ids, int(skip)))
    if hasattr(vocabulary, "lookup"):
        words = words_of_ids(vocabulary, ids)
    else:
        words = tf.gather(vocabulary, ids)
    words = tf.ragged.boolean_mask(words, keep)
    return tf.strings.reduce_join(words, axis=-1, separator=separator)


def character_tables(directory, characters):
    """Tables code point -> id and id -> code point of a character vocabulary, from
    `characters.txt`.

    Args:
        directory: where to write the file.
        characters: the character of each id; entry 0 (padding, unknown characters) is ignored.

    Returns:
        `(to_id, to_code_point)`, two `tf.lookup.StaticHashTable`s over int64; unknown code
        points map to id 0 and id 0 to code point -1 (no character).

    Raises:
        ValueError: an entry after the first is not exactly one character.
    """
    lines = []
    for i, character in enumerate(characters):
        if i == 0:
            continue
        if len(character) != 1:
            raise ValueError("`vocabulary` of a MiniGPT must hold one character per id (id 0 is "
                             f"padding/unknown). Received: vocabulary[{i}]={character!r}")
        lines.append(f"{i}\t{ord(character)}")
    path = _write(directory, "characters.txt", lines)

    def table(key_column, value_column, default):
        return tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(path, tf.int64, key_column, tf.int64, value_column,
                                          delimiter="\t"), default_value=default)

    return table(1, 0, 0), table(0, 1, -1)


def asset_vectorizer(vectorizer, directory, filename):
    """A copy of an adapted `TextVectorization` whose vocabulary is read from an asset file.

    The copy has the same configuration (standardisation, split, sequence length) and gives the
    same ids; saved, its vocabulary is `assets/<filename>` (the tokens of ids 2, 3, ...).

    Args:
        vectorizer: a `keras.layers.TextVectorization` with `output_mode="int"` and a
            vocabulary that starts with padding `""` and `[UNK]` (the defaults).
        directory: where to write the file.
        filename: the file's name in the export's `assets/`.

    Returns:
        The new `TextVectorization`.

    Raises:
        ValueError: the vectorizer has no words (not adapted), or a token contains a newline.
    """
    vocabulary = [str(token) for token in vectorizer.get_vocabulary()]
    if len(vocabulary) < 3 or vocabulary[0] != "" or vocabulary[1] != "[UNK]":
        raise ValueError("`vectorizer` must be an adapted TextVectorization whose vocabulary "
                         "starts with the padding '' and '[UNK]' tokens and has words after "
                         f"them. Received a vocabulary of {len(vocabulary)} entries starting "
                         f"{vocabulary[:3]}")
    tokens = vocabulary[2:]
    _check_words("vectorizer vocabulary", tokens, ("\n", "\r"))
    path = _write(directory, filename, tokens)
    config = vectorizer.get_config()
    config.pop("vocabulary_size", None)
    config.update(vocabulary=path, idf_weights=None, name=f"{vectorizer.name}_from_asset")
    copy = keras.layers.TextVectorization(**config)
    if [str(token) for token in copy.get_vocabulary()] != vocabulary:
        raise ValueError("`vectorizer`'s vocabulary does not survive a round trip through a "
                         "vocabulary file (a token that is empty or a duplicate).")
    return copy
