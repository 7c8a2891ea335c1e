"""Training throughput and the fraction of this machine's float32 matmul peak it reaches.

For the transformer text classifier (sequence 128, width 128, 4 heads, 2 blocks, feed-forward
512, dropout 0.1, batch 64) and a ViT (28x28 images, 4x4 patches = 49 tokens, width 64, 4
blocks, batch 128; the Fashion-MNIST preset's encoder), and the same ViT at the text model's
width (128, feed-forward 512) to show how the fraction grows with the matmul sizes:

- the peak: the fastest float32 n x n x n matmul for n from 1024 to 4096, with and without
  XLA, GFLOP/s (one size is not enough: TensorFlow's 4096 x 4096 matmul reaches about half
  the rate of XLA's 1536 x 1536 on this VM);
- each model's matmuls alone, forward and gradients under XLA, with none of its element-wise
  work: the ceiling its training step can reach with these matrix shapes;
- each model trained by the package's `CustomTrainingLoop` (what the training binary runs),
  with and without XLA, and by Keras `fit`; the same configuration built from Keras built-ins
  (`keras.layers.MultiHeadAttention`, ...) trained by `fit`, the reference;
- examples/s of the fastest of `REPEATS` timed epochs (after a warm-up epoch that traces; the
  best, as for the peak, because this shared VM's speed drifts), achieved GFLOP/s =
  examples/s x training FLOPs per example, its fraction of the peak and of the model's
  matmuls-alone rate;
- the input-wait fraction: the share of the epoch the loop spent waiting for the next batch of
  a real `tf.data` pipeline (tokenising raw strings, or scaling and shifting uint8 images).

FLOPs per example are counted analytically, the usual way (Kaplan et al. 2020): a forward pass
costs 2 FLOPs per multiply-add of every matmul (projections, attention scores and weighted
sums, feed-forward, patch projection, head), a training step 3x the forward pass; element-wise
work (softmax, norms, activations) is not counted, so the fraction is a lower bound of the
machine's use.

Run: `make bench` (or `.venv/bin/python bench/training.py [--steps N]`).
"""

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.results import markdown_table, write_section  # noqa: E402
from seqmodels import models  # noqa: E402
from seqmodels.training.custom_loop import CustomTrainingLoop  # noqa: E402

TEXT = dict(sequence=128, width=128, heads=4, blocks=2, feedforward=512, batch=64, vocab=20000)
VIT = dict(side=28, patch=4, width=64, heads=4, blocks=4, feedforward=128, batch=128)
WIDE_VIT = dict(VIT, width=128, feedforward=512)
VIT_TOKENS = (VIT["side"] // VIT["patch"]) ** 2
# Timed epochs per run; the fastest counts, as the best of 5 matmuls is the peak. On this shared
# 2-core VM a single epoch's rate varied by up to 3x between back-to-back runs of the same code.
REPEATS = 3


PEAK_SIZES = (1024, 1536, 2048, 3072, 4096)


def matmul_peak(sizes=PEAK_SIZES, repeats=5):
    """The machine's float32 matmul peak: the best n x n x n rate over sizes and both compilers.

    A single size understates it: TensorFlow's own 4096 x 4096 matmul ran at 77-85 GFLOP/s
    here, XLA's 1536 x 1536 at 150 (measured 2026-11-30), so the peak is the fastest of
    `repeats` runs of each size in `sizes`, with and without XLA.

    Returns:
        `(GFLOP/s, description)`, e.g. `(150.2, "1536^3, XLA")`.
    """
    best, where = 0.0, ""
    for n in sizes:
        a = tf.random.normal((n, n))
        b = tf.random.normal((n, n))
        for xla in (False, True):
            matmul = tf.function(lambda x, y: tf.matmul(x, y), jit_compile=xla)
            matmul(a, b).numpy()
            for _ in range(repeats):
                start = time.perf_counter()
                matmul(a, b).numpy()
                rate = 2 * n ** 3 / (time.perf_counter() - start) / 1e9
                if rate > best:
                    best, where = rate, f"{n}^3, {'XLA' if xla else 'TensorFlow'}"
    return best, where


def encoder_flops(tokens, width, feedforward, blocks):
    """Forward FLOPs of `blocks` encoder blocks over `tokens` tokens (matmuls only)."""
    projections = 4 * tokens * width * width  # query, key, value, output
    attention = 2 * tokens * tokens * width  # scores and weighted sum
    mlp = 2 * tokens * width * feedforward
    return 2 * blocks * (projections + attention + mlp)


def text_flops():
    c = TEXT
    head = c["width"] * 2  # pooled vector -> 2 logits
    return 3 * (encoder_flops(c["sequence"], c["width"], c["feedforward"], c["blocks"])
                + 2 * head)


def vit_flops(c=VIT):
    tokens = (c["side"] // c["patch"]) ** 2
    patches = 2 * tokens * c["patch"] ** 2 * c["width"]
    return 3 * (patches + encoder_flops(tokens, c["width"], c["feedforward"], c["blocks"])
                + 2 * c["width"] * 10)


def matmuls_alone(tokens, width, feedforward, heads, blocks, batch, steps, patch_dim=None):
    """Examples/s of a model's matmuls alone: the fastest of `REPEATS` epochs of XLA steps.

    The forward matmuls that `encoder_flops` counts (with the patch projection for a ViT) and
    their gradients, nothing else: no softmax, norms, biases, embeddings or optimizer. A ReLU
    after the attention scores and the first feed-forward matmul keeps XLA from reassociating
    matmul chains into fewer FLOPs. This is the ceiling the model's training step approaches
    as its element-wise work goes to zero.
    """
    rows, head = batch * tokens, width // heads
    weights = [tf.Variable(tf.random.normal(shape) * 0.05) for _ in range(blocks)
               for shape in [(width, width)] * 4 + [(width, feedforward), (feedforward, width)]]
    if patch_dim is not None:
        weights.append(tf.Variable(tf.random.normal((patch_dim, width)) * 0.05))
    inputs = tf.random.normal((rows, patch_dim or width))

    @tf.function(jit_compile=True)
    def step():
        with tf.GradientTape() as tape:
            x = inputs @ weights[-1] if patch_dim is not None else inputs
            for i in range(blocks):
                wq, wk, wv, wo, w1, w2 = weights[6 * i:6 * i + 6]
                q, k, v = (tf.reshape(x @ w, (batch, tokens, heads, head))
                           for w in (wq, wk, wv))  # (batch, tokens, heads, head)
                scores = tf.nn.relu(tf.einsum("bqhk,bshk->bhqs", q, k))  # (batch, heads, q, s)
                context = tf.einsum("bhqs,bshv->bqhv", scores, v)  # (batch, q, heads, head)
                x = x + tf.reshape(context, (rows, width)) @ wo  # (batch * tokens, width)
                x = x + tf.nn.relu(x @ w1) @ w2
            loss = tf.reduce_sum(x)
        for weight, gradient in zip(weights, tape.gradient(loss, weights)):
            weight.assign_sub(1e-9 * gradient)
        return loss

    step().numpy()
    epochs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(steps):
            step().numpy()
        epochs.append(time.perf_counter() - start)
    return steps * batch / min(epochs)


# Data: raw inputs through a real tf.data pipeline. ------------------------------------------
WORDS = np.array([f"w{i}" for i in range(5000)])


def text_dataset(vectorizer, batch):
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, TEXT["sequence"])) for _ in range(2048)]
    labels = rng.integers(0, 2, len(texts))
    return (tf.data.Dataset.from_tensor_slices((texts, labels)).repeat().batch(batch)
            .map(lambda t, y: (vectorizer(t), y), num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def image_dataset(batch):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4096, VIT["side"], VIT["side"], 1), dtype=np.uint8)
    labels = rng.integers(0, 10, len(images))

    def prepare(image, label):
        image = tf.cast(image, tf.float32) / 255.0
        padded = tf.pad(image, [[2, 2], [2, 2], [0, 0]])
        return tf.image.random_crop(padded, tf.shape(image)), label

    return (tf.data.Dataset.from_tensor_slices((images, labels)).repeat()
            .map(prepare, num_parallel_calls=tf.data.AUTOTUNE).batch(batch)
            .prefetch(tf.data.AUTOTUNE))


# Models: ours and the same configuration from Keras built-ins. -----------------------------
def ours_text():
    c = TEXT
    return models.TextClassifier(c["vocab"], 2, encoder="transformer",
                                 sequence_length=c["sequence"], hidden_dim=c["width"],
                                 num_layers=c["blocks"], num_heads=c["heads"],
                                 intermediate_dim=c["feedforward"], dropout=0.1)


def builtin_encoder(x, width, heads, feedforward, dropout, activation="relu", mask=None):
    """A post-norm encoder block from keras.layers (pre-norm would only move the norms)."""
    attended = keras.layers.MultiHeadAttention(heads, width // heads, dropout=dropout)(
        x, x, attention_mask=mask)
    x = keras.layers.LayerNormalization()(x + keras.layers.Dropout(dropout)(attended))
    y = keras.layers.Dense(feedforward, activation=activation)(x)
    y = keras.layers.Dense(width)(y)
    return keras.layers.LayerNormalization()(x + keras.layers.Dropout(dropout)(y))


def builtin_text():
    c = TEXT
    ids = keras.Input((c["sequence"],), dtype="int32")
    x = keras.layers.Embedding(c["vocab"], c["width"], mask_zero=True)(ids)
    positions = keras.layers.Embedding(c["sequence"], c["width"])(keras.ops.arange(c["sequence"]))
    x = x + positions
    for _ in range(c["blocks"]):
        x = builtin_encoder(x, c["width"], c["heads"], c["feedforward"], 0.1)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(ids, keras.layers.Dense(2)(x))


def ours_vit(c=VIT):
    return models.VisionTransformer((c["side"], c["side"], 1), 10, variant=f"mu/{c['patch']}",
                                    hidden_dim=c["width"], depth=c["blocks"],
                                    num_heads=c["heads"], intermediate_dim=c["feedforward"],
                                    pooling="mean")


def builtin_vit():
    c = VIT
    images = keras.Input((c["side"], c["side"], 1))
    x = keras.layers.Conv2D(c["width"], c["patch"], strides=c["patch"])(images)
    tokens = (c["side"] // c["patch"]) ** 2
    x = keras.layers.Reshape((tokens, c["width"]))(x)  # (batch, 49, width)
    x = x + keras.layers.Embedding(tokens, c["width"])(keras.ops.arange(tokens))
    for _ in range(c["blocks"]):
        x = builtin_encoder(x, c["width"], c["heads"], c["feedforward"], 0.0, "gelu")
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.LayerNormalization()(x))
    return keras.Model(images, keras.layers.Dense(10)(x))


# Runners. --------------------------------------------------------------------------------
def run_loop(build, dataset, batch, steps, jit_compile):
    """Examples/s and input-wait fraction of the fastest of `REPEATS` CustomTrainingLoop epochs.

    The first epoch (tracing) is not timed.
    """
    strategy = tf.distribute.get_strategy()
    keras.utils.set_random_seed(0)
    model = build()
    optimizer = keras.optimizers.AdamW(1e-4)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    loop = CustomTrainingLoop(model, optimizer, loss, strategy, tempfile.mkdtemp(), batch,
                              accuracy=True, jit_compile=jit_compile, verbose=0)
    history = loop.fit(lambda epoch: dataset, 1 + REPEATS, steps)
    best = 1 + int(np.argmin(history["seconds"][1:]))  # the fastest timed epoch
    return steps * batch / history["seconds"][best], history["input_wait_fraction"][best]


def run_fit(build, dataset, batch, steps):
    """Examples/s of the fastest of `REPEATS` `fit` epochs after the first (which traces)."""
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(keras.optimizers.AdamW(1e-4),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    class Timer(keras.callbacks.Callback):
        seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    timer = Timer()
    model.fit(dataset, epochs=1 + REPEATS, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    return steps * batch / min(timer.seconds[1:]), float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per run")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    peak, peak_where = matmul_peak()
    print(f"float32 matmul peak: {peak:.0f} GFLOP/s ({peak_where})", flush=True)
    vectorizer = keras.layers.TextVectorization(max_tokens=TEXT["vocab"],
                                                output_sequence_length=TEXT["sequence"])
    vectorizer.adapt(WORDS)
    text = text_dataset(vectorizer, TEXT["batch"])
    images = image_dataset(VIT["batch"])
    cases = [
        ("transformer text classifier", text_flops(), TEXT["batch"], text, ours_text,
         builtin_text, TEXT["sequence"], TEXT, None),
        ("ViT (patch 4, 49 tokens)", vit_flops(), VIT["batch"], images, ours_vit, builtin_vit,
         VIT_TOKENS, VIT, VIT["patch"] ** 2),
        ("ViT (49 tokens) at width 128, feed-forward 512", vit_flops(WIDE_VIT),
         WIDE_VIT["batch"], images, lambda: ours_vit(WIDE_VIT), None, VIT_TOKENS, WIDE_VIT,
         VIT["patch"] ** 2),
    ]
    rows = []
    for name, flops, batch, dataset, ours, builtin, tokens, c, patch_dim in cases:
        runs = [("its matmuls alone (XLA): the ceiling", lambda: (matmuls_alone(
                    tokens, c["width"], c["feedforward"], c["heads"], c["blocks"], batch,
                    args.steps, patch_dim), float("nan"))),
                ("ours, CustomTrainingLoop", lambda: run_loop(ours, dataset, batch, args.steps,
                                                             False)),
                ("ours, CustomTrainingLoop + XLA", lambda: run_loop(ours, dataset, batch,
                                                                   args.steps, True))]
        if builtin is not None:
            runs += [("ours, Keras fit", lambda: run_fit(ours, dataset, batch, args.steps)),
                     ("Keras built-ins, Keras fit", lambda: run_fit(builtin, dataset, batch,
                                                                    args.steps))]
        ceiling = None  # the first run: the model's matmuls alone
        for how, run in runs:
            rate, waited = run()
            ceiling = ceiling or rate
            achieved = rate * flops / 1e9
            rows.append([name, how, f"{rate:.0f}", f"{flops / 1e6:.0f}", f"{achieved:.0f}",
                         f"{achieved / peak:.0%}", f"{rate / ceiling:.0%}",
                         "-" if np.isnan(waited) else f"{waited:.1%}"])
            print(" | ".join(rows[-1]), flush=True)
    table = markdown_table(["model", "trained by", "examples/s", "training MFLOP / example",
                            "GFLOP/s", "of matmul peak", "of its matmuls alone",
                            "input wait"], rows)
    table += (f"\n\nfloat32 matmul peak: {peak:.0f} GFLOP/s, the fastest n x n x n matmul for n in "
              f"{', '.join(map(str, PEAK_SIZES))}, TensorFlow and XLA, best of 5 each (reached "
              f"at {peak_where}). Batch "
              f"{TEXT['batch']} (text), {VIT['batch']} (ViT); the fastest of {REPEATS} epochs of "
              f"{args.steps} steps after a warm-up epoch; FLOPs counted analytically (matmuls, "
              "3x forward), a lower bound. \"Its matmuls alone\": the same matmuls and their "
              "gradients under XLA with none of the model's element-wise work, the most its "
              "training step can reach with these matrix shapes on this machine.")
    print(table)
    if not args.no_write:
        print("wrote", write_section("training", "Training throughput", table))


if __name__ == "__main__":
    main()
