"""Extending prompts with a causal language model, token by token, with its key/value cache.

`MiniGPT.generate` and MiniGPT's serving signature both run `generate` (the method compiled,
the export inside its `tf.function`); eagerly, the `tf.while_loop` runs as a Python loop.
"""

import tensorflow as tf

from seqmodels.decoding.sampling import check_sampling_arguments, next_token


def generate(call_with_cache, prompt_ids, max_new_tokens, cache=None, strategy="greedy",
             temperature=1.0, top_k=40, top_p=0.9, seed=None, end_id=None):
    """Appends `max_new_tokens` tokens to each prompt, each chosen by `next_token`.

    With a cache, the first call reads the prompt into it and each later call feeds only the
    token just chosen; without one (`cache=None`), each call re-reads the whole sequence.
    Either way there are `max_new_tokens` calls.

    Args:
        call_with_cache: `(token_ids (batch, seq), cache, index) -> (logits (batch, seq,
            vocab), new_cache)`, the logits of `token_ids` placed at positions `index`..
            (`MiniGPT.call_with_cache`). Without a cache it is called with the whole sequence,
            `cache=None` and `index=0`.
        prompt_ids: (batch, prompt_length >= 1) int token ids.
        max_new_tokens: tokens to add (an int or an int32 scalar tensor).
        cache: the model's empty cache for this batch (`MiniGPT.empty_cache`), or None.
        strategy, temperature, top_k, top_p: see `seqmodels.decoding.next_token`.
        seed: shape (2,) integers; step i samples with this seed folded with i. None: random.
        end_id: once a row produced this id, its later tokens repeat it.

    Returns:
        (batch, prompt_length + max_new_tokens) int32 token ids, prompts included.

    Example:

    >>> table = tf.math.log(tf.constant([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1]]))
    >>> step = lambda ids, cache, index: (tf.gather(table, ids), cache)  # next = id + 1 (mod 3)
    >>> generate(step, tf.constant([[0]]), 4).numpy()
    array([[0, 1, 2, 0, 1]], dtype=int32)
    """
    check_sampling_arguments(strategy, temperature, top_k, top_p)
    tokens = tf.cast(prompt_ids, tf.int32)
    batch = tf.shape(tokens)[0]
    if strategy != "greedy":
        seed = (tf.random.uniform([2], maxval=2 ** 31 - 1, dtype=tf.int64) if seed is None
                else tf.cast(seed, tf.int64))
    cached = () if cache is None else (cache,)

    def body(step, tokens, index, done, *cached):
        logits, new_cache = call_with_cache(tokens[:, index:], cached[0] if cached else None,
                                            index)
        step_seed = (None if strategy == "greedy"
                     else tf.random.experimental.stateless_fold_in(seed, step))
        choice = next_token(logits[:, -1, :], strategy, temperature, top_k, top_p, step_seed)
        if end_id is not None:
            choice = tf.where(done, tf.constant(end_id, tf.int32), choice)
            done = tf.logical_or(done, tf.equal(choice, end_id))
        # The cache now holds every token but the one just chosen: the next call starts there.
        index = tf.shape(tokens)[1] if cached else index
        tokens = tf.concat([tokens, choice[:, None]], axis=1)
        return (step + 1, tokens, index, done) + ((new_cache,) if cached else ())

    state = (tf.constant(0), tokens, tf.constant(0), tf.zeros([batch], tf.bool)) + cached
    invariants = (tf.TensorShape([]), tf.TensorShape([None, None]), tf.TensorShape([]),
                  tf.TensorShape([None])) + tuple(tf.TensorShape(c.shape) for c in cached)
    tokens = tf.while_loop(lambda step, *_: step < max_new_tokens, body, state,
                           shape_invariants=invariants)[1]
    return tokens
