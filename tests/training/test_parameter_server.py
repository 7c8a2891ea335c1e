"""Parameter-server training through the binary: 1 chief, 2 workers and 1 ps on 127.0.0.1.

Every task runs `trainers.train` with the same flags and its own TF_CONFIG task; the tiny text
classifier trains on CSV files the test writes. Each process's output goes to a file (a pipe
could fill up and block it), and every process is killed and reaped whatever happens.
"""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels.training.parameter_server import serialize_for_workers, server_task
from tests.data.user.files import write_csv
from tests.training.cluster import free_ports, worker_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT_S = 400  # the chief's whole run: 4 TensorFlow processes start on a busy 2-core
# machine, which alone took 100 s at a load of 8 (the training itself about 15 s)
# Two epochs, so that the loss can be seen to fall and the killed worker's steps can go to the
# other worker within the run; a few steps each, since every step is a round trip.
EPOCHS, STEPS, CHECKPOINT_EVERY = 2, 10, 5
TASKS = (("ps", 0), ("worker", 0), ("worker", 1), ("chief", 0))
WORDS = ["light", "water", "king", "people", "land", "house", "day", "word"]


def test_server_task_is_a_worker_or_ps_of_tf_config():
    def env(task):
        cluster = {"chief": ["h:1"], "worker": ["h:2", "h:3"], "ps": ["h:4"]}
        return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": task})}
    assert server_task(env({"type": "worker", "index": 1})) == ("worker", 1)
    assert server_task(env({"type": "ps"})) == ("ps", 0)
    assert server_task(env({"type": "chief", "index": 0})) is None
    assert server_task({"TF_CONFIG": "{not json"}) is None and server_task({}) is None
    # A task its cluster does not have is none of them (`preflight.check` names it).
    assert server_task(env({"type": "ps", "index": 3})) is None


def test_a_worker_rebuilds_the_pipeline_and_its_lookup_table_from_the_graph():
    vectorizer = keras.layers.TextVectorization(output_sequence_length=3)
    vectorizer.adapt(["good film", "bad film", "good plot"])
    texts = tf.data.Dataset.from_tensor_slices(["good plot", "bad film"]).batch(2).map(vectorizer)
    graph_def = serialize_for_workers(texts)
    # The table travels inside the graph: created and filled where the graph is rebuilt.
    ops = {node.op for node in tf.compat.v1.GraphDef.FromString(graph_def.numpy()).node}
    assert {"HashTableV2", "LookupTableImportV2"} <= ops
    rebuilt = tf.data.experimental.from_variant(
        tf.raw_ops.DatasetFromGraph(graph_def=graph_def), texts.element_spec)
    assert [b.numpy().tolist() for b in rebuilt] == [b.numpy().tolist() for b in texts]
    in_python = tf.data.Dataset.range(2).map(
        lambda i: tf.py_function(lambda x: x + 1, [i], tf.int64))
    with pytest.raises(ValueError, match=re.escape(
            "each worker rebuilds the input pipeline from its graph, and this one calls Python "
            "(EagerPyFunc: a tf.py_function")):
        serialize_for_workers(in_python)


def _reap(procs):
    for p in procs.values():
        if p.poll() is None:
            p.kill()
        p.wait()


def _write_reviews(folder):
    """Train, validation and test CSV files of reviews that say their label."""
    rows = [(f"the {WORDS[i % 8]} was {'good' if i % 2 else 'bad'} number {i}",
             "good" if i % 2 else "bad") for i in range(120)]
    for split, keep in (("train", lambda i: i % 6 < 4), ("validation", lambda i: i % 6 == 4),
                        ("test", lambda i: i % 6 == 5)):
        write_csv(os.path.join(folder, f"{split}.csv"), ["review", "score"],
                  [row for i, row in enumerate(rows) if keep(i)])
    return f"csv:{folder}/{{split}}.csv"


def _start(tmp_path, *flags):
    """Starts the 4 tasks with `flags` besides the run's; returns ({(role, index): process},
    {(role, index): log path})."""
    dataset = _write_reviews(str(tmp_path / "data"))
    ports = iter(free_ports(len(TASKS)))
    cluster = {}
    for role, _ in TASKS:
        cluster.setdefault(role, []).append(f"127.0.0.1:{next(ports)}")
    command = [sys.executable, "-m", "trainers.train", "--config=tiny",
               f"--model_dir={tmp_path / 'run'}", "--strategy=parameter_server",
               f"--dataset={dataset}", "--data_option=text_column=review",
               "--data_option=label_column=score", f"--epochs={EPOCHS}",
               f"--override=steps_per_epoch={STEPS}",
               f"--override=checkpoint_every={CHECKPOINT_EVERY}", *flags]
    procs, logs = {}, {}
    try:
        for role, index in TASKS:
            tf_config = json.dumps({"cluster": cluster, "task": {"type": role, "index": index}})
            logs[role, index] = tmp_path / f"{role}{index}.log"
            with open(logs[role, index], "w") as log:
                procs[role, index] = subprocess.Popen(
                    command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True,
                    env=worker_env({"TF_CONFIG": tf_config, "PYTHONUNBUFFERED": "1"}))
    except BaseException:
        _reap(procs)
        raise
    return procs, logs


def _tail(logs, key):
    return f"{key}:\n" + logs[key].read_text()[-3000:]


def _wait_all(procs, logs):
    """Waits for the chief, then for the servers it released; returns their exit statuses."""
    try:
        procs["chief", 0].wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"The chief ran past {TIMEOUT_S} s. " + _tail(logs, ("chief", 0)))
    for p in procs.values():
        try:
            p.wait(timeout=60)  # released by the chief: they exit on their own
        except subprocess.TimeoutExpired:
            pass
    return {key: p.poll() for key, p in procs.items()}


def _assert_trained_to_the_end(tmp_path, logs):
    run = tmp_path / "run"
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == EPOCHS, _tail(logs, ("chief", 0))
    assert history["loss"][-1] < history["loss"][0]
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["steps_per_epoch"] == STEPS
    last = run / "checkpoints" / f"ckpt-{EPOCHS * STEPS}.index"
    assert last.exists(), sorted(os.listdir(run / "checkpoints"))
    assert (run / "best.weights.h5").exists()
    return last


def test_a_worker_killed_mid_training_and_the_job_still_finishes_exports_and_the_servers_exit(
        tmp_path):
    """One cluster run for both promises (each cluster costs 4 TensorFlow starts): the chief,
    two workers and a ps train to the end, export, and the servers still running exit on their
    own; and a worker killed mid-training does not stop the job (its steps go to the other)."""
    first = tmp_path / "run" / "checkpoints" / f"ckpt-{CHECKPOINT_EVERY}.index"
    started = time.time()
    procs, logs = _start(tmp_path, f"--export_dir={tmp_path / 'export'}")
    try:
        while not first.exists() and procs["chief", 0].poll() is None:
            assert time.time() - started < TIMEOUT_S, _tail(logs, ("chief", 0))
            time.sleep(0.05)
        procs["worker", 1].send_signal(signal.SIGKILL)  # 15 of the 20 steps still to run
        killed = time.time()
        status = _wait_all(procs, logs)
    finally:
        _reap(procs)
    assert status["worker", 1] == -signal.SIGKILL
    assert status["chief", 0] == 0, _tail(logs, ("chief", 0))
    for key in (("ps", 0), ("worker", 0)):  # each server left exited cleanly once the chief
        assert status[key] == 0, _tail(logs, key)  # was done
        assert "the chief's run is done; exiting." in logs[key].read_text()
    last = _assert_trained_to_the_end(tmp_path, logs)
    # The last epochs' steps ran after the kill: the coordinator gave them to worker 0.
    assert os.path.getmtime(last) > killed
    chief = logs["chief", 0].read_text()
    assert "Could not tell /job:worker/replica:0/task:1 that the run is done" in chief, chief
    assert "Traceback" not in chief
    # The chief exported the weights it reads from the ps task: served, they score the test
    # split as the chief's evaluation did.
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["export_path"] == str(tmp_path / "export" / "1")
    serve = tf.saved_model.load(metrics["export_path"]).signatures["serving_default"]
    with open(tmp_path / "data" / "test.csv") as f:
        rows = list(csv.reader(f))[1:]
    answers = serve(text=tf.constant([text for text, _ in rows]))["class_name"].numpy()
    accuracy = np.mean([a.decode() == label for a, (_, label) in zip(answers, rows)])
    np.testing.assert_allclose(accuracy, metrics["test_accuracy"], atol=1e-6)
    print(f"parameter-server run with a lost worker: {time.time() - started:.1f} s; the job "
          f"finished {os.path.getmtime(last) - killed:.1f} s after the kill")
