"""Fixtures of the training tests: a tiny Rotten Tomatoes corpus the loader reads instead, and
one tiny text-classification run that tests copy instead of training their own."""

import shutil

import pytest

from seqmodels.data import rotten_tomatoes
from seqmodels.training.config import make_config
from seqmodels.training.train import train_and_evaluate
from tests.data.fixtures import write_rotten_tomatoes


def point_at_tiny_corpus(directory, monkeypatch):
    """Writes the small corpus into `directory` and points the rotten_tomatoes loader at it."""
    write_rotten_tomatoes(directory, movies=40, per_movie=4)
    rotten_tomatoes.read_reviews.cache_clear()
    original = rotten_tomatoes.load
    monkeypatch.setattr(rotten_tomatoes, "load",
                        lambda split, data_dir=None, seed=0: original(split, str(directory), seed))


@pytest.fixture()
def tiny_corpus(tmp_path, monkeypatch):
    """Points the rotten_tomatoes loader at a small corpus the test writes."""
    point_at_tiny_corpus(tmp_path, monkeypatch)
    yield tmp_path
    rotten_tomatoes.read_reviews.cache_clear()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """`(model_dir, metrics)` of one `train_and_evaluate` of the tiny text-classification preset
    on the tiny corpus (no export), shared by the test modules (test_train, test_evaluation).
    Read it, or `copy_run` it before changing anything."""
    directory = tmp_path_factory.mktemp("tiny_run")
    with pytest.MonkeyPatch.context() as patch:
        (directory / "corpus").mkdir()
        point_at_tiny_corpus(directory / "corpus", patch)
        model_dir = str(directory / "run")
        metrics = train_and_evaluate(make_config("text_classification", "tiny"), model_dir)
    rotten_tomatoes.read_reviews.cache_clear()
    return model_dir, metrics


def copy_run(model_dir, destination):
    """A copy of the run directory `model_dir` at `destination` (checkpoints name their files
    relative to their folder, so the copy resumes and exports as the original would)."""
    shutil.copytree(model_dir, destination)
    return str(destination)
