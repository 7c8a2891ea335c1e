"""Every task of the training binary: its tiny preset trains one epoch on fixture data.

The fixture data (`data_files`, `fixture_data`) come from tests/tasks/conftest.py.
"""

import dataclasses
import json
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels import tasks
from seqmodels.tasks import build_task
from seqmodels.training.config import make_config
from seqmodels.training.train import train_and_evaluate
from tests.transfer.conftest import tiny_preset  # noqa: F401  (a fixture: a tiny BERT preset)

def _png():
    return {"images": tf.io.encode_png(np.zeros((28, 28, 1), np.uint8))[None]}


RAW_REQUESTS = {
    "text_classification": lambda: {"text": tf.constant(["review 1 of movie 3 is fresh"])},
    "forecasting": lambda: {"windows": tf.fill([1, 6, 1], 5.0)},
    "image_classification": _png,
    "translation": lambda: {"text": tf.constant(["the light water."])},
    "captioning": lambda: {"images": tf.io.encode_png(np.zeros((28, 112, 1), np.uint8))[None]},
    "language_modeling": lambda: {"prompt": tf.constant(["the king"])},
}
SERVED_OUTPUTS = {
    "text_classification": {"probabilities", "label", "class_name"},
    "forecasting": {"forecast"},
    "image_classification": {"probabilities", "label", "class_name"},
    "translation": {"translation"},
    "captioning": {"caption"},
    "language_modeling": {"completion"},
}


def test_every_task_has_a_tiny_and_a_default_preset():
    for task in tasks.names():
        spec = tasks.get(task)
        assert {"tiny", "default"} <= set(spec.presets), task
        for name in ("tiny", "default"):
            assert make_config(task, name).task_config.model in spec.config_class.MODELS


@pytest.mark.parametrize("task", tasks.registry.BUILT_IN)
def test_tiny_preset_trains_one_epoch_and_writes_the_run(task, fixture_data, tmp_path):
    # Eager steps (run_eagerly=True): what this run checks is the run directory, the pictures
    # and the export; every task's traced steps (with its preset's jit_compile) run in its
    # README case of tests/tasks/test_own_data.py, through the binary.
    config = make_config(task, "tiny", data_dir=str(fixture_data), run_eagerly=True,
                         export_dir=str(tmp_path / "export"))
    model_dir = str(tmp_path / "run")
    metrics = train_and_evaluate(config, model_dir)
    assert metrics["steps_per_epoch"] == 2
    assert np.isfinite(metrics["test_loss"])
    task_object = metrics["task"]
    if task_object.accuracy:
        assert 0.0 <= metrics["test_accuracy"] <= 1.0
    for name in ("config.json", "metrics.json", "history.json", "best.weights.h5",
                 "training_curves.png"):
        assert os.path.exists(os.path.join(model_dir, name)), name
    assert json.load(open(os.path.join(model_dir, "config.json")))["task"] == task
    assert tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    if task == "translation":  # the decoder's attention pictures
        for name in ("cross_attention.png", "decoder_self_attention.png"):
            assert os.path.exists(os.path.join(model_dir, name)), name
    # The trained model is exported and its signature serves one raw request.
    assert metrics["export_path"] == str(tmp_path / "export" / "1")
    served = tf.saved_model.load(metrics["export_path"]).signatures["serving_default"]
    outputs = served(**RAW_REQUESTS[task]())
    assert set(outputs) == SERVED_OUTPUTS[task]
    assert all(value.shape[0] == 1 for value in outputs.values())


def test_sequence_tasks_weigh_out_padding(fixture_data):
    """Translation batches carry weight 1 on real target tokens and 0 on padding."""
    config = make_config("translation", "tiny", data_dir=str(fixture_data))
    task = build_task(config, tf.distribute.get_strategy())
    (source, target_in), labels, weight = next(iter(task.dataset_fn(0)))
    assert source.shape == (4, 40) and target_in.shape == (4, 40) and labels.shape == (4, 40)
    np.testing.assert_array_equal(weight.numpy(), (labels.numpy() != 0).astype("float32"))
    # Teacher forcing: the labels are the decoder inputs shifted by one.
    np.testing.assert_array_equal(target_in.numpy()[:, 1:], labels.numpy()[:, :-1])


def test_an_epoch_replays_the_same_batches(fixture_data):
    config = make_config("captioning", "tiny", data_dir=str(fixture_data))
    task = build_task(config, tf.distribute.get_strategy())
    first = [b[1].numpy() for b in task.dataset_fn(3).take(3)]
    again = [b[1].numpy() for b in task.dataset_fn(3).take(3)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_too_short_sequence_length_is_an_error_not_a_truncation(fixture_data):
    config = make_config("translation", "tiny", ["sequence_length=3"],
                         data_dir=str(fixture_data))
    with pytest.raises(ValueError, match=r"more than sequence_length=3 allows; raise "
                                         r"sequence_length \(e\.g\. --override="):
        build_task(config, tf.distribute.get_strategy())


@pytest.mark.parametrize("backbone, length, longest", [(None, 5, 7), ("preset", 6, 9)])
def test_text_classification_says_how_many_texts_it_cuts(backbone, length, longest,
                                                          fixture_data, tiny_preset, capsys):
    """Every fixture review has 7 words ("review 0 of movie 3 is fresh"); 9 word pieces."""
    kwargs = dict(data_dir=str(fixture_data))
    if backbone:
        kwargs["backbone"] = "preset:" + tiny_preset
    build_task(make_config("text_classification", "tiny", ["sequence_length=12"], **kwargs),
               tf.distribute.get_strategy())
    assert "texts have more than" not in capsys.readouterr().out
    build_task(make_config("text_classification", "tiny", [f"sequence_length={length}"],
                           **kwargs), tf.distribute.get_strategy())
    out = capsys.readouterr().out
    for split in ("train", "validation", "test"):
        assert re.search(rf"(\d+) of \1 {split} texts have more than sequence_length={length} "
                         rf"tokens \(the longest {longest}\): the model reads their first "
                         rf"{length}; --override=sequence_length={longest} keeps every one "
                         r"whole\.", out), out


def test_unknown_model_of_a_task_is_a_clear_error(fixture_data):
    config = make_config("forecasting", "tiny")
    with pytest.raises(ValueError, match=r"`model` must be one of lstm, rnn, transformer for "
                                         r"task 'forecasting'. Received: model='vit'"):
        dataclasses.replace(config.task_config, model="vit")  # fails before any data loads


def test_mixed_float16_trains_with_loss_scaling(fixture_data, tmp_path):
    """mixed_float16 end to end: float16 compute, float32 weights, a loss-scaling optimizer."""
    config = make_config("text_classification", "tiny", ["mixed_precision=mixed_float16"],
                         data_dir=str(fixture_data), steps_per_epoch=1)  # one step shows it
    metrics = train_and_evaluate(config, str(tmp_path / "run"))
    model = metrics["model"]
    assert model.compute_dtype == "float16" and model.variable_dtype == "float32"
    assert np.isfinite(metrics["test_loss"])
    # The process-wide policy is restored for whatever is built next.
    assert keras.mixed_precision.global_policy().name == "float32"


def test_text_backbone_from_a_keras_hub_preset_trains_and_serves_raw_text(
        fixture_data, tiny_preset, tmp_path):
    config = make_config("text_classification", "tiny", ["sequence_length=12"],
                         backbone="preset:" + tiny_preset, data_dir=str(fixture_data),
                         export_dir=str(tmp_path / "export"), steps_per_epoch=1)
    metrics = train_and_evaluate(config, str(tmp_path / "run"))
    assert metrics["model"].inputs[0].dtype == "string"
    assert np.isfinite(metrics["test_loss"])
    import tensorflow_text  # noqa: F401  (the WordPiece ops of the exported preprocessor)

    served = tf.saved_model.load(metrics["export_path"]).signatures["serving_default"]
    texts = tf.constant(["a good film", "review 2 of movie 5 is rotten"])
    expected = tf.nn.softmax(metrics["model"](texts, training=False))
    np.testing.assert_allclose(served(text=texts)["probabilities"].numpy(), expected.numpy(),
                               atol=1e-6)
    # The tokenizer's vocabulary travels beside the class names in the export's assets.
    assets = os.path.join(metrics["export_path"], "assets")
    assert sorted(os.listdir(assets)) == ["class_names.txt", "vocabulary.txt"]
    tokenizer = next(layer for layer in metrics["model"]._flatten_layers()
                     if type(layer).__name__ == "BertTokenizer")
    with open(os.path.join(assets, "vocabulary.txt"), encoding="utf-8") as f:
        assert f.read().split("\n")[:-1] == tokenizer.get_vocabulary()


def test_image_backbone_from_keras_applications_trains_and_serves(fixture_data, tmp_path):
    """Any `keras_app:` name goes through the same code (`image_backbone_classifier`): VGG16,
    whose 13 convolutions trace in a fraction of MobileNetV3Small's 140 weights' time (the
    MobileNetV3Small classifier itself is tested in tests/transfer/test_images.py)."""
    config = make_config("image_classification", "tiny", backbone="keras_app:VGG16",
                         data_dir=str(fixture_data), export_dir=str(tmp_path / "export"),
                         steps_per_epoch=1)  # the plumbing of a backbone: one step
    metrics = train_and_evaluate(config, str(tmp_path / "run"))
    assert metrics["model"].get_layer("backbone").name == "backbone"
    served = tf.saved_model.load(metrics["export_path"]).signatures["serving_arrays"]
    images = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(served(images=images)["probabilities"].numpy(),
                               tf.nn.softmax(metrics["model"](images, training=False)).numpy(),
                               atol=1e-5)


def test_backbone_only_for_classification():
    with pytest.raises(ValueError, match=r"`backbone` applies to text_classification and "
                                         r"image_classification. Received: task='forecasting'"):
        make_config("forecasting", "tiny", backbone="keras_app:ResNet50")
