"""The schedules and make_optimizer: warm-up, cosine or linear decay, weight-decay exclusions."""

import re

import keras
import numpy as np
import pytest

from seqmodels.models.text_classifier import TextClassifier
from seqmodels.training.optimizers import WarmUpLinearDecay, WarmupCosineDecay, make_optimizer


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


def test_fine_tuning_optimizer():
    schedule = WarmUpLinearDecay(1e-4, total_steps=100, warmup_steps=10)
    np.testing.assert_allclose([float(schedule(s)) for s in (0, 5, 10, 55, 100, 150)],
                               [0, 5e-5, 1e-4, 5e-5, 0, 0], atol=1e-10)
    assert WarmUpLinearDecay.from_config(schedule.get_config()).get_config() == \
        schedule.get_config()
    optimizer = make_optimizer(5e-5, total_steps=100, schedule="linear")
    assert optimizer.learning_rate.numpy() == 0.0
    assert optimizer.weight_decay == 0.01
    with pytest.raises(ValueError, match="`warmup_steps` must be an integer in"):
        WarmUpLinearDecay(1e-4, total_steps=10, warmup_steps=10)
    with pytest.raises(ValueError, match="`warmup_fraction` must be a number in"):
        make_optimizer(5e-5, 100, warmup_fraction=1.5, schedule="linear")


@pytest.mark.parametrize("schedule, kind", [("cosine", WarmupCosineDecay),
                                            ("linear", WarmUpLinearDecay)])
def test_make_optimizer_schedules(schedule, kind):
    optimizer = make_optimizer(1e-3, total_steps=100, warmup_fraction=0.1, schedule=schedule)
    rate = keras.saving.deserialize_keras_object(optimizer.get_config()["learning_rate"])
    assert isinstance(rate, kind)
    assert (rate.total_steps, rate.warmup_steps) == (100, 10)


def test_constant_schedule_without_decay_is_adam():
    """transfer.fine_tune's optimizer: the same updates as keras.optimizers.Adam."""
    def trained(optimizer):
        variable = keras.Variable(np.array([1.0, -2.0], "float32"), name="kernel")
        for gradient in ([0.5, 0.1], [-0.2, 0.3], [0.1, 0.1]):
            optimizer.apply([np.array(gradient, "float32")], [variable])
        return variable.numpy()

    np.testing.assert_array_equal(
        trained(make_optimizer(1e-2, schedule="constant", weight_decay=0.0)),
        trained(keras.optimizers.Adam(1e-2)))


def test_no_weight_decay_on_biases_norms_and_embeddings():
    """One step of pure decay (zero gradients) moves only the kernels of a TextClassifier."""
    model = TextClassifier(vocab_size=50, num_classes=2, sequence_length=8, hidden_dim=8,
                           num_heads=2, intermediate_dim=16)
    model(np.ones((1, 8), "int32"))
    optimizer = make_optimizer(0.1, schedule="constant", weight_decay=0.5)
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    optimizer.apply([np.zeros(v.shape, "float32") for v in model.trainable_variables],
                    model.trainable_variables)
    moved = {v.path for v in model.trainable_variables
             if not np.array_equal(v.numpy(), before[v.path]) and np.any(before[v.path])}
    still = {v.path for v in model.trainable_variables
             if np.array_equal(v.numpy(), before[v.path]) and np.any(before[v.path])}
    assert moved and all(path.endswith("kernel") for path in moved), moved
    for name in ("embeddings", "gamma"):
        assert any(path.endswith(name) for path in still), (name, still)
    with pytest.raises(ValueError, match="`schedule` must be one of cosine, linear, constant"):
        make_optimizer(1e-3, 10, schedule="step")
