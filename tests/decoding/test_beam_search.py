"""Beam search: exact answers on hand-made distributions, and the numpy search's answers."""

import re

import numpy as np
import pytest
import tensorflow as tf

from seqmodels.decoding import beam_search
from tests.decoding.numpy_beam_search import beam_search as numpy_beam_search

START, A, B, END = 0, 1, 2, 3
TINY = 1e-9


def _eager(fn):
    """A numpy `fn(prefixes, rows)` as `beam_search` calls it (eagerly: tensors in)."""
    return lambda prefixes, rows: fn(np.asarray(prefixes), np.asarray(rows))


def _rows(batch):
    """Encoder outputs that tell `next_logits` each prefix's example."""
    return tf.range(batch)


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
    greedy = beam_search(_eager(trap), _rows(1), START, END, 5, beam_size=1, length_penalty=0.0)
    beam = beam_search(_eager(trap), _rows(1), START, END, 5, beam_size=3, length_penalty=0.0)
    assert greedy.numpy().tolist() == [[START, A, END]]
    assert beam.numpy().tolist() == [[START, B, END]]


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

    result = beam_search(_eager(fn), _rows(2), START, END, 6, beam_size=2)
    assert result.numpy().tolist() == [[START, END, END, END], [START, A, A, END]]


def test_max_length_bounds_the_output():
    forever = lambda p, r: np.log(np.tile([TINY, 1.0, TINY, TINY], (len(p), 1)))  # noqa: E731
    result = beam_search(_eager(forever), _rows(1), START, END, 4, beam_size=2)
    assert result.numpy().tolist() == [[START, A, A, A]]


def _markov_case(rng):
    """A random search: next-token logits depend on the example and the last token, sharp
    enough that the end token is often first or second."""
    vocab, batch, max_length = (int(rng.integers(3, 7)), int(rng.integers(1, 5)),
                                int(rng.integers(2, 8)))
    end_id, start_id = int(rng.integers(0, vocab)), int(rng.integers(0, vocab))
    table = (rng.normal(size=(batch, vocab, vocab)) * 2.0).astype(np.float32)
    table_tf = tf.constant(table)

    def numpy_fn(prefixes, rows):
        return tf.nn.log_softmax(table[rows, prefixes[:, -1]]).numpy()

    def graph_fn(prefixes, rows):
        return tf.gather_nd(table_tf, tf.stack([rows, prefixes[:, -1]], axis=1))

    return table, numpy_fn, graph_fn, batch, start_id, end_id, max_length


@pytest.mark.parametrize("beam_size", [1, 2, 3, 4])
def test_beam_search_matches_the_numpy_search_it_replaced(beam_size):
    rng = np.random.default_rng(beam_size)
    for trial in range(30):  # eager: tf.while_loop runs as a Python loop
        _, numpy_fn, graph_fn, batch, start_id, end_id, max_length = _markov_case(rng)
        expected = numpy_beam_search(numpy_fn, batch, start_id, end_id, max_length, beam_size)
        got = beam_search(graph_fn, _rows(batch), start_id, end_id, max_length, beam_size)
        np.testing.assert_array_equal(got.numpy(), expected, err_msg=f"trial {trial}")


def test_beam_search_in_a_graph_matches_eager():
    rng = np.random.default_rng(7)
    for trial in range(5):
        _, _, graph_fn, batch, start_id, end_id, max_length = _markov_case(rng)
        search = tf.function(lambda rows: beam_search(graph_fn, rows, start_id, end_id,
                                                      max_length, beam_size=3),
                             autograph=False)  # as the models compile it (seqmodels.decoding)
        np.testing.assert_array_equal(
            search(_rows(batch)).numpy(),
            beam_search(graph_fn, _rows(batch), start_id, end_id, max_length, 3).numpy(),
            err_msg=f"trial {trial}")


def test_greedy_keeps_the_pool_of_closed_sequences():
    rng = np.random.default_rng(0)
    differs_from_argmax = 0
    for trial in range(30):
        table, numpy_fn, graph_fn, batch, start_id, end_id, max_length = _markov_case(rng)
        expected = numpy_beam_search(numpy_fn, batch, start_id, end_id, max_length, 1)
        got = beam_search(graph_fn, _rows(batch), start_id, end_id, max_length, beam_size=1)
        np.testing.assert_array_equal(got.numpy(), expected, err_msg=f"trial {trial}")
        differs_from_argmax += any(not _is_argmax_chain(row, table[i], start_id, end_id)
                                   for i, row in enumerate(expected))
    # The pool of closed sequences changed the answer somewhere: that path was compared too.
    assert differs_from_argmax > 0


def _is_argmax_chain(row, table, start_id, end_id):
    """Whether `row` is what plain argmax decoding gives (until the first end token)."""
    token = start_id
    for next_id in row[1:]:
        if table[token].argmax() != next_id:
            return False
        if next_id == end_id:
            return True
        token = next_id
    return True


def test_empty_batch():
    out = beam_search(lambda p, _: tf.zeros([tf.shape(p)[0], 4]), tf.zeros([0, 3]), 1, 2, 5,
                      beam_size=2)
    assert out.shape[0] == 0


def test_arguments_are_checked():
    fn = lambda p, _: tf.zeros([tf.shape(p)[0], 4])  # noqa: E731
    with pytest.raises(ValueError, match=re.escape(
            "`beam_size` must be an integer >= 1. Received: beam_size=0")):
        beam_search(fn, _rows(1), 1, 2, 5, beam_size=0)
    with pytest.raises(ValueError, match=re.escape(
            "`max_length` must be an integer >= 2. Received: max_length=1")):
        beam_search(fn, _rows(1), 1, 2, 1)


def _second_order_case(rng):
    """A search whose next token depends on the last two tokens (the one before the last read
    from a "cache" when there is one), so that a cache row left with the wrong beam changes the
    answer: `(batch, start_id, end_id, max_length, uncached, cached, empty_cache)`."""
    vocab, batch, max_length = (int(rng.integers(3, 7)), int(rng.integers(1, 5)),
                                int(rng.integers(2, 8)))
    end_id, start_id = int(rng.integers(0, vocab)), int(rng.integers(0, vocab))
    table = tf.constant((rng.normal(size=(batch, vocab, vocab, vocab)) * 2.0).astype(np.float32))

    def logits(rows, before, last):
        return tf.gather_nd(table, tf.stack([rows, before, last], axis=1))

    def uncached(prefixes, rows):
        before = prefixes[:, tf.maximum(tf.shape(prefixes)[1] - 2, 0)]  # the last when t = 1
        return logits(rows, before, prefixes[:, -1])

    def cached(prefixes, rows, cache):
        # The cache holds the tokens fed before (row by row): it must be this prefix's start.
        t = tf.shape(prefixes)[1]
        tf.debugging.assert_equal(cache[:, :t - 1], prefixes[:, :-1])
        before = tf.cond(t > 1, lambda: cache[:, t - 2], lambda: prefixes[:, -1])
        new_cache = tf.tensor_scatter_nd_update(
            tf.transpose(cache), [[t - 1]], prefixes[:, -1][None, :])
        return logits(rows, before, prefixes[:, -1]), tf.transpose(new_cache)

    empty = tf.fill([batch, max_length], -1)  # (batch, max_length): no token fed yet
    return batch, start_id, end_id, max_length, uncached, cached, empty


@pytest.mark.parametrize("beam_size", [1, 2, 3, 4])
def test_a_cache_follows_its_beams(beam_size):
    rng = np.random.default_rng(10 + beam_size)
    for trial in range(12):
        batch, start_id, end_id, max_length, uncached, cached, empty = _second_order_case(rng)
        expected = beam_search(uncached, _rows(batch), start_id, end_id, max_length, beam_size)
        got = beam_search(cached, _rows(batch), start_id, end_id, max_length, beam_size,
                          cache=empty)
        np.testing.assert_array_equal(got.numpy(), expected.numpy(), err_msg=f"trial {trial}")


def test_a_cache_follows_its_beams_in_a_graph():
    rng = np.random.default_rng(3)
    for trial in range(3):
        batch, start_id, end_id, max_length, uncached, cached, empty = _second_order_case(rng)
        search = tf.function(lambda rows, cache: beam_search(
            cached, rows, start_id, end_id, max_length, beam_size=3, cache=cache), autograph=False)
        np.testing.assert_array_equal(
            search(_rows(batch), empty).numpy(),
            beam_search(uncached, _rows(batch), start_id, end_id, max_length, 3).numpy(),
            err_msg=f"trial {trial}")


def _alone(fn, example, start_id, end_id, max_length, width, **kwargs):
    """Example `example`'s own search of width `width` (batch of one)."""
    return beam_search(fn, tf.constant([example]), start_id, end_id, max_length, width,
                       **kwargs).numpy()[0]


def _same_tokens(row, alone, end_id, message):
    """`row` (padded to the batch's longest) holds `alone` and then only `end_id`."""
    np.testing.assert_array_equal(row[:len(alone)], alone, err_msg=message)
    assert (row[len(alone):] == end_id).all(), message


@pytest.mark.parametrize("dynamic", [False, True])
def test_each_example_of_its_own_width_gets_that_widths_tokens(dynamic):
    """Widths 1..4 mixed in one batch, in `max(widths)` slots (a Python int, or a tensor as
    the serving signature passes it): each example's tokens are its own search's of its width
    (which the tests above hold to the numpy search); some example's answer depends on its
    width."""
    rng = np.random.default_rng(20 + dynamic)
    width_mattered = False
    for trial in range(10):
        _, _, graph_fn, batch, start_id, end_id, max_length = _markov_case(rng)
        widths = rng.integers(1, 5, size=batch).astype(np.int32)
        slots = tf.constant(int(widths.max())) if dynamic else int(widths.max())
        got = beam_search(graph_fn, _rows(batch), start_id, end_id, max_length, slots,
                          beam_widths=tf.constant(widths)).numpy()
        for i, width in enumerate(widths):
            alone = _alone(graph_fn, i, start_id, end_id, max_length, int(width))
            _same_tokens(got[i], alone, end_id, f"trial {trial}, example {i}, width {width}")
            if not width_mattered:
                width_mattered = any(not np.array_equal(alone, _alone(
                    graph_fn, i, start_id, end_id, max_length, w)) for w in range(1, 5))
    assert width_mattered, "no example's answer depended on its width: the test sees nothing"


def test_per_example_widths_in_a_graph_with_a_cache():
    """The serving signature's case: dynamic slots, widths a tensor, a cache reordered by
    parent beam; each example equals its own uncached search of its width."""
    rng = np.random.default_rng(5)
    for trial in range(4):
        batch, start_id, end_id, max_length, uncached, cached, empty = _second_order_case(rng)
        widths = rng.integers(1, 5, size=batch).astype(np.int32)
        got = tf.function(lambda rows, cache, widths: beam_search(
            cached, rows, start_id, end_id, max_length, tf.reduce_max(widths), cache=cache,
            beam_widths=widths), autograph=False)(_rows(batch), empty, tf.constant(widths)).numpy()
        for i, width in enumerate(widths):
            alone = _alone(uncached, i, start_id, end_id, max_length, int(width))
            _same_tokens(got[i], alone, end_id, f"trial {trial}, example {i}, width {width}")
