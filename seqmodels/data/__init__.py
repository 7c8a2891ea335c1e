"""Real datasets for every task (offline from the package registries, or TFDS) and pipelines.

Example:

>>> from seqmodels import data
>>> data.list_datasets()  # doctest: +SKIP
>>> train = data.load("rotten_tomatoes", "train")  # doctest: +SKIP
"""

from seqmodels.data.catalog import info, list_datasets, load, normalization
from seqmodels.data.dataset_info import DataNotFoundError, DatasetInfo
from seqmodels.data.pipelines import (forecasting_pipeline, image_pipeline,
                                      text_classification_pipeline, text_vectorizer,
                                      windows_from_array)
