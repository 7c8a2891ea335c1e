"""Preflight: the checks a run passes before it builds anything or writes into `model_dir`.

A cluster run that finds an unwritable `--export_dir` after hours of training, or a TF_CONFIG
that names no task of this process after every worker started, wastes the whole job. `check`
looks at the paths and the cluster settings first, in milliseconds, and names the flag at
fault. (The data is checked next: `train_and_evaluate` builds the task, which reads every split,
before it writes anything; a missing source raises `seqmodels.data.DataNotFoundError`.)
"""

import json
import os

CLUSTER_STRATEGIES = ("multi_worker_mirrored", "parameter_server")


class PreflightError(ValueError):
    """A flag or an environment setting makes the run impossible; nothing was written."""


def _is_remote(path):
    return "://" in path  # gs://, s3://, hdfs://: tf.io.gfile's business, not checked here


def check_directory(flag, path, required=True):
    """Checks that `path` is, or can become, a writable directory.

    Args:
        flag: the flag's name for the message (`"model_dir"`).
        path: the directory; it need not exist, but the nearest existing ancestor must be a
            writable directory. Remote paths (`gs://...`) are not checked.
        required: whether an empty `path` is an error (else it means "none").

    Raises:
        PreflightError: naming `--<flag>`, what was expected and what was received.

    Example:

    >>> import tempfile
    >>> check_directory("model_dir", os.path.join(tempfile.mkdtemp(), "new", "run"))
    >>> check_directory("model_dir", "")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    seqmodels.training.preflight.PreflightError: `--model_dir` must name a directory. ...
    """
    if not isinstance(path, str) or not path.strip():
        if required:
            raise PreflightError(f"`--{flag}` must name a directory. Received: --{flag}={path!r}")
        return
    if _is_remote(path):
        return
    absolute = os.path.abspath(path)
    if os.path.exists(absolute) and not os.path.isdir(absolute):
        raise PreflightError(f"`--{flag}` must be a directory, but {absolute} is a file. "
                             f"Received: --{flag}={path!r}")
    existing = absolute
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise PreflightError(f"`--{flag}` cannot be created: {existing} is a file, not a "
                             f"directory. Received: --{flag}={path!r}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PreflightError(f"`--{flag}` cannot be written: {existing} is not writable by this "
                             f"user. Received: --{flag}={path!r}")


def check_cluster(strategy, tpu, environ=None, argument=None):
    """Checks the settings a strategy reads besides its flag: `--tpu` and `TF_CONFIG`.

    Args:
        strategy: the `--strategy` name.
        tpu: the `--tpu` value.
        environ: the environment (default `os.environ`).
        argument: how the messages name the strategy's setting (default
            "`--strategy=<strategy>`", the binary's flag).

    Raises:
        PreflightError: `--strategy=tpu` without `--tpu`; a cluster strategy whose TF_CONFIG is
            missing, is not JSON, or names a task that is not in its cluster; a
            parameter-server cluster without a chief, workers or ps tasks.

    Example:

    >>> check_cluster("tpu", "")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    seqmodels.training.preflight.PreflightError: `--strategy=tpu` needs `--tpu`: ...
    """
    argument = argument or f"`--strategy={strategy}`"
    if strategy == "tpu" and not tpu:
        raise PreflightError(f"{argument} needs `--tpu`: the TPU's name or grpc:// address, "
                             f"or local on a TPU VM. Received: --tpu={tpu!r}")
    if strategy not in CLUSTER_STRATEGIES:
        return
    cluster, role, index = cluster_task(environ, argument)
    raw = (os.environ if environ is None else environ).get("TF_CONFIG", "")
    prefix = f"{argument} reads the cluster from the TF_CONFIG environment variable"
    if strategy == "parameter_server":
        missing = [job for job in ("chief", "worker", "ps") if not cluster.get(job)]
        if missing:
            raise PreflightError(
                f"{prefix}; parameter-server training needs a 'chief' (the coordinator), "
                f"'worker' tasks and 'ps' tasks in its cluster, and it has no "
                f"{' and no '.join(map(repr, missing))}. Received: TF_CONFIG={raw!r}")
        if role not in ("chief", "worker", "ps"):
            raise PreflightError(
                f"{prefix}; under parameter-server training a task is the 'chief', a 'worker' "
                f"or a 'ps' (run an evaluator with --mode=continuous_evaluate instead). "
                f"Received: task {role}:{index}, TF_CONFIG={raw!r}")


def cluster_task(environ=None, argument="a cluster strategy"):
    """The cluster and this process's task that `TF_CONFIG` describes: the one reader of it.

    Args:
        environ: the environment (default `os.environ`).
        argument: what reads the cluster, for the messages.

    Returns:
        `(cluster, role, index)`: the addresses by role, and this process's task in them.

    Raises:
        PreflightError: TF_CONFIG is missing, is not JSON, has no cluster or no task, or its
            task is not in its cluster.

    Example:

    >>> cluster_task({"TF_CONFIG": '{"cluster": {"ps": ["h:1", "h:2"]}, '
    ...                            '"task": {"type": "ps", "index": 1}}'})
    ({'ps': ['h:1', 'h:2']}, 'ps', 1)
    """
    raw = (os.environ if environ is None else environ).get("TF_CONFIG", "")
    prefix = f"{argument} reads the cluster from the TF_CONFIG environment variable"
    if not raw.strip():
        raise PreflightError(f"{prefix}, which is not set. Set it to the cluster's addresses by "
                             "role and this process's task, e.g. TF_CONFIG='{\"cluster\": "
                             "{\"worker\": [\"host1:port\", \"host2:port\"]}, \"task\": "
                             "{\"type\": \"worker\", \"index\": 0}}'")
    try:
        tf_config = json.loads(raw)
    except ValueError:
        raise PreflightError(f"{prefix}, which must be JSON. Received: TF_CONFIG={raw!r}") from None
    cluster = tf_config.get("cluster") if isinstance(tf_config, dict) else None
    task = tf_config.get("task") if isinstance(tf_config, dict) else None
    if not isinstance(cluster, dict) or not cluster:
        raise PreflightError(f"{prefix}; it has no 'cluster' of addresses by role. "
                             f"Received: TF_CONFIG={raw!r}")
    if not isinstance(task, dict) or "type" not in task:
        raise PreflightError(f"{prefix}; it has no 'task' ({{'type': ..., 'index': ...}}) saying "
                             f"which of the cluster's tasks this process is. Received: "
                             f"TF_CONFIG={raw!r}")
    role, index = task["type"], task.get("index", 0)
    if role not in cluster or not isinstance(index, int) or not 0 <= index < len(cluster[role]):
        raise PreflightError(f"{prefix}; its task {role}:{index} is not in its cluster "
                             f"({', '.join(f'{k}: {len(v)}' for k, v in cluster.items())}). "
                             f"Received: TF_CONFIG={raw!r}")
    return cluster, role, index


def check(config, model_dir):
    """Every preflight check of a training run: `model_dir`, `export_dir`, the cluster.

    Args:
        config: the run's `TrainConfig`.
        model_dir: the run directory.

    Raises:
        PreflightError: naming the flag at fault.
    """
    check_directory("model_dir", model_dir)
    check_directory("export_dir", config.run.export_dir, required=False)
    check_cluster(config.run.strategy, config.run.tpu)
