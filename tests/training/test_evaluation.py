"""Evaluation modes: the latest checkpoint once, and a sidecar that follows the chief."""

import glob
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from seqmodels.training.config import make_config
from seqmodels.training.evaluation import Evaluator
from seqmodels.training.train import train_and_evaluate
from tests.data.fixtures import write_rotten_tomatoes
from tests.training.conftest import copy_run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _scalars(directory):
    values = {}
    for path in glob.glob(os.path.join(directory, "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                values.setdefault(value.tag, {})[event.step] = float(
                    tf.make_ndarray(value.tensor))
    return values


def test_evaluate_once_matches_the_training_runs_numbers(tiny_run, tiny_corpus, tmp_path):
    # A copy of conftest's tiny text-classification run (one epoch of 2 steps, no export);
    # the evaluator rebuilds its data from the same tiny corpus.
    model_dir = copy_run(tiny_run[0], tmp_path / "run")
    trained = tiny_run[1]
    metrics = Evaluator(model_dir).evaluate()
    assert metrics["step"] == 2 and metrics["checkpoint"].endswith("ckpt-2")
    # One epoch: the last checkpoint is the best epoch's weights, which were tested.
    np.testing.assert_allclose(metrics["val_loss"], trained["history"]["val_loss"][-1],
                               rtol=1e-6)
    np.testing.assert_allclose(metrics["test_accuracy"], trained["test_accuracy"], rtol=1e-6)
    logged = _scalars(os.path.join(model_dir, "logs", "eval"))
    assert logged["val_loss"] == {2: np.float32(metrics["val_loss"])}


def test_continuous_evaluate_follows_the_chief_and_stops_after_the_last_epoch(tmp_path):
    write_rotten_tomatoes(tmp_path, movies=40, per_movie=4)
    model_dir = str(tmp_path / "run")
    # The sidecar starts first and waits for the chief's config.json.
    sidecar = subprocess.Popen(
        [sys.executable, "-m", "trainers.train", "--mode=continuous_evaluate",
         f"--model_dir={model_dir}", "--eval_timeout=120"], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    try:
        # Eager steps (run_eagerly=True, in the chief and so in the sidecar, which reads the
        # chief's config.json): this test is about following the chief's checkpoints, not the
        # traced steps; test_evaluate_once_matches_the_training_runs_numbers evaluates traced.
        train_and_evaluate(make_config("text_classification", "tiny", ["epochs=2"],
                                       data_dir=str(tmp_path), checkpoint_every=0,
                                       run_eagerly=True), model_dir)
        out, err = sidecar.communicate(timeout=180)
    finally:
        sidecar.kill()
    assert sidecar.returncode == 0, err[-3000:]
    steps = [int(line.split()[1]) for line in out.splitlines() if line.startswith("step ")]
    assert steps and steps[-1] == 4 and steps == sorted(set(steps)), out
    logged = _scalars(os.path.join(model_dir, "logs", "eval"))
    assert sorted(logged["val_accuracy"]) == steps and 4 in logged["test_loss"]
