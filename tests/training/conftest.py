"""Fixtures of the training tests: a tiny Rotten Tomatoes corpus the loader reads instead."""

import pytest

from seqmodels.data import rotten_tomatoes
from tests.data.fixtures import write_rotten_tomatoes


@pytest.fixture()
def tiny_corpus(tmp_path, monkeypatch):
    """Points the rotten_tomatoes loader at a small corpus the test writes."""
    write_rotten_tomatoes(tmp_path, movies=40, per_movie=4)
    rotten_tomatoes.read_reviews.cache_clear()
    original = rotten_tomatoes.load
    monkeypatch.setattr(rotten_tomatoes, "load",
                        lambda split, data_dir=None, seed=0: original(split, str(tmp_path), seed))
    yield tmp_path
    rotten_tomatoes.read_reviews.cache_clear()
