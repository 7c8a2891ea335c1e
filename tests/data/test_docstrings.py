"""The examples in the data package's docstrings run and print what they say."""

import doctest

import pytest

from seqmodels.data import (bouncing_ball, catalog, dataset_info, images, mnist_sequences,
                            pipelines, rotten_tomatoes, tfds_source, timeseries)

MODULES = [bouncing_ball, catalog, dataset_info, images, mnist_sequences, pipelines,
           rotten_tomatoes, tfds_source, timeseries]


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__.split(".")[-1])
def test_docstring_examples(module):
    results = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert results.failed == 0
