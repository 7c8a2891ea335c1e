"""`train_and_evaluate(config, model_dir)`: data and model under the strategy, train, test, export.

The absl binary `trainers/train.py` parses flags into a `TrainConfig` and calls this function;
tests call it directly with a tiny config.
"""

import dataclasses
import json
import math
import os

import keras
import tensorflow as tf

from seqmodels.training import distribute
from seqmodels.training.config import TrainConfig
from seqmodels.training.custom_loop import CustomTrainingLoop, saved_step, write_json
from seqmodels.training.schedule import WarmupCosineDecay
from seqmodels.training.tasks import build_task


def _pictures(config, task, history, model_dir):
    """Training curves and, for attention models, the attention maps of one test example."""
    from seqmodels import viz

    paths = [viz.plot_training_curves(history, os.path.join(model_dir, "training_curves.png"))]
    if config.task == "text_classification" and config.model == "transformer" \
            and not config.backbone:
        scores = viz.encoder_attention_scores(task.model, task.attention_input)[-1][0]
        paths.append(viz.plot_attention(scores, task.tokens,
                                        os.path.join(model_dir, "attention.png"),
                                        title="last encoder block"))
    if config.task == "translation":
        source_ids, target_ids = task.attention_input
        source_tokens, target_tokens = task.tokens
        maps = viz.decoder_attention_scores(task.model, source_ids, target_ids)[-1]
        paths.append(viz.plot_cross_attention(
            maps["cross_attention"][0], source_tokens, target_tokens,
            os.path.join(model_dir, "cross_attention.png"), title="last decoder block"))
        paths.append(viz.plot_attention(
            maps["self_attention"][0], target_tokens,
            os.path.join(model_dir, "decoder_self_attention.png"), title="last decoder block"))
    return paths


def _optimizer(config, total_steps, learning_rate):
    schedule = WarmupCosineDecay(learning_rate, total_steps,
                                 int(config.warmup_fraction * total_steps))
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay)
    if config.mixed_precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def _monitor(task):
    """The validation metric that picks the best epoch and whether higher is better."""
    return ("val_accuracy", 1.0) if task.accuracy else ("val_loss", -1.0)


def train_and_evaluate(config, model_dir):
    """Trains `config`'s model on its dataset, evaluates it on the test split and exports it.

    Writes into `model_dir`: `config.json`, `checkpoints/` (resumable backups), `logs/`
    (TensorBoard), `best.weights.h5` (best validation accuracy, or loss where accuracy means
    nothing; the test split is evaluated with these weights), `history.json` and
    `metrics.json` (per-epoch history and test metrics), PNG pictures and, with
    `config.export_dir`, the servable SavedModel.

    With `config.head_epochs > 0` (a pretrained `backbone`), training follows the two-phase
    schedule of `seqmodels.transfer.fine_tune` with this custom loop: epochs
    `[0, head_epochs)` train the head on the frozen backbone at `learning_rate`; then
    `seqmodels.transfer.set_backbone_trainable` unfreezes the top `unfreeze_top` backbone
    layers (all for -1; BatchNormalization stays frozen, in inference mode) and a second loop
    trains the remaining epochs with a fresh optimizer of the same kind (AdamW, linear warm-up
    over `warmup_fraction` of the phase's steps, cosine decay to 0 at its end) peaking at
    `fine_tune_learning_rate`; phase 1's schedule spans phase 1 only. Epoch numbers, logs,
    the history and the best-epoch selection run on through both phases. Restarted after a
    kill, a run resumes in the phase its latest checkpoint was written in: in phase 2 with the
    backbone unfrozen again and phase 2's optimizer state.

    Args:
        config: a `TrainConfig`.
        model_dir: the run's directory; running again with the same one resumes.

    Returns:
        The metrics dict also written to `metrics.json`, plus `model` and `task` (the `Task`).

    Example:

    >>> metrics = train_and_evaluate(make_config("forecasting", "tiny"), "/tmp/run")  # doctest: +SKIP
    >>> metrics["test_loss"]  # doctest: +SKIP
    0.41
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"`config` must be a TrainConfig. Received: {type(config).__name__}")
    os.makedirs(model_dir, exist_ok=True)
    strategy = distribute.get_strategy(config.strategy, config.tpu, config.num_cpu_devices)
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy(config.mixed_precision)
    first_epochs = config.head_epochs or config.epochs  # the epochs of the first loop
    try:
        task = build_task(config, strategy)
        with strategy.scope():
            optimizer = _optimizer(config, task.steps_per_epoch * first_epochs,
                                   config.learning_rate)
    finally:
        # The policy is process-wide: models built later in this process must not inherit it.
        keras.mixed_precision.set_global_policy("float32")

    def make_loop(optimizer):
        return CustomTrainingLoop(task.model, optimizer, task.loss, strategy, model_dir,
                                  config.global_batch_size, accuracy=task.accuracy,
                                  checkpoint_every=config.checkpoint_every,
                                  jit_compile=config.jit_compile)

    loop = make_loop(optimizer)
    if loop.is_chief:
        write_json(os.path.join(model_dir, "config.json"), dataclasses.asdict(config))
    writer = tf.summary.create_file_writer(os.path.join(model_dir, "logs")) if loop.is_chief \
        else tf.summary.create_noop_writer()
    best_path = os.path.join(model_dir, "best.weights.h5")
    history_path = os.path.join(model_dir, "history.json")
    history = {}
    if os.path.exists(history_path):  # a resumed run keeps the epochs it already logged
        with open(history_path) as f:
            history = json.load(f)
    monitor, sign = _monitor(task)
    best = {"value": max((sign * v for v in history.get(monitor, [])), default=-math.inf)}

    def on_epoch_end(epoch, logs):
        with writer.as_default():
            for name, value in logs.items():
                tf.summary.scalar(name, value, step=epoch + 1)
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
        if loop.is_chief:
            write_json(history_path, history)
            if sign * logs.get(monitor, -sign * math.inf) > best["value"]:
                best["value"] = sign * logs[monitor]
                task.model.save_weights(best_path)

    # Phase 1 (or the whole run), unless a checkpoint of phase 2 says it is over.
    if not config.head_epochs or saved_step(model_dir) < config.head_epochs * task.steps_per_epoch:
        loop.fit(task.dataset_fn, first_epochs, task.steps_per_epoch,
                 validation_data=task.validation, on_epoch_end=on_epoch_end)
    if config.head_epochs:
        loop = _fine_tune_loop(config, task, strategy, make_loop)
        loop.fit(task.dataset_fn, config.epochs, task.steps_per_epoch,
                 validation_data=task.validation, on_epoch_end=on_epoch_end,
                 initial_epoch=config.head_epochs)
    if os.path.exists(best_path):
        task.model.load_weights(best_path)  # test the epoch that validated best
    metrics = {"history": history, "steps_per_epoch": task.steps_per_epoch,
               "num_train_examples": task.num_train, "best_epoch_metric": monitor,
               f"best_{monitor}": sign * best["value"] if history.get(monitor) else math.nan}
    metrics.update({f"test_{k}": v for k, v in loop.evaluate(task.test).items()})
    if loop.is_chief:
        metrics["pictures"] = _pictures(config, task, history, model_dir)
    if config.export_dir and loop.is_chief:
        metrics["export_path"] = _export(task, config.export_dir)
    if loop.is_chief:
        write_json(os.path.join(model_dir, "metrics.json"), metrics)
    metrics["model"] = task.model
    metrics["task"] = task
    return metrics


def _fine_tune_loop(config, task, strategy, make_loop):
    """Unfreezes the backbone's top layers; the loop of phase 2, with its own optimizer.

    A new loop traces its step anew for the new trainable variables and builds the new
    optimizer on them, so its checkpoints restore into the same objects on resume.
    """
    from seqmodels import transfer

    unfreeze_top = None if config.unfreeze_top == -1 else config.unfreeze_top
    transfer.set_backbone_trainable(task.model, unfreeze_top)
    with strategy.scope():
        optimizer = _optimizer(config, task.steps_per_epoch * (config.epochs - config.head_epochs),
                               config.fine_tune_learning_rate)
    loop = make_loop(optimizer)
    if loop.verbose and loop.is_chief:
        print(f"Fine-tuning from epoch {config.head_epochs + 1}: "
              f"{'all' if unfreeze_top is None else f'the top {unfreeze_top}'} backbone layers "
              f"unfrozen (BatchNormalization frozen), peak learning rate "
              f"{config.fine_tune_learning_rate}.")
    return loop


def _export(task, export_dir, version=None):
    from seqmodels.export import export_for_serving

    return export_for_serving(task.model, export_dir, version=version, **task.export_kwargs)


def export_trained(model_dir, export_dir, version=None):
    """Exports the best weights of a finished (or interrupted) run for TF Serving.

    Rebuilds the run's task from `model_dir/config.json` (the tokenizers are learned again from
    the same training split, so they are the ones the model was trained with), loads
    `best.weights.h5` (or, before any epoch ended, the latest checkpoint) and writes
    `export_dir/<version>/` with `seqmodels.export.export_for_serving`.

    Args:
        model_dir: the run directory `train_and_evaluate` wrote.
        export_dir: TF Serving's model base path.
        version: the integer version (default: the next free one).

    Returns:
        The path of the written version directory.

    Example:

    >>> export_trained("runs/default", "saved_models/sentiment")  # doctest: +SKIP
    'saved_models/sentiment/2'
    """
    config_path = os.path.join(model_dir, "config.json")
    if not os.path.exists(config_path):
        raise FileNotFoundError(f"{config_path} does not exist: `model_dir` must be a run "
                                f"directory of the training binary. Received: model_dir="
                                f"{model_dir!r}")
    with open(config_path) as f:
        saved = json.load(f)
    config = TrainConfig(**saved)
    task = build_task(config, tf.distribute.get_strategy())
    best_path = os.path.join(model_dir, "best.weights.h5")
    if os.path.exists(best_path):
        task.model.load_weights(best_path)
    else:
        latest = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
        if not latest:
            raise FileNotFoundError(f"{model_dir} holds no trained weights (neither "
                                    "best.weights.h5 nor a checkpoint).")
        tf.train.Checkpoint(model=task.model).restore(latest).expect_partial()
    return _export(task, export_dir, version)
