"""Parameter-server training: the chief schedules steps, workers run them, ps tasks hold weights.

Under `--strategy=parameter_server` every task runs the same binary with its own `TF_CONFIG`
task. A `worker` or `ps` task starts its `tf.distribute.Server` and serves (`serve`) until the
chief signals that the run is done (`release_servers`), then exits with status 0. The `chief`
builds the task as every strategy does (the variables are created on the ps tasks) and trains
with `ParameterServerLoop`: a `tf.distribute.coordinator.ClusterCoordinator` schedules each step
on whichever worker is free; the chief evaluates, checkpoints and writes the run directory
itself.

Training is asynchronous: each worker reads the variables, computes one global batch's gradient
and applies it, without waiting for the others. A worker that dies costs nothing but its share
of the speed: the coordinator runs the step it was running, and the steps after it, on the
others (and takes the worker back if it returns). A lost ps task ends the chief's run with
TensorFlow's error (the variables are gone): stop every task and start them all again with the
same command; the chief resumes from its last checkpoint.

The input pipeline runs on the workers (per-worker datasets): each epoch, `dataset_fn(epoch)`
is serialized on the chief and rebuilt on every worker, which keeps every `num_workers`-th of
the epoch's global batches (the shard index comes from a queue on the first ps task, so the
shards of the workers that build it are distinct). Steps go to whoever is free, so a fast
worker may run past its shard into the epoch's batches again; a resumed epoch starts its
workers' shards over. Exact resume (same weights as an uninterrupted run) is therefore a
promise of `CustomTrainingLoop`, not of this loop. Pipelines that run Python (a
`tf.py_function`: `jsonl:` files are parsed in Python) cannot be rebuilt on a worker and are
refused with a message.
"""

import os
import sys
import threading
import time

import keras
import tensorflow as tf

from seqmodels.training import preflight
from seqmodels.training.custom_loop import CustomTrainingLoop, check_finite

SERVER_ROLES = ("worker", "ps")
SCHEDULE_AHEAD = 32  # steps scheduled between joins: how long a SIGTERM waits, at most
_PYTHON_OPS = ("PyFunc", "PyFuncStateless", "EagerPyFunc")


def server_task(environ=None):
    """This process's `(role, index)` when its `TF_CONFIG` task is a worker or ps, else None.

    Example:

    >>> cluster = '"cluster": {"chief": ["h:1"], "worker": ["h:2"], "ps": ["h:3", "h:4"]}'
    >>> server_task({"TF_CONFIG": '{' + cluster + ', "task": {"type": "ps", "index": 1}}'})
    ('ps', 1)
    >>> server_task({"TF_CONFIG": '{' + cluster + ', "task": {"type": "chief", "index": 0}}'})
    >>> server_task({})
    """
    try:
        _, role, index = preflight.cluster_task(environ)
    except preflight.PreflightError:  # no cluster task: `preflight.check` names what is wrong
        return None
    return (role, index) if role in SERVER_ROLES else None


def done_marker(model_dir, role, index):
    """The file whose appearance ends the server of task `role:index` (`serve`).

    The chief writes it through the cluster (`release_servers`), so it lands on the server's
    own disk, whether or not `model_dir` is shared.

    Example:

    >>> done_marker("runs/ps", "worker", 1)
    'runs/ps/servers/worker-1.done'
    """
    return os.path.join(model_dir, "servers", f"{role}-{index}.done")


def serve(model_dir, poll_seconds=0.5):
    """Runs this worker or ps task's `tf.distribute.Server` until the chief is done.

    A plain `server.join()` never returns; this server instead waits for its `done_marker`,
    which `release_servers` writes when the chief's run ends, removes it and returns. (If the
    chief fails instead, the server keeps serving, so that the chief started again finds it.)

    Args:
        model_dir: the run directory the chief was given too (`--model_dir`).
        poll_seconds: how often to look for the marker.

    Returns:
        The task's name, e.g. `"/job:worker/replica:0/task:1"`.
    """
    role, index = server_task()
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    marker = done_marker(model_dir, role, index)
    tf.io.gfile.makedirs(os.path.dirname(marker))
    if tf.io.gfile.exists(marker):  # from an earlier run of this model_dir
        tf.io.gfile.remove(marker)
    tf.distribute.Server(resolver.cluster_spec(), job_name=role, task_index=index,
                         protocol=resolver.rpc_layer or "grpc", start=True)
    name = f"/job:{role}/replica:0/task:{index}"
    print(f"{name} serving at {resolver.cluster_spec().task_address(role, index)} until the "
          "chief's run is done.", flush=True)
    while not tf.io.gfile.exists(marker):
        time.sleep(poll_seconds)
    tf.io.gfile.remove(marker)
    print(f"{name}: the chief's run is done; exiting.", flush=True)
    return name


def release_servers(model_dir, timeout=30.0):
    """Tells every worker and ps task of the chief's cluster that the run is done.

    Each task's `done_marker` is written by an op placed on that task, so each server exits
    (`serve`). A task that is gone (a lost worker) cannot be told and needs nothing.

    Args:
        model_dir: the run directory (the servers were given the same `--model_dir`).
        timeout: seconds to wait for all tasks together.

    Returns:
        The names of the tasks that could not be told.
    """
    cluster = tf.distribute.cluster_resolver.TFConfigClusterResolver().cluster_spec().as_dict()
    told = set()

    def tell(role, index):
        try:
            with tf.device(f"/job:{role}/replica:0/task:{index}/device:CPU:0"):
                tf.io.write_file(done_marker(model_dir, role, index), "")
            told.add((role, index))
        except (tf.errors.OpError, ValueError, RuntimeError):
            pass  # gone: nothing to stop
    tasks = [(role, index) for role in SERVER_ROLES for index in range(len(cluster.get(role, [])))]
    threads = [threading.Thread(target=tell, args=task, daemon=True) for task in tasks]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    missed = [f"/job:{role}/replica:0/task:{index}" for role, index in tasks
              if (role, index) not in told]
    if missed:
        print(f"Could not tell {', '.join(missed)} that the run is done (gone, or not "
              "reachable): stop any that is still running yourself.", file=sys.stderr)
    return missed


def serialize_for_workers(dataset):
    """The serialized graph of `dataset`, from which each worker rebuilds it.

    A worker runs `tf.raw_ops.DatasetFromGraph` on it; captured state such as a vectorizer's
    lookup table travels inside the graph. Python cannot travel: a pipeline with a
    `tf.py_function` (or `Dataset.from_generator`) is refused here, on the chief.

    Args:
        dataset: a `tf.data.Dataset`.

    Returns:
        A scalar string tensor, the `GraphDef`.

    Raises:
        ValueError: the pipeline calls Python, naming the op.

    Example:

    >>> dataset = tf.data.Dataset.range(3).map(lambda i: i * 2)
    >>> graph_def = serialize_for_workers(dataset)
    >>> rebuilt = tf.data.experimental.from_variant(
    ...     tf.raw_ops.DatasetFromGraph(graph_def=graph_def), dataset.element_spec)
    >>> [int(i) for i in rebuilt]
    [0, 2, 4]
    """
    graph_def = tf.raw_ops.DatasetToGraphV2(
        input_dataset=tf.data.experimental.to_variant(dataset),
        external_state_policy=tf.data.experimental.ExternalStatePolicy.WARN.value,
        strip_device_assignment=True)
    graph = tf.compat.v1.GraphDef.FromString(graph_def.numpy())
    ops = {node.op for node in graph.node}
    ops.update(node.op for function in graph.library.function for node in function.node_def)
    python = sorted(ops.intersection(_PYTHON_OPS))
    if python:
        raise ValueError(
            "Under --strategy=parameter_server each worker rebuilds the input pipeline from its "
            f"graph, and this one calls Python ({', '.join(python)}: a tf.py_function or "
            "Dataset.from_generator; jsonl: files are parsed in Python), which a worker cannot "
            "run. Use csv:, tsv: or tfrecord: files, or another --strategy.")
    return graph_def


class ParameterServerLoop(CustomTrainingLoop):
    """Trains on a parameter-server cluster from its chief, with a `ClusterCoordinator`.

    The same arguments, step, loss, metrics, checkpoints and `fit` as `CustomTrainingLoop`
    (it is one, for the chief): `fit` schedules each epoch's steps on the workers
    (`ClusterCoordinator.schedule`, at most `SCHEDULE_AHEAD` ahead of the last `join`), sums the
    steps' losses and metrics when they come back, and checkpoints between joins. Evaluation
    runs on the chief, reading the variables from the ps tasks. SIGTERM on the chief stops
    scheduling, waits for the scheduled steps, checkpoints and exits with status 42.

    Args:
        model: the Keras model, built inside the `ParameterServerStrategy`'s scope.
        optimizer: its optimizer, built inside that scope.
        loss_fn: `loss_fn(y_true, y_pred)`, unreduced losses.
        strategy: the `tf.distribute.ParameterServerStrategy` of the chief.
        model_dir: where the chief writes checkpoints (`model_dir/checkpoints`).
        global_batch_size: the batch size of `dataset_fn`'s batches; each step trains on one.
        **kwargs: `accuracy`, `checkpoint_every`, `max_to_keep`, `jit_compile`, `verbose`, as
            for `CustomTrainingLoop`.

    Example:

    On a cluster of one chief, two workers and one ps task (their `TF_CONFIG`s set; the
    worker and ps tasks run `serve`), as `train_and_evaluate` does on the chief:

    >>> strategy = tf.distribute.ParameterServerStrategy(  # doctest: +SKIP
    ...     tf.distribute.cluster_resolver.TFConfigClusterResolver())
    >>> with strategy.scope():  # doctest: +SKIP
    ...     model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    ...     optimizer = keras.optimizers.Adam(0.1)
    >>> loop = ParameterServerLoop(  # doctest: +SKIP
    ...     model, optimizer, keras.losses.MeanSquaredError(reduction=None), strategy,
    ...     "runs/ps", 32)
    >>> history = loop.fit(dataset_fn, epochs=2, steps_per_epoch=4)  # doctest: +SKIP
    >>> release_servers("runs/ps")  # doctest: +SKIP
    []
    """

    def __init__(self, model, optimizer, loss_fn, strategy, model_dir, global_batch_size,
                 **kwargs):
        if not isinstance(strategy, tf.distribute.experimental.ParameterServerStrategy):
            raise TypeError("`strategy` must be a tf.distribute.ParameterServerStrategy. "
                            f"Received: strategy={type(strategy).__name__}")
        super().__init__(model, optimizer, loss_fn, strategy, model_dir, global_batch_size,
                         **kwargs)
        self.coordinator = tf.distribute.coordinator.ClusterCoordinator(strategy)
        cluster = tf.distribute.cluster_resolver.TFConfigClusterResolver().cluster_spec()
        self.num_workers = cluster.num_tasks("worker")
        self._ps_device = "/job:ps/replica:0/task:0/device:CPU:0"

        def scheduled_step(iterator):  # runs on a worker; `stop` is the chief's business here
            return self.train_step(next(iterator), tf.zeros([]))
        self._scheduled_step = tf.function(scheduled_step)
        self._chief_eval_step = tf.function(self.replica_eval_step,
                                            jit_compile=self.jit_compile)

    def evaluate(self, dataset):
        """Returns the mean loss (and accuracy) over `dataset`, computed on the chief."""
        totals, steps = {}, 0
        for batch in dataset:
            for k, v in self._chief_eval_step(batch).items():
                totals[k] = totals.get(k, 0.0) + float(v)
            steps += 1
        return self.logs_of(totals, steps)

    def per_worker_batches(self, dataset_fn, epoch, steps_per_epoch):
        """The per-worker iterators of `epoch`: each worker's shard of its global batches.

        Args:
            dataset_fn: `dataset_fn(epoch)`, the epoch's global batches (at least
                `steps_per_epoch`).
            epoch: the epoch.
            steps_per_epoch: the epoch's batches, repeated so that no worker runs out.

        Returns:
            A `PerWorkerValues` of iterators, an argument of `coordinator.schedule`.

        Raises:
            ValueError: the pipeline runs Python, which a worker cannot rebuild
                (`serialize_for_workers`).
        """
        batches = dataset_fn(epoch).take(steps_per_epoch).repeat()
        graph_def = serialize_for_workers(batches)
        spec = batches.element_spec
        num_workers = self.num_workers
        with tf.device(self._ps_device):
            # Shard indices 0..n-1 for the n workers, then spares for workers that come back.
            shards = tf.queue.FIFOQueue(16 * num_workers, tf.int64, shapes=[[]])
        shards.enqueue_many(tf.range(16 * num_workers, dtype=tf.int64) % num_workers)
        self._shards = shards  # alive while the workers build (and rebuild) their datasets

        def worker_batches():  # traced on the chief, run on each worker
            rebuilt = tf.data.experimental.from_variant(
                tf.raw_ops.DatasetFromGraph(graph_def=graph_def), spec)
            return rebuilt.shard(num_workers, shards.dequeue())
        return iter(self.coordinator.create_per_worker_dataset(worker_batches))

    def run_epochs(self, watcher, dataset_fn, epochs, steps_per_epoch, validation_data,
                   on_epoch_end, initial_epoch):
        """The epochs of `fit`: each epoch's steps scheduled on the workers; the history."""
        history = {}
        start = self.restore(initial_epoch * steps_per_epoch)
        first_epoch, skip = divmod(start, steps_per_epoch)
        if start > initial_epoch * steps_per_epoch and self.verbose:
            print(f"Resuming from step {start}: epoch {first_epoch + 1}, batch {skip + 1}.")
        for epoch in range(first_epoch, epochs):
            done = skip if epoch == first_epoch else 0
            if self.verbose:
                print(f"Epoch {epoch + 1}/{epochs}")
            bar = keras.utils.Progbar(steps_per_epoch, verbose=self.verbose)
            totals, steps, started = {}, 0, time.perf_counter()
            iterator = self.per_worker_batches(dataset_fn, epoch, steps_per_epoch)
            while done < steps_per_epoch:
                ahead = min(steps_per_epoch - done, SCHEDULE_AHEAD)
                step = epoch * steps_per_epoch + done
                if self.checkpoint_every:
                    ahead = min(ahead, self.checkpoint_every - step % self.checkpoint_every)
                results = [self.coordinator.schedule(self._scheduled_step, args=(iterator,))
                           for _ in range(ahead)]
                self.coordinator.join()
                for i, result in enumerate(results):
                    sums = result.fetch()
                    sums.pop("stop")
                    check_finite(float(sums["loss"]), step + i + 1, epoch)
                    for k, v in sums.items():
                        totals[k] = totals.get(k, 0.0) + float(v)
                done, steps, step = done + ahead, steps + ahead, step + ahead
                # The chief counts the steps: a step that a lost worker left half done runs
                # again elsewhere and may have counted twice on the ps.
                self.step.assign(step)
                bar.update(done, values=list(self.logs_of(totals, steps).items()))
                due = self.checkpoint_every and step % self.checkpoint_every == 0
                if watcher.requested or (due and done < steps_per_epoch):  # else: epoch end's
                    self.save()
                if watcher.requested:
                    self.stop_preempted()
            logs = self.logs_of(totals, steps)
            logs["seconds"] = time.perf_counter() - started
            self.end_epoch(epoch, logs, history, validation_data, on_epoch_end)
        return history
