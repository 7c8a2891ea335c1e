"""Multi-worker training on your own files: two worker processes on 127.0.0.1 split the files
(or, with fewer files than workers, the records) and together see every training record exactly
once per epoch; two replicas in one process see them too."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.data.user.files import write_csv
from tests.training.cluster import free_ports, worker_env

WORKER = os.path.join(os.path.dirname(__file__), "file_data_worker.py")
TIMEOUT_S = 240
RECORDS = 32


def _run_all(commands):
    """Runs the commands together; every process is killed and reaped whatever happens."""
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for command, env in commands]
    try:
        outputs = [p.communicate(timeout=TIMEOUT_S) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """`four/`: 4 training files of 8 records (ids 0-31); `one/`: 1 training file of all 32.
    The text of a record is its id."""
    folder = tmp_path_factory.mktemp("files")
    rows = [(str(i), "ab"[i % 2]) for i in range(RECORDS)]
    for shard in range(4):
        write_csv(folder / "four" / f"train-{shard}.csv", ["id", "label"], rows[shard::4])
    write_csv(folder / "one" / "train.csv", ["id", "label"], rows)
    for name, split in [(n, s) for n in ("four", "one") for s in ("validation", "test")]:
        suffix = "-0" if name == "four" else ""
        write_csv(folder / name / f"{split}{suffix}.csv", ["id", "label"], rows[:4])
    return str(folder)


def _file_ids(shard):
    return set(range(RECORDS)[shard::4])


def test_two_workers_split_files_then_records_and_see_each_record_once(data_dir, tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    _run_all([([sys.executable, WORKER, "multi_worker_mirrored", str(tmp_path / f"w{i}.npz"),
                str(tmp_path / "run"), data_dir],
               worker_env({"TF_CONFIG": json.dumps({"cluster": cluster,
                                              "task": {"type": "worker", "index": i}})}))
              for i in range(2)])
    results = [np.load(tmp_path / f"w{i}.npz") for i in range(2)]
    assert [int(r["replicas"]) for r in results] == [2, 2]
    for name in ("four", "one"):
        for epoch in range(2):
            seen = [r[f"{name}_epoch{epoch}"].tolist() for r in results]
            assert [len(ids) for ids in seen] == [RECORDS // 2] * 2
            # Together: every training record exactly once in the epoch.
            assert sorted(seen[0] + seen[1]) == list(range(RECORDS)), (name, epoch, seen)
            if name == "four":  # 4 files, 2 workers: worker i reads files i and i + 2 only
                for worker, ids in enumerate(seen):
                    assert set(ids) == _file_ids(worker) | _file_ids(worker + 2)
            else:  # 1 file: the records alternate between the workers
                for worker, ids in enumerate(seen):
                    assert set(ids) == set(range(worker, RECORDS, 2))
        # The workers trained one model.
        for key in (k for k in results[0].files if k.startswith(f"{name}_weight")):
            np.testing.assert_array_equal(results[0][key], results[1][key])


def test_two_replicas_in_one_process_see_each_record_once(data_dir, tmp_path):
    _run_all([([sys.executable, WORKER, "mirrored", str(tmp_path / "w.npz"),
                str(tmp_path / "run"), data_dir, "2"], worker_env())])
    result = np.load(tmp_path / "w.npz")
    assert int(result["replicas"]) == 2
    for name in ("four", "one"):
        for epoch in range(2):
            assert sorted(result[f"{name}_epoch{epoch}"].tolist()) == list(range(RECORDS))
