"""Fixture data for the task tests: small stand-ins of every dataset's raw files."""

import pytest

from seqmodels.data import mnist_sequences, verses
from tests.data.fixtures import (write_digits_csv, write_fashion_idx, write_rotten_tomatoes,
                                 write_series)

WORDS = ["light", "water", "king", "people", "land", "house", "day", "word"]
PALABRAS = ["luz", "agua", "rey", "pueblo", "tierra", "casa", "día", "palabra"]


def _verse_pairs(chapters=80, per_chapter=3):
    """Synthetic aligned verses over enough chapters that every split gets some."""
    pairs = []
    for c in range(1, chapters + 1):
        for v in range(1, per_chapter + 1):
            words = [(c * v + i) % len(WORDS) for i in range(1 + (c + v) % 5)]
            english = "the " + " ".join(WORDS[w] for w in words) + f" {c} {v}."
            spanish = "el " + " ".join(PALABRAS[w] for w in words) + f" {c} {v}."
            pairs.append((f"Gen.{c}.{v}", english, spanish))
    return pairs


@pytest.fixture(scope="session")
def data_files(tmp_path_factory):
    """The small stand-ins of every dataset's raw files, written once (the loaders only read
    them)."""
    directory = tmp_path_factory.mktemp("data")
    write_series(directory)
    write_rotten_tomatoes(directory, movies=40, per_movie=4)
    write_fashion_idx(directory, train=55_010, test=8)  # validation: the last 5,000 + 10
    write_digits_csv(directory, "mnist_5k.csv.gz", 5000, 28)  # splits of 4,000/500/500
    return directory


@pytest.fixture()
def fixture_data(data_files, monkeypatch):
    """Points every loader at the stand-ins; returns their directory."""
    pairs = _verse_pairs()
    monkeypatch.setattr(verses, "read_verse_pairs", lambda sword_dir=None: pairs)
    monkeypatch.setattr(verses, "read_english_verses",
                        lambda sword_dir=None: [(key, en) for key, en, _ in pairs])
    # mnist_sequences builds every canvas of a split: keep the fixture's splits small.
    monkeypatch.setattr(mnist_sequences, "SIZES", {"train": 64, "validation": 8, "test": 8})
    return data_files
