"""The registry is the one list of tasks: presets and families agree, and a new task is one file.

The fixture data (`fixture_data`) come from tests/tasks/conftest.py.
"""

import dataclasses
import json
import os
import typing

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels import tasks
from seqmodels.tasks import common
from seqmodels.tasks.task_config import TaskConfig
from seqmodels.tasks.task_spec import TaskSpec
from seqmodels.training.config import RUN_FIELDS, make_config
from seqmodels.training.train import train_and_evaluate


# A seventh task, defined here as a user would in a module of their own: fields, presets, a
# builder and a picture, then one `register` call.
@dataclasses.dataclass(frozen=True)
class PointsConfig(TaskConfig):
    TASK: typing.ClassVar[str] = "points"
    MODELS: typing.ClassVar[tuple] = ("dense",)
    POSITIVE: typing.ClassVar[tuple] = ("width",)

    model: str = "dense"
    width: int = 16


def _build_points(config, strategy):
    """Two Gaussian blobs in the plane: label 1 right of the y axis."""
    rng = np.random.default_rng(config.run.seed)
    x = rng.normal(size=(64, 2)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    train = tf.data.Dataset.from_tensor_slices((x[:48], y[:48]))
    held_out = tf.data.Dataset.from_tensor_slices((x[48:], y[48:]))

    def batches(dataset, epoch=None):
        return dataset.batch(config.run.global_batch_size, drop_remainder=epoch is not None)

    with strategy.scope():
        model = keras.Sequential([keras.Input((2,)),
                                  keras.layers.Dense(config.task_config.width, "relu"),
                                  keras.layers.Dense(2)])
    return common.make_task(config, model, train, 48, batches, held_out, held_out,
                            loss=common.sparse_loss())


def _points_picture(config, task, run_dir):
    path = run_dir.picture("points.txt")
    with open(path, "w") as f:
        f.write(f"{task.num_train} points\n")
    return [path]


POINTS = TaskSpec("points", PointsConfig,
                  {"default": dict(epochs=2, global_batch_size=16),
                   "tiny": dict(epochs=1, global_batch_size=8, steps_per_epoch=1, width=4)},
                  _build_points, _points_picture)


@pytest.fixture()
def points_task():
    tasks.register(POINTS)
    yield POINTS
    tasks.unregister("points")


def test_a_task_registered_from_a_test_module_trains_through_train_and_evaluate(
        points_task, tmp_path):
    assert "points" in tasks.names()
    config = make_config("points", "tiny", ["width=8"])
    assert config.task_config == PointsConfig(width=8)
    model_dir = str(tmp_path / "run")
    metrics = train_and_evaluate(config, model_dir)
    assert metrics["steps_per_epoch"] == 1 and len(metrics["history"]["loss"]) == 1
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["pictures"][-1] == os.path.join(model_dir, "points.txt")
    saved = json.load(open(os.path.join(model_dir, "config.json")))
    assert saved["task"] == "points" and saved["task_config"] == {"model": "dense", "width": 8}
    with pytest.raises(ValueError, match="unknown key 'depth'"):
        make_config("points", "tiny", ["depth=2"])


def test_registering_a_taken_name_is_an_error(points_task):
    with pytest.raises(ValueError, match="A task named 'points' is registered already."):
        tasks.register(POINTS)
    with pytest.raises(ValueError, match="'forecasting' is a built-in task"):
        tasks.unregister("forecasting")


def test_an_unknown_task_names_the_registered_ones():
    with pytest.raises(ValueError, match="`task` must be one of text_classification, "
                                         "forecasting, .*Received: task='tagging'"):
        tasks.get("tagging")


@pytest.mark.parametrize("task", tasks.registry.BUILT_IN)
def test_registry_presets_and_families_agree(task):
    spec = tasks.get(task)
    assert spec.name == task and spec.config_class.TASK == task
    assert {"default", "tiny"} <= set(spec.presets)
    fields = {field.name for field in dataclasses.fields(spec.config_class)}
    assert not fields & set(RUN_FIELDS), "a task field shadows a run field"
    assert spec.config_class().model == spec.config_class.MODELS[0]
    for preset in spec.presets:
        assert make_config(task, preset).task_config.model in spec.config_class.MODELS


FAMILIES = [(task, family) for task in tasks.registry.BUILT_IN
            for family in tasks.get(task).config_class.MODELS]


@pytest.mark.parametrize("task, family", FAMILIES)
def test_every_family_of_every_task_builds_and_runs(task, family, fixture_data):
    config = make_config(task, "tiny", model=family, data_dir=str(fixture_data))
    built = tasks.build_task(config, tf.distribute.get_strategy())
    inputs = next(iter(built.test))[0]
    outputs = built.model(inputs, training=False)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(outputs)))
