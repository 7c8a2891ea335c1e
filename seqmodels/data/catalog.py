"""`load`, `info` and `list_datasets`: one entry point for every dataset of the package.

Every name is real data that installs offline from the package registries (`make data`), or is
made from real data or physics; `tfds:<name>` reaches TensorFlow Datasets. Each loader reads
its files directly (CSV or IDX inside the installed package or Debian data directory), so a
missing source fails in milliseconds with a `DataNotFoundError` naming the command that
fetches it.
"""

import inspect

from seqmodels.data import (bouncing_ball, images, mnist_sequences, rotten_tomatoes, tfds_source,
                            timeseries, user, verses)

SPLITS = ("train", "validation", "test")
TFDS_PREFIX = "tfds:"
INFOS = {
    info.name: info for info in (
        rotten_tomatoes.INFO, images.FASHION_MNIST_INFO, images.MNIST_INFO, images.DIGITS_INFO,
        timeseries.SUNSPOTS_INFO, timeseries.CO2_INFO, timeseries.STOCKS_INFO,
        verses.EN_ES_VERSES_INFO, verses.VERSES_TEXT_INFO, bouncing_ball.INFO,
        mnist_sequences.INFO)
}
# The options each name takes besides `split` and `data_dir`.
OPTIONS = {
    "rotten_tomatoes": ("seed",),
    "fashion_mnist": (), "mnist": (), "digits": (),
    "sunspots": ("window_length", "horizon", "normalize"),
    "co2": ("window_length", "horizon", "normalize"),
    "stocks": ("window_length", "horizon", "normalize", "symbols"),
    "bouncing_ball": ("window_length", "horizon", "num_trajectories", "steps", "seed"),
    "mnist_sequences": ("num_examples", "seed"),
}
# The verse loaders declare their own options (everything after `split` and `data_dir`).
OPTIONS.update({
    name: tuple(inspect.signature(loader).parameters)[2:]
    for name, loader in (("en_es_verses", verses.load_en_es_verses),
                         ("verses_text", verses.load_verses_text))})


def list_datasets():
    """The names `load` takes (besides `tfds:<name>`), sorted.

    Example:

    >>> list_datasets()[:3]
    ['bouncing_ball', 'co2', 'digits']
    """
    return sorted(INFOS)


def _check_name(name):
    if not isinstance(name, str) or name not in INFOS:
        raise ValueError(f"Unknown dataset {name!r}. Available: {', '.join(list_datasets())}, "
                         "or tfds:<name> for TensorFlow Datasets.")


def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {', '.join(SPLITS)}. Received: split={split!r}")


def _check_options(name, options):
    unknown = sorted(set(options) - set(OPTIONS[name]))
    if unknown:
        allowed = ", ".join(OPTIONS[name]) or "none"
        raise user.DataOptionError(f"Dataset {name!r} takes no option {', '.join(unknown)}. "
                                   f"Its options: {allowed}.")


def info(name, data_dir=None, **options):
    """What a dataset is: a `DatasetInfo` (task, features, classes, split sizes, license, source).

    For the forecasting names, `splits` counts the time steps each split's targets cover (the
    number of windows depends on `window_length`). For `tfds:<name>` the info comes from TFDS'
    own metadata, read offline.

    Args:
        name: one of `list_datasets()`, or `tfds:<name>`, or your own files (`csv:<glob>`, ...,
            see `seqmodels.data.user`).
        data_dir, **options: for your own files, those of `load` (the column options).

    Raises:
        ValueError: an unknown name.

    Example:

    >>> info("rotten_tomatoes").num_classes
    2
    """
    if user.is_file_spec(name):  # your own files: the options of `load`
        return user.info(name, data_dir=data_dir, **options)
    if isinstance(name, str) and name.startswith(TFDS_PREFIX):
        return tfds_source.info(name[len(TFDS_PREFIX):])
    _check_name(name)
    return INFOS[name]


def load(name, split, data_dir=None, **options):
    """Returns one split of a dataset as an unbatched `tf.data.Dataset`.

    Elements by task:

    - text classification (`rotten_tomatoes`): `(text string, label int64)`;
    - image classification (`fashion_mnist`, `mnist`, `digits`): `(image uint8 (h, w, 1),
      label int64)`;
    - forecasting (`sunspots`, `co2`, `stocks`, `bouncing_ball`): `(window float32
      (window_length, features), target float32 (horizon, features))`; the real series are
      split chronologically (70/15/15% of the time steps) and scaled by the training range's
      mean and standard deviation (see `normalization`);
    - translation (`en_es_verses`): `(english string, spanish string)`;
    - language modelling (`verses_text`): a string;
    - captioning (`mnist_sequences`): `(image uint8 (28, 112, 1), caption string)`;
    - `tfds:<name>`: whatever TFDS yields (`(features, label)` with `as_supervised=True`).

    Args:
        name: one of `list_datasets()`, or `tfds:<name>` (TensorFlow Datasets), or your own
            files: `csv:`, `tsv:`, `jsonl:`, `tfrecord:`, `dir:` or `lines:<glob>` (see
            `seqmodels.data.user`; e.g. `csv:reviews/{split}.csv` with `text_column=` and
            `label_column=`).
        split: `"train"`, `"validation"` or `"test"` (any TFDS split string for `tfds:`).
        data_dir: where the raw files lie, when not in the installed data packages (tests point
            it at small fixtures); the TFDS data directory for `tfds:`.
        **options: per dataset, see `OPTIONS`: `window_length` (default 24), `horizon`
            (default 1), `normalize` (default True) for forecasting; `symbols` for stocks;
            `seed` for rotten_tomatoes, bouncing_ball and mnist_sequences; `num_trajectories`
            and `steps` for bouncing_ball; `num_examples` for mnist_sequences; `max_chars` for
            en_es_verses; for `tfds:` anything `tfds.load` takes, and `download=True` to let
            TFDS download (the default `False` never touches the network).

    Returns:
        A `tf.data.Dataset`.

    Raises:
        ValueError: an unknown name or split, or a bad option value.
        DataOptionError: an option the dataset does not take (a `TypeError`).
        DataNotFoundError: the data is not on this machine; the message names the command that
            fetches it (`make data`, or `tfds build <name>`).

    Example:

    >>> windows = load("bouncing_ball", "test", window_length=10, horizon=3,
    ...                num_trajectories=1)
    >>> [tuple(t.shape) for t in next(iter(windows))]
    [(10, 2), (3, 2)]
    >>> load("rotten_tomatoes", "train", data_dir="nowhere")
    Traceback (most recent call last):
    ...
    seqmodels.data.dataset_info.DataNotFoundError: Dataset 'rotten_tomatoes': file
    nowhere/rotten_tomatoes_corpus_full.csv.bz2 not found. Run `make data`, or pass data_dir=
    pointing at your own copy.

    The real data needs `make data` (which `make test` does not run), and `download=True` the
    internet:

    >>> train = load("rotten_tomatoes", "train")  # doctest: +SKIP
    >>> windows = load("sunspots", "test", window_length=22, horizon=3)  # doctest: +SKIP
    >>> mnist = load("tfds:mnist", "train", download=True)  # doctest: +SKIP
    """
    if user.is_file_spec(name):  # your own files (seqmodels.data.user)
        return user.load(name, split, data_dir=data_dir, **options)
    if isinstance(name, str) and name.startswith(TFDS_PREFIX):
        return tfds_source.load(name[len(TFDS_PREFIX):], split, data_dir=data_dir, **options)
    _check_name(name)
    _check_split(split)
    _check_options(name, options)
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
        return bouncing_ball.load(split, **options)
    window_length = options.pop("window_length", 24)
    horizon = options.pop("horizon", 1)
    normalize = options.pop("normalize", True)
    _, values = timeseries.series(name, data_dir, **options)
    return timeseries.split_windows(values, split, window_length, horizon, normalize)


def normalization(name, data_dir=None, **options):
    """`(mean, std)` per feature of a real series' training range: what `load` scales by.

    Use it to turn a model's scaled forecasts back into the series' units:
    `forecast * std + mean`.

    Args:
        name: `"sunspots"`, `"co2"` or `"stocks"`.
        data_dir: as for `load`.
        **options: `symbols` for stocks.

    Example:

    Ten years of a sunspot file in statsmodels' format stand in for the real one:

    >>> import os, tempfile
    >>> directory = tempfile.mkdtemp()
    >>> with open(os.path.join(directory, "sunspots.csv"), "w") as f:
    ...     _ = f.write('"YEAR","SUNACTIVITY"\\n' + "".join(f"{1700 + i},{i}\\n" for i in range(10)))
    >>> mean, std = normalization("sunspots", data_dir=directory)  # of the first 7 years
    >>> float(mean[0]), round(float(std[0]), 6)
    (3.0, 2.0)

    The real series comes with statsmodels (`make data`):

    >>> mean, std = normalization("sunspots")  # doctest: +SKIP
    """
    if user.is_file_spec(name):
        return user.normalization(name, data_dir=data_dir, **options)
    if name not in ("sunspots", "co2", "stocks"):
        raise ValueError(f"`name` must be one of sunspots, co2, stocks (the real series). "
                         f"Received: name={name!r}")
    _, values = timeseries.series(name, data_dir, **options)
    return timeseries.training_statistics(values)
