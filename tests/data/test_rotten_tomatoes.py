"""Rotten Tomatoes loader: plot rows dropped, splits by movie, no leakage, contracts."""

import re

import pytest
import tensorflow as tf

from seqmodels.data import rotten_tomatoes
from tests.data.fixtures import write_rotten_tomatoes


@pytest.fixture()
def corpus(tmp_path):
    write_rotten_tomatoes(tmp_path)
    rotten_tomatoes.read_reviews.cache_clear()
    yield tmp_path
    rotten_tomatoes.read_reviews.cache_clear()


def _rows(split, data_dir, seed=0):
    return [(t.numpy().decode(), int(l))
            for t, l in rotten_tomatoes.load(split, str(data_dir), seed=seed)]


def test_plot_rows_are_dropped_and_labels_mapped(corpus):
    texts, labels, movies = rotten_tomatoes.read_reviews(str(corpus))
    assert len(texts) == 60 and not any(t.startswith("plot") for t in texts)
    assert all((label == 1) == text.endswith("fresh") for text, label in zip(texts, labels))
    assert sorted(set(movies)) == [f"movie{m:02d}" for m in range(20)]


def test_splits_partition_the_movies_without_leakage(corpus):
    seen = {}
    for split in rotten_tomatoes.SPLITS:
        rows = _rows(split, corpus)
        movies = {text.split("movie ")[1].split(" ")[0] for text, _ in rows}
        seen[split] = (movies, {text for text, _ in rows})
    assert [len(seen[s][0]) for s in rotten_tomatoes.SPLITS] == [16, 2, 2]
    assert sum(len(seen[s][1]) for s in rotten_tomatoes.SPLITS) == 60
    for a in rotten_tomatoes.SPLITS:
        for b in rotten_tomatoes.SPLITS:
            if a < b:
                assert not seen[a][0] & seen[b][0], "a movie crosses splits"
                assert not seen[a][1] & seen[b][1], "a sentence crosses splits"


def test_reference_split_sizes():
    # FIELD_NOTES' reference: 508 movies -> 406 / 51 / 51 under seed 0.
    assignment = rotten_tomatoes.movie_splits([f"m{i}" for i in range(508)], seed=0)
    counts = {s: list(assignment.values()).count(s) for s in rotten_tomatoes.SPLITS}
    assert counts == {"train": 406, "validation": 51, "test": 51}


def test_a_sentence_written_for_two_movies_stays_out_of_test(tmp_path):
    assignment = rotten_tomatoes.movie_splits([f"movie{m:02d}" for m in range(20)], seed=0)
    train_movie = next(m for m, s in assignment.items() if s == "train")
    test_movie = next(m for m, s in assignment.items() if s == "test")
    shared = "An absorbing documentary."
    write_rotten_tomatoes(tmp_path, extra_rows=[("fresh", shared, train_movie),
                                                ("fresh", "an  ABSORBING documentary.", test_movie)])
    rotten_tomatoes.read_reviews.cache_clear()
    train = [text for text, _ in _rows("train", tmp_path)]
    test = [text for text, _ in _rows("test", tmp_path)]
    rotten_tomatoes.read_reviews.cache_clear()
    assert shared in train
    assert not any(" ".join(t.lower().split()) == shared.lower() for t in test)
    assert len(test) == 6  # the two test movies' own reviews stay


def test_split_is_deterministic_and_seeded(corpus):
    assert _rows("test", corpus) == _rows("test", corpus)
    assert _rows("test", corpus, seed=1) != _rows("test", corpus)


def test_element_contract(corpus):
    spec = rotten_tomatoes.load("train", str(corpus)).element_spec
    assert spec == (tf.TensorSpec((), tf.string), tf.TensorSpec((), tf.int64))


def test_unknown_split(corpus):
    with pytest.raises(ValueError, match=re.escape(
            "`split` must be one of train, validation, test. Received: split='dev'")):
        rotten_tomatoes.load("dev", str(corpus))
