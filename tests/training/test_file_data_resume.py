"""Exact resume on your own files: a run on a CSV dataset SIGKILLed mid-epoch continues on the
very record where it stopped, and ends with the weights of a run never interrupted."""

import json
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from seqmodels.training.config import make_config
from seqmodels.training.run_dir import RunDir
from seqmodels.training.train import train_and_evaluate
from tests.data.user.files import png, write_csv
from tests.training.cluster import worker_env

WORKER = os.path.join(os.path.dirname(__file__), "train_worker.py")
TIMEOUT_S = 240


def _variables(model_dir):
    """Every saved tensor of the newest checkpoint (model, optimizer, step, seeds)."""
    reader = tf.train.load_checkpoint(RunDir(model_dir).latest_checkpoint())
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")}


def test_sigkill_mid_epoch_on_csv_data_resumes_on_the_same_record(tmp_path, capsys):
    data = tmp_path / "data"
    os.makedirs(data)
    for i in range(60):
        (data / f"{i}.png").write_bytes(png(i * 4 % 256, (28, 28, 1)))
    # No {split}: a hash of each record picks its split, as the reader does every epoch.
    write_csv(data / "photos.csv", ["file", "kind"],
              [(f"{i}.png", ["shoe", "bag", "hat"][i % 3]) for i in range(60)])
    config = make_config("image_classification", "tiny", dataset="csv:photos.csv",
                         data_dir=str(data), data_options=("image_column=file",
                                                           "label_column=kind"),
                         epochs=2, steps_per_epoch=3, checkpoint_every=1, jit_compile=False)
    train_and_evaluate(config, str(tmp_path / "uninterrupted"))

    run = str(tmp_path / "run")
    killed = subprocess.run(
        [sys.executable, WORKER, json.dumps(config.to_json()), run, "2"],
        env=worker_env(),
        capture_output=True, text=True, timeout=TIMEOUT_S)
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert RunDir(run).latest_checkpoint().endswith("ckpt-2")
    capsys.readouterr()
    train_and_evaluate(config, run)
    assert "Resuming from step 2: epoch 1, batch 3." in capsys.readouterr().out
    expected, resumed = _variables(str(tmp_path / "uninterrupted")), _variables(run)
    assert sorted(resumed) == sorted(expected)
    assert any("_trainable_variables" in name for name in expected)  # the weights are there
    for name, value in expected.items():
        np.testing.assert_allclose(resumed[name], value, atol=1e-6, err_msg=name)
