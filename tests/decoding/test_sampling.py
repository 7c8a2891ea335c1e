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
            "`strategy` must be one of greedy, top_k, top_p, temperature. Received: strategy='beam'")):
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
             "`top_p` must be in (0, 1]. Received: top_p=1.5")):
        with pytest.raises(ValueError, match=re.escape(message)):
            next_token(logits, **kwargs)
