"""`DatasetInfo`: what a dataset is, where it comes from, and how to get it."""

import dataclasses


class DataNotFoundError(FileNotFoundError):
    """A dataset's files are not on this machine; the message names the command that fetches them."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Describes one dataset of `seqmodels.data`.

    Attributes:
        name: the name `load` takes.
        task: the lecture's sequence-modelling type it serves.
        description: one sentence.
        features: the element structure, e.g. `{"text": "string", "label": "int64"}`.
        num_classes: number of classes (0 when not a classification set).
        splits: the split names and their sizes in examples (measured on the real data).
        license: the data's license.
        source: where the real data comes from.
        fetch: the command that installs the data where it is missing.
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
