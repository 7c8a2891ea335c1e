"""Config presets and type-checked overrides."""

import dataclasses
import re

import pytest

from seqmodels import tasks
from seqmodels.training.config import RunConfig, TrainConfig, make_config


def test_overrides_are_parsed_to_the_field_types():
    config = make_config("text_classification", "tiny",
                         ["hidden_dim=16", "dropout=0.25", "jit_compile=true", "dataset=tfds:imdb"])
    assert (config.task_config.hidden_dim, config.task_config.dropout, config.run.jit_compile,
            config.run.dataset) == (
        16, 0.25, True, "tfds:imdb")


def test_later_sources_win():
    config = make_config("text_classification", "tiny", ["epochs=3"], epochs=2, hidden_dim=12)
    assert (config.run.epochs, config.task_config.hidden_dim) == (3, 12)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_config().run.epochs = 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_config().task_config.hidden_dim = 2


@pytest.mark.parametrize("override, message", [
    ("hidden=3", "Override 'hidden=3': unknown key 'hidden'. Known keys: "),
    ("hidden_dim=big", "Override hidden_dim='big': expected a value of type int."),
    ("jit_compile=maybe", "Override jit_compile='maybe': expected a bool (true/false)."),
    ("hidden_dim", "Override 'hidden_dim': expected the form key=value."),
    ("hidden_dim=0", "`hidden_dim` must be a positive integer. Received: hidden_dim=0"),
    ("dropout=1.0", "`dropout` must be in [0, 1). Received: dropout=1.0"),
    ("mixed_precision=fp8", "`mixed_precision` must be one of float32, mixed_float16, "
                            "mixed_bfloat16. Received: mixed_precision='fp8'"),
])
def test_bad_overrides_are_clear_errors(override, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_config("text_classification", "tiny", [override])


def test_run_eagerly_is_refused_under_the_parameter_server_strategy():
    config = make_config("text_classification", "tiny", ["run_eagerly=true"])
    assert config.run.run_eagerly
    with pytest.raises(ValueError, match=re.escape(
            "`run_eagerly=True` does not run under strategy='parameter_server': its coordinator "
            "schedules traced steps on the workers. Received: run_eagerly=True, "
            "strategy='parameter_server'")):
        make_config("text_classification", "tiny", ["run_eagerly=true",
                                                    "strategy=parameter_server"])


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match=re.escape(
            "`config` must be a preset of task 'text_classification': default, tiny. "
            "Received: config='huge'")):
        make_config("text_classification", "huge")


def test_every_preset_builds_a_valid_config():
    for task in tasks.names():
        presets = tasks.get(task).presets
        assert "tiny" in presets, f"task {task!r} has no tiny preset"
        for name in presets:
            assert isinstance(make_config(task, name), TrainConfig)


def _fine_tune_config(overrides, backbone="keras_app:MobileNetV3Small"):
    return make_config("image_classification", "tiny", ["epochs=3", *overrides],
                       backbone=backbone)


def test_fine_tune_schedule_fields_default_off_and_parse_from_overrides():
    config = make_config("image_classification", "tiny").task_config
    assert (config.head_epochs, config.unfreeze_top, config.fine_tune_learning_rate) == (
        0, -1, 1e-5)
    config = _fine_tune_config(["head_epochs=2", "unfreeze_top=20",
                                "fine_tune_learning_rate=3e-5"]).task_config
    assert (config.head_epochs, config.unfreeze_top, config.fine_tune_learning_rate) == (
        2, 20, 3e-5)


@pytest.mark.parametrize("overrides, backbone, message", [
    (["head_epochs=-1"], "keras_app:MobileNetV3Small",
     "`head_epochs` must be a non-negative integer (0: no fine-tune schedule). Received: "
     "head_epochs=-1"),
    (["head_epochs=1.5"], "keras_app:MobileNetV3Small",
     "Override head_epochs='1.5': expected a value of type int."),
    (["unfreeze_top=0"], "keras_app:MobileNetV3Small",
     "`unfreeze_top` must be -1 (all backbone layers) or a positive integer. Received: "
     "unfreeze_top=0"),
    (["fine_tune_learning_rate=0"], "keras_app:MobileNetV3Small",
     "`fine_tune_learning_rate` must be positive. Received: fine_tune_learning_rate=0.0"),
    (["head_epochs=1"], "",
     "`head_epochs` > 0 needs a pretrained `backbone` to freeze, then unfreeze. Received: "
     "head_epochs=1, backbone=''"),
    (["head_epochs=3"], "keras_app:MobileNetV3Small",
     "`head_epochs` must be less than `epochs`, leaving at least one fine-tune epoch. "
     "Received: head_epochs=3, epochs=3"),
    (["head_epochs=1", "unfreeze_top=5"], "hub:/tmp/features",
     "`unfreeze_top` must be -1 for a hub: backbone, one SavedModel that unfreezes whole. "
     "Received: unfreeze_top=5, backbone='hub:/tmp/features'"),
    (["head_epochs=1", "backbone_trainable=false"], "keras_app:MobileNetV3Small",
     "`head_epochs` > 0 unfreezes the backbone after the head epochs, which contradicts "
     "backbone_trainable=False. Received: head_epochs=1, backbone_trainable=False"),
])
def test_fine_tune_schedule_errors(overrides, backbone, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        _fine_tune_config(overrides, backbone)


def test_config_json_round_trip_keeps_both_parts():
    config = make_config("translation", "tiny", ["hidden_dim=16", "epochs=2"])
    payload = config.to_json()
    assert set(payload) == {"task", "run", "task_config"}
    assert payload["run"]["epochs"] == 2 and payload["task_config"]["hidden_dim"] == 16
    assert TrainConfig.from_json(payload) == config


def test_a_flat_config_json_of_the_earlier_layout_still_loads():
    """Before the split, config.json held every field of every task in one dict."""
    flat = {"task": "forecasting", "model": "lstm", "dataset": "sunspots", "epochs": 150,
            "global_batch_size": 16, "learning_rate": 0.003, "weight_decay": 0.0,
            "window_length": 22, "horizon": 1, "hidden_dim": 32, "sequence_length": 64,
            "vocab_size": 20000, "backbone": "", "augment": True, "patch_size": 4}
    config = TrainConfig.from_json(flat)
    assert config.run == RunConfig(dataset="sunspots", epochs=150, global_batch_size=16,
                                   learning_rate=0.003, weight_decay=0.0)
    assert (config.task_config.window_length, config.task_config.hidden_dim) == (22, 32)
    with pytest.raises(ValueError, match=re.escape(
            "config.json has fields no task knows: warp_factor. It was written by another "
            "version of seqmodels; train in a new model_dir.")):
        TrainConfig.from_json({**flat, "warp_factor": 9})


def test_task_config_must_be_the_tasks_own_class():
    with pytest.raises(TypeError, match="`task_config` of task 'forecasting' must be a "
                                        "ForecastingConfig. Received: TranslationConfig"):
        TrainConfig("forecasting", RunConfig(), make_config("translation", "tiny").task_config)
