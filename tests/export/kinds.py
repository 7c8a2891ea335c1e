"""One tiny export of every model kind, and a session that runs them as TF Serving's server does.

`export_every_kind(root)` writes the exports that tests/export and `tools/serving_check.py` check,
with the inputs to send and the Keras models' outputs. `ServerSession` and `run_batched`
(server_session.py) run them as the server does.
"""

import base64

import keras
import numpy as np
import tensorflow as tf

from seqmodels import data, models
from seqmodels.export import export_for_serving
from tests.decoding.eager import eagerly
from tests.export.server_session import ServerSession, run_batched  # noqa: F401

TEXTS = ["a good film", "a bad film", "good acting", "bad plot and bad acting", "",
         "an unseen word"]
WORDS = ["", "[UNK]", "starttoken", "endtoken"] + [f"w{i}" for i in range(8)]
CHARACTERS = ["", "a", "b", "c", " ", "é", "\n"]
# serving_beam's beam width of each text (one per row of TEXTS), serving_sample's settings of
# each prompt: every strategy's filter on and off, a top_k above the vocabulary, a large seed.
WIDTHS = [1, 4, 2, 3, 4, 1]
SAMPLING = {"temperature": ("float32", [1.0, 0.5, 2.0, 1.0, 1.3, 0.8]),
            "top_k": ("int32", [0, 3, 2, 100, 0, 4]),
            "top_p": ("float32", [1.0, 0.9, 1.0, 0.5, 0.7, 1.0]),
            "seed": ("int64", [0, 1, 2, 3, 4, 2 ** 40])}
BERT_TEXTS = ["A good film!", "dull acting, bad plot", "", "not a great movie . the acting is "
              "dull , the plot is bad , the story is not fun", "fun"]


def png(image):
    return tf.io.encode_png(image).numpy()


def strings(values):
    """JSON-able string inputs (base64)."""
    return {"dtype": "string", "b64": [base64.b64encode(v if isinstance(v, bytes) else
                                                        v.encode()).decode() for v in values]}


def floats(array):
    return {"dtype": "float32", "value": np.asarray(array, np.float32).tolist()}


def ints(values):
    return {"dtype": "int32", "value": [int(v) for v in values]}


def decode(value):
    """A numpy array of `strings` / `floats`."""
    if value["dtype"] == "string":
        return np.array([base64.b64decode(v) for v in value["b64"]], object)
    return np.array(value["value"], value["dtype"])


def sentence(ids, start_id, end_id, vocabulary=WORDS):
    """What the decoders' signatures answer for `ids`: the words, without padding, start, end."""
    return " ".join(vocabulary[i] for i in ids[1:] if i not in (0, start_id, end_id))


def _discourage(layer, token, bias):
    """Lowers one token's logit bias, so that random greedy decodes run for a few tokens."""
    kernel, biases = layer.get_weights()
    biases[token] = bias
    layer.set_weights([kernel, biases])


def export_every_kind(root, batching=True):
    """Exports one tiny model of each kind under `root`.

    Returns:
        `(dirs, plan, expected, built)`: version directory of each kind; each case's
        `dict(dir, signature, inputs)` (JSON-able); the Keras models' outputs of each kind
        (probabilities, forecasts, or decoded strings); the models and the vectorizer.
    """
    keras.utils.set_random_seed(0)  # the same models whichever test builds them first
    rng = np.random.default_rng(0)
    plan, expected, dirs = {}, {}, {}
    vectorizer = data.text_vectorizer(TEXTS[:4], vocab_size=20, sequence_length=8)
    ids = vectorizer(tf.constant(TEXTS)).numpy()

    classifier = models.TextClassifier(20, 2, encoder="transformer", sequence_length=8,
                                       hidden_dim=8, intermediate_dim=16)
    dirs["text"] = export_for_serving(classifier, str(root / "sentiment"),
                                      vectorizer=vectorizer, class_names=["rotten", "fresh"],
                                      batching=batching, version_labels="stable")
    plan["text"] = dict(dir=dirs["text"], signature="serving_default",
                        inputs={"text": strings(TEXTS)})
    read = ids.copy()
    read[(ids == 0).all(axis=1), 0] = 1  # a text without tokens is read as one [UNK]
    expected["text"] = tf.nn.softmax(classifier(read)).numpy()

    images = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    pixels = images.astype(np.float32) / 255.0
    for kind, model in (("vit", models.VisionTransformer((8, 8, 3), 3, variant="mu/4")),
                        ("cnn", models.CNNClassifier((8, 8, 3), 3, filters=(4,)))):
        dirs[kind] = export_for_serving(model, str(root / kind), class_names=["x", "y", "z"],
                                        batching=batching)
        plan[kind] = dict(dir=dirs[kind], signature="serving_default",
                          inputs={"images": strings([png(i) for i in images])})
        plan[kind + "_arrays"] = dict(dir=dirs[kind], signature="serving_arrays",
                                      inputs={"images": floats(pixels)})
        expected[kind] = tf.nn.softmax(model(pixels)).numpy()

    forecaster = models.Forecaster(6, 2, horizon=2, num_targets=1, hidden_dim=4)
    mean, std = np.array([10.0, -3.0], np.float32), np.array([2.0, 0.5], np.float32)
    windows = (rng.normal(size=(4, 6, 2)) * std + mean).astype(np.float32)
    dirs["forecast"] = export_for_serving(forecaster, str(root / "forecast"), mean=mean, std=std,
                                          batching=batching)
    plan["forecast"] = dict(dir=dirs["forecast"], signature="serving_default",
                            inputs={"windows": floats(windows)})
    expected["forecast"] = forecaster((windows - mean) / std).numpy() * std[:1] + mean[:1]

    translator = models.Translator(20, len(WORDS), max_source_length=8, max_target_length=7,
                                   hidden_dim=8, num_layers=1, num_heads=2, intermediate_dim=16)
    _discourage(translator.head, 3, -1.5)
    dirs["translate"] = export_for_serving(translator, str(root / "translate"),
                                           vectorizer=vectorizer, vocabulary=WORDS,
                                           start_id=2, end_id=3, batching=batching)
    plan["translate"] = dict(dir=dirs["translate"], signature="serving_default",
                             inputs={"text": strings(TEXTS)})
    # Each text its own beam width: each row is translate(beam_size=w) of that row alone.
    plan["translate_beam"] = dict(dir=dirs["translate"], signature="serving_beam",
                                  inputs={"text": strings(TEXTS), "beam_width": ints(WIDTHS)})
    with eagerly():
        expected["translate"] = [sentence(row, 2, 3) for row in translator.translate(ids, 2, 3)]
        expected["translate_beam"] = [
            sentence(translator.translate(ids[i:i + 1], 2, 3, beam_size=w)[0], 2, 3)
            for i, w in enumerate(WIDTHS)]

    captioner = models.Captioner((8, 16, 1), len(WORDS), max_length=6, hidden_dim=8,
                                 num_heads=2, intermediate_dim=16)
    _discourage(captioner.head, 3, -1.5)
    projection = captioner.get_layer("column_projection")  # images that matter to the caption
    projection.set_weights([w * 30 for w in projection.get_weights()])
    gray = rng.integers(0, 256, (4, 8, 16, 1), dtype=np.uint8)
    gray[0], gray[1] = 0, 255  # black and white: captions that differ
    dirs["caption"] = export_for_serving(captioner, str(root / "caption"), vocabulary=WORDS,
                                         start_id=2, end_id=3, batching=batching)
    plan["caption"] = dict(dir=dirs["caption"], signature="serving_default",
                           inputs={"images": strings([png(i) for i in gray])})
    widths = WIDTHS[:len(gray)]
    plan["caption_beam"] = dict(dir=dirs["caption"], signature="serving_beam",
                                inputs={"images": strings([png(i) for i in gray]),
                                        "beam_width": ints(widths)})
    with eagerly():
        expected["caption"] = [sentence(row, 2, 3) for row in
                               captioner.caption(gray.astype(np.float32) / 255.0, 2, 3)]
        expected["caption_beam"] = [
            sentence(captioner.caption(gray[i:i + 1].astype(np.float32) / 255.0, 2, 3,
                                       beam_size=w)[0], 2, 3) for i, w in enumerate(widths)]

    gpt = models.MiniGPT(len(CHARACTERS), max_length=16, hidden_dim=8, num_layers=1,
                         num_heads=2, intermediate_dim=16)
    dirs["generate"] = export_for_serving(gpt, str(root / "generate"), vocabulary=CHARACTERS,
                                          max_length=6, batching=batching)
    prompts = ["ab", "é c\n", "a", "zz", "", "abcabcabcabcabc"]
    plan["generate"] = dict(dir=dirs["generate"], signature="serving_default",
                            inputs={"prompt": strings(prompts)})
    plan["generate_sample"] = dict(dir=dirs["generate"], signature="serving_sample", inputs={
        "prompt": strings(prompts), **{name: {"dtype": dtype, "value": list(values)} for
                                       name, (dtype, values) in SAMPLING.items()}})
    expected["generate"], expected["generate_sample"] = [], []
    for row, prompt in enumerate(prompts):
        prompt_ids = [CHARACTERS.index(c) if c in CHARACTERS else 0 for c in prompt][-10:] or [0]
        settings = {name: values[row] for name, (_, values) in SAMPLING.items()}
        with eagerly():  # each prompt's length and settings would be a trace of their own
            out = gpt.generate(np.array([prompt_ids]), 6)[0, len(prompt_ids):]
            expected["generate"].append("".join(CHARACTERS[i] for i in out))
            out = gpt.generate(np.array([prompt_ids]), 6, strategy="sample", **settings)
        expected["generate_sample"].append("".join(CHARACTERS[i]
                                                   for i in out[0, len(prompt_ids):]))
    built = dict(text=classifier, vectorizer=vectorizer, gpt=gpt, translator=translator,
                 captioner=captioner, source_ids=ids, gray=gray, prompts=prompts)
    return dirs, plan, expected, built


def export_bert_classifier(preset, root, batching=True):
    """A keras-hub BERT classifier (tokenizer in the graph, padding trimmed per batch).

    Returns:
        `(version_dir, case, probabilities)`.
    """
    from seqmodels import transfer

    keras.utils.set_random_seed(0)
    model = transfer.text_backbone_classifier("preset:" + preset, 2, sequence_length=24,
                                              trim_padding=True, seed=1)
    path = export_for_serving(model, str(root / "bert"), class_names=["rotten", "fresh"],
                              batching=batching)
    case = dict(dir=path, signature="serving_default", inputs={"text": strings(BERT_TEXTS)})
    return path, case, tf.nn.softmax(model(tf.constant(BERT_TEXTS))).numpy()
