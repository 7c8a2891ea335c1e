"""`Task`: what a task module's builder hands the generic trainer.

`seqmodels.training.train_and_evaluate` knows no task by name: it asks the registry for the
task's `TaskSpec`, calls its `build(config, strategy)` and trains what comes back. Sequence
outputs (translation, captioning, language modelling) carry a third element in each batch, the
per-token weight `labels != 0`, so padding counts in neither the loss nor the token accuracy.
"""

import dataclasses
import typing

import keras
import tensorflow as tf


@dataclasses.dataclass
class FineTune:
    """The second phase of a two-phase fine-tune schedule (a pretrained backbone).

    Epochs `[0, head_epochs)` train the head on the frozen backbone at the run's
    `learning_rate`; then `unfreeze(model)` makes (part of) the backbone trainable and a fresh
    optimizer of the same kind trains the remaining epochs, peaking at `learning_rate`.

    Attributes:
        head_epochs: epochs of the first phase (>= 1).
        learning_rate: peak learning rate of the second phase.
        unfreeze: `unfreeze(model)`, called before the second phase; returns nothing useful.
        description: what `unfreeze` does, for the progress line ("the top 20 backbone layers").
    """

    head_epochs: int
    learning_rate: float
    unfreeze: typing.Callable
    description: str


@dataclasses.dataclass
class Task:
    """One task's model and data, as `train_and_evaluate` consumes them.

    Attributes:
        model: the Keras model, built under the strategy's scope.
        loss: `loss(y_true, y_pred)` returning unreduced per-example or per-token losses.
        dataset_fn: `dataset_fn(epoch)`, the global batches of that epoch (repeatable); for your
            own files also `dataset_fn(epoch, input_context)`, one input pipeline's share
            (`common.epochs_of`).
        steps_per_epoch: optimizer steps per epoch.
        validation: batched validation split.
        test: batched test split.
        num_train: training examples (windows for forecasting and language modelling).
        accuracy: whether `argmax` accuracy means something (classes or tokens).
        export_kwargs: keyword arguments of `seqmodels.export.export_for_serving`.
        attention_input: one test input for the attention pictures, or None.
        tokens: the token strings of `attention_input`'s positions (`(source, target)` pairs of
            lists for translation).
        fine_tune: the second phase of a fine-tune schedule, or None for one phase.
        skipped_records: data file -> bad records skipped (`on_bad_record=skip`), recorded
            in `metrics.json`.
    """

    model: keras.Model
    loss: typing.Callable
    dataset_fn: typing.Callable
    steps_per_epoch: int
    validation: tf.data.Dataset
    test: tf.data.Dataset
    num_train: int
    accuracy: bool = True
    export_kwargs: dict = dataclasses.field(default_factory=dict)
    attention_input: typing.Any = None
    tokens: typing.Any = None
    fine_tune: typing.Optional[FineTune] = None
    skipped_records: dict = dataclasses.field(default_factory=dict)
