"""`tfds:<name>`: TensorFlow Datasets, never downloading unless asked, never hanging offline.

Offline, `tfds.load(name)` retries its downloads for minutes, and a community dataset
(`huggingface:<name>`) retries the Hugging Face API for 23 s before failing. Here `download`
is `False` unless the caller passes `download=True`: a dataset that is not prepared on disk then
fails at once with a `DataNotFoundError` naming `tfds build <name>`, and a community dataset is
never resolved over the network.
"""

import os

from seqmodels.data.dataset_info import DataNotFoundError, DatasetInfo


def _tfds():
    import tensorflow_datasets as tfds  # imported on use: `import seqmodels.data` stays light

    return tfds


def _data_dir_text(data_dir):
    return data_dir or os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")


def _not_prepared(name, data_dir, reason):
    return DataNotFoundError(
        f"TFDS dataset {name!r} is not prepared in {_data_dir_text(data_dir)} ({reason}). Fetch "
        f"it on a machine with internet access with `tfds build {name}` (or pass "
        "download=True), then copy the data directory here.")


def offline_builder(name, data_dir=None):
    """The `tfds.core.DatasetBuilder` of `name`, made without any network access.

    Args:
        name: a TFDS name, e.g. `"mnist"`, `"imdb_reviews/plain_text:1.0.0"`.
        data_dir: the TFDS data directory (default: `TFDS_DATA_DIR` or `~/tensorflow_datasets`).

    Returns:
        The builder (prepared on disk or not: see `builder.is_prepared()`).

    Raises:
        ValueError: `name` is no TFDS dataset (or no config of one).
        DataNotFoundError: a community dataset (`namespace:name`), which TFDS resolves only
            online.

    Example:

    >>> offline_builder("mnist").info.features["label"].num_classes
    10
    """
    tfds = _tfds()
    dataset_name, _ = tfds.core.naming.parse_builder_name_kwargs(name)
    if dataset_name.namespace:
        raise _not_prepared(name, data_dir, f"community datasets ({dataset_name.namespace}:...) "
                                            "are resolved online, which download=False forbids")
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(f"Unknown TFDS dataset {name!r}: {str(error).strip().splitlines()[0]} "
                         "See https://www.tensorflow.org/datasets/catalog for the names.") from None
    except ValueError as error:  # a config or version the dataset does not have
        raise ValueError(f"Unknown TFDS dataset {name!r}: "
                         f"{str(error).strip().splitlines()[0]}") from None


def load(name, split, data_dir=None, download=False, as_supervised=True, **options):
    """Loads `split` of the TFDS dataset `name`, as `(features, label)` pairs by default.

    Args:
        name: a TFDS name (e.g. `"imdb_reviews"`, `"mnist"`, `"huggingface:imdb"` online).
        split: a TFDS split string (e.g. `"train"`, `"test[:10%]"`).
        data_dir: TFDS data directory (default: `TFDS_DATA_DIR` or `~/tensorflow_datasets`).
        download: let TFDS download and prepare the data (needs the internet). `False` (the
            default) reads only what is prepared on disk and fails at once otherwise.
        as_supervised: yield `(features, label)` tuples (TFDS' supervised keys).
        **options: passed to `tfds.load` (e.g. `shuffle_files`, `read_config`).

    Returns:
        A `tf.data.Dataset`.

    Raises:
        ValueError: `name` is not a TFDS dataset.
        DataNotFoundError: offline and not prepared; the message names `tfds build <name>`.

    Example:

    Offline, a dataset that is not prepared fails at once:

    >>> load("mnist", "train", data_dir="nowhere")
    Traceback (most recent call last):
    ...
    seqmodels.data.dataset_info.DataNotFoundError: TFDS dataset 'mnist' is not prepared in
    nowhere (no prepared files). Fetch it on a machine with internet access with `tfds build
    mnist` (or pass download=True), then copy the data directory here.

    Downloading needs the internet:

    >>> train = load("mnist", "train", download=True)  # doctest: +SKIP
    """
    tfds = _tfds()
    if download:
        return tfds.load(name, split=split, data_dir=data_dir, download=True,
                         as_supervised=as_supervised, **options)
    offline_builder(name, data_dir)  # unknown names and community datasets fail here, offline
    try:
        return tfds.load(name, split=split, data_dir=data_dir, download=False,
                         as_supervised=as_supervised, **options)
    except (AssertionError, FileNotFoundError) as error:  # TFDS' "could not find data in ..."
        raise _not_prepared(name, data_dir, "no prepared files") from error


def info(name, data_dir=None):
    """A `DatasetInfo` built from TFDS' own metadata, without any network access.

    Sizes are known only once the dataset is prepared (`splits` is empty before).

    Args:
        name: a TFDS name without the `tfds:` prefix.
        data_dir: TFDS data directory.

    Raises:
        ValueError: `name` is not a TFDS dataset.
        DataNotFoundError: a community dataset (`namespace:name`) that is not resolvable offline.

    Example:

    >>> info("mnist").num_classes
    10
    """
    metadata = offline_builder(name, data_dir).info
    features = metadata.features
    label_key = (metadata.supervised_keys[1] if metadata.supervised_keys
                 and isinstance(metadata.supervised_keys[1], str) else "label")
    label = features[label_key] if label_key in features.keys() else None
    license_text = getattr(metadata.redistribution_info, "license", "") or "see the TFDS catalog"
    return DatasetInfo(
        name=f"tfds:{name}", task="tfds",
        description=(metadata.description or "").strip().split("\n")[0],
        features={key: str(value) for key, value in features.items()},
        num_classes=int(getattr(label, "num_classes", 0) or 0),
        splits={key: value.num_examples for key, value in metadata.splits.items()},
        license=license_text.strip(), source=metadata.homepage or "TensorFlow Datasets",
        fetch=f"tfds build {name}")
