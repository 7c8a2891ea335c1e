"""Choosing the next token from logits: greedy, temperature, top-k and top-p (nucleus)."""

import numpy as np

STRATEGIES = ("greedy", "top_k", "top_p", "temperature")


def next_token(logits, strategy="greedy", temperature=1.0, top_k=40, top_p=0.9, rng=None):
    """Picks one token id per row of `logits` (batch, vocab) (numpy in, numpy out).

    Args:
        logits: (batch, vocab) unnormalised scores.
        strategy: `"greedy"` (argmax), `"temperature"` (sample from softmax(logits / T)),
            `"top_k"` (sample among the k best), `"top_p"` (sample among the smallest set of
            tokens whose probability reaches p).
        temperature: divides the logits before sampling (lower is more conservative).
        top_k: k of `"top_k"`.
        top_p: p of `"top_p"`.
        rng: a `numpy.random.Generator` (seeded for reproducible samples).

    Returns:
        (batch,) int64 token ids.

    Example:

    >>> next_token(np.array([[0.1, 3.0, 0.2]]))
    array([1])

    References:
        Holtzman et al., "The Curious Case of Neural Text Degeneration", 2019 (top-p).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {', '.join(STRATEGIES)}. "
                         f"Received: strategy={strategy!r}")
    logits = np.asarray(logits, np.float64)
    if strategy == "greedy":
        return logits.argmax(axis=-1)
    if temperature <= 0:
        raise ValueError(f"`temperature` must be positive. Received: temperature={temperature}")
    rng = np.random.default_rng() if rng is None else rng
    logits = logits / temperature
    if strategy == "top_k":
        if not 1 <= top_k <= logits.shape[-1]:
            raise ValueError(f"`top_k` must be in [1, vocab size {logits.shape[-1]}]. "
                             f"Received: top_k={top_k}")
        kth = np.sort(logits, axis=-1)[:, -top_k][:, None]
        logits = np.where(logits >= kth, logits, -np.inf)
    probabilities = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    if strategy == "top_p":
        if not 0 < top_p <= 1:
            raise ValueError(f"`top_p` must be in (0, 1]. Received: top_p={top_p}")
        order = np.argsort(-probabilities, axis=-1)
        sorted_p = np.take_along_axis(probabilities, order, axis=-1)
        # Keep a token if the mass before it is still below p (the first token always stays).
        keep_sorted = np.cumsum(sorted_p, axis=-1) - sorted_p < top_p
        keep = np.zeros_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=-1)
        probabilities = np.where(keep, probabilities, 0.0)
        probabilities /= probabilities.sum(axis=-1, keepdims=True)
    return np.array([rng.choice(len(p), p=p) for p in probabilities])
