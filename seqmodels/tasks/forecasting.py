"""Forecasting (many-to-many in time: "where does the ball go next", sunspots, stock prices).

Windows of `window_length` past steps predict the next `horizon` steps, trained with the mean
squared error; a series that `seqmodels.data.load` standardises is served in its real units
(the export carries the training range's mean and standard deviation).
"""

import dataclasses
import typing

import keras
import numpy as np

from seqmodels import data
from seqmodels.models.forecaster import Forecaster
from seqmodels.tasks import common
from seqmodels.tasks.task_config import ModelFields, TaskConfig
from seqmodels.tasks.task_spec import TaskSpec


@dataclasses.dataclass(frozen=True)
class ForecastingConfig(ModelFields, TaskConfig):
    """The model and data fields of forecasting.

    Attributes:
        model: the encoder family, one of `MODELS`.
        window_length: past steps per window.
        horizon: future steps each forecast predicts.
        hidden_dim, num_layers, num_heads, intermediate_dim, dropout: the network's size (see
            `seqmodels.tasks.task_config.ModelFields`).

    Example:

    >>> ForecastingConfig(window_length=10).horizon
    1
    """

    TASK: typing.ClassVar[str] = "forecasting"
    MODELS: typing.ClassVar[tuple] = ("lstm", "rnn", "transformer")
    POSITIVE: typing.ClassVar[tuple] = ("window_length", "horizon")

    model: str = "lstm"
    window_length: int = 22
    horizon: int = 1


PRESETS = {
    # Sunspots, 22 years a window (two solar cycles), the bench's recipe.
    "default": dict(model="lstm", dataset="sunspots", epochs=150, global_batch_size=16,
                    learning_rate=3e-3, weight_decay=0.0, warmup_fraction=0.0,
                    window_length=22, horizon=1, hidden_dim=32, num_heads=2,
                    intermediate_dim=64, dropout=0.1, checkpoint_every=0),
    "tiny": dict(model="lstm", dataset="sunspots", epochs=1, global_batch_size=8,
                 steps_per_epoch=2, window_length=6, horizon=2, hidden_dim=8, num_heads=2,
                 intermediate_dim=16),
}


def build(config, strategy):
    """The forecasting `Task` of `config`, its model built under `strategy.scope()`."""
    fields, run = config.task_config, config.run
    options = dict(window_length=fields.window_length, horizon=fields.horizon)
    train = common.train_split(config, **options)
    num_train = common.count(train)
    window_spec, target_spec = train.element_spec
    num_features, num_targets = window_spec.shape[-1], target_spec.shape[-1]

    def batches(dataset, epoch=None):
        return data.forecasting_pipeline(dataset, run.global_batch_size,
                                         drop_remainder=epoch is not None)

    with strategy.scope():
        model = Forecaster(fields.window_length, num_features, horizon=fields.horizon,
                           num_targets=num_targets, encoder=fields.model,
                           hidden_dim=fields.hidden_dim, num_layers=fields.num_layers,
                           num_heads=fields.num_heads, intermediate_dim=fields.intermediate_dim,
                           dropout=fields.dropout)
    export_kwargs = {}
    if common.info(config, **options).scaled:  # serve in real units
        extra = common.data_options(config, **options) if data.user.is_file_spec(run.dataset) \
            else {}
        mean, std = data.normalization(run.dataset, data_dir=run.data_dir or None, **extra)
        export_kwargs = dict(mean=np.asarray(mean, np.float32), std=np.asarray(std, np.float32))
    return common.make_task(config, model, train, num_train, batches,
                            common.load(config, "validation", **options),
                            common.load(config, "test", **options),
                            loss=keras.losses.MeanSquaredError(reduction=None), accuracy=False,
                            train_options=options, export_kwargs=export_kwargs,
                            skipped_records=common.info(config, **options).skipped)


TASK = TaskSpec("forecasting", ForecastingConfig, PRESETS, build, splits_of_records=False)
