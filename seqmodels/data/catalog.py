"""`load`, `info` and `list_datasets`: one entry point for every dataset of the package."""

import numpy as np
import tensorflow as tf

from seqmodels.data import (bouncing_ball, images, mnist_sequences, rotten_tomatoes, tfds_source,
                            timeseries, verses)
from seqmodels.data.dataset_info import DatasetInfo

SPLITS = ("train", "validation", "test")
INFOS = {
    info.name: info for info in (
        rotten_tomatoes.INFO, images.FASHION_MNIST_INFO, images.MNIST_INFO, images.DIGITS_INFO,
        timeseries.SUNSPOTS_INFO, timeseries.CO2_INFO, timeseries.STOCKS_INFO,
        verses.EN_ES_VERSES_INFO, verses.VERSES_TEXT_INFO, bouncing_ball.INFO,
        mnist_sequences.INFO)
}


def list_datasets():
    """The names `load` takes (besides `tfds:<name>`), sorted."""
    return sorted(INFOS)


def info(name):
    """The `DatasetInfo` of `name` (for `tfds:<name>`, built from TFDS' own metadata)."""
    if name.startswith("tfds:"):
        import tensorflow_datasets as tfds

        builder = tfds.builder(name[len("tfds:"):])
        tfds_info = builder.info
        label = tfds_info.features.get("label") if hasattr(tfds_info.features, "get") else None
        return DatasetInfo(
            name=name, task="(TFDS)", description=tfds_info.description.strip().split("\n")[0],
            features={k: str(v) for k, v in tfds_info.features.items()},
            num_classes=getattr(label, "num_classes", 0) or 0,
            splits={k: v.num_examples for k, v in tfds_info.splits.items()},
            license=str(getattr(tfds_info, "redistribution_info", "") or "see TFDS"),
            source=tfds_info.homepage, fetch=f"tfds build {name[len('tfds:'):]}")
    _check_name(name)
    return INFOS[name]


def _check_name(name):
    if name not in INFOS:
        raise ValueError(f"Unknown dataset {name!r}. Available: {', '.join(list_datasets())}, "
                         "or tfds:<name> for TensorFlow Datasets.")


def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {', '.join(SPLITS)}. Received: split={split!r}")


def _forecast_windows(values, split, window_length, horizon, normalize):
    """Windows whose targets lie in `split`'s range, normalised with training statistics."""
    ranges = timeseries.split_ranges(len(values))
    start, stop = ranges[split]
    train_values = values[:ranges["train"][1]]
    mean, std = train_values.mean(axis=0), train_values.std(axis=0) + 1e-8
    scaled = (values - mean) / std if normalize else values
    first_target = max(start, window_length)
    inputs = np.stack([scaled[t - window_length:t]
                       for t in range(first_target, stop - horizon + 1)]).astype(np.float32)
    targets = np.stack([scaled[t:t + horizon]
                        for t in range(first_target, stop - horizon + 1)]).astype(np.float32)
    return inputs, targets


def load(name, split, data_dir=None, window_length=24, horizon=1, normalize=True, **options):
    """Returns one split of a dataset as a `tf.data.Dataset` (unbatched).

    Elements by task: text classification `(text, label)`; image classification
    `(image uint8, label)`; forecasting `(window float32 (window_length, features),
    target float32 (horizon, features))`, scaled by the training split's mean and standard
    deviation when `normalize`; translation `(english, spanish)`; language modelling a string;
    captioning `(image uint8, caption)`.

    Args:
        name: one of `list_datasets()`, or `tfds:<name>` (TensorFlow Datasets, offline-safe).
        split: `"train"`, `"validation"` or `"test"` (any TFDS split string for `tfds:`).
        data_dir: where the raw files lie, when not in the installed data packages.
        window_length: past steps per window (forecasting).
        horizon: future steps per target (forecasting).
        normalize: scale forecasting series with training statistics (see `normalization`).
        **options: per dataset (`seed` for rotten_tomatoes / mnist_sequences; `symbols` for
            stocks; `num_examples` for mnist_sequences; `max_chars` for en_es_verses;
            `num_trajectories` for bouncing_ball; anything `tfds.load` takes for `tfds:`).

    Raises:
        ValueError: unknown name or split.
        DataNotFoundError: the data is not on this machine; the message names `make data`.

    Example:

    >>> train = load("rotten_tomatoes", "train")  # doctest: +SKIP
    >>> windows = load("sunspots", "test", window_length=22, horizon=3)  # doctest: +SKIP
    """
    if name.startswith("tfds:"):
        return tfds_source.load(name[len("tfds:"):], split, data_dir=data_dir, **options)
    _check_name(name)
    _check_split(split)
    if name == "rotten_tomatoes":
        return rotten_tomatoes.load(split, data_dir, **options)
    if name in ("fashion_mnist", "mnist", "digits"):
        return images.load(name, split, data_dir)
    if name == "mnist_sequences":
        return mnist_sequences.load(split, data_dir, **options)
    if name == "en_es_verses":
        return verses.load_en_es_verses(split, data_dir, **options)
    if name == "verses_text":
        return verses.load_verses_text(split, data_dir, **options)
    if name == "bouncing_ball":
        paths = bouncing_ball.trajectories(split, options.get("num_trajectories"))
        return tf.data.Dataset.from_tensor_slices(
            bouncing_ball.windows(paths, window_length, horizon))
    _, values = timeseries.series(name, data_dir, **options)
    return tf.data.Dataset.from_tensor_slices(
        _forecast_windows(values, split, window_length, horizon, normalize))


def normalization(name, data_dir=None, **options):
    """`(mean, std)` per feature of a forecasting series' training range (what `load` scales by)."""
    _, values = timeseries.series(name, data_dir, **options)
    train = values[:timeseries.split_ranges(len(values))["train"][1]]
    return train.mean(axis=0), train.std(axis=0) + 1e-8
