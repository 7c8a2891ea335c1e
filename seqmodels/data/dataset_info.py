"""`DatasetInfo`: what a dataset is, where it comes from, and how to get it."""

import dataclasses


class DataNotFoundError(FileNotFoundError):
    """A dataset's files are not on this machine; the message names the command that fetches them."""


class BadDataError(ValueError):
    """A data file holds what cannot be trained on.

    The message names the file, the line or record, and the column (where there is one).
    """


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Describes one dataset of `seqmodels.data`.

    Attributes:
        name: the name `load` takes.
        task: the sequence-modelling task it serves (`text_classification`,
            `image_classification`, `forecasting`, `translation`, `language_modeling`,
            `captioning`, or `tfds`).
        description: one sentence.
        features: the element structure, e.g. `{"text": "string", "label": "int64"}`.
        num_classes: number of classes (0 when not a classification set).
        splits: the split names and their sizes in examples, measured on the real data (for
            a forecasting series: the time steps each split's targets cover; the number of
            windows depends on `window_length`; for `bouncing_ball`: trajectories).
        license: the data's license.
        source: where the real data comes from.
        fetch: the command that installs the data where it is missing.
        class_names: the name of each class in label order, where the data names them
            (empty: the labels are their own names, "0", "1", ...).
        scaled: `load` standardises the series by its training range's statistics
            (`seqmodels.data.normalization` gives them, to serve forecasts in real units).
        skipped: data file -> records skipped as bad (`on_bad_record="skip"`, own files).

    Example:

    >>> from seqmodels.data import info
    >>> info("digits").splits
    {'train': 1437, 'validation': 180, 'test': 180}
    """

    name: str
    task: str
    description: str
    features: dict
    num_classes: int
    splits: dict
    license: str
    source: str
    fetch: str = "make data"
    class_names: tuple = ()
    scaled: bool = False
    skipped: dict = dataclasses.field(default_factory=dict)
