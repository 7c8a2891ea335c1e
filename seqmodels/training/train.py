"""`train_and_evaluate(config, model_dir)`: data and model under the strategy, train, test, export.

The absl binary `trainers/train.py` parses flags into a `TrainConfig` and calls this function;
tests call it directly with a tiny config.
"""

import dataclasses
import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

from seqmodels import data
from seqmodels.models.text_classifier import TextClassifier
from seqmodels.training import distribute
from seqmodels.training.config import TrainConfig
from seqmodels.training.custom_loop import CustomTrainingLoop, write_json
from seqmodels.training.schedule import WarmupCosineDecay

CLASS_NAMES = {"rotten_tomatoes": ["rotten", "fresh"]}


def _text_classification(config, strategy):
    """Datasets, vectorizer, model and loss of the text-classification task."""
    train = data.load(config.dataset, "train")
    if config.max_examples:
        train = train.take(config.max_examples)
    train = train.cache()
    num_train = int(train.reduce(0, lambda n, _: n + 1))
    vectorizer = data.text_vectorizer(train.map(lambda text, label: text), config.vocab_size,
                                      sequence_length=config.sequence_length)
    batch = config.global_batch_size
    steps_per_epoch = config.steps_per_epoch or num_train // batch
    if steps_per_epoch < 1:
        raise ValueError(f"The training split has {num_train} examples, fewer than one global "
                         f"batch of {batch}; lower global_batch_size or set steps_per_epoch.")

    def dataset_fn(epoch):
        # Shuffled by (seed, epoch): the same batches whenever the epoch is replayed on resume.
        shuffled = train.shuffle(16384, seed=config.seed * 1000 + epoch,
                                 reshuffle_each_iteration=False).repeat()
        return data.text_classification_pipeline(shuffled, vectorizer, batch,
                                                  drop_remainder=True)

    def evaluation(split):
        return data.text_classification_pipeline(data.load(config.dataset, split), vectorizer,
                                                 batch)

    info = data.info(config.dataset)
    with strategy.scope():
        model = TextClassifier(
            vocab_size=config.vocab_size, num_classes=info.num_classes, encoder=config.model,
            sequence_length=config.sequence_length, hidden_dim=config.hidden_dim,
            num_layers=config.num_layers, num_heads=config.num_heads,
            intermediate_dim=config.intermediate_dim, dropout=config.dropout)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    class_names = CLASS_NAMES.get(config.dataset, [str(i) for i in range(info.num_classes)])
    return dict(model=model, loss=loss, dataset_fn=dataset_fn, steps_per_epoch=steps_per_epoch,
                validation=evaluation("validation"), test=evaluation("test"),
                vectorizer=vectorizer, class_names=class_names, num_train=num_train)


TASK_BUILDERS = {"text_classification": _text_classification}


def _pictures(config, task, history, model_dir):
    """Training curves and, for attention models, the attention map of one test sentence."""
    from seqmodels import viz

    paths = [viz.plot_training_curves(history, os.path.join(model_dir, "training_curves.png"))]
    if config.model == "transformer":
        text = next(iter(data.load(config.dataset, "test").take(1)))[0]
        ids = task["vectorizer"](tf.expand_dims(text, 0)).numpy()
        length = max(int((ids[0] != 0).sum()), 1)
        vocabulary = task["vectorizer"].get_vocabulary()
        tokens = [vocabulary[i] for i in ids[0, :length]]
        scores = viz.encoder_attention_scores(task["model"], ids[:, :length])[-1][0]
        paths.append(viz.plot_attention(scores, tokens, os.path.join(model_dir, "attention.png"),
                                        title="last encoder block"))
    return paths


def _optimizer(config, total_steps):
    schedule = WarmupCosineDecay(config.learning_rate, total_steps,
                                 int(config.warmup_fraction * total_steps))
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay)
    if config.mixed_precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def train_and_evaluate(config, model_dir):
    """Trains `config`'s model on its dataset, evaluates it on the test split and exports it.

    Writes into `model_dir`: `config.json`, `checkpoints/` (resumable backups), `logs/`
    (TensorBoard), `best.weights.h5` (best validation accuracy; the test split is evaluated
    with these weights), `metrics.json` (per-epoch history and test metrics), PNG pictures and, with `config.export_dir`, the servable SavedModel.

    Args:
        config: a `TrainConfig`.
        model_dir: the run's directory; running again with the same one resumes.

    Returns:
        The metrics dict also written to `metrics.json`.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"`config` must be a TrainConfig. Received: {type(config).__name__}")
    if config.task not in TASK_BUILDERS:
        raise ValueError(
            f"The training binary does not train task {config.task!r} yet; available: "
            f"{', '.join(TASK_BUILDERS)}.")
    os.makedirs(model_dir, exist_ok=True)
    strategy = distribute.get_strategy(config.strategy, config.tpu, config.num_cpu_devices)
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy(config.mixed_precision)
    task = TASK_BUILDERS[config.task](config, strategy)
    with strategy.scope():
        optimizer = _optimizer(config, task["steps_per_epoch"] * config.epochs)
    loop = CustomTrainingLoop(task["model"], optimizer, task["loss"], strategy, model_dir,
                              config.global_batch_size, accuracy=True,
                              checkpoint_every=config.checkpoint_every,
                              jit_compile=config.jit_compile)
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
    best = {"val_accuracy": max(history.get("val_accuracy", [-math.inf]))}

    def on_epoch_end(epoch, logs):
        with writer.as_default():
            for name, value in logs.items():
                tf.summary.scalar(name, value, step=epoch + 1)
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
        if loop.is_chief:
            write_json(history_path, history)
            if logs.get("val_accuracy", -math.inf) > best["val_accuracy"]:
                best["val_accuracy"] = logs["val_accuracy"]
                task["model"].save_weights(best_path)

    loop.fit(task["dataset_fn"], config.epochs, task["steps_per_epoch"],
             validation_data=task["validation"], on_epoch_end=on_epoch_end)
    if os.path.exists(best_path):
        task["model"].load_weights(best_path)  # test the epoch that validated best
    metrics = {"history": history, "steps_per_epoch": task["steps_per_epoch"],
               "num_train_examples": task["num_train"],
               "best_val_accuracy": max(history.get("val_accuracy", [float("nan")]))}
    metrics.update({f"test_{k}": v for k, v in loop.evaluate(task["test"]).items()})
    if loop.is_chief:
        metrics["pictures"] = _pictures(config, task, history, model_dir)
    if config.export_dir and loop.is_chief:
        from seqmodels.export import export_text_classifier

        metrics["export_path"] = export_text_classifier(
            task["model"], task["vectorizer"], task["class_names"], config.export_dir)
    if loop.is_chief:
        write_json(os.path.join(model_dir, "metrics.json"), metrics)
    metrics["model"] = task["model"]
    metrics["vectorizer"] = task["vectorizer"]
    return metrics
