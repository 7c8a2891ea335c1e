"""Real datasets for every task (offline from the package registries, or TFDS) and pipelines.

`load(name, split, **options)` returns an unbatched `tf.data.Dataset`, `info(name)` a
`DatasetInfo`, `list_datasets()` the names; `tfds:<name>` reaches TensorFlow Datasets (never
downloading unless `download=True`). The pipelines turn a loaded split into batches for a
model: text (tokenizers learned on the training split, padding, buckets, masks), time-series
windows (training-range statistics, chronological splits) and images (scaling, augmentation).
A missing source raises `DataNotFoundError` naming the command that fetches it (`make data`).

Example:

>>> import tensorflow as tf
>>> from seqmodels import data
>>> data.list_datasets()
['bouncing_ball', 'co2', 'digits', 'en_es_verses', 'fashion_mnist', 'mnist', ...]
>>> windows = data.load("bouncing_ball", "train", window_length=8, horizon=2,
...                     num_trajectories=2)
>>> window, target = next(iter(data.forecasting_pipeline(windows, batch_size=4)))
>>> tuple(window.shape), tuple(target.shape)  # (batch, steps, x and y)
((4, 8, 2), (4, 2, 2))

Text goes through a tokenizer learned on the training texts; here two sentences stand in for
Rotten Tomatoes (`data.load("rotten_tomatoes", "train")`, which needs `make data`):

>>> train = tf.data.Dataset.from_tensor_slices((["a good film", "a dull plot"], [1, 0]))
>>> vectorizer = data.text_vectorizer(train.map(lambda text, label: text), 20000)
>>> ids, labels = next(iter(data.text_classification_pipeline(train, vectorizer, 2)))
>>> tuple(ids.shape), labels.numpy().tolist()  # (batch, tokens of the longest text)
((2, 3), [1, 0])
"""

from seqmodels.data import timeseries
from seqmodels.data.catalog import info, list_datasets, load, normalization
from seqmodels.data.dataset_info import BadDataError, DataNotFoundError, DatasetInfo
from seqmodels.data.pipelines import (forecasting_pipeline, image_pipeline, padding_mask,
                                      split_punctuation, text_classification_pipeline,
                                      text_vectorizer, windows_from_array, word_piece_tokenizer)
from seqmodels.data.user.options import DataOptionError

__all__ = ["BadDataError", "DataNotFoundError", "DataOptionError", "DatasetInfo", "forecasting_pipeline", "image_pipeline", "info",
           "list_datasets", "load", "normalization", "padding_mask", "split_punctuation",
           "text_classification_pipeline", "text_vectorizer", "timeseries", "windows_from_array",
           "word_piece_tokenizer"]
