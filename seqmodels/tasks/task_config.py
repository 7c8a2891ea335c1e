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


def _inherited(config, name):
    """The union of the class attribute `name` over the config's classes (mixins included)."""
    names = []
    for klass in reversed(type(config).__mro__):
        names.extend(n for n in klass.__dict__.get(name, ()) if n not in names)
    return tuple(names)


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """The model and data fields of one task; subclasses add theirs.

    Class attributes a subclass sets:
        TASK: the task's registry name (used in error messages).
        MODELS: the model families `model` may name, the first one the default.
        POSITIVE: fields that must be positive integers (mixins such as `ModelFields` add
            theirs: the lists of all the config's classes are checked).
        RATES: fields that must lie in [0, 1) (likewise).

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
        check_positive(self, _inherited(self, "POSITIVE"))
        check_rate(self, _inherited(self, "RATES"))
        self.validate()

    def validate(self):
        """Checks a subclass's own fields together; the base checks nothing more."""

    def check_run(self, run):
        """Checks the task's fields against the shared `RunConfig` (e.g. epochs); no-op here."""


@dataclasses.dataclass(frozen=True)
class ModelFields:
    """The width and depth of a task's network: what every built-in task's model takes.

    Mixed into a task config before `TaskConfig` (`class Config(ModelFields, TaskConfig)`);
    its fields are checked with the config's own.

    Attributes:
        hidden_dim: model width.
        num_layers: encoder/decoder blocks or recurrent layers.
        num_heads: attention heads.
        intermediate_dim: feed-forward width of transformer blocks.
        dropout: dropout rate.

    Example:

    >>> ModelFields().hidden_dim, ModelFields.POSITIVE[0]
    (64, 'hidden_dim')
    """

    POSITIVE: typing.ClassVar[tuple] = ("hidden_dim", "num_layers", "num_heads",
                                        "intermediate_dim")
    RATES: typing.ClassVar[tuple] = ("dropout",)

    hidden_dim: int = 64
    num_layers: int = 1
    num_heads: int = 2
    intermediate_dim: int = 128
    dropout: float = 0.1
