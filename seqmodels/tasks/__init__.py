"""The lecture's tasks, one module each, and the registry that is their only list.

A task module (`text_classification`, `forecasting`, `image_classification`, `translation`,
`captioning`, `language_modeling`) is the single home of its task: its config dataclass of
model and data fields, its presets (`default`, `tiny`), how it turns a dataset into batches,
its model builder, its loss and metrics, its pictures and its export arguments, all handed to
the trainer as one `TaskSpec` named `TASK`. `seqmodels.training` knows tasks only through
`get(name)`.

Example:

>>> from seqmodels import tasks
>>> tasks.names()
['text_classification', 'forecasting', 'image_classification', 'translation', 'captioning', 'language_modeling']
>>> sorted(tasks.get("captioning").presets)
['default', 'tiny']
"""

from seqmodels.tasks.backbone import BackboneFields
from seqmodels.tasks.registry import get, names, register, unregister
from seqmodels.tasks.task import FineTune, Task
from seqmodels.tasks.task_config import TaskConfig
from seqmodels.tasks.task_spec import TaskSpec


def build_task(config, strategy):
    """Builds `config`'s task: data, tokenizers and the model under `strategy.scope()`.

    Args:
        config: a `seqmodels.training.config.TrainConfig`.
        strategy: the `tf.distribute.Strategy` the model is built under.

    Returns:
        A `Task`.
    """
    from seqmodels.tasks import common  # (TensorFlow: loaded with the first task, as they are)

    spec = get(config.task)
    if spec.splits_of_records:
        common.check_every_split_has_records(config)
    return spec.build(config, strategy)


__all__ = ["BackboneFields", "FineTune", "Task", "TaskConfig", "TaskSpec", "build_task", "get",
           "names", "register", "unregister"]
