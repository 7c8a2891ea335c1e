"""seqmodels.export.assets: vocabulary files and the tables that read them."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels import data
from seqmodels.export import assets

TEXTS = ["¡Hola, canción!", "a good film", "another good one"]


def test_asset_vectorizer_gives_the_same_ids_from_a_file(tmp_path):
    vectorizer = keras.layers.TextVectorization(max_tokens=30, output_sequence_length=7,
                                                standardize=data.split_punctuation)
    vectorizer.adapt(TEXTS)
    copy = assets.asset_vectorizer(vectorizer, str(tmp_path), "vocabulary.txt")
    texts = tf.constant(TEXTS + ["an unseen, good word", ""])
    np.testing.assert_array_equal(copy(texts).numpy(), vectorizer(texts).numpy())
    with open(tmp_path / "vocabulary.txt", encoding="utf-8") as f:
        assert f.read().split("\n")[:-1] == vectorizer.get_vocabulary()[2:]


def test_asset_vectorizer_needs_an_adapted_vectorizer(tmp_path):
    with pytest.raises(ValueError, match="must be an adapted TextVectorization whose vocabulary "
                                         "starts with the padding '' and"):
        assets.asset_vectorizer(keras.layers.TextVectorization(), str(tmp_path), "v.txt")


def test_id_to_word_table_keeps_empty_words_and_rejects_line_breaks(tmp_path):
    table = assets.id_to_word_table(str(tmp_path), "w.txt", ["", "hola", "", "mundo"], "vocabulary")
    words = assets.words_of_ids(table, tf.constant([[3, 1], [0, 9]]))
    assert words.numpy().tolist() == [[b"mundo", b"hola"], [b"", b""]]
    with pytest.raises(ValueError, match=r"`class_names` entries are written one per line of a "
                                         r"SavedModel asset file, so they cannot contain '\\t'. "
                                         r"Received: class_names\[1\]='a\\tb'"):
        assets.id_to_word_table(str(tmp_path), "c.txt", ["x", "a\tb"], "class_names")


def test_character_tables_map_both_ways_including_newline_and_tab(tmp_path):
    to_id, to_code = assets.character_tables(str(tmp_path), ["", "a", "\n", "\t", "é"])
    codes = tf.constant([ord("a"), 10, 9, ord("é"), ord("z")], tf.int64)
    assert to_id.lookup(codes).numpy().tolist() == [1, 2, 3, 4, 0]
    assert to_code.lookup(tf.constant([0, 1, 2, 3, 4], tf.int64)).numpy().tolist() == [
        -1, 97, 10, 9, 233]
    assert os.listdir(tmp_path) == ["characters.txt"]
    with pytest.raises(ValueError, match=r"one character per id .* vocabulary\[1\]='ab'"):
        assets.character_tables(str(tmp_path), ["", "ab"])


def test_text_asset_writes_one_entry_a_line_and_rejects_line_breaks(tmp_path):
    asset = assets.text_asset(str(tmp_path), "vocabulary.txt", ["[PAD]", "##s", "é"], "vocab")
    with open(asset.asset_path.numpy().decode(), encoding="utf-8") as f:
        assert f.read() == "[PAD]\n##s\né\n"
    with pytest.raises(ValueError, match=r"`vocab` entries are written one per line .* "
                                         r"cannot contain '\\n'. Received: vocab\[1\]='a\\nb'"):
        assets.text_asset(str(tmp_path), "v.txt", ["x", "a\nb"], "vocab")


def test_ids_to_text_skips_padding_start_and_end():
    words = tf.constant(["", "[UNK]", "<s>", "</s>", "hola", "mundo"])
    text = assets.ids_to_text(tf.constant([[2, 4, 5, 3, 3], [2, 3, 3, 3, 3]]), words, (0, 2, 3))
    assert text.numpy().tolist() == [b"hola mundo", b""]
