"""Choosing the next token from logits: greedy, temperature, top-k and top-p (nucleus).

TensorFlow ops, eager or in a graph; sampling is stateless (`tf.random.stateless_categorical`),
so a seed fixes the tokens wherever the function runs.
"""

import tensorflow as tf

STRATEGIES = ("greedy", "top_k", "top_p", "temperature")


def check_sampling_arguments(strategy, temperature=1.0, top_k=40, top_p=0.9, vocab_size=None):
    """Raises a `ValueError` naming the first sampling argument out of range.

    Args:
        strategy, temperature, top_k, top_p: as `next_token` takes them (`temperature`,
            `top_k` and `top_p` are checked only where `strategy` uses them).
        vocab_size: the number of ids (bounds `top_k`); None skips that bound.

    Example:

    >>> check_sampling_arguments("top_k", top_k=5, vocab_size=10)
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {', '.join(STRATEGIES)}. "
                         f"Received: strategy={strategy!r}")
    if strategy == "greedy":
        return
    if not temperature > 0:
        raise ValueError(f"`temperature` must be positive. Received: temperature={temperature}")
    if strategy == "top_k" and not 1 <= top_k <= (vocab_size or top_k):
        raise ValueError(f"`top_k` must be in [1, vocab size {vocab_size}]. "
                         f"Received: top_k={top_k}")
    if strategy == "top_p" and not 0 < top_p <= 1:
        raise ValueError(f"`top_p` must be in (0, 1]. Received: top_p={top_p}")


def next_token(logits, strategy="greedy", temperature=1.0, top_k=40, top_p=0.9, seed=None):
    """Picks one token id per row of `logits` (batch, vocab).

    Args:
        logits: (batch, vocab) unnormalised scores.
        strategy: `"greedy"` (argmax, the first of equals), `"temperature"` (sample from
            softmax(logits / T)), `"top_k"` (sample among the k best), `"top_p"` (sample among
            the smallest set of best tokens whose probability reaches p).
        temperature: divides the logits before sampling (lower is more conservative).
        top_k: k of `"top_k"`.
        top_p: p of `"top_p"`.
        seed: shape (2,) integers of a stateless sampler (one seed, one draw: a loop folds in
            its step); None draws a random seed.

    Returns:
        (batch,) int32 token ids.

    Example:

    >>> next_token(tf.constant([[0.1, 3.0, 0.2]])).numpy()
    array([1], dtype=int32)
    >>> next_token(tf.constant([[0.0, 9.0, 0.0]]), "top_k", top_k=1, seed=(0, 0)).numpy()
    array([1], dtype=int32)

    References:
        Holtzman et al., "The Curious Case of Neural Text Degeneration", 2019 (top-p).
    """
    logits = tf.convert_to_tensor(logits)
    check_sampling_arguments(strategy, temperature, top_k, top_p, logits.shape[-1])
    if strategy == "greedy":
        return tf.argmax(logits, axis=-1, output_type=tf.int32)
    logits = tf.cast(logits, tf.float32) / temperature
    neg_inf = tf.constant(-float("inf"), tf.float32)
    if strategy == "top_k":
        kth = tf.math.top_k(logits, k=int(top_k)).values[:, -1:]  # (batch, 1)
        logits = tf.where(logits >= kth, logits, neg_inf)
    if strategy == "top_p":
        probabilities = tf.nn.softmax(logits, axis=-1)
        sorted_p, order = tf.math.top_k(probabilities, k=tf.shape(probabilities)[-1])
        # Keep a token if the mass before it is still below p (the first token always stays).
        keep_sorted = tf.cumsum(sorted_p, axis=-1) - sorted_p < top_p  # (batch, vocab), sorted
        keep = tf.gather(keep_sorted, tf.argsort(order, axis=-1), batch_dims=1)
        logits = tf.where(keep, logits, neg_inf)
    if seed is None:
        seed = tf.random.uniform([2], maxval=2 ** 31 - 1, dtype=tf.int64)
    return tf.random.stateless_categorical(logits, 1, seed, dtype=tf.int32)[:, 0]
