"""The docstring examples of seqmodels.transfer run as doctests."""

import doctest

import numpy as np
import pytest

from seqmodels.transfer import (application_preprocessing, backbones, images, preset_preprocessing,
                                text, trim_padding, warm_up_linear_decay)


@pytest.mark.parametrize("module", [application_preprocessing, backbones, images,
                                    preset_preprocessing, text, trim_padding,
                                    warm_up_linear_decay],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    results = doctest.testmod(module, extraglobs={"np": np}, optionflags=doctest.ELLIPSIS)
    assert results.failed == 0
