"""`tfds:<name>`: TensorFlow Datasets, never downloading unless asked, never hanging offline."""

import os

from seqmodels.data.dataset_info import DataNotFoundError


def load(name, split, data_dir=None, download=False, as_supervised=True, **options):
    """Loads `split` of the TFDS dataset `name` as `(features, label)` pairs.

    Offline, `tfds.load(..., download=True)` retries for minutes; the default here is
    `download=False`, which fails at once when the data is not prepared, and the error says how
    to prepare it.

    Args:
        name: a TFDS name (e.g. `"imdb_reviews"`, `"mnist"`).
        split: a TFDS split string (e.g. `"train"`, `"test[:10%]"`).
        data_dir: TFDS data directory (default: TFDS's own).
        download: let TFDS download and prepare the data (needs the internet).
        as_supervised: yield `(features, label)` tuples.
        **options: passed to `tfds.load`.
    """
    import tensorflow_datasets as tfds

    try:
        return tfds.load(name, split=split, data_dir=data_dir, download=download,
                         as_supervised=as_supervised, **options)
    except Exception as error:  # TFDS raises several types for "not prepared"/"not registered".
        if download:
            raise
        where = data_dir or os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")
        raise DataNotFoundError(
            f"TFDS dataset {name!r} (split {split!r}) is not prepared in {where}: {error}. "
            f"Fetch it on a machine with internet access with `tfds build {name}` (or pass "
            "download=True), then copy the data directory here.") from error
