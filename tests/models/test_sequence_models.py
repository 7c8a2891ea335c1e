"""MiniGPT, Translator, Captioner: parameter counts, fit, save/load, decoding, cache."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqmodels.models.captioner import Captioner
from seqmodels.models.mini_gpt import MiniGPT
from seqmodels.models.translator import Translator
from tests.decoding.eager import eagerly
from tests.decoding.numpy_beam_search import beam_search as numpy_beam_search

RNG = np.random.default_rng(0)


def _block_params(h, ff, cross):
    attention = 4 * (h * h + h)
    norms = (3 if cross else 2) * 2 * h
    return attention * (2 if cross else 1) + norms + (h * ff + ff) + (ff * h + h)


def _encoder_block_params(h, ff):
    return 4 * (h * h + h) + 2 * 2 * h + (h * ff + ff) + (ff * h + h)


def test_mini_gpt_parameter_count_fit_round_trip_and_cache(tmp_path):
    v, length, h, ff, layers = 30, 16, 16, 32, 2
    gpt = MiniGPT(v, max_length=length, hidden_dim=h, num_layers=layers, num_heads=2,
                  intermediate_dim=ff, dropout=0.0)
    expected = v * h + length * h + layers * _block_params(h, ff, False) + 2 * h + h * v + v
    assert gpt.count_params() == expected
    sequences = np.tile(np.arange(1, 9), (16, 1))  # a counting language: next = this + 1
    gpt.compile(keras.optimizers.Adam(1e-2),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    losses = gpt.fit(sequences[:, :-1], sequences[:, 1:], epochs=30, verbose=0).history["loss"]
    assert losses[-1] < 0.1 * losses[0]
    prompt = np.array([[1, 2, 3]])
    cached = gpt.generate(prompt, 5)
    assert cached.tolist() == [[1, 2, 3, 4, 5, 6, 7, 8]]
    np.testing.assert_array_equal(gpt.generate(prompt, 5, use_cache=False), cached)
    # The reference answers below run eagerly (tests.decoding.eager): the same code and tokens
    # without a trace each (the compiled search is checked above and in the tests below).
    with eagerly():
        sampled = gpt.generate(prompt, 5, strategy="top_k", top_k=3, seed=0)
    assert sampled.shape == (1, 8)
    gpt.save(tmp_path / "gpt.keras")
    loaded = keras.saving.load_model(tmp_path / "gpt.keras")
    with eagerly():
        np.testing.assert_array_equal(loaded.generate(prompt, 5), cached)


def test_mini_gpt_errors():
    gpt = MiniGPT(30, max_length=8, hidden_dim=8, num_heads=2, intermediate_dim=16)
    with pytest.raises(ValueError, match=re.escape(
            "A prompt of 3 tokens plus max_new_tokens=6 exceeds max_length=8.")):
        gpt.generate(np.array([[1, 2, 3]]), 6)
    with pytest.raises(ValueError, match=re.escape(
            "`vocab_size` must be a positive integer. Received: vocab_size=0")):
        MiniGPT(0)


def test_translator_count_learns_to_copy_and_round_trips(tmp_path):
    v, h, ff = 12, 32, 64
    model = Translator(v, v, max_source_length=8, max_target_length=8, hidden_dim=h,
                       num_layers=1, num_heads=2, intermediate_dim=ff, dropout=0.0)
    expected = (2 * (v * h + 8 * h) + _encoder_block_params(h, ff) + _block_params(h, ff, True)
                + h * v + v)
    assert model.count_params() == expected
    # 48 steps at a higher learning rate (it copied 8 of 8 exactly, at two seeds) rather than
    # 200: the same accuracy bound below.
    source = RNG.integers(3, v, size=(256, 4))
    target = np.concatenate([np.ones((256, 1), int), source, np.full((256, 1), 2)], axis=1)
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit([source, target[:, :-1]], target[:, 1:], epochs=12, batch_size=64, verbose=0)
    greedy = model.translate(source[:8], start_id=1, end_id=2, max_length=7)
    assert (greedy == target[:8]).mean() > 0.9
    beam = model.translate(source[:8], start_id=1, end_id=2, max_length=7, beam_size=3)
    assert beam.shape[0] == 8 and (beam[:, 0] == 1).all()
    model.save(tmp_path / "t.keras")
    loaded = keras.saving.load_model(tmp_path / "t.keras")
    with eagerly():  # the reloaded weights' tokens, without a trace of the reloaded model's own
        np.testing.assert_array_equal(loaded.translate(source[:8], 1, 2, 7), greedy)


def test_translator_ignores_source_padding():
    model = Translator(12, 12, hidden_dim=8, num_heads=2, intermediate_dim=16, num_layers=1)
    target = np.array([[1, 5]])
    short = np.asarray(model([np.array([[4, 5, 6]]), target]))
    padded = np.asarray(model([np.array([[4, 5, 6, 0, 0]]), target]))
    np.testing.assert_allclose(short, padded, atol=1e-5)


@pytest.mark.parametrize("encoder", ["cnn", "vit"])
def test_captioner_fits_decodes_and_round_trips(encoder, tmp_path):
    model = Captioner((8, 16, 1), vocab_size=10, max_length=5, encoder=encoder, hidden_dim=16,
                      num_heads=2, intermediate_dim=32, dropout=0.0)
    images = RNG.random((32, 8, 16, 1)).astype("float32")
    captions = np.tile([2, 5, 6, 3, 0], (32, 1))
    # One batch an epoch, run eagerly: the same train steps without tracing a train function.
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), run_eagerly=True)
    losses = model.fit([images, captions[:, :-1]], captions[:, 1:], epochs=10,
                       verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    decoded = model.caption(images[:2], start_id=2, end_id=3)
    assert decoded[:, 0].tolist() == [2, 2]
    model.save(tmp_path / "c.keras")
    loaded = keras.saving.load_model(tmp_path / "c.keras")
    with eagerly():  # the reloaded weights' tokens, without a trace of the reloaded model's own
        np.testing.assert_array_equal(loaded.caption(images[:2], 2, 3), decoded)


def _numpy_search(model, memory, start_id, end_id, max_length, beam_size):
    """The search `translate` and `caption` ran before it moved into the graph: numpy over
    eager decoder steps, each live prefix with its example's encoder outputs."""
    memory = memory if isinstance(memory, tuple) else (memory,)

    def log_probs(prefixes, rows):
        logits = model.decode_step(prefixes, *(tf.gather(m, rows) for m in memory))
        return np.asarray(tf.nn.log_softmax(logits, axis=-1))

    batch = int(memory[0].shape[0])
    return numpy_beam_search(log_probs, batch, start_id, end_id, max_length, beam_size)


@pytest.mark.parametrize("beam_size", [1, 4])
def test_translate_and_caption_give_the_numpy_search_tokens(beam_size):
    # Untrained: flat distributions, so many near ties, and the padding id 0 gets generated.
    translator = Translator(30, 25, max_source_length=10, max_target_length=8, hidden_dim=16,
                            num_heads=2, intermediate_dim=32)
    source = RNG.integers(0, 30, size=(6, 7))
    source[:, 5:] = 0
    expected = _numpy_search(translator, translator.encode(source), 1, 2, 8, beam_size)
    np.testing.assert_array_equal(translator.translate(source, 1, 2, beam_size=beam_size),
                                  expected)
    captioner = Captioner((8, 16, 1), vocab_size=20, max_length=6, hidden_dim=16, num_heads=2,
                          intermediate_dim=32)
    images = RNG.random((4, 8, 16, 1)).astype("float32")
    expected = _numpy_search(captioner, captioner.encode(images), 2, 3, 6, beam_size)
    np.testing.assert_array_equal(captioner.caption(images, 2, 3, beam_size=beam_size), expected)


def test_encode_decode_step_are_the_models_decoder():
    translator = Translator(30, 25, hidden_dim=16, num_heads=2, intermediate_dim=32)
    source, target = np.array([[4, 5, 6, 0]]), np.array([[1, 7, 8]])
    encoded, source_mask = translator.encode(source)
    assert source_mask.numpy().tolist() == [[True, True, True, False]]
    np.testing.assert_allclose(translator.decode_step(target, encoded, source_mask),
                               np.asarray(translator([source, target]))[:, -1], atol=1e-6)
    captioner = Captioner((8, 16, 1), vocab_size=20, encoder="vit", hidden_dim=16, num_heads=2,
                          intermediate_dim=32)
    images = RNG.random((2, 8, 16, 1)).astype("float32")
    captions = np.array([[2, 5, 6], [2, 7, 0]])
    np.testing.assert_allclose(captioner.decode_step(captions, captioner.encode(images)),
                               np.asarray(captioner([images, captions]))[:, -1], atol=1e-6)


def test_captioner_cnn_parameter_count():
    h, ff, v = 16, 32, 10
    model = Captioner((8, 16, 1), vocab_size=v, max_length=5, hidden_dim=h, num_heads=2,
                      intermediate_dim=ff)
    convs = (9 * 1 * 32 + 32) + (9 * 32 * 64 + 64)
    columns = (8 // 4) * 64 * h + h  # each column: rows (2) x channels (64) -> hidden
    expected = (convs + columns + _encoder_block_params(h, ff) + v * h + 5 * h
                + _block_params(h, ff, True) + h * v + v)
    assert model.count_params() == expected
    with pytest.raises(ValueError, match=re.escape(
            "`encoder` must be one of cnn, vit. Received: encoder='rnn'")):
        Captioner((8, 16, 1), 10, encoder="rnn")


def test_shared_argument_check():
    from seqmodels.models.arguments import check_positive_integers

    check_positive_integers(a=1, b=None)
    with pytest.raises(ValueError, match=re.escape(
            "`hidden_dim` must be a positive integer. Received: hidden_dim=True")):
        check_positive_integers(hidden_dim=True)
    with pytest.raises(ValueError, match=re.escape(
            "`max_length` must be a positive integer. Received: max_length=0")):
        Captioner((8, 16, 1), 10, max_length=0)


def _count_full_passes(model, monkeypatch):
    """Counts the calls of `model.decode` (the full pass over a prefix)."""
    calls = []
    decode = model.decode

    def counted(*args, **kwargs):
        calls.append(1)
        return decode(*args, **kwargs)

    monkeypatch.setattr(model, "decode", counted)
    return calls


# Prefixes with the padding id 0 inside, twice in a row, at the end, and not at all. The full
# pass is needed where a row's newest token is 0 and an earlier one is too: t = 3, 5, 6, 7.
PREFIXES = np.array([[1, 4, 0, 3, 0, 5, 0], [1, 0, 0, 2, 2, 0, 3], [1, 2, 3, 4, 5, 6, 0]])


def test_cached_decode_step_gives_the_full_pass_logits(monkeypatch):
    keras.utils.set_random_seed(0)
    translator = Translator(12, 8, max_source_length=6, max_target_length=8, hidden_dim=16,
                            num_heads=2, intermediate_dim=32, num_layers=2)
    captioner = Captioner((8, 8, 1), vocab_size=8, max_length=8, hidden_dim=16, num_heads=2,
                          intermediate_dim=32, num_layers=2)
    memory = translator.encode(np.array([[4, 5, 6, 0], [7, 0, 0, 0], [3, 3, 3, 3]]))
    features = captioner.encode(RNG.random((3, 8, 8, 1)).astype("float32"))
    for model, inputs in ((translator, memory), (captioner, (features,))):
        cache = model.empty_cache(3)
        full_passes = _count_full_passes(model, monkeypatch)
        for t in range(1, 8):
            logits, cache = model.decode_step(PREFIXES[:, :t], *inputs, cache=cache)
            calls = len(full_passes)
            expected = model.decode_step(PREFIXES[:, :t], *inputs)  # itself one full pass
            assert float(np.abs(np.asarray(logits) - np.asarray(expected)).max()) <= 1e-5, t
            del full_passes[calls:]
        # Every other step fed the decoder the newest token only.
        assert len(full_passes) == 4


def test_cached_search_gives_the_uncached_tokens():
    """At widths 1, 2, 3 and 4 (once the parametrized cases of one test), on the same two models.

    One test rather than four: every test starts with `keras.utils.set_random_seed`
    (tests/conftest.py), which clears TensorFlow's kernel cache, so each case re-optimised the
    models' compiled searches (seconds each). Widths 2-4 run one compiled beam search
    (`seqmodels.decoding.compiled_search`), greedy its own.
    """
    # Untrained 2-block models, several weight draws: each draw shuffles the initial values
    # within every weight (same distributions, same compiled searches). The padding id 0 is
    # made likely and the end token unlikely, so that outputs hold id 0, often more than once.
    keras.utils.set_random_seed(0)
    translator = Translator(12, 6, max_source_length=6, max_target_length=8, hidden_dim=16,
                            num_heads=2, intermediate_dim=32, num_layers=2)
    captioner = Captioner((8, 8, 1), vocab_size=6, max_length=8, hidden_dim=16, num_heads=2,
                          intermediate_dim=32, num_layers=2)
    initial = [model.get_weights() for model in (translator, captioner)]
    for beam_size in (1, 2, 3, 4):
        source = RNG.integers(0, 12, size=(8, 5))
        images = RNG.random((8, 8, 8, 1)).astype("float32")
        repeated_padding = 0
        for seed in range(3):
            rng = np.random.default_rng(seed)
            for model, weights, end_id in zip((translator, captioner), initial, (2, 3)):
                weights = [rng.permuted(w.ravel()).reshape(w.shape) for w in weights]
                weights[-1][0] += 0.5  # the head's biases
                weights[-1][end_id] -= 3.0
                model.set_weights(weights)
            outputs = [(translator.translate(source, 1, 2, beam_size=beam_size),
                        translator.translate(source, 1, 2, beam_size=beam_size,
                                             use_cache=False)),
                       (captioner.caption(images, 2, 3, beam_size=beam_size),
                        captioner.caption(images, 2, 3, beam_size=beam_size, use_cache=False))]
            for cached, uncached in outputs:
                np.testing.assert_array_equal(cached, uncached,
                                              err_msg=f"beam_size {beam_size}, seed {seed}")
                repeated_padding += int(((cached == 0).sum(axis=1) >= 2).sum())
        assert repeated_padding > 0, f"beam_size {beam_size}"
