"""Beam search and sampling: exact answers on hand-made distributions."""

import re

import numpy as np
import pytest

from seqmodels.models.beam_search import beam_search
from seqmodels.models.sampling import next_token

START, A, B, END = 0, 1, 2, 3
TINY = 1e-9


def trap(prefixes, rows):
    """Greedy takes A (0.55) and then ends with 0.4: 0.22; B (0.45) then ends surely: 0.45."""
    out = []
    for prefix in prefixes:
        tail = tuple(prefix[1:].tolist())
        if tail == ():
            p = [TINY, 0.55, 0.45, TINY]
        elif tail == (A,):
            p = [TINY, 0.3, 0.3, 0.4]
        else:
            p = [TINY, TINY, TINY, 1.0]
        out.append(np.log(p))
    return np.array(out)


def test_greedy_falls_into_the_trap_and_beam_search_does_not():
    greedy = beam_search(trap, 1, START, END, 5, beam_size=1, length_penalty=0.0)
    beam = beam_search(trap, 1, START, END, 5, beam_size=3, length_penalty=0.0)
    assert greedy.tolist() == [[START, A, END]]
    assert beam.tolist() == [[START, B, END]]


def test_batches_are_decoded_independently_and_padded():
    def fn(prefixes, rows):
        # Example 0 always ends at once; example 1 says A twice, then ends.
        out = []
        for prefix, row in zip(prefixes, rows):
            if row == 0 or len(prefix) >= 3:
                out.append(np.log([TINY, TINY, TINY, 1.0]))
            else:
                out.append(np.log([TINY, 1.0, TINY, TINY]))
        return np.array(out)

    result = beam_search(fn, 2, START, END, 6, beam_size=2)
    assert result.tolist() == [[START, END, END, END], [START, A, A, END]]


def test_max_length_bounds_the_output():
    forever = lambda p, r: np.log(np.tile([TINY, 1.0, TINY, TINY], (len(p), 1)))  # noqa: E731
    assert beam_search(forever, 1, START, END, 4, beam_size=2).tolist() == [[START, A, A, A]]


def test_sampling_strategies():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    assert next_token(logits).tolist() == [0]
    rng = np.random.default_rng(0)
    top_k = {int(next_token(logits, "top_k", top_k=2, rng=rng)[0]) for _ in range(200)}
    assert top_k == {0, 1}
    top_p = {int(next_token(logits, "top_p", top_p=0.7, rng=rng)[0]) for _ in range(200)}
    assert top_p == {0, 1}  # 0.5 < 0.7, 0.5 + 0.3 >= 0.7: two tokens
    cold = {int(next_token(logits, "temperature", temperature=0.01, rng=rng)[0]) for _ in range(50)}
    assert cold == {0}
    with pytest.raises(ValueError, match=re.escape(
            "`strategy` must be one of greedy, top_k, top_p, temperature. Received: strategy='beam'")):
        next_token(logits, "beam")
