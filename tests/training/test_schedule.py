"""WarmupCosineDecay: linear warm-up to the peak, cosine to zero, serializable."""

import re

import keras
import numpy as np
import pytest

from seqmodels.training.schedule import WarmupCosineDecay


def test_values_by_hand():
    schedule = WarmupCosineDecay(1e-3, total_steps=110, warmup_steps=10)
    np.testing.assert_allclose([float(schedule(s)) for s in (0, 5, 10, 60, 110, 200)],
                               [0.0, 5e-4, 1e-3, 5e-4, 0.0, 0.0], atol=1e-9)


def test_serialization_round_trip():
    schedule = WarmupCosineDecay(1e-3, 100, 10)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(revived, WarmupCosineDecay)
    assert revived.get_config() == schedule.get_config()
    assert float(revived(42)) == float(schedule(42))


def test_bad_steps():
    with pytest.raises(ValueError, match=re.escape(
            "WarmupCosineDecay needs total_steps >= 1 and 0 <= warmup_steps <= total_steps. "
            "Received: total_steps=10, warmup_steps=20")):
        WarmupCosineDecay(1e-3, 10, 20)
