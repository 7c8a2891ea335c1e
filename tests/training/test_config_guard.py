"""The config guard: another model or data in a used model_dir fails before anything is written."""

import json
import os
import re

import pytest

from seqmodels.training.config import make_config
from seqmodels.training.config_guard import ConfigMismatchError, check_same_run, differences
from seqmodels.training.run_dir import RunDir
from seqmodels.training.train import train_and_evaluate


def _tiny(*overrides, task="text_classification"):
    return make_config(task, "tiny", list(overrides))


def test_model_and_data_fields_differ_run_fields_do_not():
    saved = _tiny()
    assert differences(saved, _tiny("epochs=4", "learning_rate=0.5", "global_batch_size=4",
                                     "checkpoint_every=3", "seed=0")) == []
    assert differences(saved, _tiny("hidden_dim=16", "max_examples=9")) == [
        "task_config.hidden_dim: 8 -> 16", "run.max_examples: 64 -> 9"]
    assert differences(saved, _tiny("dataset=tfds:imdb_reviews")) == [
        "run.dataset: 'rotten_tomatoes' -> 'tfds:imdb_reviews'"]
    assert differences(saved, _tiny(task="forecasting")) == [
        "task: 'text_classification' -> 'forecasting'"]
    assert differences(_tiny("epochs=3"), _tiny("epochs=2")) == [
        "run.epochs: 3 -> 2 (epochs may grow, not shrink)"]


def _snapshot(directory):
    return {name: open(os.path.join(directory, name), "rb").read()
            for name in sorted(os.listdir(directory))}


def test_another_model_in_a_used_model_dir_fails_before_writing(tmp_path):
    run_dir = RunDir(str(tmp_path / "run"))
    run_dir.create()
    run_dir.write_config(_tiny().to_json())
    before = _snapshot(run_dir.path)
    with pytest.raises(ConfigMismatchError) as error:
        train_and_evaluate(_tiny("hidden_dim=16", "epochs=3"), run_dir.path)
    message = str(error.value)
    assert "task_config.hidden_dim: 8 -> 16" in message
    assert "Either train in another --model_dir, or run with the same config" in message
    assert "epochs" not in message.split("differs in:")[1].split("Either")[0]
    assert _snapshot(run_dir.path) == before  # config.json untouched, nothing added
    with pytest.raises(ConfigMismatchError, match=re.escape(
            "task: 'text_classification' -> 'forecasting'")):
        train_and_evaluate(_tiny(task="forecasting"), run_dir.path)
    assert _snapshot(run_dir.path) == before


def test_an_older_flat_config_json_is_compared_too(tmp_path):
    run_dir = RunDir(str(tmp_path))
    saved = _tiny().to_json()
    with open(run_dir.config, "w") as f:  # the layout before the config had two parts
        json.dump({"task": saved["task"], **saved["run"], **saved["task_config"],
                   "window_length": 22}, f)
    check_same_run(run_dir, _tiny("epochs=2"))  # the same run: may resume
    with pytest.raises(ConfigMismatchError, match=re.escape("task_config.hidden_dim: 8 -> 4")):
        check_same_run(run_dir, _tiny("hidden_dim=4"))


def test_a_new_model_dir_passes(tmp_path):
    check_same_run(RunDir(str(tmp_path / "nothing")), _tiny())
    assert not (tmp_path / "nothing").exists()
