"""Preflight: paths, TPU and TF_CONFIG checked before anything is built or written."""

import json
import os
import re

import pytest

from seqmodels.data import DataNotFoundError
from seqmodels.training import preflight
from seqmodels.training.config import make_config
from seqmodels.training.preflight import PreflightError, check_cluster, check_directory
from seqmodels.training.train import train_and_evaluate


def test_directories(tmp_path, monkeypatch):
    check_directory("model_dir", str(tmp_path / "a" / "b"))  # may be created
    check_directory("model_dir", "gs://bucket/run")  # remote: not checked here
    check_directory("export_dir", "", required=False)  # no export
    a_file = tmp_path / "f"
    a_file.write_text("x")
    with pytest.raises(PreflightError, match=re.escape(
            f"`--model_dir` must be a directory, but {a_file} is a file.")):
        check_directory("model_dir", str(a_file))
    with pytest.raises(PreflightError, match=re.escape(
            f"`--export_dir` cannot be created: {a_file} is a file, not a directory.")):
        check_directory("export_dir", str(a_file / "export"))
    with pytest.raises(PreflightError, match=re.escape(
            "`--model_dir` must name a directory. Received: --model_dir=''")):
        check_directory("model_dir", "")
    locked = str(tmp_path / "locked")
    os.mkdir(locked)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: p != locked and real_access(p, mode))
    with pytest.raises(PreflightError, match=re.escape(
            f"`--model_dir` cannot be written: {locked} is not writable by this user.")):
        check_directory("model_dir", os.path.join(locked, "run"))


def _tf_config(cluster, role, index):
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": role, "index": index}})}


def test_tpu_and_tf_config():
    with pytest.raises(PreflightError, match=re.escape("`--strategy=tpu` needs `--tpu`")):
        check_cluster("tpu", "", {})
    check_cluster("tpu", "local", {})
    check_cluster("mirrored", "", {})  # no cluster needed
    workers = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    check_cluster("multi_worker_mirrored", "", _tf_config(workers, "worker", 1))
    with pytest.raises(PreflightError, match=re.escape(
            "`--strategy=multi_worker_mirrored` reads the cluster from the TF_CONFIG environment "
            "variable, which must be JSON. Received: TF_CONFIG='{cluster'")):
        check_cluster("multi_worker_mirrored", "", {"TF_CONFIG": "{cluster"})
    with pytest.raises(PreflightError, match="environment variable, which is not set"):
        check_cluster("multi_worker_mirrored", "", {})
    with pytest.raises(PreflightError, match="it has no 'cluster'"):
        check_cluster("multi_worker_mirrored", "", {"TF_CONFIG": "{}"})
    with pytest.raises(PreflightError, match=re.escape(
            "its task worker:2 is not in its cluster (worker: 2)")):
        check_cluster("multi_worker_mirrored", "", _tf_config(workers, "worker", 2))
    with pytest.raises(PreflightError, match="it has no 'task'"):
        check_cluster("multi_worker_mirrored", "", {"TF_CONFIG": json.dumps({"cluster": workers})})
    with pytest.raises(PreflightError, match=re.escape(
            "parameter-server training needs a 'chief' (the coordinator), 'worker' tasks and "
            "'ps' tasks in its cluster, and it has no 'chief' and no 'ps'.")):
        check_cluster("parameter_server", "", _tf_config(workers, "worker", 0))
    ps_cluster = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"], "ps": ["127.0.0.1:3"]}
    for role in ("chief", "worker", "ps"):
        check_cluster("parameter_server", "", _tf_config(ps_cluster, role, 0))
    with pytest.raises(PreflightError, match=re.escape(
            "under parameter-server training a task is the 'chief', a 'worker' or a 'ps' (run an "
            "evaluator with --mode=continuous_evaluate instead). Received: task evaluator:0")):
        check_cluster("parameter_server", "", _tf_config(
            {**ps_cluster, "evaluator": ["127.0.0.1:4"]}, "evaluator", 0))


def test_train_and_evaluate_refuses_before_writing(tmp_path):
    a_file = tmp_path / "f"
    a_file.write_text("x")
    with pytest.raises(PreflightError, match="`--model_dir` must be a directory"):
        train_and_evaluate(make_config("text_classification", "tiny"), str(a_file))
    assert a_file.read_text() == "x"
    model_dir = tmp_path / "run"
    with pytest.raises(PreflightError, match="`--export_dir` cannot be created"):
        train_and_evaluate(make_config("text_classification", "tiny",
                                       export_dir=str(a_file / "export")), str(model_dir))
    with pytest.raises(PreflightError, match="`--strategy=tpu` needs `--tpu`"):
        train_and_evaluate(make_config("text_classification", "tiny", strategy="tpu"),
                           str(model_dir))
    # The data is read (the task built) before model_dir is created.
    with pytest.raises(DataNotFoundError, match="not found"):
        train_and_evaluate(make_config("text_classification", "tiny",
                                       data_dir=str(tmp_path / "nowhere")), str(model_dir))
    assert not model_dir.exists()


def test_check_covers_both_paths_and_the_cluster(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(preflight, "check_directory", lambda flag, path, required=True:
                        seen.append((flag, path, required)))
    monkeypatch.setattr(preflight, "check_cluster", lambda strategy, tpu: seen.append(strategy))
    preflight.check(make_config("text_classification", "tiny", export_dir="e"), "m")
    assert seen == [("model_dir", "m", True), ("export_dir", "e", False), "default"]
    seen.clear()  # parameter-server training is checked like any cluster strategy
    preflight.check(make_config("text_classification", "tiny", strategy="parameter_server"), "m")
    assert seen == [("model_dir", "m", True), ("export_dir", "", False), "parameter_server"]
