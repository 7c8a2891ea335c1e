"""The generation loop: a cache gives the tokens a full re-read gives; end ids; seeds."""

import numpy as np
import tensorflow as tf

from seqmodels.decoding import generate

VOCAB = 7


def _counting_model(seen):
    """A toy language model whose next token depends on the whole sequence (its sum mod 7).

    Without a cache it re-reads the sequence; with one, the cache holds the running sum of
    the positions read so far (batch, max_length), so the answer is right only if each call
    feeds exactly the tokens not yet read, at the right index. `seen` records the lengths fed.
    """
    def call_with_cache(token_ids, cache, index):
        seen.append(int(tf.shape(token_ids)[1]))
        if cache is None:
            total = tf.cumsum(token_ids, axis=1)  # (batch, seq)
        else:
            positions = index + tf.range(tf.shape(token_ids)[1])
            previous = tf.reduce_sum(cache[:, :index], axis=1, keepdims=True)
            total = previous + tf.cumsum(token_ids, axis=1)
            cache = tf.tensor_scatter_nd_update(
                tf.transpose(cache), positions[:, None], tf.transpose(token_ids))
            cache = tf.transpose(cache)
        logits = tf.one_hot((total * 3 + 1) % VOCAB, VOCAB) * 10.0  # (batch, seq, vocab)
        return logits, cache

    return call_with_cache


def test_cached_and_full_calls_give_the_same_tokens():
    prompt = tf.constant([[1, 2, 3], [4, 0, 6]])
    full_seen, cached_seen = [], []
    full = generate(_counting_model(full_seen), prompt, 5)
    cached = generate(_counting_model(cached_seen), prompt, 5,
                      cache=tf.zeros([2, 8], tf.int32))
    np.testing.assert_array_equal(full.numpy(), cached.numpy())
    expected = prompt.numpy().tolist()
    for row in expected:
        for _ in range(5):
            row.append((sum(row) * 3 + 1) % VOCAB)
    assert full.numpy().tolist() == expected
    assert full_seen == [3, 4, 5, 6, 7]  # the whole sequence every time
    assert cached_seen == [3, 1, 1, 1, 1]  # the prompt once, then the new token


def test_end_id_repeats_and_zero_new_tokens_returns_the_prompt():
    prompt = tf.constant([[1, 2, 3]])
    plain = generate(_counting_model([]), prompt, 6).numpy()[0, 3:].tolist()
    end_id = plain[1]
    ended = generate(_counting_model([]), prompt, 6, end_id=end_id).numpy()[0, 3:].tolist()
    assert ended == plain[:2] + [end_id] * 4
    assert generate(_counting_model([]), prompt, 0).numpy().tolist() == [[1, 2, 3]]


def test_seeded_sampling_is_reproducible_eagerly_and_in_a_graph():
    table = tf.random.stateless_normal([VOCAB, VOCAB], seed=(0, 1))

    def call(token_ids, cache, index):
        return tf.gather(table, token_ids), cache

    def run(prompt):
        return generate(call, prompt, 12, strategy="top_k", top_k=3, seed=(5, 6))

    prompt = tf.constant([[1], [2]])
    eager = run(prompt).numpy()
    np.testing.assert_array_equal(tf.function(run)(prompt).numpy(), eager)
    np.testing.assert_array_equal(run(prompt).numpy(), eager)
    other = generate(call, prompt, 12, strategy="top_k", top_k=3, seed=(7, 8)).numpy()
    assert not np.array_equal(other, eager)
