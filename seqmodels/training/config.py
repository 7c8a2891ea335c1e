"""The frozen training configuration: what every run shares, and the task's own fields.

`TrainConfig` has two parts: `run`, a `RunConfig` (epochs, batch, learning rate, strategy,
precision, seed, checkpoints, export, the dataset), and `task_config`, the task module's own
frozen dataclass (model and data fields, see `seqmodels.tasks`). A preset is a named set of
field values of a task, spanning both parts; `key=value` overrides are checked against the
field types, so that a typo or a wrong type fails before any training starts. `config.json`
records both parts (`to_json`); `from_json` reads it back, older flat files included.
"""

import dataclasses
import typing

from seqmodels import tasks
from seqmodels.tasks.task_config import check_choice, check_non_negative, check_positive

MIXED_PRECISION = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """What every training run shares, whatever its task.

    Attributes:
        dataset: a `seqmodels.data` name (e.g. `rotten_tomatoes`, `tfds:imdb_reviews`).
        data_dir: where the dataset's raw files lie ("" for the installed data packages); a
            relative path of your own files (`csv:...`) starts there.
        data_options: options of the dataset, `key=value` strings (a dict is accepted and
            kept as such strings): the column options of your own files
            (`text_column=review`, see `seqmodels.data.user`), `on_bad_record=skip`, ...
        max_examples: use at most this many training examples (0: all), for smoke runs.
        epochs: passes over the training split.
        global_batch_size: examples per optimizer step, summed over all replicas.
        learning_rate: peak learning rate (AdamW, linear warm-up then cosine decay).
        weight_decay: AdamW weight decay (never on biases, norms and embeddings).
        warmup_fraction: fraction of all steps spent warming up.
        steps_per_epoch: optimizer steps per epoch; 0 means one full pass over the split.
        strategy: a `seqmodels.training.distribute.STRATEGIES` name.
        tpu: TPU address for `strategy="tpu"`.
        num_cpu_devices: split the CPU into this many logical devices (0: leave it whole).
        mixed_precision: one of `MIXED_PRECISION`.
        jit_compile: compile train and eval steps with XLA.
        run_eagerly: run the train and eval steps op by op instead of as traced graphs (Keras'
            `compile(run_eagerly=True)`): slower per step but no trace to wait for, and a
            `print` or breakpoint inside a layer's `call` runs at every step, for debugging.
            `jit_compile` is then ignored; not with `strategy="parameter_server"` (its
            coordinator schedules traced functions).
        seed: seeds the weights, the shuffles and dropout.
        checkpoint_every: steps between backups (0: at each epoch end only).
        export_dir: where the trained model is exported ("" for no export).

    Example:

    >>> RunConfig(epochs=2).global_batch_size
    64
    """

    dataset: str = "rotten_tomatoes"
    data_dir: str = ""
    data_options: tuple = ()
    max_examples: int = 0
    epochs: int = 3
    global_batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    steps_per_epoch: int = 0
    strategy: str = "default"
    tpu: str = ""
    num_cpu_devices: int = 0
    mixed_precision: str = "float32"
    jit_compile: bool = False
    run_eagerly: bool = False
    seed: int = 0
    checkpoint_every: int = 100
    export_dir: str = ""

    def __post_init__(self):
        options = self.data_options
        if isinstance(options, dict):
            options = [f"{key}={value}" for key, value in options.items()]
        if isinstance(options, str) or any(
                not isinstance(item, str) or "=" not in item for item in options):
            raise ValueError("`data_options` must be key=value strings (or a dict). Received: "
                             f"data_options={self.data_options!r}")
        object.__setattr__(self, "data_options", tuple(item.strip() for item in options))
        check_choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        check_positive(self, ("epochs", "global_batch_size"))
        check_non_negative(
            self, ("steps_per_epoch", "num_cpu_devices", "checkpoint_every", "max_examples"))
        if self.run_eagerly and self.strategy == "parameter_server":
            raise ValueError("`run_eagerly=True` does not run under strategy='parameter_server': "
                             "its coordinator schedules traced steps on the workers. Received: "
                             "run_eagerly=True, strategy='parameter_server'")
        if self.learning_rate <= 0:
            raise ValueError(
                f"`learning_rate` must be positive. Received: learning_rate={self.learning_rate!r}")


RUN_FIELDS = tuple(field.name for field in dataclasses.fields(RunConfig))


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs; `config.json` in the model dir records it.

    Attributes:
        task: a registered task name (`seqmodels.tasks.names()`).
        run: the shared `RunConfig`.
        task_config: the task's config dataclass (default: its defaults).

    Example:

    >>> config = TrainConfig("forecasting", RunConfig(dataset="sunspots"))
    >>> config.task_config.model, config.run.dataset
    ('lstm', 'sunspots')
    """

    task: str = "text_classification"
    run: RunConfig = RunConfig()
    task_config: typing.Any = None

    def __post_init__(self):
        config_class = tasks.get(self.task).config_class
        if self.task_config is None:
            object.__setattr__(self, "task_config", config_class())
        if not isinstance(self.task_config, config_class):
            raise TypeError(f"`task_config` of task {self.task!r} must be a "
                            f"{config_class.__name__}. Received: "
                            f"{type(self.task_config).__name__}")
        if not isinstance(self.run, RunConfig):
            raise TypeError(f"`run` must be a RunConfig. Received: {type(self.run).__name__}")
        self.task_config.check_run(self.run)

    def to_json(self):
        """The JSON payload of `config.json`: the task name and both parts' fields."""
        return {"task": self.task, "run": dataclasses.asdict(self.run),
                "task_config": dataclasses.asdict(self.task_config)}

    @classmethod
    def from_json(cls, payload):
        """The `TrainConfig` that `to_json` wrote, or an older flat `config.json`.

        Before the config had two parts, `config.json` held one flat dict of every field of
        every task. Such a file still loads: each field goes to the part that has it, and the
        fields of other tasks (which that version's task ignored) are dropped.

        Raises:
            ValueError: a field no task knows, naming it.
        """
        if "run" in payload or "task_config" in payload:
            return cls(payload["task"], RunConfig(**payload.get("run", {})),
                       tasks.get(payload["task"]).config_class(**payload.get("task_config", {})))
        task = payload.get("task", "text_classification")
        task_fields = _fields(tasks.get(task).config_class)
        known = set(RUN_FIELDS).union(*(_fields(tasks.get(name).config_class)
                                        for name in tasks.names()))
        unknown = sorted(set(payload) - known - {"task"})
        if unknown:
            raise ValueError(f"config.json has fields no task knows: {', '.join(unknown)}. It was "
                             "written by another version of seqmodels; train in a new model_dir.")
        run = RunConfig(**{k: v for k, v in payload.items() if k in RUN_FIELDS})
        own = tasks.get(task).config_class(**{k: v for k, v in payload.items()
                                              if k in task_fields})
        return cls(task, run, own)


def _fields(config_class):
    return {field.name for field in dataclasses.fields(config_class)}


def _parse_value(name, field_type, text):
    if field_type is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes"):
            return True
        if lowered in ("0", "false", "no"):
            return False
        raise ValueError(f"Override {name}={text!r}: expected a bool (true/false).")
    try:
        return field_type(text)
    except ValueError:
        raise ValueError(
            f"Override {name}={text!r}: expected a value of type {field_type.__name__}.") from None


def _elsewhere(task, key, value):
    """The error for a field of other tasks given to `task`, naming the tasks that have it."""
    owners = [name for name in tasks.names() if key in _fields(tasks.get(name).config_class)]
    if not owners:
        return None
    return ValueError(f"`{key}` applies to {' and '.join(owners)}. Received: task={task!r}, "
                      f"{key}={value!r}")


def make_config(task="text_classification", preset="default", overrides=(), **fields):
    """Builds a `TrainConfig` from a task's preset, explicit fields and `key=value` overrides.

    Later sources win: preset values, then `fields`, then `overrides`. Each key is a field of
    `RunConfig` or of the task's config; the value goes to the part that has it.

    Args:
        task: a registered task name.
        preset: a preset name of that task.
        overrides: strings `key=value`, the value parsed to the field's type.
        **fields: field values (already typed); None values are ignored.

    Returns:
        The frozen `TrainConfig`.

    Raises:
        ValueError: an unknown task, preset or key (naming the valid ones), a value of the
            wrong type, or a value that its field rejects.

    Example:

    >>> config = make_config("text_classification", "tiny", ["hidden_dim=16", "epochs=2"])
    >>> config.task_config.hidden_dim, config.run.epochs
    (16, 2)
    """
    spec = tasks.get(task)
    if preset not in spec.presets:
        raise ValueError(f"`config` must be a preset of task {task!r}: "
                         f"{', '.join(spec.presets)}. Received: config={preset!r}")
    types = {**typing.get_type_hints(RunConfig), **{
        field.name: typing.get_type_hints(spec.config_class)[field.name]
        for field in dataclasses.fields(spec.config_class)}}
    values = dict(spec.presets[preset])
    values.update({k: v for k, v in fields.items() if v is not None})
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"Override {item!r}: expected the form key=value.")
        if key not in types:
            raise _elsewhere(task, key, text) or ValueError(
                f"Override {item!r}: unknown key {key!r}. Known keys: "
                f"{', '.join(sorted(types))}.")
        values[key] = _parse_value(key, types[key], text)
    for key in sorted(set(values) - set(types)):
        raise _elsewhere(task, key, values[key]) or ValueError(
            f"Unknown config field {key!r} for task {task!r}. Known fields: "
            f"{', '.join(sorted(types))}.")
    task_fields = _fields(spec.config_class)
    return TrainConfig(
        task, RunConfig(**{k: v for k, v in values.items() if k in RUN_FIELDS}),
        spec.config_class(**{k: v for k, v in values.items() if k in task_fields}))
