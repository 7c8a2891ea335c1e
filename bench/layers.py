"""Forward+backward throughput of each from-scratch layer against its Keras / keras-hub twin.

Each pair runs the same configuration on the same batch: one compiled (`tf.function`) step that
computes the layer's output, a scalar loss, and the gradients with respect to the input and every
trainable weight. Pairs are interleaved round by round (ours, theirs, ours, ...) so that machine
noise hits both alike; the table reports the median samples/s of each and their ratio.

Run: `make bench` (or `.venv/bin/python bench/layers.py [--rounds N]`).
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.results import markdown_table, write_section  # noqa: E402
from seqmodels import layers  # noqa: E402


class KerasSelfAttention(keras.layers.Layer):
    """`keras.layers.MultiHeadAttention` used as self-attention (query = key = value)."""

    def __init__(self, num_heads, key_dim):
        super().__init__()
        self.mha = keras.layers.MultiHeadAttention(num_heads, key_dim)

    def call(self, x):
        return self.mha(x, x)


class KerasHubSinePlusInput(keras.layers.Layer):
    """x + keras_hub's sinusoidal encoding: what our PositionalEmbedding computes on floats."""

    def __init__(self):
        super().__init__()
        self.encoding = keras_hub.layers.SinePositionEncoding()

    def call(self, x):
        return x + self.encoding(x)


def cases():
    """(name, shape, our layer, reference layer, reference name)."""
    rnn_shape, attn_shape = (64, 100, 32), (64, 128, 128)
    return [
        ("SimpleRNN (T=100, 64 units)", rnn_shape,
         lambda: layers.SimpleRNN(64, return_sequences=True),
         lambda: keras.layers.SimpleRNN(64, return_sequences=True), "keras.layers.SimpleRNN"),
        ("LSTM (T=100, 64 units)", rnn_shape,
         lambda: layers.LSTM(64, return_sequences=True),
         lambda: keras.layers.LSTM(64, return_sequences=True), "keras.layers.LSTM"),
        ("GRU (T=100, 64 units)", rnn_shape,
         lambda: layers.GRU(64, return_sequences=True),
         lambda: keras.layers.GRU(64, return_sequences=True), "keras.layers.GRU"),
        ("MultiHeadSelfAttention (T=128, d=128, 4 heads)", attn_shape,
         lambda: layers.MultiHeadSelfAttention(4, 32),
         lambda: KerasSelfAttention(4, 32), "keras.layers.MultiHeadAttention"),
        ("TransformerEncoderBlock (T=128, d=128, 4 heads, ff 512)", attn_shape,
         lambda: layers.TransformerEncoderBlock(4, 512),
         lambda: keras_hub.layers.TransformerEncoder(512, 4), "keras_hub TransformerEncoder"),
        ("PositionalEmbedding sinusoidal (T=128, d=128)", attn_shape,
         lambda: layers.PositionalEmbedding(kind="sinusoidal"),
         KerasHubSinePlusInput, "x + keras_hub SinePositionEncoding"),
    ]


def make_step(layer, x):
    layer(x)  # build
    variables = layer.trainable_variables

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_mean(tf.square(y))
        return tape.gradient(loss, [x] + variables)

    step(x)  # trace and warm up
    return step


def time_step(step, x, iters):
    start = time.perf_counter()
    for _ in range(iters):
        grads = step(x)
    grads[0].numpy()  # wait for the last step
    return iters * x.shape[0] / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iters", type=int, default=10, help="steps per timing")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    rows = []
    for name, shape, ours_fn, theirs_fn, theirs_name in cases():
        x = tf.constant(np.random.default_rng(0).normal(size=shape).astype("float32"))
        ours, theirs = make_step(ours_fn(), x), make_step(theirs_fn(), x)
        ours_rates, theirs_rates = [], []
        for r in range(args.rounds):
            pair = [(ours, ours_rates), (theirs, theirs_rates)]
            for step, rates in (pair if r % 2 == 0 else pair[::-1]):
                rates.append(time_step(step, x, args.iters))
        o, t = statistics.median(ours_rates), statistics.median(theirs_rates)
        rows.append([name, theirs_name, f"{o:,.0f}", f"{t:,.0f}", f"{o / t:.2f}"])
        print(f"{name}: ours {o:,.0f}/s, {theirs_name} {t:,.0f}/s, ratio {o / t:.2f}", flush=True)
    table = markdown_table(
        ["layer (batch 64, forward+backward)", "reference", "ours samples/s",
         "reference samples/s", "ours / reference"], rows)
    body = (f"Median of {args.rounds} interleaved rounds of {args.iters} compiled steps each; "
            "float32, TensorFlow backend, CPU. Target: every ratio >= 1.0.\n\n" + table)
    print(table)
    if not args.no_write:
        print("wrote", write_section("layers", "Layers: ours vs Keras built-ins", body))


if __name__ == "__main__":
    main()
