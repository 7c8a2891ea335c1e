"""Sampling strategies: exact answers where they are certain, the allowed sets where not."""

import re

import numpy as np
import pytest
import tensorflow as tf

from seqmodels.decoding import next_token


def _draws(logits, strategy, count, **kwargs):
    """The set of tokens `count` seeded draws give."""
    return {int(next_token(logits, strategy, seed=(0, i), **kwargs).numpy()[0])
            for i in range(count)}


def test_sampling_strategies():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    assert next_token(logits).numpy().tolist() == [0]
    top_k = _draws(logits, "top_k", 200, top_k=2)
    assert top_k == {0, 1}
    top_p = _draws(logits, "top_p", 200, top_p=0.7)
    assert top_p == {0, 1}  # 0.5 < 0.7, 0.5 + 0.3 >= 0.7: two tokens
    cold = _draws(logits, "temperature", 50, temperature=0.01)
    assert cold == {0}
    with pytest.raises(ValueError, match=re.escape(
            "`strategy` must be one of greedy, top_k, top_p, temperature, sample. Received: "
            "strategy='beam'")):
        next_token(logits, "beam")


def test_every_token_can_be_drawn_at_temperature_one():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    assert _draws(logits, "temperature", 300) == {0, 1, 2, 3}


def test_a_seed_fixes_the_draw_eagerly_and_in_a_graph():
    logits = tf.random.stateless_normal([8, 50], seed=(1, 2))
    eager = next_token(logits, "top_p", top_p=0.95, seed=(3, 4))
    graph = tf.function(lambda x: next_token(x, "top_p", top_p=0.95, seed=(3, 4)))(logits)
    np.testing.assert_array_equal(eager.numpy(), graph.numpy())


def test_arguments_are_named():
    logits = np.zeros((1, 4))
    for kwargs, message in (
            ({"strategy": "temperature", "temperature": 0.0},
             "`temperature` must be positive. Received: temperature=0.0"),
            ({"strategy": "top_k", "top_k": 5}, "`top_k` must be in [1, vocab size 4]. "
                                                "Received: top_k=5"),
            ({"strategy": "top_p", "top_p": 1.5},
             "`top_p` must be in (0, 1]. Received: top_p=1.5"),
            ({"strategy": "sample", "top_k": -1}, "`top_k` must be an integer >= 0 (0, or the "
                                                  "vocabulary size or more: every token). "
                                                  "Received: top_k=-1"),
            ({"strategy": "sample", "top_k": 2.5}, "Received: top_k=2.5"),
            ({"strategy": "sample", "top_p": 0.0},
             "`top_p` must be in (0, 1]. Received: top_p=0.0")):
        with pytest.raises(ValueError, match=re.escape(message)):
            next_token(logits, **kwargs)


def test_sample_is_each_strategy_with_the_other_filters_off():
    """`"sample"` with top_k=0 and top_p=1 is `"temperature"`; with one filter on, it is that
    filter's strategy: the same draws for the same seeds (one set of filter ops)."""
    logits = tf.random.stateless_normal([6, 30], seed=(4, 2)) * 3.0
    for i in range(20):
        seed = (i, 1)
        for strategy, kwargs in (("temperature", {"top_k": 0, "top_p": 1.0}),
                                 ("temperature", {"top_k": 30, "top_p": 1.0}),
                                 ("top_k", {"top_k": 4, "top_p": 1.0}),
                                 ("top_p", {"top_k": 0, "top_p": 0.6})):
            kwargs = dict(kwargs, temperature=0.7)
            alone = {k: v for k, v in kwargs.items() if k == "temperature" or
                     k == strategy}
            np.testing.assert_array_equal(
                next_token(logits, "sample", seed=seed, **kwargs).numpy(),
                next_token(logits, strategy, seed=seed, **alone).numpy(), err_msg=strategy)


def test_tensor_parameters_draw_as_python_numbers_do_row_by_row():
    """The serving signature passes its inputs as tensors (scalars in its per-prompt loop, or
    one per row): the draws equal those of the same Python numbers, eagerly and in a graph,
    and each row keeps only what its own k and p allow."""
    logits = tf.random.stateless_normal([3, 12], seed=(9, 9)) * 2.0
    temperature, top_k, top_p = [0.5, 1.0, 1.7], [1, 0, 5], [1.0, 0.3, 0.9]
    as_tensors = dict(temperature=tf.constant(temperature), top_k=tf.constant(top_k),
                      top_p=tf.constant(top_p))
    graph = tf.function(lambda x, seed: next_token(x, "sample", seed=seed, **as_tensors))
    for i in range(30):
        seed = tf.constant([i, 3], tf.int64)
        rows = next_token(logits, "sample", seed=seed, **as_tensors).numpy()
        np.testing.assert_array_equal(graph(logits, seed).numpy(), rows)
        for row in range(3):
            alone = next_token(logits[row:row + 1], "sample", temperature=temperature[row],
                               top_k=top_k[row], top_p=top_p[row], seed=seed).numpy()
            scalars = next_token(logits[row:row + 1], "sample", seed=seed,
                                 **{k: v[row] for k, v in as_tensors.items()}).numpy()
            np.testing.assert_array_equal(scalars, alone, err_msg=f"row {row}, seed {i}")
        assert rows[0] == int(tf.argmax(logits[0]))  # top_k=1: the best token only
        order = np.argsort(-logits[2].numpy())
        assert rows[2] in order[:5]
