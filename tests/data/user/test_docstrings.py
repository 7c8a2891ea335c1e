"""The examples in the docstrings of `seqmodels.data.user` run and print what they say."""

import doctest

import pytest

from seqmodels.data.user import dataset, options, spec

MODULES = [dataset, options, spec]


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__.split(".")[-1])
def test_docstring_examples(module):
    results = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0 and results.failed == 0
