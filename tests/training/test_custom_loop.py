"""The distributed custom loop: multi-worker and mirrored runs equal a single replica; resume
after SIGKILL, SIGTERM (preemption) and a lost worker."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.training.cluster import free_ports, worker_env

WORKER = os.path.join(os.path.dirname(__file__), "distributed_worker.py")
TIMEOUT_S = 180


def _run(args, extra_env=None):
    return subprocess.run([sys.executable, WORKER, *map(str, args)], env=worker_env(extra_env),
                          capture_output=True, text=True, timeout=TIMEOUT_S)


def _weights(path):
    data = np.load(path)
    names = sorted((k for k in data.files if k.startswith("arr_")), key=lambda k: int(k[4:]))
    return [data[k] for k in names], data


@pytest.fixture(scope="module")
def single_replica(tmp_path_factory):
    """The uninterrupted single-replica run the others must equal, trained in this process (it
    is the reference, not a test of a process; the worker's `main` is the same code)."""
    from tests.training.distributed_worker import main

    tmp = tmp_path_factory.mktemp("single")
    main("default", tmp / "w.npz", tmp / "run")
    return _weights(tmp / "w.npz")


def test_mirrored_two_cpu_replicas_match_single_replica_and_sigkill_mid_epoch_resumes(
        single_replica, tmp_path):
    """One process (one TensorFlow start) for two promises. Mirrored: 2 CPU replicas end with a
    single replica's weights. SIGKILL mid-epoch: the same process then trains with the default
    strategy and kills itself right after step 3's checkpoint; started again (here in this
    process: only the run directory survives a kill), the run resumes from that checkpoint."""
    from tests.training.distributed_worker import main

    killed = _run(["mirrored", tmp_path / "m.npz", tmp_path / "mirrored", 2,
                   "then", "default", tmp_path / "w.npz", tmp_path / "run", 0, 3])
    assert killed.returncode == -9, killed.stderr[-3000:]
    weights, data = _weights(tmp_path / "m.npz")  # the mirrored run finished before the kill
    assert int(data["replicas"]) == 2
    for a, e in zip(weights, single_replica[0]):
        np.testing.assert_allclose(a, e, atol=1e-5)
    assert not (tmp_path / "w.npz").exists()
    main("default", tmp_path / "w.npz", tmp_path / "run")  # resumed
    weights, data = _weights(tmp_path / "w.npz")
    # The resumed run trained only the remaining epochs' steps, then matched the uninterrupted run.
    assert len(data["loss"]) == 2
    for a, e in zip(weights, single_replica[0]):
        np.testing.assert_allclose(a, e, atol=1e-6)


def test_resumed_run_draws_the_same_dropout_masks(tmp_path, capsys):
    """Dropout seed states are checkpointed: stop after epoch 1, resume in a new loop on a new
    model, and the weights equal an uninterrupted run's."""
    import keras
    import tensorflow as tf

    from seqmodels.training.custom_loop import CustomTrainingLoop
    from tests.training.dropout_run import fit_dropout_model

    def run(model_dir, epochs):
        return fit_dropout_model(model_dir, epochs)[0]

    uninterrupted = run(tmp_path / "a", 2)
    run(tmp_path / "b", 1)
    resumed = run(tmp_path / "b", 2)
    for a, e in zip(resumed, uninterrupted):
        np.testing.assert_allclose(a, e, atol=1e-6)

    # A checkpoint written before the seeds were saved still restores (other masks, a note).
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.5), keras.layers.Dense(3)])
    optimizer = keras.optimizers.Adam(0.01)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(4, dtype=tf.int64)
    tf.train.CheckpointManager(tf.train.Checkpoint(model=model, optimizer=optimizer, step=step),
                               str(tmp_path / "old" / "checkpoints"), 2).save(4)
    loop = CustomTrainingLoop(
        model, optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                     reduction=None),
        tf.distribute.get_strategy(), str(tmp_path / "old"), 8)
    assert loop.restore() == 4
    assert "holds no dropout seeds (written before they were saved)" in capsys.readouterr().out


def test_sigterm_checkpoints_the_step_exits_42_and_resumes_exactly(single_replica, tmp_path):
    """The preempted run is a process (its exit status and stderr); the run started again to
    resume runs in this process (only the run directory carries over)."""
    from seqmodels.training.preemption import PREEMPTED
    from tests.training.distributed_worker import main

    run = tmp_path / "run"
    preempted = _run(["default", tmp_path / "w.npz", run, 0, 0, 3])
    assert preempted.returncode == PREEMPTED == 42, preempted.stderr[-3000:]
    assert "Preempted (SIGTERM): checkpoint " in preempted.stderr
    assert "Traceback" not in preempted.stderr
    # Checkpoints come at epoch ends only here: step 3's is the preemption's.
    assert sorted(f for f in os.listdir(run / "checkpoints") if f.endswith(".index")) == [
        "ckpt-3.index"]
    assert not (tmp_path / "w.npz").exists()
    main("default", tmp_path / "w.npz", run)  # resumed
    weights, data = _weights(tmp_path / "w.npz")
    assert len(data["loss"]) == 2
    for a, e in zip(weights, single_replica[0]):
        np.testing.assert_allclose(a, e, atol=1e-6)


def _start_workers(tmp_path, run, extra_args):
    """Starts the 2 workers of a multi-worker job on free loopback ports; (procs, start times)."""
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs, started = [], []
    for i in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        started.append(time.time())
        procs.append(subprocess.Popen(
            [sys.executable, WORKER, "multi_worker_mirrored", str(tmp_path / f"w{i}.npz"),
             str(run), *map(str, extra_args[i])],
            env=worker_env({"TF_CONFIG": tf_config}), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True))
    return procs, started


def test_a_lost_worker_is_one_line_and_status_43_and_restarting_both_resumes_exactly(
        single_replica, tmp_path):
    """Also the multi-worker test: every step ran under MultiWorkerMirroredStrategy on 2
    processes, and the weights equal a single replica's (identical on both workers)."""
    from seqmodels.training.lost_worker import LOST_WORKER

    run = tmp_path / "run"
    procs, _ = _start_workers(tmp_path, run, [[], [0, 3]])  # task 1 dies after step 3
    try:
        procs[1].communicate(timeout=TIMEOUT_S)
        died = time.time()
        _, err = procs[0].communicate(timeout=TIMEOUT_S)
        detected = time.time() - died
    finally:
        for p in procs:
            p.kill()
    assert procs[1].returncode == -9
    assert procs[0].returncode == LOST_WORKER == 43, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("Lost ")]
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    assert lines[0].startswith("Lost /job:worker/replica:0/task:1 (")
    assert "Restart every task of the job with the same command: it resumes from" in lines[0]
    assert detected < 60, detected
    print(f"lost worker detected and survivor exited {detected:.1f} s after the kill")
    # Both again: they resume from the last checkpoint and end where an uninterrupted run does.
    procs, started = _start_workers(tmp_path, run, [[], []])
    try:
        outputs = [p.communicate(timeout=TIMEOUT_S) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    first_step = float(outputs[0][0].split("FIRST_STEP_AT ")[1].split()[0])
    print(f"restart to first step: {first_step - started[0]:.1f} s")
    w0, d0 = _weights(tmp_path / "w0.npz")
    w1, _ = _weights(tmp_path / "w1.npz")
    assert len(d0["loss"]) == 2 and int(d0["replicas"]) == 2  # resumed after step 3
    for a, b, e in zip(w0, w1, single_replica[0]):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, e, atol=1e-6)
    # Only the chief keeps checkpoints, in model_dir.
    assert any(f.startswith("ckpt-") for f in os.listdir(run / "checkpoints"))
