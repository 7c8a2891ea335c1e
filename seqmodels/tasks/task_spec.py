"""`TaskSpec`: what a task module registers, the one place the trainer learns about a task."""

import dataclasses
import typing


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """A task of the training binary: its fields, presets, builder and pictures.

    Attributes:
        name: the name `--task` takes.
        config_class: the task's `seqmodels.tasks.TaskConfig` subclass (model and data fields).
        presets: preset name -> field values, of the task's config and of the shared
            `seqmodels.training.config.RunConfig`; every task has `default` (the measured
            recipe) and `tiny` (trains in seconds, for tests and smoke runs).
        build: `build(config, strategy) -> seqmodels.tasks.Task`, given the whole
            `TrainConfig`; builds the model under `strategy.scope()`.
        pictures: `pictures(config, task, model_dir) -> [paths]`, the task's own pictures
            beside the training curves (e.g. attention maps), or None.
        splits_of_records: whether each split of a user's files is records the task trains
            or evaluates on, so that an empty split is an error before the task is built
            (`build_task`). False for a series, whose splits are stretches of time that the
            task cuts into windows and checks itself.

    Example:

    >>> from seqmodels.tasks.task_config import TaskConfig
    >>> spec = TaskSpec("toy", TaskConfig, {"default": {}, "tiny": {}}, build=print)
    >>> spec.name, sorted(spec.presets)
    ('toy', ['default', 'tiny'])
    """

    name: str
    config_class: type
    presets: dict
    build: typing.Callable
    pictures: typing.Optional[typing.Callable] = None
    splits_of_records: bool = True

    def __post_init__(self):
        missing = {"default", "tiny"} - set(self.presets)
        if missing:
            raise ValueError(f"Task {self.name!r} must have the presets default and tiny. "
                             f"Missing: {', '.join(sorted(missing))}")
