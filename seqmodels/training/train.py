"""`train_and_evaluate(config, model_dir)`: data and model under the strategy, train, test, export.

Task-agnostic: the task's module (found through `seqmodels.tasks.get(config.task)`) builds
the model and its batches, and draws its own pictures; this module trains whatever it builds.
The absl binary `trainers/train.py` parses flags into a `TrainConfig` and calls this function;
tests call it directly with a tiny config.
"""

import math
import os

import keras
import tensorflow as tf

from seqmodels import tasks
from seqmodels.training import checkpoints, distribute, parameter_server, preflight
from seqmodels.training.config import TrainConfig
from seqmodels.training.config_guard import check_same_run
from seqmodels.training.custom_loop import CustomTrainingLoop, saved_step
from seqmodels.training.optimizers import make_optimizer
from seqmodels.training.run_dir import RunDir


def _optimizer(config, total_steps, learning_rate):
    run = config.run
    return make_optimizer(learning_rate, total_steps, warmup_fraction=run.warmup_fraction,
                          weight_decay=run.weight_decay, schedule="cosine",
                          loss_scale=run.mixed_precision == "mixed_float16")


def _pictures(config, task, history, run_dir):
    """Training curves and the task's own pictures (attention maps, where it has them)."""
    from seqmodels import viz

    paths = [viz.plot_training_curves(history, run_dir.picture("training_curves.png"))]
    draw = tasks.get(config.task).pictures
    if draw is not None:
        paths.extend(draw(config, task, run_dir))
    return paths


def _monitor(task):
    """The validation metric that picks the best epoch and whether higher is better."""
    return ("val_accuracy", 1.0) if task.accuracy else ("val_loss", -1.0)


def train_and_evaluate(config, model_dir):
    """Trains `config`'s model on its dataset, evaluates it on the test split and exports it.

    Writes into `model_dir` (see `seqmodels.training.run_dir.RunDir`): `config.json`,
    `checkpoints/` (resumable backups), `logs/` (TensorBoard), `best.weights.h5` (best
    validation accuracy, or loss where accuracy means nothing; the test split is evaluated with
    these weights), `history.json` and `metrics.json` (per-epoch history and test metrics), PNG
    pictures and, with `config.run.export_dir`, the servable SavedModel.

    When the task hands back a `FineTune` (a pretrained backbone with `head_epochs > 0`),
    training follows the two-phase schedule of `seqmodels.transfer.fine_tune` with this custom
    loop: epochs `[0, head_epochs)` train the head on the frozen backbone at `learning_rate`;
    then `FineTune.unfreeze` unfreezes the top backbone layers (BatchNormalization stays frozen,
    in inference mode) and a second loop trains the remaining epochs with a fresh optimizer of
    the same kind (AdamW, linear warm-up over `warmup_fraction` of the phase's steps, cosine
    decay to 0 at its end) peaking at the phase's learning rate; phase 1's schedule spans
    phase 1 only. Epoch numbers, logs, the history and the best-epoch selection run on through
    both phases. Restarted after a kill, a run resumes in the phase its latest checkpoint was
    written in: in phase 2 with the backbone unfrozen again and phase 2's optimizer state.

    Args:
        config: a `TrainConfig`.
        model_dir: the run's directory; running again with the same one resumes.

    Returns:
        The metrics dict also written to `metrics.json`, plus `model` and `task` (the `Task`).

    Raises:
        PreflightError: `model_dir` or `export_dir` is a file or not writable, `--strategy=tpu`
            has no `--tpu`, or TF_CONFIG does not fit a cluster strategy
            (`seqmodels.training.preflight`).
        ConfigMismatchError: `model_dir` holds a run of another model or data
            (`seqmodels.training.config_guard`).
        DataNotFoundError: the dataset is not on this machine.
        CheckpointsLostError: `model_dir` logs epochs but holds no readable checkpoint.

        Each is raised before anything is written into `model_dir`.

    Under `--strategy=parameter_server`, a process whose TF_CONFIG task is a worker or ps
    serves the chief instead (`seqmodels.training.parameter_server`) and returns `{}` when
    the chief's run is done; the chief trains with a `ParameterServerLoop`.

    Example:

    The forecasting task's tiny preset on a series of your own, a CSV file:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from seqmodels.training.config import make_config
    >>> directory = tempfile.mkdtemp()
    >>> with open(os.path.join(directory, "series.csv"), "w") as f:
    ...     _ = f.write("t,value\\n" + "".join(f"{t},{np.sin(t / 5):.4f}\\n" for t in range(300)))
    >>> config = make_config("forecasting", "tiny", dataset=f"csv:{directory}/series.csv",
    ...                      data_options=("target_columns=value", "time_column=t"))
    >>> metrics = train_and_evaluate(config, os.path.join(directory, "run"))
    Epoch 1/1
    ...
    >>> metrics["steps_per_epoch"], sorted(os.listdir(os.path.join(directory, "run")))[:3]
    (2, ['best.weights.h5', 'checkpoints', 'config.json'])
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"`config` must be a TrainConfig. Received: {type(config).__name__}")
    run, run_dir = config.run, RunDir(model_dir)
    # Validate before writing: the paths and the cluster, the saved config, then the data
    # (building the task reads every split).
    preflight.check(config, model_dir)
    check_same_run(run_dir, config)
    if run.strategy == "parameter_server" and parameter_server.server_task():
        parameter_server.serve(model_dir)
        return {}
    strategy = distribute.get_strategy(run.strategy, run.tpu, run.num_cpu_devices)
    keras.utils.set_random_seed(run.seed)
    keras.mixed_precision.set_global_policy(run.mixed_precision)
    try:
        task = tasks.build_task(config, strategy)
        fine_tune = task.fine_tune
        first_epochs = fine_tune.head_epochs if fine_tune else run.epochs  # the first loop's
        with strategy.scope():
            optimizer = _optimizer(config, task.steps_per_epoch * first_epochs,
                                   run.learning_rate)
    finally:
        # The policy is process-wide: models built later in this process must not inherit it.
        keras.mixed_precision.set_global_policy("float32")
    history = _resumable_history(run_dir, task.steps_per_epoch)
    run_dir.create()

    def make_loop(optimizer):
        loop_class = parameter_server.ParameterServerLoop \
            if run.strategy == "parameter_server" else CustomTrainingLoop
        return loop_class(task.model, optimizer, task.loss, strategy, model_dir,
                          run.global_batch_size, accuracy=task.accuracy,
                          checkpoint_every=run.checkpoint_every, jit_compile=run.jit_compile,
                          run_eagerly=run.run_eagerly)

    loop = make_loop(optimizer)
    if loop.is_chief:
        run_dir.write_config(config.to_json())
    writer = tf.summary.create_file_writer(run_dir.logs) if loop.is_chief \
        else tf.summary.create_noop_writer()
    monitor, sign = _monitor(task)
    best = {"value": max((sign * v for v in history.get(monitor, [])), default=-math.inf)}

    def on_epoch_end(epoch, logs):
        with writer.as_default():
            for name, value in logs.items():
                tf.summary.scalar(name, value, step=epoch + 1)
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
        if loop.is_chief:
            run_dir.write_history(history)
            if sign * logs.get(monitor, -sign * math.inf) > best["value"]:
                best["value"] = sign * logs[monitor]
                task.model.save_weights(run_dir.best_weights)

    # Phase 1 (or the whole run), unless a checkpoint of phase 2 says it is over.
    if not fine_tune or saved_step(model_dir) < fine_tune.head_epochs * task.steps_per_epoch:
        loop.fit(task.dataset_fn, first_epochs, task.steps_per_epoch,
                 validation_data=task.validation, on_epoch_end=on_epoch_end)
    if fine_tune:
        loop = _fine_tune_loop(config, task, strategy, make_loop)
        loop.fit(task.dataset_fn, run.epochs, task.steps_per_epoch,
                 validation_data=task.validation, on_epoch_end=on_epoch_end,
                 initial_epoch=fine_tune.head_epochs)
    if tf.io.gfile.exists(run_dir.best_weights):
        task.model.load_weights(run_dir.best_weights)  # test the epoch that validated best
    metrics = {"history": history, "steps_per_epoch": task.steps_per_epoch,
               "num_train_examples": task.num_train, "best_epoch_metric": monitor,
               f"best_{monitor}": sign * best["value"] if history.get(monitor) else math.nan}
    metrics.update({f"test_{k}": v for k, v in loop.evaluate(task.test).items()})
    if task.skipped_records:  # bad records skipped under on_bad_record=skip, per data file
        metrics["skipped_records"] = task.skipped_records
    if loop.is_chief:
        metrics["pictures"] = _pictures(config, task, history, run_dir)
    if run.export_dir and loop.is_chief:
        metrics["export_path"] = _export_once(task, run.export_dir, run_dir,
                                              int(loop.step.numpy()))
    if loop.is_chief:
        run_dir.write_metrics(metrics)
    if run.strategy == "parameter_server":
        parameter_server.release_servers(model_dir)
    metrics["model"] = task.model
    metrics["task"] = task
    return metrics


def _resumable_history(run_dir, steps_per_epoch):
    """The history a resumed run continues: the epochs its newest readable checkpoint covers.

    When newer checkpoints are unreadable, the epochs logged after the one the run resumes in
    are dropped (they are trained again), so that the history never holds two runs' epochs.

    Raises:
        CheckpointsLostError: the run directory holds history but no readable checkpoint (the
            run would start over and mix two histories).
    """
    history = run_dir.read_history()
    logged = len(history.get("loss", []))
    prefix, step, problems = checkpoints.newest_readable(run_dir.checkpoints)
    if logged and prefix is None:
        raise checkpoints.CheckpointsLostError(
            f"{run_dir.history} logs {logged} epochs, but no checkpoint in {run_dir.checkpoints} "
            f"reads back ({'; '.join(problems) or 'there is none'}). Restarting would mix two "
            "runs' histories: train in another --model_dir, or delete history.json, "
            "best.weights.h5 and checkpoints/ to start this run over.")
    done = step // steps_per_epoch
    if logged > done:
        print(f"{run_dir.history} logs {logged} epochs, but the newest readable checkpoint "
              f"({prefix}) is in epoch {done + 1}: the log of epochs {done + 1}-{logged} is "
              "dropped; they are trained again.")
        history = {name: values[:done] for name, values in history.items()}
    return history


def _fine_tune_loop(config, task, strategy, make_loop):
    """Unfreezes the backbone's top layers; the loop of phase 2, with its own optimizer.

    A new loop traces its step anew for the new trainable variables and builds the new
    optimizer on them, so its checkpoints restore into the same objects on resume.
    """
    fine_tune = task.fine_tune
    fine_tune.unfreeze(task.model)
    with strategy.scope():
        optimizer = _optimizer(
            config, task.steps_per_epoch * (config.run.epochs - fine_tune.head_epochs),
            fine_tune.learning_rate)
    loop = make_loop(optimizer)
    if loop.verbose and loop.is_chief:
        print(f"Fine-tuning from epoch {fine_tune.head_epochs + 1}: {fine_tune.description} "
              f"unfrozen (BatchNormalization frozen), peak learning rate "
              f"{fine_tune.learning_rate}.")
    return loop


def _export(task, export_dir, version=None, **options):
    from seqmodels.export import export_for_serving

    return export_for_serving(task.model, export_dir, version=version, **task.export_kwargs,
                              **options)


def _export_once(task, export_dir, run_dir, step):
    """Exports the run's model once: rerun, a run that exported at `step` adds no version.

    The version is chosen and recorded in `export.json` before the export starts; a rerun after
    a kill mid-export writes that same version (the export's rename makes it appear whole), and
    a rerun after the export finds it and returns its path. A run trained further (more epochs)
    exports a new version.
    """
    from seqmodels.export import next_version

    record = run_dir.read_export()
    if not (record and record["export_dir"] == os.path.abspath(export_dir)
            and record["step"] == step):
        record = {"export_dir": os.path.abspath(export_dir), "step": step,
                  "version": next_version(export_dir)}
        run_dir.write_export(record)
    path = os.path.join(export_dir, str(record["version"]))
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        print(f"{path} was exported by this run already (export.json); not exported again.")
        return path
    return _export(task, export_dir, record["version"])


def export_trained(model_dir, export_dir, version=None, **options):
    """Exports the best weights of a finished (or interrupted) run for TF Serving.

    Rebuilds the run's task from `model_dir/config.json` (the tokenizers are learned again from
    the same training split, so they are the ones the model was trained with), loads
    `best.weights.h5` (or, before any epoch ended, the latest checkpoint) and writes
    `export_dir/<version>/` with `seqmodels.export.export_for_serving`.

    Args:
        model_dir: the run directory `train_and_evaluate` wrote.
        export_dir: TF Serving's model base path.
        version: the integer version (default: the next free one).
        **options: more `export_for_serving` arguments (`batching`, `version_labels`).

    Returns:
        The path of the written version directory.

    Example:

    >>> export_trained("runs/default", "saved_models/sentiment")  # doctest: +SKIP
    'saved_models/sentiment/2'
    """
    run_dir = RunDir(model_dir)
    config = TrainConfig.from_json(run_dir.read_config())
    task = tasks.build_task(config, tf.distribute.get_strategy())
    path = run_dir.best_weights if tf.io.gfile.exists(run_dir.best_weights) \
        else run_dir.latest_checkpoint()
    if not path:
        raise FileNotFoundError(f"{model_dir} holds no trained weights (neither "
                                "best.weights.h5 nor a checkpoint).")
    try:
        if path == run_dir.best_weights:
            task.model.load_weights(path)
        else:  # every weight of the model must come from the checkpoint
            tf.train.Checkpoint(model=task.model).restore(
                path).assert_existing_objects_matched().expect_partial()
    except (ValueError, AssertionError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise ValueError(
            f"The weights in {path} do not fit the {type(task.model).__name__} that "
            f"{run_dir.config} describes ({first_line}). A run written before attention was "
            "built from EinsumDense projections (weights `query/kernel`, not `query_kernel`) "
            "cannot be restored by this version: train it again in a new model_dir.") from None
    return _export(task, export_dir, version, **options)
