"""The transformer models start their self-attention at 1/18 of Glorot's variance, the rest at
Glorot's (seqmodels.models.initializers)."""

import keras
import numpy as np
import pytest

from seqmodels.layers import TransformerDecoderBlock, TransformerEncoderBlock
from seqmodels.models import Captioner, Forecaster, MiniGPT, TextClassifier, Translator
from seqmodels.models.initializers import small_attention_initializer

WIDTH = 32
SMALL = (6 / (WIDTH + WIDTH) / 18) ** 0.5  # the limit of a (32, heads, 32 / heads) kernel


def kernels(attention):
    return [np.asarray(dense.kernel) for dense in (
        attention.query_dense, attention.key_dense, attention.value_dense,
        attention.output_dense)]


@pytest.mark.parametrize("make", [
    lambda: Translator(50, 60, hidden_dim=WIDTH, num_layers=2, num_heads=4, intermediate_dim=64),
    lambda: Captioner((16, 16, 1), 30, max_length=6, hidden_dim=WIDTH, num_layers=2,
                      num_heads=4, intermediate_dim=64),
    lambda: TextClassifier(50, 2, encoder="transformer", sequence_length=8, hidden_dim=WIDTH,
                           num_layers=2, num_heads=4, intermediate_dim=64),
    lambda: Forecaster(window_length=8, num_features=2, encoder="transformer",
                       hidden_dim=WIDTH, num_layers=2, num_heads=4, intermediate_dim=64),
    lambda: MiniGPT(50, max_length=16, hidden_dim=WIDTH, num_layers=2, num_heads=4,
                    intermediate_dim=64),
], ids=["translator", "captioner", "text_classifier", "forecaster", "mini_gpt"])
def test_self_attention_starts_small_and_the_rest_at_glorot(make):
    keras.utils.set_random_seed(0)
    model = make()
    blocks = [layer for layer in model.layers
              if isinstance(layer, (TransformerEncoderBlock, TransformerDecoderBlock))]
    assert len(blocks) >= 2
    for block in blocks:
        drawn = kernels(block.attention if isinstance(block, TransformerEncoderBlock)
                        else block.self_attention)
        for kernel in drawn:
            # Uniform in [-SMALL, SMALL]: the largest of hundreds of draws comes near the limit.
            assert 0.8 * SMALL < np.abs(kernel).max() <= SMALL * (1 + 1e-6)
        for i, a in enumerate(drawn[:3]):  # query, key and value kernels still differ
            assert not any(np.allclose(a, b) for b in drawn[i + 1:3])
        # Glorot's limit, sqrt(6 / 64), is 4.2x SMALL.
        assert np.abs(np.asarray(block.intermediate_dense.kernel)).max() > SMALL
        if isinstance(block, TransformerDecoderBlock) and block.cross_attention:
            assert np.abs(np.asarray(block.cross_attention_layer.query_dense.kernel)).max() > SMALL


def test_each_call_is_a_new_unseeded_initializer():
    first, second = small_attention_initializer(), small_attention_initializer()
    assert first is not second
    config = first.get_config()
    assert (config["scale"], config["mode"], config["distribution"], config["seed"]) == (
        1 / 18, "fan_avg", "uniform", None)
