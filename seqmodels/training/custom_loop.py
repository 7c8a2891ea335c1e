"""A distributed custom training loop that resumes exactly where it was killed.

Keras 3 `Model.fit` fails under `MultiWorkerMirroredStrategy` (keras-team/keras#20585), and its
`BackupAndRestore` restarts an interrupted epoch from its first batch. This loop runs under every
`tf.distribute` strategy (the default one included) with `strategy.run`, a `GradientTape` and
`optimizer.apply`, and it checkpoints the model, the optimizer, the dropout seeds and the step
counter together, so that a run killed mid-epoch and started again continues from its last backup
on the very batch where it stopped.

On SIGTERM it checkpoints the step and exits with status 42 (`preemption`); under multi-worker
training a lost peer ends it with status 43 and one line naming the peer (`lost_worker`); it
resumes from the newest checkpoint that reads back whole (`checkpoints`). (One class over ~400
lines: the step, the distribution, checkpointing and the failure handling are one loop.)

The data arrives through `dataset_fn(epoch)`, which must return the same batches for the same
epoch every time it is called (shuffle with a seed that depends on the epoch); on resume the loop
skips the batches the checkpoint already trained on.
"""

import inspect
import math
import os
import shutil
import sys
import tempfile
import time

import keras
import tensorflow as tf

from seqmodels.training import checkpoints, lost_worker
from seqmodels.training.preemption import Preempted, PreemptionWatcher
from seqmodels.training.run_dir import RunDir


class NonFiniteLossError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


def check_finite(loss, step, epoch):
    """Raises `NonFiniteLossError` when the training `loss` of `step` is NaN or infinite.

    Example:

    >>> check_finite(0.5, step=3, epoch=0)
    >>> check_finite(float("nan"), step=3, epoch=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    seqmodels.training.custom_loop.NonFiniteLossError: Training loss became nan at step 3 ...
    """
    if not math.isfinite(loss):
        raise NonFiniteLossError(
            f"Training loss became {loss} at step {step} (epoch {epoch + 1}); stopping. Lower the "
            "learning rate, check the inputs for NaN, or use float32.")


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def _num_workers(strategy):
    """The processes that train together (chief and workers); 1 without a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return 1
    cluster = resolver.cluster_spec().as_dict()
    return max(1, len(cluster.get("chief", [])) + len(cluster.get("worker", [])))


def _checkpoint_dir(strategy, model_dir):
    """Chief writes to `model_dir/checkpoints`; other workers to a private temporary dir."""
    directory = RunDir(model_dir).checkpoints
    if _is_chief(strategy):
        return directory
    resolver = strategy.cluster_resolver
    return os.path.join(tempfile.gettempdir(),
                        f"seqmodels_worker_{resolver.task_type}_{resolver.task_id}_{os.getpid()}")


def _unpack(batch):
    if isinstance(batch, (tuple, list)) and len(batch) == 3:
        return batch
    x, y = batch
    return x, y, None


def _float32(outputs):
    """Float outputs in float32: under mixed precision the loss is computed at full precision."""
    return tf.nest.map_structure(
        lambda t: tf.cast(t, tf.float32) if t.dtype.is_floating else t, outputs)


def _per_example(values, sample_weight):
    """Reduces per-element values to one per example, weighting by `sample_weight` if given."""
    values = tf.cast(values, tf.float32)
    axes = list(range(1, values.shape.rank))
    if sample_weight is None:
        return tf.reduce_mean(values, axis=axes) if axes else values
    weight = tf.cast(sample_weight, tf.float32)
    if not axes:
        return values * weight
    total = tf.reduce_sum(values * weight, axis=axes)
    return total / tf.maximum(tf.reduce_sum(weight, axis=axes), 1.0)


class CustomTrainingLoop:
    """Trains a Keras 3 model with `strategy.run`, resumable from checkpoints.

    The loss is averaged over the global batch (`tf.nn.compute_average_loss`), so every replica's
    gradient is its share of the global mean and the all-reduced sum equals the single-replica
    gradient over the same global batch. Model regularization losses are scaled by the number of
    replicas (`tf.nn.scale_regularization_loss`).

    Args:
        model: a built Keras model, created inside `strategy.scope()`.
        optimizer: a Keras optimizer, created inside `strategy.scope()` (a
            `keras.optimizers.LossScaleOptimizer` for float16 mixed precision).
        loss_fn: `loss_fn(y_true, y_pred)` returning unreduced losses (e.g. a Keras loss built with
            `reduction=None`), one per example or one per element.
        strategy: the `tf.distribute.Strategy` the model was built under.
        model_dir: where checkpoints go (`model_dir/checkpoints`, written by the chief only).
        global_batch_size: the batch size of the batches `dataset_fn` yields.
        accuracy: whether to also report the accuracy of `argmax(y_pred, -1)` against `y_true`.
        checkpoint_every: save a checkpoint every this many steps (0: at each epoch end only).
        max_to_keep: how many checkpoints to keep (when the newest is unreadable, the loop
            resumes from the newest one that is not).
        jit_compile: compile the step with XLA.
        run_eagerly: run the steps op by op, untraced (for debugging; `jit_compile` is then
            ignored, as Keras' `compile` ignores it).
        verbose: show a Keras progress bar (chief only).

    Example:

    A linear regression, two epochs of four steps; `dataset_fn(epoch)` shuffles with a seed of
    the epoch, so a resumed epoch replays the same batches:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(128, 3)).astype("float32")
    >>> y = x @ np.array([[1.0], [-2.0], [0.5]], "float32")
    >>> def dataset_fn(epoch):
    ...     data = tf.data.Dataset.from_tensor_slices((x, y))
    ...     return data.shuffle(128, seed=epoch).repeat().batch(32)
    >>> strategy = tf.distribute.get_strategy()
    >>> with strategy.scope():
    ...     model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    ...     optimizer = keras.optimizers.Adam(0.1)
    >>> loop = CustomTrainingLoop(model, optimizer, keras.losses.MeanSquaredError(reduction=None),
    ...                           strategy, tempfile.mkdtemp(), 32, verbose=0)
    >>> history = loop.fit(dataset_fn, epochs=2, steps_per_epoch=4)
    >>> len(history["loss"]), history["loss"][1] < history["loss"][0]
    (2, True)
    """

    def __init__(self, model, optimizer, loss_fn, strategy, model_dir, global_batch_size,
                 accuracy=False, checkpoint_every=0, max_to_keep=3, jit_compile=False,
                 run_eagerly=False, verbose=1):
        if not isinstance(global_batch_size, int) or global_batch_size < 1:
            raise ValueError("`global_batch_size` must be a positive integer. "
                             f"Received: global_batch_size={global_batch_size!r}")
        if not isinstance(checkpoint_every, int) or checkpoint_every < 0:
            raise ValueError("`checkpoint_every` must be a non-negative integer. "
                             f"Received: checkpoint_every={checkpoint_every!r}")
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.strategy = strategy
        self.model_dir = model_dir
        self.global_batch_size = global_batch_size
        self.accuracy = accuracy
        self.checkpoint_every = checkpoint_every
        self.verbose = verbose
        self.is_chief = _is_chief(strategy)
        self._workers = _num_workers(strategy)
        with strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
            if not optimizer.built:
                optimizer.build(model.trainable_variables)
        # Keras' seed generators (dropout) are not tracked by the model's checkpoint: saved
        # beside it, a resumed run draws the masks an uninterrupted one would.
        self._seeds = _seed_states(model)
        self.checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=self.step,
                                              seeds=self._seeds)
        self._checkpoint_dir = _checkpoint_dir(strategy, model_dir)
        if self.is_chief:  # an empty or garbled `checkpoint` file would stop the manager
            note = checkpoints.repair_state(self._checkpoint_dir)
            if note:
                print(note)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self._checkpoint_dir, max_to_keep=max_to_keep)
        unsupported = [layer.name for layer in model._flatten_layers()
                       if not getattr(layer, "supports_jit", True)]
        if jit_compile and unsupported:
            # As Keras' own fit does: XLA only when every layer compiles under it.
            print(f"jit_compile=True ignored: layers {', '.join(unsupported)} do not support XLA "
                  "on this backend.")
            jit_compile = False
        if jit_compile and run_eagerly:
            print("jit_compile=True ignored: the steps run eagerly (run_eagerly=True).")
            jit_compile = False
        self.jit_compile = jit_compile
        # `train_step(batch, stop)`: one step of every replica; the reduced sums.
        if run_eagerly:
            self.train_step = self._distributed_train_step
            self._eval_step = self._distributed_eval_step
        else:
            self.train_step = tf.function(self._distributed_train_step, jit_compile=jit_compile)
            self._eval_step = tf.function(self._distributed_eval_step, jit_compile=jit_compile)

    # One replica's work. -------------------------------------------------------------------
    def _replica_train_step(self, batch, stop):
        x, y, weight = _unpack(batch)
        with tf.GradientTape() as tape:
            y_pred = _float32(self.model(x, training=True))
            per_example = _per_example(self.loss_fn(y, y_pred), weight)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)
            if self.model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(self.model.losses))
            scaled = self.optimizer.scale_loss(loss)
        variables = self.model.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply(gradients, variables)
        return {**self._sums(loss, y, y_pred, weight), "stop": tf.identity(stop)}  # per replica

    def replica_eval_step(self, batch):
        """One replica's evaluation of `batch`: its sums (`loss` share, `count`, ...)."""
        x, y, weight = _unpack(batch)
        y_pred = _float32(self.model(x, training=False))
        per_example = _per_example(self.loss_fn(y, y_pred), weight)
        loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)
        return self._sums(loss, y, y_pred, weight)

    def _sums(self, loss, y, y_pred, weight):
        """Per-replica sums that add up across replicas: loss share, examples, correct ones."""
        sums = {"loss": loss, "count": tf.cast(tf.shape(y)[0], tf.float32)}
        if self.accuracy:
            hit = tf.cast(tf.equal(tf.cast(tf.argmax(y_pred, axis=-1), y.dtype), y), tf.float32)
            weight = tf.ones_like(hit) if weight is None else tf.cast(weight, tf.float32)
            sums["correct"] = tf.reduce_sum(hit * weight)
            sums["weight"] = tf.reduce_sum(weight)
        return sums

    # All replicas. ------------------------------------------------------------------------
    def _distributed_train_step(self, batch, stop):
        # `stop` (1.0 where SIGTERM arrived) summed over the replicas: every worker learns that
        # one was preempted after the same step, so all checkpoint it and stop together.
        sums = self.strategy.run(self._replica_train_step, args=(batch, stop))
        self.step.assign_add(1)
        return {k: self.strategy.reduce("SUM", v, axis=None) for k, v in sums.items()}

    def _distributed_eval_step(self, batch):
        sums = self.strategy.run(self.replica_eval_step, args=(batch,))
        return {k: self.strategy.reduce("SUM", v, axis=None) for k, v in sums.items()}

    def _distribute(self, dataset):
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        return self.strategy.experimental_distribute_dataset(dataset.with_options(options))

    def _epoch_batches(self, dataset_fn, epoch, steps, skip):
        """The distributed batches of `epoch`: its first `steps` steps, less the first `skip`.

        A `dataset_fn` with an `input_context` parameter (a dataset of your own files, see
        `seqmodels.tasks.common.epochs_of`) reads each input pipeline's share itself, in parts
        of the global batch: under a strategy of several replicas it is called once per worker
        by `distribute_datasets_from_function`, so the workers split the files (or, with fewer
        files than workers, the records), and each part is cut into per-replica batches. Any
        other `dataset_fn` yields global batches that every worker reads whole, keeping its
        share (DATA autosharding).
        """
        if self.strategy.num_replicas_in_sync == 1 or "input_context" not in inspect.signature(
                dataset_fn).parameters:
            return self._distribute(dataset_fn(epoch).take(steps).skip(skip))

        def pipeline(context):
            batches = dataset_fn(epoch, input_context=context).take(steps).skip(skip)
            if context.num_replicas_in_sync == context.num_input_pipelines:
                return batches
            # (global / pipelines, ...) -> (global / replicas, ...): the worker's replicas
            # take consecutive parts.
            return batches.rebatch(context.get_per_replica_batch_size(self.global_batch_size),
                                   drop_remainder=True)
        return self.strategy.distribute_datasets_from_function(pipeline)

    @staticmethod
    def logs_of(totals, steps):
        """The mean loss (and accuracy) of `steps` steps whose sums add up to `totals`."""
        logs = {"loss": float(totals["loss"]) / max(steps, 1)}
        if "correct" in totals:
            logs["accuracy"] = float(totals["correct"]) / max(float(totals["weight"]), 1.0)
        return logs

    def restore(self, initial_step=0):
        """Restores the latest checkpoint, if any; returns the global step it holds.

        With `initial_step > 0` this loop continues a run that an earlier loop, with another
        optimizer (another set of trainable variables), trained up to `initial_step`: a
        checkpoint at exactly `initial_step` is that loop's last one, so only the model and the
        step come from it and this loop's optimizer starts fresh; a later checkpoint is this
        loop's own and restores whole. Without any checkpoint the step starts at
        `initial_step`.

        Args:
            initial_step: the global step this loop's optimizer starts at.

        The checkpoint is the newest that reads back whole (`checkpoints.newest_readable`):
        each newer one that is missing, truncated or corrupt is reported with its file name.

        Returns:
            The global step training continues from.

        Raises:
            ValueError: when the latest checkpoint is older than `initial_step` (the earlier
                loop did not finish).
        """
        latest, _, problems = checkpoints.newest_readable(RunDir(self.model_dir).checkpoints)
        if problems and self.is_chief:
            for problem in problems:
                print(problem)
            print(f"Resuming from {latest}." if latest else "No readable checkpoint is left.")
        saved = _step_of(latest) if latest else 0
        if not latest:
            self.step.assign(initial_step)
        elif saved < initial_step:
            raise ValueError(f"The latest checkpoint {latest} is at step {saved}, before the "
                             f"initial step {initial_step} of this loop: the earlier loop did "
                             "not finish.")
        else:
            has_seeds = any(name.startswith("seeds/")
                            for name, _ in tf.train.list_variables(latest))
            objects = dict(model=self.model, step=self.step)
            if has_seeds:
                objects["seeds"] = self._seeds
            elif self._seeds and self.verbose and self.is_chief:
                print(f"{latest} holds no dropout seeds (written before they were saved): "
                      "the resumed run draws other dropout masks than an uninterrupted one.")
            if initial_step and saved == initial_step:  # the earlier loop's: not our optimizer
                tf.train.Checkpoint(**objects).restore(
                    latest).assert_existing_objects_matched().expect_partial()
            elif has_seeds or not self._seeds:
                self.checkpoint.restore(latest).assert_existing_objects_matched()
            else:
                tf.train.Checkpoint(optimizer=self.optimizer, **objects).restore(
                    latest).assert_existing_objects_matched()
        return int(self.step.numpy())

    def save(self):
        """Writes a checkpoint (every worker takes part; only the chief's is kept)."""
        self.manager.save(checkpoint_number=int(self.step.numpy()))
        if not self.is_chief:
            shutil.rmtree(self._checkpoint_dir, ignore_errors=True)

    def evaluate(self, dataset):
        """Returns the mean loss (and accuracy) over `dataset`, reduced across all replicas."""
        totals, steps = {}, 0
        for batch in self._distribute(dataset):
            for k, v in self._eval_step(batch).items():
                totals[k] = totals.get(k, 0.0) + float(v)
            steps += 1
        return self.logs_of(totals, steps)

    def fit(self, dataset_fn, epochs, steps_per_epoch, validation_data=None, on_epoch_end=None,
            initial_epoch=0):
        """Trains for `epochs` epochs of `steps_per_epoch` steps, resuming from a checkpoint.

        Args:
            dataset_fn: `dataset_fn(epoch)` returning the batched `tf.data.Dataset` of that epoch,
                the same batches each time it is called for the same epoch, with at least
                `steps_per_epoch` batches.
            epochs: the total number of epochs (including those a resumed run already did).
            steps_per_epoch: optimizer steps per epoch.
            validation_data: an optional batched dataset evaluated after each epoch.
            on_epoch_end: an optional `on_epoch_end(epoch, logs)` called on every worker.
            initial_epoch: the epochs before this one were trained by another loop on the same
                model and `model_dir` with another optimizer (a fine-tune schedule's earlier
                phase); this loop starts there with its own optimizer (see `restore`).

        Returns:
            A dict of lists, one entry per epoch run in this call (like `History.history`).

        Raises:
            NonFiniteLossError: when the training loss becomes NaN or infinite.
            Preempted: SIGTERM arrived (on any worker); the step it arrived in was finished and
                checkpointed (a `SystemExit` with status 42; see `seqmodels.training.preemption`).
            LostWorker: another worker of a multi-worker job is gone (a `SystemExit` with
                status 43 naming it; see `seqmodels.training.lost_worker`).
        """
        with PreemptionWatcher() as watcher:
            try:
                return self.run_epochs(watcher, dataset_fn, epochs, steps_per_epoch,
                                       validation_data, on_epoch_end, initial_epoch)
            except tf.errors.OpError as error:
                if self._workers == 1 or not lost_worker.is_peer_failure(error):
                    raise
                resolver = self.strategy.cluster_resolver
                own = f"/job:{resolver.task_type}/replica:0/task:{resolver.task_id}"
                latest, step, _ = checkpoints.newest_readable(RunDir(self.model_dir).checkpoints)
                lost = lost_worker.LostWorker(lost_worker.lost_tasks(str(error), own), latest,
                                              step, type(error).__name__)
                print(lost, file=sys.stderr, flush=True)
                raise lost from None

    def run_epochs(self, watcher, dataset_fn, epochs, steps_per_epoch, validation_data,
                   on_epoch_end, initial_epoch):
        """The epochs of `fit`, under its `PreemptionWatcher` `watcher`; the history.

        (A subclass runs its steps another way: `ParameterServerLoop` schedules them on the
        workers of a cluster.)
        """
        history = {}
        start = self.restore(initial_epoch * steps_per_epoch)
        first_epoch, skip = divmod(start, steps_per_epoch)
        if start > initial_epoch * steps_per_epoch and self.verbose and self.is_chief:
            print(f"Resuming from step {start}: epoch {first_epoch + 1}, batch {skip + 1}.")
        for epoch in range(first_epoch, epochs):
            remaining = steps_per_epoch - (skip if epoch == first_epoch else 0)
            if self.verbose and self.is_chief:
                print(f"Epoch {epoch + 1}/{epochs}")
            bar = keras.utils.Progbar(steps_per_epoch, verbose=self.verbose if self.is_chief else 0)
            totals, steps, started, waited = {}, 0, time.perf_counter(), 0.0
            iterator = iter(self._epoch_batches(dataset_fn, epoch, steps_per_epoch,
                                                skip if epoch == first_epoch else 0))
            for _ in range(remaining):
                t0 = time.perf_counter()
                try:
                    batch = next(iterator)
                except StopIteration:
                    raise ValueError(
                        f"`dataset_fn({epoch})` yielded {steps} batches after skipping "
                        f"{steps_per_epoch - remaining}; expected steps_per_epoch="
                        f"{steps_per_epoch}.") from None
                waited += time.perf_counter() - t0
                sums = self.train_step(batch, tf.constant(float(watcher.requested)))
                check_finite(float(sums["loss"]), int(self.step.numpy()), epoch)
                stop = float(sums.pop("stop")) > 0 or (watcher.requested and self._workers == 1)
                for k, v in sums.items():
                    totals[k] = totals.get(k, 0.0) + float(v)
                steps += 1
                bar.update(steps_per_epoch - remaining + steps,
                           values=list(self.logs_of(totals, steps).items()))
                due = self.checkpoint_every and int(self.step.numpy()) % self.checkpoint_every == 0
                if due or stop:
                    self.save()
                if stop:
                    self.stop_preempted()
            logs = self.logs_of(totals, steps)
            logs["seconds"] = time.perf_counter() - started
            logs["input_wait_fraction"] = waited / max(logs["seconds"], 1e-9)
            self.end_epoch(epoch, logs, history, validation_data, on_epoch_end)
        return history

    def stop_preempted(self):
        """Prints and raises `Preempted` for the checkpoint just written at this step."""
        step = int(self.step.numpy())
        preempted = Preempted(step, os.path.join(RunDir(self.model_dir).checkpoints,
                                                 f"ckpt-{step}"))
        print(preempted, file=sys.stderr, flush=True)
        raise preempted

    def end_epoch(self, epoch, logs, history, validation_data=None, on_epoch_end=None):
        """Ends `epoch`: validates into `logs`, checkpoints, appends `logs` to `history`.

        Then calls `on_epoch_end(epoch, logs)` and prints the logs (chief only).
        """
        if validation_data is not None:
            logs.update({f"val_{k}": v for k, v in self.evaluate(validation_data).items()})
        self.save()
        for k, v in logs.items():
            history.setdefault(k, []).append(v)
        if on_epoch_end is not None:
            on_epoch_end(epoch, logs)
        if self.verbose and self.is_chief:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))


def _seed_states(model):
    """The state variables of every Keras seed generator in `model` (dropout layers')."""
    return [generator.state for layer in model._flatten_layers()
            for generator in getattr(layer, "_seed_generators", [])]


def _step_of(checkpoint_path):
    return int(tf.train.load_variable(checkpoint_path, "step/.ATTRIBUTES/VARIABLE_VALUE"))


def saved_step(model_dir):
    """The global step of the latest checkpoint in `model_dir/checkpoints` (0 for none).

    Args:
        model_dir: a `CustomTrainingLoop`'s `model_dir`.

    Returns:
        The step as an int.
    """
    latest = RunDir(model_dir).latest_checkpoint()
    return _step_of(latest) if latest else 0

