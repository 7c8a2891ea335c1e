"""Serving latency: the exported SavedModel's signature against the Keras model in the same process.

For a text classifier of modest size (the binary's default transformer sentiment model: 20,000
words, width 64, 64 tokens) and an image classifier (the CNN on 28x28 grey images), at batch 1
and 32, this measures p50 and p99 latency of

- `serving_default` of the export loaded with `tf.saved_model.load` (raw text / PNG bytes in:
  tokenisation or decoding included),
- `serving_arrays` (image model: float arrays in, as the Keras model takes),
- a direct call of the Keras model on its already-preprocessed inputs (`model(x)`, eager),
- the same call compiled once with `tf.function` (graph against graph: what the export costs),
- `model.predict(x)`,

in one run; then, under concurrent load, 8 client threads calling `serving_default` of the one
loaded export (batch 1 each, as separate clients) for 30 s: requests/s, p50 and p99 latency,
errors, and the process's resident memory at the start and the end. It writes both tables into
bench/RESULTS.md (section `serving`), and a third: the decoding signatures (`serving_beam` of a
Translator at beam widths 1, 4 and 8, `serving_sample` of a MiniGPT) against the models' own
compiled `translate` / `generate` (`decoding_cases`). The models are untrained: latency does not depend on the
weights. Run with `.venv/bin/python bench/serving.py [--repeats 200] [--concurrent_seconds 30]`
(`--no_write` prints only, for a quick check).
"""

import argparse
import os
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.results import markdown_table, write_section  # noqa: E402
from seqmodels import data, models  # noqa: E402
from seqmodels.export import export_for_serving  # noqa: E402

SEED = 0


def latency(fn, repeats, warmup=5):
    """p50 and p99 of `fn()` in milliseconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return np.percentile(times, 50), np.percentile(times, 99)


def resident_mb():
    """This process's resident memory (VmRSS) in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def concurrent_load(call, requests, seconds, threads=8):
    """`threads` clients calling `call(request)` in a loop for `seconds`, each cycling through
    `requests`: requests/s, p50 and p99 latency (ms), errors and resident MiB at start and end.
    """
    latencies, errors, lock = [], [], threading.Lock()
    start_rss = resident_mb()
    deadline = time.perf_counter() + seconds

    def client(index):
        mine, failed, i = [], [], index
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                call(requests[i % len(requests)])
                mine.append((time.perf_counter() - started) * 1000.0)
            except Exception as error:  # counted, not raised: the load goes on
                failed.append(repr(error)[:200])
            i += threads
        with lock:
            latencies.extend(mine)
            errors.extend(failed)

    began = time.perf_counter()
    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    p50, p99 = np.percentile(latencies, [50, 99]) if latencies else (float("nan"),) * 2
    return {"requests_per_s": len(latencies) / elapsed, "p50": p50, "p99": p99,
            "errors": len(errors), "first_error": errors[0] if errors else "",
            "rss_start": start_rss, "rss_end": resident_mb()}


def _texts(rng, count, words):
    return [" ".join(rng.choice(words, size=int(rng.integers(8, 40)))) for _ in range(count)]


def text_case(rng, root):
    words = np.array([f"w{i}" for i in range(19998)])
    vectorizer = data.text_vectorizer(_texts(rng, 2000, words), vocab_size=20000,
                                      sequence_length=64)
    model = models.TextClassifier(20000, 2, encoder="transformer", sequence_length=64,
                                  hidden_dim=64, num_heads=2, intermediate_dim=128)
    path = export_for_serving(model, os.path.join(root, "sentiment"), vectorizer=vectorizer,
                              class_names=["rotten", "fresh"])

    def inputs(batch):
        texts = _texts(rng, batch, words)
        return tf.constant(texts), vectorizer(tf.constant(texts)).numpy()

    return ("TextClassifier (transformer, 20k words, width 64, 64 tokens)", model, path, "text",
            inputs, None)


def image_case(rng, root):
    model = models.CNNClassifier((28, 28, 1), 10, filters=(32, 64))
    path = export_for_serving(model, os.path.join(root, "images"))

    def inputs(batch):
        images = rng.integers(0, 256, (batch, 28, 28, 1), dtype=np.uint8)
        encoded = tf.constant([tf.io.encode_png(i).numpy() for i in images])
        return encoded, images.astype(np.float32) / 255.0

    return "CNNClassifier (28x28x1, filters 32-64)", model, path, "images", inputs, "images"


def _never_end(layer, token):
    """Gives `token` (the end id) a very low logit bias: every decode runs to `max_length`, so
    that each row times the same, longest decode (the weights are random)."""
    kernel, biases = layer.get_weights()
    biases[token] = -1e4
    layer.set_weights([kernel, biases])


def decoding_cases(rng, root, repeats):
    """Rows of the decoding signatures against the models' own compiled decoding.

    A Translator (5,000 source and target words, width 64, 2 blocks, 20 tokens each way) at
    batch 1 and 8: `serving_default` (greedy) and `serving_beam` at widths 1, 4 and 8, beside
    `translate(beam_size=w)`; a MiniGPT (96 characters, width 64, 2 blocks, context 128):
    `serving_default` (greedy) and `serving_sample` (temperature 0.8, top-k 40, top-p 0.9),
    64 new characters after a 32-character prompt, beside `generate`.
    """
    words = np.array([f"w{i}" for i in range(4998)])
    texts = _texts(rng, 2000, words)
    vectorizer = data.text_vectorizer(texts, vocab_size=5000, sequence_length=20)
    vocabulary = ["", "[UNK]", "[START]", "[END]"] + [f"t{i}" for i in range(4996)]
    translator = models.Translator(5000, 5000, max_source_length=20, max_target_length=20,
                                   hidden_dim=64, num_layers=2, num_heads=4, intermediate_dim=128)
    _never_end(translator.head, 3)
    path = export_for_serving(translator, os.path.join(root, "translate"), vectorizer=vectorizer,
                              vocabulary=vocabulary, start_id=2, end_id=3)
    loaded = tf.saved_model.load(path)
    name = "Translator (5k words each way, width 64, 2 blocks, 20 tokens)"
    rows = []
    for batch in (1, 8):
        batch_texts = tf.constant(_texts(rng, batch, words))
        ids = vectorizer(batch_texts)
        for width in (1, 4, 8):
            python = latency(lambda: translator.translate(ids, 2, 3, beam_size=width), repeats)
            cells = [(f"`translate(beam_size={width})` (vectorized ids)", python)]
            if width == 1:
                cells.append(("SavedModel `serving_default` (raw text, greedy)", latency(
                    lambda: loaded.signatures["serving_default"](text=batch_texts), repeats)))
            beam = tf.fill([batch], width)
            cells.append((f"SavedModel `serving_beam` (raw text, beam_width={width})", latency(
                lambda: loaded.signatures["serving_beam"](text=batch_texts, beam_width=beam),
                repeats)))
            for label, (p50, p99) in cells:
                rows.append([name, batch, label, f"{p50:.1f}", f"{p99:.1f}",
                             f"{p50 / python[0]:.2f}"])
                print(" | ".join(str(c) for c in rows[-1]), flush=True)

    characters = [chr(c) for c in range(32, 127)] + ["\n"]
    gpt = models.MiniGPT(len(characters), max_length=128, hidden_dim=64, num_layers=2,
                         num_heads=4, intermediate_dim=128)
    path = export_for_serving(gpt, os.path.join(root, "generate"), vocabulary=characters,
                              max_length=64)
    loaded = tf.saved_model.load(path)
    name = "MiniGPT (96 characters, width 64, 2 blocks, context 128)"
    prompt = "".join(rng.choice(characters[:95], size=32))
    prompt_ids = np.array([[characters.index(c) for c in prompt]])
    settings = dict(temperature=0.8, top_k=40, top_p=0.9)
    for strategy in ("greedy", "sample"):
        extra = settings if strategy == "sample" else {}
        python = latency(lambda: gpt.generate(prompt_ids, 64, strategy=strategy, seed=0, **extra),
                         repeats)
        cells = [(f"`generate(strategy={strategy!r})` (ids)", python)]
        if strategy == "greedy":
            cells.append(("SavedModel `serving_default` (raw prompt, greedy)", latency(
                lambda: loaded.signatures["serving_default"](prompt=tf.constant([prompt])),
                repeats)))
        else:
            request = dict(prompt=tf.constant([prompt]), temperature=tf.constant([0.8]),
                           top_k=tf.constant([40]), top_p=tf.constant([0.9]),
                           seed=tf.constant([0], tf.int64))
            cells.append(("SavedModel `serving_sample` (raw prompt, seeded)", latency(
                lambda: loaded.signatures["serving_sample"](**request), repeats)))
        for label, (p50, p99) in cells:
            rows.append([name, 1, label, f"{p50:.1f}", f"{p99:.1f}", f"{p50 / python[0]:.2f}"])
            print(" | ".join(str(c) for c in rows[-1]), flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per cell")
    parser.add_argument("--concurrent_seconds", type=float, default=30.0,
                        help="length of each concurrent-load run")
    parser.add_argument("--threads", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--no_write", action="store_true", help="print, leave RESULTS.md")
    args = parser.parse_args()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    root = tempfile.mkdtemp(prefix="seqmodels_serving_bench_")
    rows, load_rows = [], []
    for make in (text_case, image_case):
        name, model, path, input_name, inputs, arrays_name = make(rng, root)
        loaded = tf.saved_model.load(path)
        serve = loaded.signatures["serving_default"]
        pool = [{input_name: inputs(1)[0]} for _ in range(64)]
        for request in pool[:5]:  # warm
            serve(**request)
        load = concurrent_load(lambda request: serve(**request), pool, args.concurrent_seconds,
                               args.threads)
        growth = 100.0 * (load["rss_end"] / load["rss_start"] - 1.0)
        load_rows.append([name, args.threads, f"{load['requests_per_s']:.0f}",
                          f"{load['p50']:.2f}", f"{load['p99']:.2f}", load["errors"],
                          f"{load['rss_start']:.0f}", f"{load['rss_end']:.0f}", f"{growth:+.1f}%"])
        print(" | ".join(str(c) for c in load_rows[-1]), load["first_error"], flush=True)
        for batch in (1, 32):
            raw, ready = inputs(batch)
            repeats = args.repeats if batch == 1 else max(20, args.repeats // 4)
            compiled = tf.function(lambda x: model(x, training=False))
            cells = {
                "direct": latency(lambda: model(ready, training=False), repeats),
                "compiled": latency(lambda: compiled(tf.constant(ready)), repeats),
                "predict": latency(lambda: model.predict(ready, verbose=0), repeats),
                "serving_default": latency(lambda: serve(**{input_name: raw}), repeats),
            }
            if arrays_name:
                arrays = loaded.signatures["serving_arrays"]
                cells["serving_arrays"] = latency(
                    lambda: arrays(**{arrays_name: tf.constant(ready)}), repeats)
            direct, graph = cells["direct"][0], cells["compiled"][0]
            for method, (p50, p99) in cells.items():
                label = {"direct": "Keras `model(x)` (preprocessed x)",
                         "compiled": "Keras `model(x)` in a `tf.function` (preprocessed x)",
                         "predict": "Keras `model.predict(x)` (preprocessed x)",
                         "serving_default": "SavedModel `serving_default` (raw "
                         + ("text" if input_name == "text" else "PNG bytes") + ")",
                         "serving_arrays": "SavedModel `serving_arrays` (float arrays)"}[method]
                rows.append([name, batch, label, f"{p50:.2f}", f"{p99:.2f}",
                             f"{p50 / direct:.2f}", f"{p50 / graph:.2f}"])
                print(" | ".join(str(c) for c in rows[-1]), flush=True)
    decode_repeats = max(10, args.repeats // 10)
    decode_rows = decoding_cases(rng, root, decode_repeats)
    table = markdown_table(["model", "batch", "called as", "p50 ms", "p99 ms",
                            "p50 / direct p50", "p50 / tf.function p50"], rows)
    decode_table = markdown_table(["model", "batch", "called as", "p50 ms", "p99 ms",
                                   "p50 / the model's own p50"], decode_rows)
    decode_notes = (f"Decoding in the graph: {decode_repeats} timed calls a cell after 5 "
                    "untimed ones, untrained weights with the end token's logit held down, so "
                    "every call decodes the full length (20 target tokens; 64 characters): the "
                    "longest request, not a typical one. The model's own row is its compiled "
                    "decoding (`translate`, `generate`: one `tf.function`, the graph the "
                    "signature runs) on already-vectorized ids; the signatures take raw text.")
    load_table = markdown_table(["model", "client threads", "requests/s", "p50 ms", "p99 ms",
                                 "errors", "RSS start MiB", "RSS end MiB", "RSS growth"],
                                load_rows)
    load_notes = (f"Concurrent load: {args.threads} client threads, each sending one raw input "
                  "at a time (batch 1, from a pool of 64) to `serving_default` of the one "
                  f"loaded export for {args.concurrent_seconds:g} s, before that model's "
                  "latency rows; goals: no errors, resident memory growing under 5%.")
    notes = (f"One process, {args.repeats} timed calls at batch 1 ({max(20, args.repeats // 4)} "
             "at batch 32) after 5 untimed ones; the SavedModel is loaded with "
             "`tf.saved_model.load` and includes the preprocessing (tokenisation, PNG decoding) "
             "that the Keras rows skip. Target: SavedModel within 1.2x of the direct call. "
             f"Load average during the run: {os.getloadavg()[0]:.1f} on "
             f"{os.cpu_count()} cores (1-minute, at the end).")
    if args.no_write:
        return
    path = write_section("serving", "Serving latency (bench/serving.py)",
                         notes + "\n\n" + table + "\n\n" + load_notes + "\n\n" + load_table
                         + "\n\n" + decode_notes + "\n\n" + decode_table)
    print("wrote", path)


if __name__ == "__main__":
    main()
