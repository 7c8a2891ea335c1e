"""The layers are keras.ops only: saved on TensorFlow, they reload, agree and train on torch and
on JAX, stateful and unrolled ones included; `use_cudnn=True` behaves as Keras' there."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from seqmodels import layers
from tests.conftest import without_hidden_jax

RNG = np.random.default_rng(0)
SEQ = RNG.normal(size=(2, 5, 4)).astype("float32")
IDS = np.array([[3, 1, 4, 0, 0], [2, 7, 1, 8, 2]])
IMAGES = RNG.random((2, 8, 8, 3)).astype("float32")
# These models are tiny: XLA's CPU optimisation passes cost more than they save (the JAX run
# takes half the time without them).
FAST_XLA = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"


def _models():
    def seq_model(layer, batch_size=None):
        inputs = keras.Input((5, 4), batch_size=batch_size)
        return keras.Model(inputs, layer(keras.layers.Masking()(inputs))), SEQ

    ids = keras.Input((5,), dtype="int32")
    embedded = layers.PositionalEmbedding(kind="learned", max_length=5, vocab_size=10,
                                          output_dim=8, mask_zero=True)(ids)
    encoder = layers.TransformerEncoderBlock(2, 16)(embedded)
    decoder = layers.TransformerDecoderBlock(2, 16)(encoder, encoder)
    images = keras.Input((8, 8, 3))
    return {
        "simple_rnn": seq_model(layers.SimpleRNN(3, return_sequences=True, go_backwards=True)),
        "lstm": seq_model(layers.LSTM(3)),
        "gru": seq_model(layers.GRU(3, return_sequences=True)),
        "lstm_stateful_unrolled": seq_model(
            layers.LSTM(3, return_sequences=True, stateful=True, unroll=True), batch_size=2),
        "attention": seq_model(layers.MultiHeadSelfAttention(2, 3, causal=True)),
        "sinusoidal": seq_model(layers.PositionalEmbedding()),
        "transformer": (keras.Model(ids, decoder), IDS),
        "patches": (keras.Model(images, layers.PatchEncoder(4, 6)(images)), IMAGES),
    }


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """The models, saved once on TensorFlow with their inputs and outputs."""
    directory = tmp_path_factory.mktemp("backends")
    names = []
    for name, (model, x) in _models().items():
        model.save(directory / f"{name}.keras")
        arrays = {"x": x, "y": np.asarray(model(x))}
        if any(getattr(layer, "stateful", False) for layer in model.layers):
            arrays["y2"] = np.asarray(model(x))  # from the states the first call left
            assert not np.allclose(arrays["y2"], arrays["y"])
        np.savez(directory / f"{name}.npz", **arrays)
        names.append(name)
    return directory, names


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_layers_reload_agree_and_train(backend, saved_models):
    directory, names = saved_models
    env = dict(os.environ, KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu")
    if backend == "jax":
        env = without_hidden_jax(env)  # the real jax, hidden from the TensorFlow processes
        env.setdefault("XLA_FLAGS", FAST_XLA)
    script = os.path.join(os.path.dirname(__file__), "backend_check.py")
    result = subprocess.run([sys.executable, script, str(directory)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    checked = [line.split()[0] for line in result.stdout.splitlines()
               if line.split()[1:2] == [backend]]
    assert checked == sorted(names) + ["lstm_use_cudnn", "gru_use_cudnn"], result.stdout
