"""The task registry: the only list of the training binary's tasks.

A built-in task is a module `seqmodels/tasks/<name>.py` whose `TASK` is a `TaskSpec`; its name
in `BUILT_IN` is its registry line. Modules are imported on first use, so listing the names
(the binary's `--task` flag) costs no TensorFlow import. `register` adds a task from anywhere
(a user's package, a test).
"""

import importlib

# One line per task: adding a task is one module in this package and one name here.
BUILT_IN = (
    "text_classification",
    "forecasting",
    "image_classification",
    "translation",
    "captioning",
    "language_modeling",
)
_REGISTERED = {}


def names():
    """The registered task names, built-in ones first.

    Example:

    >>> names()[:2]
    ['text_classification', 'forecasting']
    """
    return list(BUILT_IN) + [name for name in _REGISTERED if name not in BUILT_IN]


def get(name):
    """The `TaskSpec` of task `name`.

    Raises:
        ValueError: no task of that name, naming the registered ones.

    Example:

    >>> get("forecasting").config_class.MODELS
    ('lstm', 'rnn', 'transformer')
    """
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name not in BUILT_IN:
        raise ValueError(f"`task` must be one of {', '.join(names())}. Received: task={name!r}")
    spec = importlib.import_module(f"seqmodels.tasks.{name}").TASK
    if spec.name != name:
        raise ValueError(f"seqmodels.tasks.{name}.TASK is named {spec.name!r}, not {name!r}.")
    _REGISTERED[name] = spec
    return spec


def register(spec):
    """Adds a task, e.g. one defined in the user's own module.

    Args:
        spec: a `TaskSpec` whose name no other task has.

    Example:

    >>> from seqmodels.tasks.task_config import TaskConfig
    >>> from seqmodels.tasks.task_spec import TaskSpec
    >>> register(TaskSpec("doctest_toy", TaskConfig, {"default": {}, "tiny": {}}, build=print))
    >>> "doctest_toy" in names()
    True
    >>> unregister("doctest_toy")
    """
    if spec.name in BUILT_IN or spec.name in _REGISTERED:
        raise ValueError(f"A task named {spec.name!r} is registered already.")
    _REGISTERED[spec.name] = spec


def unregister(name):
    """Removes a task that `register` added (built-in tasks stay)."""
    if name in BUILT_IN:
        raise ValueError(f"{name!r} is a built-in task; only registered tasks can be removed.")
    _REGISTERED.pop(name, None)
