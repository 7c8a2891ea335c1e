"""Decoding inside a TensorFlow graph: the searches of our models as `tf.while_loop`s.

A served translator or captioner cannot call back into Python for each token, so the search that
`Translator.translate(beam_size=1)` and `Captioner.caption(beam_size=1)` run in numpy
(`seqmodels.models.beam_search`) is written here with TensorFlow ops, step for step, so that the
exported signature and the Keras model return the same tokens.
"""

import tensorflow as tf

from seqmodels.export.assets import words_of_ids


def length_norms(max_length, length_penalty=0.6):
    """Wu et al.'s ((5 + n) / 6) ** alpha for n = 0..max_length, computed once in Python float64.

    Python's float `**` and numpy's float64 power give the same bits, so the graph divides by
    exactly the numbers `beam_search` divides by.

    Example:

    >>> round(float(length_norms(3)[1]), 4)
    1.0
    """
    return tf.constant([((5.0 + n) / 6.0) ** length_penalty for n in range(max_length + 1)],
                       tf.float64)


def greedy_search(log_probs_fn, batch_size, start_id, end_id, max_length, length_penalty=0.6):
    """`beam_search(..., beam_size=1)` as graph ops: greedy decoding with a finished-sequence pool.

    Like the numpy search, each step looks at the two best next tokens of the live prefix: the
    best non-end token extends the prefix; an end token among the two closes a candidate
    sequence, scored by its length-normalised log-probability. A row stops when its best closed
    candidate scores at least as well as the live prefix (normalised), or at `max_length`; the
    answer is the best-scoring candidate (the first of equals).

    Args:
        log_probs_fn: `(prefixes (batch, t) int32) -> (batch, vocab)` log-probabilities of the
            next token (computed for every row; rows that stopped are ignored).
        batch_size: scalar int32 tensor, the number of rows.
        start_id: the id every sequence starts with.
        end_id: the id that closes a sequence.
        max_length: longest sequence, the start token included (>= 2).
        length_penalty: alpha of the length normalisation.

    Returns:
        (batch, <= max_length) int32 ids, start token first, padded with `end_id`.

    Example:

    >>> table = tf.math.log(tf.constant([[0.1, 0.1, 0.8]] * 3))
    >>> greedy_search(lambda p: tf.gather(table, p[:, -1]), 1, 0, 2, 4).numpy()
    array([[0, 2]], dtype=int32)
    """
    if max_length < 2:
        raise ValueError(f"`max_length` must be >= 2. Received: max_length={max_length}")
    norms = length_norms(max_length, length_penalty)
    start_id, end_id = int(start_id), int(end_id)
    batch = tf.convert_to_tensor(batch_size, tf.int32)

    def padded(prefixes):  # (batch, t) -> (batch, max_length), end_id after the prefix
        return tf.pad(prefixes, [[0, 0], [0, max_length - tf.shape(prefixes)[1]]],
                      constant_values=end_id)

    def cond(step, prefixes, live, *_):
        return tf.logical_and(step < max_length - 1, tf.reduce_any(live))

    def body(step, prefixes, live, score, has_best, best_score, best_seq, best_len):
        log_probs = tf.cast(log_probs_fn(prefixes), tf.float64)  # (batch, vocab)
        candidates = score[:, None] + log_probs
        values, tokens = tf.math.top_k(candidates, k=2)
        tokens = tf.cast(tokens, tf.int32)
        length = step + 2  # the prefix (step + 1 tokens) and one more
        norm = norms[length]
        first_is_end = tf.equal(tokens[:, 0], end_id)
        closes = tf.logical_and(live, tf.logical_or(first_is_end, tf.equal(tokens[:, 1], end_id)))
        closed_score = tf.where(first_is_end, values[:, 0], values[:, 1]) / norm
        better = tf.logical_and(closes, tf.logical_or(~has_best, closed_score > best_score))
        closed = padded(tf.concat([prefixes, tf.fill([batch, 1], end_id)], axis=1))
        best_seq = tf.where(better[:, None], closed, best_seq)
        best_score = tf.where(better, closed_score, best_score)
        best_len = tf.where(better, length, best_len)
        has_best = tf.logical_or(has_best, closes)
        next_token = tf.where(first_is_end, tokens[:, 1], tokens[:, 0])
        next_score = tf.where(first_is_end, values[:, 1], values[:, 0])
        prefixes = tf.concat([prefixes, next_token[:, None]], axis=1)
        score = tf.where(live, next_score, score)
        # No live prefix can beat the best closed sequence any more: the row stops.
        stop = tf.logical_and(has_best, best_score >= next_score / norm)
        live = tf.logical_and(live, ~stop)
        return step + 1, prefixes, live, score, has_best, best_score, best_seq, best_len

    state = (tf.constant(0), tf.fill([batch, 1], start_id), tf.ones([batch], tf.bool),
             tf.zeros([batch], tf.float64), tf.zeros([batch], tf.bool),
             tf.fill([batch], tf.constant(-float("inf"), tf.float64)),
             tf.fill([batch, max_length], end_id), tf.zeros([batch], tf.int32))
    invariants = (tf.TensorShape([]), tf.TensorShape([None, None]), tf.TensorShape([None]),
                  tf.TensorShape([None]), tf.TensorShape([None]), tf.TensorShape([None]),
                  tf.TensorShape([None, max_length]), tf.TensorShape([None]))
    _, prefixes, live, score, has_best, best_score, best_seq, best_len = tf.while_loop(
        cond, body, state, shape_invariants=invariants)
    # Prefixes still live at the end count as finished (appended last: they win only if better).
    length = tf.shape(prefixes)[1]
    final_score = score / tf.gather(norms, length)
    better = tf.logical_and(live, tf.logical_or(~has_best, final_score > best_score))
    best_seq = tf.where(better[:, None], padded(prefixes), best_seq)
    best_len = tf.where(better, length, best_len)
    width = tf.maximum(tf.reduce_max(tf.concat([best_len, [1]], axis=0)), 1)
    return best_seq[:, :width]


def ids_to_text(ids, vocabulary, skip_ids=(), separator=" "):
    """Joins the words of `ids` (batch, t), leaving out `skip_ids`: (batch,) tf.string.

    Args:
        ids: int token ids.
        vocabulary: the word of each id: a 1-D tf.string tensor, or a lookup table from int64
            ids to strings (e.g. `seqmodels.export.assets.id_to_word_table`).
        skip_ids: ids that produce no word (padding, start, end).
        separator: put between words (`""` for characters).

    Example:

    >>> ids_to_text(tf.constant([[1, 2, 0]]), tf.constant(["", "a", "b"]), (0,)).numpy()
    array([b'a b'], dtype=object)
    """
    ids = tf.cast(ids, tf.int32)
    keep = tf.ones_like(ids, tf.bool)
    for skip in skip_ids:
        keep = tf.logical_and(keep, tf.not_equal(ids, int(skip)))
    if hasattr(vocabulary, "lookup"):
        words = words_of_ids(vocabulary, ids)
    else:
        words = tf.gather(vocabulary, ids)
    words = tf.ragged.boolean_mask(words, keep)
    return tf.strings.reduce_join(words, axis=-1, separator=separator)
