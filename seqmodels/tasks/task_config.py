"""`TaskConfig`: the base of each task's frozen dataclass of model and data fields.

A task module subclasses it with its own fields (all with defaults, the model family `model`
first) and class-level lists of the fields to check; what every run shares (epochs, batch size,
learning rate, strategy, precision, seed, checkpoints, export, the dataset) lives in
`seqmodels.training.config.RunConfig`, never here.
"""

import dataclasses
import typing


def check_positive(config, names):
    """Raises a `ValueError` naming the first field of `names` that is not a positive integer."""
    for name in names:
        value = getattr(config, name)
        if value < 1:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def check_non_negative(config, names):
    """Raises a `ValueError` naming the first field of `names` that is negative."""
    for name in names:
        value = getattr(config, name)
        if value < 0:
            raise ValueError(f"`{name}` must be a non-negative integer. Received: {name}={value!r}")


def check_rate(config, names):
    """Raises a `ValueError` naming the first field of `names` outside [0, 1)."""
    for name in names:
        value = getattr(config, name)
        if not 0.0 <= value < 1.0:
            raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={value!r}")


def check_choice(name, value, choices, where=""):
    """Raises a `ValueError` when `value` is not one of `choices`; `where` ends the sentence."""
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {', '.join(choices)}{where}. "
                         f"Received: {name}={value!r}")


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """The model and data fields of one task; subclasses add theirs.

    Class attributes a subclass sets:
        TASK: the task's registry name (used in error messages).
        MODELS: the model families `model` may name, the first one the default.
        POSITIVE: fields that must be positive integers.
        RATES: fields that must lie in [0, 1).

    Attributes:
        model: the model family (one of `MODELS`).

    Example:

    >>> @dataclasses.dataclass(frozen=True)
    ... class ToyConfig(TaskConfig):
    ...     TASK: typing.ClassVar[str] = "toy"
    ...     MODELS: typing.ClassVar[tuple] = ("dense",)
    ...     POSITIVE: typing.ClassVar[tuple] = ("width",)
    ...     model: str = "dense"
    ...     width: int = 4
    >>> ToyConfig(width=8).width
    8
    >>> ToyConfig(model="rnn")
    Traceback (most recent call last):
    ...
    ValueError: `model` must be one of dense for task 'toy'. Received: model='rnn'
    """

    TASK: typing.ClassVar[str] = ""
    MODELS: typing.ClassVar[tuple] = ()
    POSITIVE: typing.ClassVar[tuple] = ()
    RATES: typing.ClassVar[tuple] = ()

    model: str = ""

    def __post_init__(self):
        check_choice("model", self.model, self.MODELS, f" for task {self.TASK!r}")
        check_positive(self, self.POSITIVE)
        check_rate(self, self.RATES)
        self.validate()

    def validate(self):
        """Checks a subclass's own fields together; the base checks nothing more."""

    def check_run(self, run):
        """Checks the task's fields against the shared `RunConfig` (e.g. epochs); no-op here."""
