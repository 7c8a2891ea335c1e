"""Model quality on the real test splits, one benchmark per sequence-modelling type.

Each benchmark trains with a fixed seed and configuration (both recorded in the table), evaluates
on the held-out test split, and stays within 15 minutes on 2 CPU cores. Run all with
`make bench`, or some with `.venv/bin/python bench/quality.py --only sentiment,forecasting`.
"""

import argparse
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.results import markdown_table, write_section  # noqa: E402
from seqmodels import data, models  # noqa: E402

SEED = 0
ROWS = []
BEST = os.path.join(__import__("tempfile").mkdtemp(prefix="seqmodels_bench_"), "best.weights.h5")


def record(task, dataset, model, metric, value, target, config, seconds):
    ROWS.append([task, dataset, model, metric, value, target, config, f"{seconds:.0f}"])
    print(" | ".join(str(c) for c in ROWS[-1]), flush=True)


def _classifier_fit(model, train, validation, epochs, learning_rate):
    model.compile(keras.optimizers.Adam(learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    best = keras.callbacks.ModelCheckpoint(BEST,
                                           monitor="val_accuracy", save_best_only=True,
                                           save_weights_only=True)
    model.fit(train, validation_data=validation, epochs=epochs, verbose=0, callbacks=[best])
    model.load_weights(BEST)  # the best validation epoch


def sentiment():
    """Rotten Tomatoes: transformer, LSTM, GRU and a bag-of-words logistic regression."""
    texts = data.load("rotten_tomatoes", "train").map(lambda t, l: t)
    # The text classifiers train exactly as the training binary's `default` preset does.
    for encoder in ("transformer", "lstm", "gru"):
        metrics, config = _binary_run("text_classification", model=encoder)
        shown = _shown(config, ("epochs", "global_batch_size", "learning_rate",
                                "sequence_length", "vocab_size", "hidden_dim", "num_layers",
                                "num_heads", "dropout"))
        record("sentiment", "rotten_tomatoes", f"TextClassifier({encoder})", "test accuracy",
               f"{metrics['test_accuracy']:.3f}",
               ">= 0.75" if encoder == "transformer" else "(reported)",
               f"preset `default`: {shown}, AdamW (no decay on biases, norms, embeddings) warm-up + cosine, best validation epoch",
               _training_seconds(metrics))
    keras.utils.set_random_seed(SEED)
    start = time.time()
    bag = keras.layers.TextVectorization(max_tokens=50000, ngrams=2, output_mode="tf_idf")
    bag.adapt(texts.batch(1024))

    def bags(split, shuffle=False):
        ds = data.load("rotten_tomatoes", split)
        ds = ds.shuffle(16384, seed=SEED) if shuffle else ds
        return ds.batch(64).map(lambda t, l: (bag(t), l)).prefetch(tf.data.AUTOTUNE)

    logistic = keras.Sequential([keras.Input((50000,)), keras.layers.Dense(
        2, kernel_regularizer=keras.regularizers.L2(1e-4))])
    _classifier_fit(logistic, bags("train", True), bags("validation"), 5, 1e-3)
    accuracy = logistic.evaluate(bags("test"), verbose=0)[1]
    record("sentiment", "rotten_tomatoes", "bag of words + logistic regression", "test accuracy",
           f"{accuracy:.3f}", "(baseline)", "TF-IDF word 1-2 grams (50k), L2 1e-4, Adam 1e-3, "
           "best of 5 epochs", time.time() - start)


def _binary_run(task, preset="default", **fields):
    """Trains like `seqmodels-train --task=<task> --config=<preset>`; returns (metrics, config).

    With `SEQMODELS_BENCH_RUNS=<dir>`, each configuration trains in its own run directory
    there, so an interrupted bench resumes where it stopped and a finished run is only
    evaluated again (its training seconds come from its history).
    """
    import hashlib
    import json
    import tempfile

    from seqmodels.training.config import make_config
    from seqmodels.training.train import train_and_evaluate

    config = make_config(task, preset, **fields)
    runs = os.environ.get("SEQMODELS_BENCH_RUNS")
    if runs:
        key = hashlib.sha256(json.dumps(_shown(config, None), sort_keys=True).encode())
        model_dir = os.path.join(runs, f"{task}-{key.hexdigest()[:10]}")
    else:
        model_dir = tempfile.mkdtemp(prefix="seqmodels_bench_")
    return train_and_evaluate(config, model_dir), config


def _training_seconds(metrics):
    """Seconds the run spent in training epochs (all sessions of a resumed run)."""
    return sum(metrics["history"].get("seconds", []))


def _shown(config, names):
    """The config fields (of the run and of the task) in `names` (all with `names=None`)."""
    import dataclasses

    fields = {**dataclasses.asdict(config.run), **dataclasses.asdict(config.task_config)}
    return {k: v for k, v in fields.items() if names is None or k in names}


def images():
    """Fashion-MNIST: the binary's ViT preset (conv stem) and the CNN baseline, each trained as
    `seqmodels-train --task=image_classification` does, within 15 minutes on 2 cores."""
    names = ("epochs", "global_batch_size", "learning_rate", "weight_decay", "patch_size",
             "stem", "pooling", "hidden_dim", "num_layers", "num_heads", "intermediate_dim",
             "label_smoothing", "augment", "jit_compile")
    for label, fields in (
            ("VisionTransformer, hybrid (conv stem)", {}),
            # XLA compiles convolutions to slower CPU code than TensorFlow's oneDNN kernels.
            ("CNNClassifier(32, 64)", {"model": "cnn", "dropout": 0.2, "jit_compile": False})):
        metrics, config = _binary_run("image_classification", **fields)
        record("image classification", "fashion_mnist", label, "test accuracy",
               f"{metrics['test_accuracy']:.3f}",
               ">= 0.90" if label.startswith("Vision") else "(baseline)",
               f"preset `default`{' + ' + str(fields) if fields else ''}: "
               f"{_shown(config, names)}, AdamW (no decay on biases, norms, embeddings) warm-up + cosine, "
               f"{'flips and 2-px shifts' if config.task_config.augment else 'no augmentation'}, best "
               "validation epoch", _training_seconds(metrics))


def forecasting():
    """Sunspots against the seasonal-naive forecast; the bouncing ball against constant velocity."""
    window, cycle = 22, 11
    mean, std = data.normalization("sunspots")
    _, values = data.timeseries.series("sunspots")
    ranges = data.timeseries.split_ranges(len(values))
    test_start, test_stop = ranges["test"]
    naive = values[test_start - cycle:test_stop - cycle, 0]  # the value one cycle ago
    naive_rmse = float(np.sqrt(np.mean((values[test_start:test_stop, 0] - naive) ** 2)))
    for encoder in ("lstm", "transformer"):
        keras.utils.set_random_seed(SEED)
        start = time.time()
        model = models.Forecaster(window, 1, horizon=1, encoder=encoder, hidden_dim=32,
                                  num_heads=2, intermediate_dim=64, dropout=0.1)
        model.compile(keras.optimizers.Adam(3e-3), "mse")
        train = data.forecasting_pipeline(data.load("sunspots", "train", window_length=window),
                                          16, shuffle=True, seed=SEED)
        validation = data.forecasting_pipeline(
            data.load("sunspots", "validation", window_length=window), 64)
        best = keras.callbacks.ModelCheckpoint(BEST,
                                               save_best_only=True, save_weights_only=True)
        model.fit(train, validation_data=validation, epochs=150, verbose=0, callbacks=[best])
        model.load_weights(BEST)
        windows, targets = zip(*data.load("sunspots", "test", window_length=window)
                               .as_numpy_iterator())
        predicted = model.predict(np.stack(windows), verbose=0)[:, 0, 0] * std[0] + mean[0]
        actual = np.stack(targets)[:, 0, 0] * std[0] + mean[0]
        rmse = float(np.sqrt(np.mean((predicted - actual) ** 2)))
        record("forecasting", "sunspots", f"Forecaster({encoder})",
               "test RMSE / seasonal-naive RMSE", f"{rmse:.1f} / {naive_rmse:.1f} = "
               f"{rmse / naive_rmse:.2f}", "<= 0.80", f"window {window} years, width 32, "
               "Adam 3e-3, batch 16, best of 150 epochs", time.time() - start)

    keras.utils.set_random_seed(SEED)
    start = time.time()
    window = 10

    def with_velocity(windows):
        # (batch, window, 2) positions -> (batch, window, 4): positions and per-step velocities
        # (scaled by 1/dt) so the model sees motion, not just places.
        velocity = np.diff(windows, axis=1, prepend=windows[:, :1]) / data.bouncing_ball.DT
        return np.concatenate([windows, velocity], axis=-1).astype("float32")

    def arrays(split):
        windows, targets = [np.stack(a) for a in zip(*data.load(
            "bouncing_ball", split, window_length=window).as_numpy_iterator())]
        return with_velocity(windows), targets

    x, y = arrays("train")
    model = models.Forecaster(window, 4, horizon=1, num_targets=2, encoder="lstm", hidden_dim=64)
    steps = 20 * math.ceil(len(x) / 128)
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, steps)),
                  "mse")
    model.fit(x, y, batch_size=128, epochs=20, verbose=0, shuffle=True)
    windows, targets = arrays("test")
    error = np.linalg.norm(model.predict(windows, verbose=0)[:, 0] - targets[:, 0], axis=-1).mean()
    constant_velocity = 2 * windows[:, -1, :2] - windows[:, -2, :2]
    baseline = np.linalg.norm(constant_velocity - targets[:, 0], axis=-1).mean()
    record("forecasting", "bouncing_ball", "Forecaster(lstm)",
           "mean next-position error / constant-velocity error",
           f"{error:.5f} / {baseline:.5f} = {error / baseline:.2f}", "well below 1",
           "window 10 steps of position + velocity, width 64, Adam 3e-3 cosine, batch 128, "
           "20 epochs; 50 held-out trajectories", time.time() - start)


def translation():
    """English -> Spanish verses: BLEU of greedy and beam-search decoding on held-out chapters."""
    import keras_hub

    metrics, config = _binary_run("translation")
    trained = _training_seconds(metrics)
    model, export = metrics["model"], metrics["task"].export_kwargs
    vocabulary, start_id, end_id = export["vocabulary"], export["start_id"], export["end_id"]
    test = list(data.load("en_es_verses", "test").as_numpy_iterator())
    sources = export["vectorizer"](tf.constant([en for en, _ in test])).numpy()
    references = [data.split_punctuation(es).numpy().decode().split() for _, es in test]

    def detokenize(ids):
        return " ".join(vocabulary[i] for i in ids[1:] if i not in (0, start_id, end_id))

    shown = _shown(config, ("epochs", "global_batch_size", "learning_rate", "sequence_length",
                            "vocab_size", "hidden_dim", "num_layers", "num_heads",
                            "intermediate_dim", "label_smoothing"))
    for beam in (1, 4):
        begin = time.time()
        decoded = model.translate(sources, start_id, end_id, max_length=export["max_length"],
                                  beam_size=beam)
        bleu = keras_hub.metrics.Bleu()
        # y_true is (batch, references): a flat list would be read as one sentence's references.
        bleu.update_state([[" ".join(r)] for r in references],
                          [detokenize(row) for row in decoded])
        if beam == 1:
            print("examples:", *[f"{en.decode()} -> {detokenize(row)}"
                                 for (en, _), row in zip(test[:5], decoded[:5])], sep="\n  ")
        record("translation", "en_es_verses",
               f"Translator ({config.task_config.num_layers}+{config.task_config.num_layers} "
               f"blocks, width {config.task_config.hidden_dim})",
               f"test BLEU, {'greedy' if beam == 1 else f'beam {beam}'}",
               f"{float(bleu.result()) * 100:.1f}", "(reported)",
               f"preset `default`: {shown}, AdamW (no decay on biases, norms, embeddings) warm-up + cosine, best validation epoch; "
               f"{len(test)} held-out verses, token accuracy {metrics['test_accuracy']:.3f}",
               trained + time.time() - begin)


def captioning():
    """mnist_sequences: exact-sequence accuracy of greedy captions on held-out canvases."""
    keras.utils.set_random_seed(SEED)
    start = time.time()
    words = ["", "[UNK]", "starttoken", "endtoken"] + list(data.mnist_sequences.WORDS)
    lookup = keras.layers.StringLookup(vocabulary=words[2:], num_oov_indices=1, mask_token="")
    start_id, end_id = words.index("starttoken"), words.index("endtoken")

    def pipeline(split, shuffle=False):
        ds = data.load("mnist_sequences", split)
        ds = ds.shuffle(20000, seed=SEED) if shuffle else ds

        def encode(image, caption):
            tokens = tf.strings.split("starttoken " + caption + " endtoken").to_tensor("")
            ids = lookup(tokens)  # (batch, <= 6), 0 = padding
            return (tf.cast(image, tf.float32) / 255.0, ids[:, :-1]), ids[:, 1:]
        return ds.batch(64).map(encode).prefetch(tf.data.AUTOTUNE)

    model = models.Captioner((28, 112, 1), len(words), max_length=6, hidden_dim=64,
                             num_layers=1, num_heads=4, intermediate_dim=128, dropout=0.1)
    model.compile(keras.optimizers.Adam(2e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0))
    model.fit(pipeline("train", True), validation_data=pipeline("validation"), epochs=6,
              verbose=0)
    test = list(data.load("mnist_sequences", "test").as_numpy_iterator())
    images = np.stack([image for image, _ in test]).astype("float32") / 255.0
    decoded = model.caption(images, start_id, end_id)
    predicted = [" ".join(words[i] for i in row[1:] if i not in (0, end_id)) for row in decoded]
    exact = np.mean([p == c.decode() for p, (_, c) in zip(predicted, test)])
    record("captioning", "mnist_sequences", "Captioner(cnn, width 64)",
           "test exact-sequence accuracy", f"{exact:.3f}", ">= 0.90",
           "Adam 2e-3, batch 64, 6 epochs, greedy decoding; 1,000 held-out canvases",
           time.time() - start)


def language_model():
    """Mini-GPT on the verses (characters): perplexity against a bigram model; cache speed."""
    keras.utils.set_random_seed(SEED)
    start = time.time()
    texts = {s: "\n".join(t.decode() for t in data.load("verses_text", s).as_numpy_iterator())
             for s in ("train", "validation", "test")}
    characters = sorted(set(texts["train"]))
    index = {c: i + 1 for i, c in enumerate(characters)}  # 0: a character unseen in training
    vocab = len(characters) + 1
    encoded = {s: np.array([index.get(c, 0) for c in t], np.int64) for s, t in texts.items()}
    # Bigram baseline with add-one smoothing, counted on the training text.
    counts = np.ones((vocab, vocab))
    np.add.at(counts, (encoded["train"][:-1], encoded["train"][1:]), 1)
    probabilities = counts / counts.sum(axis=1, keepdims=True)
    test_ids = encoded["test"]
    bigram_ppl = math.exp(-np.mean(np.log(probabilities[test_ids[:-1], test_ids[1:]])))
    length, epochs = 128, 3

    def windows(split):
        ids = encoded[split]
        starts = np.arange(0, len(ids) - length - 1, length)
        return (np.stack([ids[s:s + length] for s in starts]),
                np.stack([ids[s + 1:s + length + 1] for s in starts]))

    x, y = windows("train")
    model = models.MiniGPT(vocab, max_length=256, hidden_dim=128, num_layers=2, num_heads=4,
                           intermediate_dim=512, dropout=0.1)
    steps = epochs * math.ceil(len(x) / 64)
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
    tx, ty = windows("test")
    loss = model.evaluate(tx, ty, batch_size=128, verbose=0)
    record("language modelling", "verses_text (characters)", "MiniGPT (2 blocks, width 128)",
           "test perplexity (bigram baseline)", f"{math.exp(loss):.2f} ({bigram_ppl:.2f})",
           "below the bigram", f"{vocab} characters, context {length}, Adam 2e-3 cosine, "
           f"batch 64, {epochs} epochs", time.time() - start)
    prompt = tx[:1, :32]
    speeds = []
    for use_cache in (True, False):
        model.generate(prompt, 8, use_cache=use_cache)  # compile
        begin = time.time()
        model.generate(prompt, 200, use_cache=use_cache)
        speeds.append(200 / (time.time() - begin))
    record("language modelling", "verses_text (characters)", "MiniGPT.generate",
           "tokens/s with cache (without)", f"{speeds[0]:.0f} ({speeds[1]:.0f})", "(reported)",
           "prompt 32, 200 new tokens, greedy, batch 1, compiled steps", 0)


BENCHMARKS = {"sentiment": sentiment, "images": images, "forecasting": forecasting,
              "translation": translation, "captioning": captioning,
              "language_model": language_model}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    for name in args.only.split(","):
        del ROWS[:]
        BENCHMARKS[name]()
        table = markdown_table(["task", "dataset", "model", "metric", "value", "target",
                                "configuration (seed 0)", "seconds"], ROWS)
        print(table, flush=True)
        if not args.no_write:
            print("wrote", write_section(f"quality-{name}", f"Quality: {name}", table))


if __name__ == "__main__":
    main()
