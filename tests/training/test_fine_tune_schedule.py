"""The binary's two-phase fine-tune schedule (`head_epochs`): what each phase trains; resume.

Phases are observed through `CustomTrainingLoop.fit`, which `train_and_evaluate` calls once per
phase: a spy records the model's trainable weights and all weight values when each call starts
and ends. A kill is simulated as in `distributed_worker.py` (right after the checkpoint of a
given step), here by raising from `CustomTrainingLoop.save` in-process: only the files in the
run directory survive into the next `train_and_evaluate` call, which builds everything anew.

Sized for speed, not accuracy: MobileNet (v1: 87 layers to MobileNetV3Small's 158, and its
top 12 hold convolutions and BatchNormalization as V3's do), 8 training examples, and
Fashion-MNIST files whose validation and test splits are one batch each.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels.training.config import make_config
from seqmodels.training.custom_loop import CustomTrainingLoop, saved_step
from seqmodels.training.train import train_and_evaluate
from tests.data.fixtures import write_fashion_idx

HEAD = {"logits/kernel", "logits/bias"}
UNFREEZE_TOP = 12


class _Phases:
    """Spies on `CustomTrainingLoop.fit`: per call, the trainable paths and weights at both ends.

    Args:
        monkeypatch: a `pytest.MonkeyPatch` that undoes the spy.
    """

    def __init__(self, monkeypatch):
        self.calls = []
        original = CustomTrainingLoop.fit

        def fit(loop, *args, **kwargs):
            call = {"trainable": {w.path for w in loop.model.trainable_weights},
                    "start": _values(loop.model), "initial_epoch": kwargs.get("initial_epoch", 0)}
            self.calls.append(call)
            history = original(loop, *args, **kwargs)
            call["end"] = _values(loop.model)
            return history

        monkeypatch.setattr(CustomTrainingLoop, "fit", fit)


class _Killed(Exception):
    """Stands in for SIGKILL."""


def _kill_after(monkeypatch, step):
    original = CustomTrainingLoop.save

    def save(loop):
        original(loop)
        if int(loop.step.numpy()) == step:
            raise _Killed(step)

    monkeypatch.setattr(CustomTrainingLoop, "save", save)


def _values(model):
    values = {w.path: w.numpy().copy() for w in model.weights}
    assert len(values) == len(model.weights)  # paths name the weights uniquely
    return values


def _changed(before, after, paths):
    return {p for p in paths if not np.array_equal(before[p], after[p])}


def _tensorboard_steps(model_dir, tag):
    steps = []
    logs = os.path.join(model_dir, "logs")
    for name in sorted(os.listdir(logs)):
        for record in tf.data.TFRecordDataset(os.path.join(logs, name)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            steps += [event.step for value in event.summary.value if value.tag == tag]
    return steps


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    """Fashion-MNIST files: the loader's 55,000 training images, then 4 for validation; 4 test."""
    directory = tmp_path_factory.mktemp("fashion")
    write_fashion_idx(directory, train=55_004, test=4)
    return directory


def _config(data_dir, **fields):
    """MobileNet on the tiny preset: epoch 1 trains the head, epoch 2 the top layers, on the
    first 8 training images (2 steps of 4 an epoch, as the preset has it).

    Nothing random is drawn in training but the data's seeded augmentation (no dropout), so a
    resumed run can match an uninterrupted one exactly.
    """
    return make_config(
        "image_classification", "tiny",
        ["epochs=2", "head_epochs=1", f"unfreeze_top={UNFREEZE_TOP}", "learning_rate=0.01",
         "fine_tune_learning_rate=0.01", "checkpoint_every=1", "max_examples=8"],
        backbone="keras_app:MobileNet", data_dir=str(data_dir), **fields)


@pytest.fixture(scope="module")
def uninterrupted(data_files, tmp_path_factory):
    """One run never killed: its model dir, returned metrics and the phases `fit` saw."""
    model_dir = str(tmp_path_factory.mktemp("uninterrupted") / "run")
    with pytest.MonkeyPatch.context() as patch:
        phases = _Phases(patch)
        metrics = train_and_evaluate(_config(data_files), model_dir)
    return model_dir, metrics, phases.calls


def test_head_then_top_layers_then_batch_norm_statistics_untouched(uninterrupted):
    model_dir, metrics, (head_phase, fine_tune_phase) = uninterrupted
    backbone = metrics["model"].get_layer("backbone")
    backbone_paths = {w.path for w in backbone.weights}
    batch_norms = [l for l in backbone.layers if isinstance(l, keras.layers.BatchNormalization)]
    statistics = {w.path for l in batch_norms for w in (l.moving_mean, l.moving_variance)}
    assert len(statistics) == 2 * len(batch_norms) > 0
    top = backbone.layers[-UNFREEZE_TOP:]
    unfrozen = {w.path for l in top if not isinstance(l, keras.layers.BatchNormalization)
                for w in l.trainable_weights}
    assert any(isinstance(l, keras.layers.BatchNormalization) for l in top)
    assert len(unfrozen) > 2 and unfrozen < backbone_paths

    # Epoch 1: only the head trains; every backbone weight keeps its value.
    initial, after_head = head_phase["start"], head_phase["end"]
    assert head_phase["trainable"] == HEAD
    assert _changed(initial, after_head, backbone_paths) == set()
    assert _changed(initial, after_head, HEAD) == HEAD
    # Epoch 2: the head and the top layers but their BatchNorm train, numbered on from epoch 1.
    assert fine_tune_phase["initial_epoch"] == 1
    assert fine_tune_phase["trainable"] == HEAD | unfrozen
    np.testing.assert_equal(fine_tune_phase["start"], after_head)
    final = fine_tune_phase["end"]
    assert _changed(after_head, final, HEAD) == HEAD
    assert _changed(after_head, final, unfrozen) == unfrozen
    # Below the top layers nothing moved, nor did any BatchNorm statistic, in either phase.
    assert statistics <= backbone_paths - unfrozen
    assert _changed(initial, final, backbone_paths - unfrozen) == set()

    # One history, numbered on through both phases.
    assert len(metrics["history"]["loss"]) == 2
    with open(os.path.join(model_dir, "metrics.json")) as f:
        assert len(json.load(f)["history"]["val_accuracy"]) == 2
    assert _tensorboard_steps(model_dir, "loss") == [1, 2]
    assert os.path.exists(os.path.join(model_dir, "best.weights.h5"))
    assert saved_step(model_dir) == 4


def _checkpoint(model_dir):
    path = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def test_killed_in_either_phase_resumes_in_that_phase(uninterrupted, data_files, tmp_path):
    """Killed at step 1 (head phase), then at step 3 (fine-tune phase), the run ends as the one
    never killed: the same model and optimizer variables, phase 2's optimizer state included."""
    expected_dir, _, (head_phase, fine_tune_phase) = uninterrupted
    expected = _checkpoint(expected_dir)
    assert expected["optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"] == 2  # phase 2's own
    model_dir = str(tmp_path / "run")
    # Killed at step 1, in phase 1; restarted, it resumes phase 1 and is killed in phase 2.
    for kill_step, trainables in ((1, [head_phase["trainable"]]),
                                  (3, [head_phase["trainable"], fine_tune_phase["trainable"]])):
        with pytest.MonkeyPatch.context() as patch:
            _kill_after(patch, kill_step)
            phases = _Phases(patch)
            with pytest.raises(_Killed):
                train_and_evaluate(_config(data_files), model_dir)
        assert saved_step(model_dir) == kill_step
        assert [call["trainable"] for call in phases.calls] == trainables
    # Restarted after the kill in phase 2, it skips phase 1 and resumes phase 2 whole.
    with pytest.MonkeyPatch.context() as patch:
        phases = _Phases(patch)
        metrics = train_and_evaluate(
            _config(data_files, export_dir=str(tmp_path / "export")), model_dir)
    assert [call["trainable"] for call in phases.calls] == [fine_tune_phase["trainable"]]
    resumed = _checkpoint(model_dir)
    assert set(resumed) == set(expected)
    for name in expected:
        np.testing.assert_allclose(resumed[name], expected[name], atol=1e-6, err_msg=name)
    assert len(metrics["history"]["loss"]) == 2  # epoch 1 logged by the killed run
    # The export serves the model the run ended with.
    served = tf.saved_model.load(metrics["export_path"]).signatures["serving_arrays"]
    images = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(served(images=images)["probabilities"].numpy(),
                               tf.nn.softmax(metrics["model"](images, training=False)).numpy(),
                               atol=1e-5)
