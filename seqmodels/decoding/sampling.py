"""Choosing the next token from logits: greedy, temperature, top-k and top-p (nucleus).

TensorFlow ops, eager or in a graph; sampling is stateless (`tf.random.stateless_categorical`),
so a seed fixes the tokens wherever the function runs. The sampling parameters may be Python
numbers (checked by `check_sampling_arguments`) or tensors (a scalar, or one value per row:
MiniGPT's `serving_sample` signature passes its inputs so, after checking them in the graph);
either way the same ops filter the logits.
"""

import numbers

import tensorflow as tf

STRATEGIES = ("greedy", "top_k", "top_p", "temperature", "sample")


def _number(value):
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def check_sampling_arguments(strategy, temperature=1.0, top_k=40, top_p=0.9, vocab_size=None):
    """Raises a `ValueError` naming the first sampling argument out of range.

    Args:
        strategy, temperature, top_k, top_p: as `next_token` takes them (`temperature`,
            `top_k` and `top_p` are checked only where `strategy` uses them, and only when
            they are Python numbers: a tensor is the caller's to check).
        vocab_size: the number of ids (bounds `top_k`); None skips that bound.

    Example:

    >>> check_sampling_arguments("top_k", top_k=5, vocab_size=10)
    >>> check_sampling_arguments("sample", top_k=0, top_p=1.0)
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {', '.join(STRATEGIES)}. "
                         f"Received: strategy={strategy!r}")
    if strategy == "greedy":
        return
    if _number(temperature) and not temperature > 0:
        raise ValueError(f"`temperature` must be positive. Received: temperature={temperature}")
    if strategy == "top_k" and _number(top_k) and not (
            isinstance(top_k, numbers.Integral) and 1 <= top_k <= (vocab_size or top_k)):
        raise ValueError(f"`top_k` must be in [1, vocab size {vocab_size}]. "
                         f"Received: top_k={top_k}")
    if strategy == "sample" and _number(top_k) and not (
            isinstance(top_k, numbers.Integral) and top_k >= 0):
        raise ValueError("`top_k` must be an integer >= 0 (0, or the vocabulary size or more: "
                         f"every token). Received: top_k={top_k}")
    if strategy in ("top_p", "sample") and _number(top_p) and not 0 < top_p <= 1:
        raise ValueError(f"`top_p` must be in (0, 1]. Received: top_p={top_p}")


def _per_row(value, dtype):
    """A parameter as (rows or 1, 1), to broadcast against (batch, vocab) logits."""
    return tf.reshape(tf.cast(value, dtype), [-1, 1])


def _top_k_filter(logits, top_k):
    """Keeps the logits >= each row's k-th largest (ties at the k-th stay); k = 0 or
    k >= vocab: all."""
    k = tf.broadcast_to(_per_row(top_k, tf.int32), [tf.shape(logits)[0], 1])  # (batch, 1)
    k = tf.minimum(k, tf.shape(logits)[-1])
    ordered = tf.sort(logits, axis=-1, direction="DESCENDING")  # (batch, vocab)
    kth = tf.gather(ordered, tf.maximum(k - 1, 0), batch_dims=1)  # (batch, 1)
    return tf.where(tf.logical_or(k <= 0, logits >= kth), logits, -float("inf"))


def _top_p_filter(logits, top_p):
    """Keeps the smallest set of best tokens whose probability reaches p; p >= 1: all."""
    probabilities = tf.nn.softmax(logits, axis=-1)
    sorted_p, order = tf.math.top_k(probabilities, k=tf.shape(probabilities)[-1])
    # Keep a token if the mass before it is still below p (the first token always stays).
    p = _per_row(top_p, tf.float32)  # (rows or 1, 1)
    keep_sorted = tf.cumsum(sorted_p, axis=-1) - sorted_p < p  # (batch, vocab), sorted
    keep = tf.gather(keep_sorted, tf.argsort(order, axis=-1), batch_dims=1)
    return tf.where(tf.logical_or(keep, p >= 1.0), logits, -float("inf"))


def seed_key(seed):
    """The (2,) int64 key of the stateless sampler for an integer `seed`, the same eagerly and in
    a graph: `stateless_fold_in((0, 0), seed)`. `MiniGPT.generate(seed=...)` and the
    `serving_sample` signature's `seed` input both go through it, so one seed draws the same
    tokens in both.

    Example:

    >>> seed_key(7).shape, bool(tf.reduce_all(seed_key(7) == seed_key(tf.constant(7, tf.int64))))
    (TensorShape([2]), True)
    """
    return tf.random.experimental.stateless_fold_in(tf.zeros([2], tf.int64),
                                                    tf.cast(seed, tf.int64))


def next_token(logits, strategy="greedy", temperature=1.0, top_k=40, top_p=0.9, seed=None):
    """Picks one token id per row of `logits` (batch, vocab).

    Args:
        logits: (batch, vocab) unnormalised scores.
        strategy: `"greedy"` (argmax, the first of equals), `"temperature"` (sample from
            softmax(logits / T)), `"top_k"` (sample among the k best), `"top_p"` (sample among
            the smallest set of best tokens whose probability reaches p), `"sample"` (all
            three: divide by T, keep the k best (`top_k=0`, or the vocabulary size or more:
            all), then the nucleus of those (`top_p=1`: all)). Each of the first three is
            `"sample"` with the other filters off.
        temperature: divides the logits before sampling (lower is more conservative).
        top_k: k of `"top_k"` and `"sample"` (ties with the k-th logit are kept).
        top_p: p of `"top_p"` and `"sample"`.
        seed: shape (2,) integers of a stateless sampler (one seed, one draw: a loop folds in
            its step); None draws a random seed.

    The parameters are Python numbers, or tensors: scalars or one value per row ((batch,)).

    Returns:
        (batch,) int32 token ids.

    Example:

    >>> next_token(tf.constant([[0.1, 3.0, 0.2]])).numpy()
    array([1], dtype=int32)
    >>> next_token(tf.constant([[0.0, 9.0, 0.0]]), "top_k", top_k=1, seed=(0, 0)).numpy()
    array([1], dtype=int32)
    >>> next_token(tf.constant([[0.0, 9.0, 0.0]] * 2), "sample", top_k=tf.constant([1, 2]),
    ...            top_p=tf.constant([1.0, 0.5]), seed=(0, 0)).numpy()
    array([1, 1], dtype=int32)

    References:
        Holtzman et al., "The Curious Case of Neural Text Degeneration", 2019 (top-p).
    """
    logits = tf.convert_to_tensor(logits)
    check_sampling_arguments(strategy, temperature, top_k, top_p, logits.shape[-1])
    if strategy == "greedy":
        return tf.argmax(logits, axis=-1, output_type=tf.int32)
    logits = tf.cast(logits, tf.float32)
    logits = logits / (temperature if _number(temperature) else _per_row(temperature,
                                                                          tf.float32))
    if strategy == "top_k" or (strategy == "sample" and not (_number(top_k) and top_k == 0)):
        logits = _top_k_filter(logits, top_k)
    if strategy == "top_p" or (strategy == "sample" and not (_number(top_p) and top_p >= 1)):
        logits = _top_p_filter(logits, top_p)
    if seed is None:
        seed = tf.random.uniform([2], maxval=2 ** 31 - 1, dtype=tf.int64)
    return tf.random.stateless_categorical(logits, 1, seed, dtype=tf.int32)[:, 0]
