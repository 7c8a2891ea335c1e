"""Rotten Tomatoes loader: plot rows dropped, splits by movie, no leakage, contracts."""

import pytest
import tensorflow as tf

from seqmodels.data import rotten_tomatoes
from tests.data.fixtures import write_rotten_tomatoes


@pytest.fixture()
def corpus(tmp_path):
    write_rotten_tomatoes(tmp_path)
    rotten_tomatoes.read_reviews.cache_clear()
    return tmp_path


def _rows(split, data_dir):
    return [(t.numpy().decode(), int(l)) for t, l in rotten_tomatoes.load(split, str(data_dir))]


def test_plot_rows_are_dropped_and_labels_mapped(corpus):
    texts, labels, movies = rotten_tomatoes.read_reviews(str(corpus))
    assert len(texts) == 60 and not any(t.startswith("plot") for t in texts)
    assert all((label == 1) == text.endswith("fresh") for text, label in zip(texts, labels))


def test_splits_partition_the_movies_without_leakage(corpus):
    seen = {}
    for split in rotten_tomatoes.SPLITS:
        rows = _rows(split, corpus)
        movies = {text.split("movie ")[1].split(" ")[0] for text, _ in rows}
        seen[split] = (movies, {text for text, _ in rows})
    assert [len(seen[s][0]) for s in rotten_tomatoes.SPLITS] == [16, 2, 2]
    for a in rotten_tomatoes.SPLITS:
        for b in rotten_tomatoes.SPLITS:
            if a < b:
                assert not seen[a][0] & seen[b][0], "a movie crosses splits"
                assert not seen[a][1] & seen[b][1], "a sentence crosses splits"


def test_split_is_deterministic_and_seeded(corpus):
    assert _rows("test", corpus) == _rows("test", corpus)
    other = [(t.numpy().decode(), int(l))
             for t, l in rotten_tomatoes.load("test", str(corpus), seed=1)]
    assert other != _rows("test", corpus)


def test_element_contract(corpus):
    spec = rotten_tomatoes.load("train", str(corpus)).element_spec
    assert spec == (tf.TensorSpec((), tf.string), tf.TensorSpec((), tf.int64))
