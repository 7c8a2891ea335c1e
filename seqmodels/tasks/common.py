"""What several task modules do the same way: splits, epochs of batches, losses, length checks.

Every function takes the whole `TrainConfig` (`config.run` for the shared fields,
`config.task_config` for the task's own).
"""

import keras
import numpy as np
import tensorflow as tf

from seqmodels import data
from seqmodels.data import user
from seqmodels.tasks.task import Task


def data_options(config, **options):
    """The dataset's options: the run's `data_options`, the task's own `options` and, for your
    own files, `task`.

    Raises:
        DataOptionError: a data option that a field of the task sets, naming the field.
    """
    given = user.parse_pairs(config.run.data_options)
    for key in sorted(set(given) & set(options)):
        raise user.DataOptionError(f"Data option {key}={given[key]} is set by the task's "
                                   f"field `{key}`; give it as --override={key}={given[key]} "
                                   "instead.")
    if user.is_file_spec(config.run.dataset):
        given.setdefault("task", config.task)
    return {**given, **options}


def load(config, split, **options):
    """The unbatched `split` of the run's dataset (`seqmodels.data.load`)."""
    return data.load(config.run.dataset, split, data_dir=config.run.data_dir or None,
                     **data_options(config, **options))


def info(config, **options):
    """The `DatasetInfo` of the run's dataset (for your own files: under its options)."""
    if not user.is_file_spec(config.run.dataset):
        return data.info(config.run.dataset)
    return data.info(config.run.dataset, data_dir=config.run.data_dir or None,
                     **data_options(config, **options))


def check_every_split_has_records(config):
    """Fails when a split of the run's own files has no records: training reads all three.

    Raises:
        BadDataError: naming the empty splits and what each split kept.
    """
    if not user.is_file_spec(config.run.dataset):
        return
    splits = info(config).splits
    empty = [name for name, records in splits.items() if not records]
    if empty:
        kept = ", ".join(f"{name} {records}" for name, records in splits.items())
        raise data.BadDataError(
            f"Dataset {config.run.dataset!r}: training needs records in every split, and the "
            f"{' and '.join(empty)} split{'s' if len(empty) > 1 else ''} "
            f"{'have' if len(empty) > 1 else 'has'} none (records kept: {kept}). Give more "
            "records, other --data_option=split_fractions (80/10/10 by default), or one file "
            "per split with {split} in the path.")


def count(dataset):
    """The number of elements of a finite `tf.data.Dataset`."""
    return int(dataset.reduce(np.int64(0), lambda n, *_: n + 1))


def count_train(config, train):
    """The number of examples of `train` (`train_split(config)`) of a dataset of records.

    For your own files the validation pass has counted them (`info(config).splits`), which
    spares a pass over the files; other datasets are counted. Not for forecasting, whose
    splits count time steps, not windows.
    """
    if not user.is_file_spec(config.run.dataset):
        return count(train)
    kept = info(config).splits["train"]
    return min(kept, config.run.max_examples) if config.run.max_examples else kept


def train_split(config, input_context=None, **options):
    """The cached training split, cut to `max_examples` when set.

    With a `tf.distribute.InputContext` (your own files only): the share of that input pipeline,
    its files or records (`seqmodels.data.user.load`), cut to its share of `max_examples`.
    """
    if input_context is None:
        train = load(config, "train", **options)
    else:
        train = load(config, "train", input_context=input_context, **options)
    if config.run.max_examples:
        pipelines = input_context.num_input_pipelines if input_context else 1
        train = train.take(max(1, config.run.max_examples // pipelines))
    if user.is_file_spec(config.run.dataset):
        return train  # streamed from the files every epoch, never held in memory
    return train.cache()


def class_names(config):
    """The class names of the run's dataset, in label order ("0", "1", ... where it has none).

    For your own files they are the labels learned from the training split (sorted strings).
    """
    found = info(config)
    return list(found.class_names) or [str(i) for i in range(found.num_classes)]


def steps_per_epoch(config, num_train):
    """`steps_per_epoch`, or one pass over `num_train` examples in global batches."""
    batch = config.run.global_batch_size
    steps = config.run.steps_per_epoch or num_train // batch
    if steps < 1:
        raise ValueError(f"The training split has {num_train} examples, fewer than one global "
                         f"batch of {batch}; lower global_batch_size or set steps_per_epoch.")
    return steps


def epochs_of(config, train, batches, train_options=None):
    """`dataset_fn(epoch)`: `train` shuffled by (seed, epoch), repeated, batched by `batches`.

    The same epoch gives the same batches every time, which exact resume relies on.

    With `train_options` (what `train` was read with: `train_split(config, **train_options)`)
    and a dataset of your own files, it is `dataset_fn(epoch, input_context=None)`: given a
    `tf.distribute.InputContext`, each input pipeline reads only its share of the files (of the
    records, when there are fewer files than pipelines) and yields its part of each global
    batch, `global_batch_size // num_input_pipelines` examples (the custom loop then calls it
    through `distribute_datasets_from_function`). Other datasets are split by the strategy.
    """
    def shuffled(split, epoch):
        return split.shuffle(16384, seed=config.run.seed * 1000 + epoch,
                             reshuffle_each_iteration=False).repeat()

    def dataset_fn(epoch):
        return batches(shuffled(train, epoch), epoch)

    if train_options is None or not user.is_file_spec(config.run.dataset):
        return dataset_fn

    def sharded_dataset_fn(epoch, input_context=None):
        if input_context is None:
            return dataset_fn(epoch)
        share = train_split(config, input_context=input_context, **train_options)
        # Global batches of this pipeline's examples, cut into its parts of the global batch.
        return batches(shuffled(share, epoch), epoch).rebatch(
            config.run.global_batch_size // input_context.num_input_pipelines,
            drop_remainder=True)
    return sharded_dataset_fn


def sparse_loss(label_smoothing=0.0):
    """Unreduced cross-entropy from logits of integer labels, with optional label smoothing."""
    if not label_smoothing:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

    def loss(y_true, logits):
        one_hot = tf.one_hot(tf.cast(y_true, tf.int32), tf.shape(logits)[-1], dtype=logits.dtype)
        return keras.losses.categorical_crossentropy(one_hot, logits, from_logits=True,
                                                     label_smoothing=label_smoothing)
    return loss


def make_task(config, model, train, num_train, batches, validation, test, loss=None,
              train_options=None, **fields):
    """The `Task` of `model` whose splits `batches(dataset, epoch=None)` turns into batches.

    The loss defaults to the (label-smoothed) sparse cross-entropy of the classification tasks;
    `train_options`: `train` is `train_split(config, **train_options)`, which a multi-worker run
    on your own files reads per worker (see `epochs_of`); `fields` are the other `Task`
    attributes.
    """
    if loss is None:
        loss = sparse_loss(config.task_config.label_smoothing)
    if "skipped_records" not in fields and user.is_file_spec(config.run.dataset):
        fields["skipped_records"] = info(config).skipped
    return Task(model=model, loss=loss, dataset_fn=epochs_of(config, train, batches,
                                                             train_options),
                steps_per_epoch=steps_per_epoch(config, num_train),
                validation=batches(validation), test=batches(test), num_train=num_train,
                **fields)


def check_lengths(name, lengths, limit, field="sequence_length"):
    """Fails when a text has more tokens than the model takes: nothing is truncated silently."""
    longest = int(max(lengths, default=0))
    if longest > limit:
        raise ValueError(f"A {name} has {longest} tokens, more than {field}={limit} allows; "
                         f"raise {field} (e.g. --override={field}={longest}).")


def weighted_batches(encode):
    """Batch-level `encode(*example) -> (inputs, labels)`, plus the weight `labels != 0`."""
    def with_weight(*example):
        inputs, labels = encode(*example)
        return inputs, labels, tf.cast(tf.not_equal(labels, 0), tf.float32)
    return with_weight


def sequence_batches(config, encode):
    """`batches(dataset, epoch=None)` of a sequence task: batch, encode with weights, prefetch.

    Training epochs (`epoch` given) drop the last partial batch, so every step has the same
    global batch; evaluation keeps it.
    """
    def batches(dataset, epoch=None):
        return (dataset.batch(config.run.global_batch_size, drop_remainder=epoch is not None)
                .map(weighted_batches(encode), num_parallel_calls=tf.data.AUTOTUNE)
                .prefetch(tf.data.AUTOTUNE))
    return batches
