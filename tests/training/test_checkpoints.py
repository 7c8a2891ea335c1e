"""Checkpoints you can trust: a damaged newest checkpoint is named and the previous one used."""

import glob
import os
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf

from seqmodels.training import checkpoints
from seqmodels.training.run_dir import RunDir
from seqmodels.training.train import _resumable_history
from tests.training.dropout_run import fit_dropout_model

EPOCHS = 2


def _fit(model_dir, epochs=EPOCHS):
    return fit_dropout_model(model_dir, epochs, checkpoint_every=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("trained") / "run"
    weights, _ = _fit(model_dir)
    return model_dir, weights


def _data(prefix):
    return glob.glob(prefix + ".data-*")[0]


def _truncate(prefix):
    path = _data(prefix)
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) // 2])


def _flip(prefix):
    path = _data(prefix)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))


def _delete_index(prefix):
    os.remove(prefix + ".index")


def test_the_last_three_are_kept(trained):
    model_dir, _ = trained
    assert [step for _, step in checkpoints.candidates(str(model_dir / "checkpoints"))] == [8, 7, 6]


@pytest.mark.parametrize("damage,reason", [
    (_truncate, "IndexError: Read less bytes than requested"),
    (_flip, "OpError: .*Checksum does not match"),
    (_delete_index, "its index file .*ckpt-8.index is missing"),
])
def test_a_damaged_latest_checkpoint_is_named_and_the_previous_one_resumes_exactly(
        trained, tmp_path, capsys, damage, reason):
    model_dir, expected = trained
    copy = tmp_path / "run"
    shutil.copytree(model_dir, copy)
    latest = str(copy / "checkpoints" / "ckpt-8")
    damage(latest)
    prefix, step, problems = checkpoints.newest_readable(str(copy / "checkpoints"))
    assert (os.path.basename(prefix), step) == ("ckpt-7", 7)
    assert re.search(f"checkpoint {re.escape(latest)} is unreadable: {reason}", problems[0])
    weights, history = _fit(copy)
    out = capsys.readouterr().out
    assert f"checkpoint {latest} is unreadable" in out and "Resuming from" in out
    assert len(history["loss"]) == 1  # only the last step of epoch 2 was trained again
    for a, e in zip(weights, expected):
        np.testing.assert_allclose(a, e, atol=1e-6)


def test_an_empty_checkpoint_state_file_is_rewritten(trained, tmp_path, capsys):
    model_dir, expected = trained
    copy = tmp_path / "run"
    shutil.copytree(model_dir, copy)
    state = copy / "checkpoints" / "checkpoint"
    state.write_text("")
    weights, history = _fit(copy)
    assert f"{state} is unreadable" in capsys.readouterr().out
    assert history == {}  # ckpt-8 is whole: nothing left to train
    assert tf.train.latest_checkpoint(str(copy / "checkpoints")).endswith("ckpt-8")
    for a, e in zip(weights, expected):
        np.testing.assert_allclose(a, e, atol=1e-6)


def _run_dir_with_checkpoints(tmp_path, steps, epochs_logged):
    run_dir = RunDir(str(tmp_path))
    step = tf.Variable(0, dtype=tf.int64)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step), run_dir.checkpoints, 3)
    for value in steps:
        step.assign(value)
        manager.save(checkpoint_number=value)
    run_dir.write_history({"loss": [1.0 - 0.1 * i for i in range(epochs_logged)],
                           "val_loss": [2.0] * epochs_logged})
    return run_dir


def test_history_follows_the_checkpoint_the_run_resumes_from(tmp_path, capsys):
    run_dir = _run_dir_with_checkpoints(tmp_path, [3, 4], 2)  # 2 steps an epoch
    assert _resumable_history(run_dir, 2)["loss"] == [1.0, 0.9]
    _truncate(os.path.join(run_dir.checkpoints, "ckpt-4"))
    history = _resumable_history(run_dir, 2)  # resumes at step 3, in epoch 2
    assert history == {"loss": [1.0], "val_loss": [2.0]}
    assert "the log of epochs 2-2 is dropped; they are trained again" in capsys.readouterr().out


def test_a_run_with_history_never_restarts_from_scratch(tmp_path):
    run_dir = _run_dir_with_checkpoints(tmp_path, [2], 1)
    _delete_index(os.path.join(run_dir.checkpoints, "ckpt-2"))
    with pytest.raises(checkpoints.CheckpointsLostError, match=re.escape(
            f"{run_dir.history} logs 1 epochs, but no checkpoint in {run_dir.checkpoints} reads "
            "back (checkpoint ")):
        _resumable_history(run_dir, 2)
    shutil.rmtree(run_dir.checkpoints)
    with pytest.raises(checkpoints.CheckpointsLostError, match="there is none"):
        _resumable_history(run_dir, 2)
