"""The layers are keras.ops only: saved on TensorFlow, they reload, agree and train on torch."""

import os
import subprocess
import sys

import keras
import numpy as np

from seqmodels import layers

RNG = np.random.default_rng(0)
SEQ = RNG.normal(size=(2, 5, 4)).astype("float32")
IDS = np.array([[3, 1, 4, 0, 0], [2, 7, 1, 8, 2]])
IMAGES = RNG.random((2, 8, 8, 3)).astype("float32")


def _models():
    def seq_model(layer):
        inputs = keras.Input((5, 4))
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
        "attention": seq_model(layers.MultiHeadSelfAttention(2, 3, causal=True)),
        "sinusoidal": seq_model(layers.PositionalEmbedding()),
        "transformer": (keras.Model(ids, decoder), IDS),
        "patches": (keras.Model(images, layers.PatchEncoder(4, 6)(images)), IMAGES),
    }


def test_layers_reload_agree_and_train_on_torch(tmp_path):
    for name, (model, x) in _models().items():
        model.save(tmp_path / f"{name}.keras")
        np.savez(tmp_path / f"{name}.npz", x=x, y=np.asarray(model(x)))
    env = dict(os.environ, KERAS_BACKEND="torch", CUDA_VISIBLE_DEVICES="")
    script = os.path.join(os.path.dirname(__file__), "backend_check.py")
    result = subprocess.run([sys.executable, script, str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert result.stdout.count(" torch ") == 7, result.stdout
