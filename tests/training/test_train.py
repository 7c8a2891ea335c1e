"""train_and_evaluate: a one-step run of the tiny preset writes everything and exports.

(`tiny_corpus`, `tiny_run` and `copy_run` are in conftest.py: the tests that start from a
finished tiny run copy the one `tiny_run` trained instead of training their own.)
"""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from seqmodels.training.config import make_config
from seqmodels.training.train import train_and_evaluate
from tests.training.conftest import copy_run


def test_tiny_run_writes_metrics_checkpoints_logs_and_one_export(tiny_corpus, tmp_path):
    # Eager steps (run_eagerly=True): this test checks the run directory, the export and that
    # reruns export once, not the traced steps; the same preset's traced run is conftest's
    # `tiny_run` (its numbers checked by test_evaluation.py and the tests below).
    config = make_config("text_classification", "tiny",
                         export_dir=str(tmp_path / "export"), run_eagerly=True)
    model_dir = str(tmp_path / "run")
    metrics = train_and_evaluate(config, model_dir)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and np.isfinite(metrics["test_loss"])
    assert metrics["steps_per_epoch"] == 2
    for name in ("config.json", "metrics.json", "history.json", "best.weights.h5"):
        assert os.path.exists(os.path.join(model_dir, name)), name
    assert tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    assert os.listdir(os.path.join(model_dir, "logs"))
    saved = json.load(open(os.path.join(model_dir, "config.json")))
    assert saved["task_config"]["hidden_dim"] == 8 and saved["task"] == "text_classification"
    # The export takes raw text and agrees with the Keras model.
    assert metrics["export_path"].endswith(os.path.join("export", "1"))
    served = tf.saved_model.load(metrics["export_path"]).signatures["serving_default"]
    texts = tf.constant(["review 1 of movie 3 is fresh", "a rotten one"])
    outputs = served(text=texts)
    vectorizer = metrics["task"].export_kwargs["vectorizer"]
    expected = tf.nn.softmax(metrics["model"](vectorizer(texts)))
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected.numpy(), atol=1e-6)
    assert outputs["class_name"].numpy()[0] in (b"rotten", b"fresh")
    # One run exports one version: rerun after the export, it finds it in the run directory;
    # after a kill mid-export (export.json names the version, which never appeared), it writes
    # that version.
    first = metrics["export_path"]
    assert train_and_evaluate(config, model_dir)["export_path"] == first
    shutil.rmtree(first)
    assert train_and_evaluate(config, model_dir)["export_path"] == first
    assert sorted(os.listdir(tmp_path / "export")) == ["1", "models.config"]
    assert json.load(open(os.path.join(model_dir, "export.json")))["version"] == 1


def test_running_again_resumes_instead_of_restarting(tiny_run, tiny_corpus, tmp_path):
    model_dir = copy_run(tiny_run[0], tmp_path / "run")  # one epoch of the tiny preset, done
    # The second epoch's steps eagerly (run_eagerly=True): the test is about which epochs run,
    # not the traced steps; traced resumes: tests/training/test_checkpoints.py,
    # test_custom_loop.py.
    again = train_and_evaluate(make_config("text_classification", "tiny", ["epochs=2"],
                                           run_eagerly=True), model_dir)
    # Only the second epoch ran in the second call: the history has two epochs in all.
    assert len(again["history"]["loss"]) == 2


def test_config_must_be_a_train_config(tmp_path):
    with pytest.raises(TypeError, match="`config` must be a TrainConfig. Received: dict"):
        train_and_evaluate({"task": "captioning"}, str(tmp_path))


def test_a_run_directory_with_the_earlier_flat_config_json_still_exports(tiny_run, tiny_corpus,
                                                                         tmp_path):
    from seqmodels.training.train import export_trained

    model_dir = copy_run(tiny_run[0], tmp_path / "run")
    metrics = tiny_run[1]
    path = os.path.join(model_dir, "config.json")
    saved = json.load(open(path))
    with open(path, "w") as f:  # the layout before the config had a run and a task part
        json.dump({"task": saved["task"], **saved["run"], **saved["task_config"],
                   "window_length": 22, "patch_size": 4}, f)
    exported = export_trained(model_dir, str(tmp_path / "export"))
    served = tf.saved_model.load(exported).signatures["serving_default"]
    texts = tf.constant(["review 1 of movie 3 is fresh"])
    vectorizer = metrics["task"].export_kwargs["vectorizer"]
    np.testing.assert_allclose(served(text=texts)["probabilities"].numpy(),
                               tf.nn.softmax(metrics["model"](vectorizer(texts))).numpy(),
                               atol=1e-6)



@pytest.mark.parametrize("keep_best", [True, False])
def test_weights_that_do_not_fit_the_config_are_a_named_error(keep_best, tiny_run, tiny_corpus,
                                                              tmp_path):
    """export_trained never serves a model whose weights were not all restored."""
    from seqmodels.training.train import export_trained

    model_dir = copy_run(tiny_run[0], tmp_path / "run")
    if not keep_best:  # the checkpoint is what export_trained falls back to
        os.remove(os.path.join(model_dir, "best.weights.h5"))
    path = os.path.join(model_dir, "config.json")
    saved = json.load(open(path))
    saved["task_config"]["hidden_dim"] = 16  # the trained weights have width 8
    json.dump(saved, open(path, "w"))
    with pytest.raises(ValueError, match=r"do not fit the TextClassifier that .*config\.json "
                                         r"describes .*train it again in a new model_dir"):
        export_trained(model_dir, str(tmp_path / "export"))
    assert not os.path.exists(str(tmp_path / "export"))


def test_run_eagerly_runs_every_step_untraced_with_the_traced_steps_numbers(tmp_path, capsys):
    """`run_eagerly=True` (Keras' `compile(run_eagerly=True)`): a layer's Python runs at every
    step, not once per trace, and the losses are the traced steps' own."""
    from seqmodels.training.custom_loop import CustomTrainingLoop

    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], "float32")
    calls = []

    def counted(inputs):
        calls.append(1)  # Python: runs once per call eagerly, once per trace in a graph
        return inputs

    def losses(run_eagerly, jit_compile=False):
        import keras

        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(counted),
                                  keras.layers.Dense(1)])
        loop = CustomTrainingLoop(model, keras.optimizers.Adam(0.1),
                                  keras.losses.MeanSquaredError(reduction=None),
                                  tf.distribute.get_strategy(),
                                  str(tmp_path / f"run_{run_eagerly}"), 16,
                                  jit_compile=jit_compile, run_eagerly=run_eagerly, verbose=0)
        del calls[:]
        history = loop.fit(lambda epoch: tf.data.Dataset.from_tensor_slices((x, y)).batch(16),
                           epochs=2, steps_per_epoch=4)
        return history["loss"], len(calls), loop

    traced, traced_calls, _ = losses(False)
    eager, eager_calls, loop = losses(True, jit_compile=True)
    assert traced_calls <= 2 and eager_calls == 8  # a trace each (train, eval) vs every step
    np.testing.assert_allclose(eager, traced, rtol=1e-6)
    assert not loop.jit_compile
    assert "jit_compile=True ignored: the steps run eagerly (run_eagerly=True)." in (
        capsys.readouterr().out)
