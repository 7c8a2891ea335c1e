"""The vocabulary counted in the pipeline is the one `TextVectorization.adapt` learns."""

import random
import string

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels.data.user import vocabulary
from seqmodels.data.user.vocabulary import learn_vectorizer

PIECES = ["a", "B", "\u00c9", "\u00e9", "\u00df", "\u0130", "\t", "\n", "\r", "\x0b", "\x0c",
          "\x1c", "\x85", "\u00a0", "\u3000", " ", "  ", "[UNK]", "[unk]", "x", "y", "z", "1",
          "\u03a9"]  # cases, Unicode whitespace the split keeps, the special tokens


def _corpus(seed, size):
    rng = random.Random(seed)
    pieces = PIECES + list(string.punctuation) + [f"w{i}" for i in range(40)]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
            for _ in range(size)]


@pytest.mark.parametrize("seed, vocab_size, batch_size", [(0, 50, 7), (1, 2000, 64),
                                                          (2, 3, 1000)])
def test_the_vocabulary_and_lengths_are_those_of_adapt(seed, vocab_size, batch_size):
    texts = _corpus(seed, 1500)
    vectorizer, lengths = learn_vectorizer(
        tf.data.Dataset.from_tensor_slices(texts).batch(batch_size), vocab_size, 8)
    adapted = keras.layers.TextVectorization(max_tokens=vocab_size, output_sequence_length=8)
    adapted.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(100))
    assert vectorizer.get_vocabulary() == adapted.get_vocabulary()
    assert len(adapted.get_vocabulary()) == min(vocab_size, 2 + len(
        {t for text in texts for t in text.encode().lower().translate(
            None, string.punctuation.encode()).split()}))
    counter = keras.layers.TextVectorization.from_config(
        {**adapted.get_config(), "output_sequence_length": None, "ragged": True,
         "vocabulary": adapted.get_vocabulary()})
    assert lengths.tolist() == counter(tf.constant(texts)).row_lengths().numpy().tolist()
    assert np.array_equal(vectorizer(tf.constant(texts)), adapted(tf.constant(texts)))
    mine, theirs = vectorizer.get_config(), adapted.get_config()
    assert {k: v for k, v in mine.items() if k != "name"} == \
        {k: v for k, v in theirs.items() if k != "name"}


def test_texts_without_tokens_learn_the_special_tokens_only():
    vectorizer, lengths = learn_vectorizer(
        tf.data.Dataset.from_tensor_slices(["", " !? "]).batch(2), 10)
    assert vectorizer.get_vocabulary() == ["", "[UNK]"] and lengths.tolist() == [0, 0]


def test_tokens_that_share_a_fingerprint_fall_back_to_adapt(monkeypatch, capsys):
    monkeypatch.setattr(vocabulary, "HASHES", 3)  # every few tokens collide
    texts = _corpus(3, 300)
    vectorizer, lengths = learn_vectorizer(
        tf.data.Dataset.from_tensor_slices(texts).batch(50), 30, 8)
    adapted = keras.layers.TextVectorization(max_tokens=30, output_sequence_length=8)
    adapted.adapt(texts)
    assert vectorizer.get_vocabulary() == adapted.get_vocabulary()
    assert lengths.tolist() == [len(t.encode().lower().translate(
        None, string.punctuation.encode()).split()) for t in texts]
    assert "share a fingerprint: the vocabulary is learned by TextVectorization.adapt" in \
        capsys.readouterr().out
