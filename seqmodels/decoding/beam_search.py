"""Beam search over a decoder's next-token logits, as graph ops (greedy decoding is width 1).

`Translator.translate`, `Captioner.caption` and their serving signatures all decode with this
one function: the Python methods run it compiled (`seqmodels.decoding.compiled`), the exports
inside their `tf.function`s, doctests and tests eagerly (a `tf.while_loop` then runs as a
Python loop). Every example keeps `beam_size` slots of live prefixes (one live at the start);
slots that hold no live prefix are computed and ignored, so shapes stay fixed apart from the
prefix length. A decoder with a key/value cache travels through the loop with it: each step
the cache rows follow their prefixes to the slots they fill. Each example may have its own
width (`beam_widths`, at most `beam_size`): its search is then exactly the search of that
width, whatever its neighbours' widths (the serving signature's per-request beam width).
"""

import numbers

import tensorflow as tf


def length_norms(max_length, length_penalty=0.6):
    """Wu et al.'s ((5 + n) / 6) ** alpha for n = 0..max_length, computed once in Python float64.

    Python's float `**` gives the bits numpy's float64 power gives, so the search divides by the
    numbers the numpy search it replaced divided by.

    Example:

    >>> [round(float(norm), 4) for norm in length_norms(3)]
    [0.8964, 1.0, 1.0969, 1.1884]
    """
    return tf.constant([((5.0 + n) / 6.0) ** length_penalty for n in range(max_length + 1)],
                       tf.float64)


def beam_search(next_logits, encoder_outputs, start_id, end_id, max_length, beam_size=4,
                length_penalty=0.6, cache=None, beam_widths=None):
    """Finds high-probability sequences, keeping the `beam_size` best prefixes per example.

    Each step scores every live prefix's next tokens (log-softmax of `next_logits`, summed in
    float64) and takes the `2 * beam_size` best candidates of an example, best first (equal
    scores: lower beam, then lower id). A candidate ending in `end_id` closes a sequence, scored
    by its length-normalised log-probability; the first `beam_size` other candidates become the
    next live prefixes. An example stops once it closed `beam_size` sequences and its best
    closed score is at least its best live prefix's (normalised); at `max_length` the live
    prefixes count as closed. The answer is the best closed sequence (the first of equals).
    With `beam_size=1` this is greedy decoding that may still prefer an earlier, better
    normalised end to the argmax path.

    Args:
        next_logits: `next_logits(prefixes, encoder_outputs)` -> (rows, vocab) logits of the
            token after each prefix, for `prefixes` (rows, t) int32 with rows = batch *
            beam_size (the beams of an example are adjacent) and `encoder_outputs` repeated
            to match (each example's row `beam_size` times).
        encoder_outputs: a tensor, or a tuple / nest of tensors, with the batch first (what
            the decoder reads: e.g. `Translator.encode`'s outputs, or just example indices).
        start_id: the id every sequence starts with.
        end_id: the id that ends a sequence.
        max_length: longest sequence, the start token included (>= 2).
        beam_size: prefix slots per example: an integer >= 1, or an int32 scalar tensor (e.g.
            the largest of `beam_widths`, computed in the graph; the caller ensures it is >= 1
            and >= every width).
        length_penalty: alpha of Wu et al.'s ((5 + len) / 6) ** alpha normalisation.
        cache: optional key/value cache of the decoder for the batch (a tensor or nest with
            the batch first, e.g. `Translator.empty_cache(batch, max_length)`), repeated like
            `encoder_outputs`. Then `next_logits(prefixes, encoder_outputs, cache)` returns
            `(logits, new_cache)`, where `cache` holds each prefix but its last token and
            `new_cache` all of it; the search reorders `new_cache` (`tf.gather` along the rows)
            so that each slot's cache is its new prefix's parent's. Same tokens as without one
            when the decoder's cached logits equal its uncached ones.
        beam_widths: optional (batch,) int32, each example's beam width in [1, beam_size]
            (default: `beam_size` for every example). An example of width w keeps w live
            prefixes, ranks 2 * w candidates and stops after w closed sequences: the tokens of
            `beam_size=w`, exactly (the slots above w stay dead; their rows are computed and
            ignored).

    Returns:
        (batch, <= max_length) int32: the best sequence per example (start token first,
        padded with `end_id` after its end).

    Example:

    >>> logits = tf.math.log(tf.constant([[0.1, 0.1, 0.8]] * 3))  # row: the last token
    >>> beam_search(lambda p, _: tf.gather(logits, p[:, -1]), tf.zeros([1]), start_id=0,
    ...             end_id=2, max_length=4).numpy()
    array([[0, 2]], dtype=int32)

    A "cache" that counts the steps each row has taken:

    >>> def counted(prefixes, _, steps):
    ...     return tf.gather(logits, prefixes[:, -1]), steps + 1
    >>> beam_search(counted, tf.zeros([1]), 0, 2, 4, cache=tf.zeros([1], tf.int32)).numpy()
    array([[0, 2]], dtype=int32)

    Two examples, widths 1 and 3, in three slots:

    >>> beam_search(lambda p, _: tf.gather(logits, p[:, -1]), tf.zeros([2]), 0, 2, 4,
    ...             beam_size=3, beam_widths=tf.constant([1, 3])).numpy()
    array([[0, 2],
           [0, 2]], dtype=int32)

    References:
        Wu et al., "Google's Neural Machine Translation System", 2016 (length penalty).
    """
    dynamic = tf.is_tensor(beam_size)
    for name, value, least in (("beam_size", beam_size, 1), ("max_length", max_length, 2)):
        if name == "beam_size" and dynamic:
            continue
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
            raise ValueError(f"`{name}` must be an integer >= {least}. Received: "
                             f"{name}={value!r}")
    beam = tf.cast(beam_size, tf.int32) if dynamic else int(beam_size)
    max_length = int(max_length)
    start_id, end_id = int(start_id), int(end_id)
    norms = length_norms(max_length, length_penalty)
    batch = tf.shape(tf.nest.flatten(encoder_outputs)[0])[0]
    # (batch, 1): each example's width; None: every example uses all `beam` slots.
    widths = None if beam_widths is None else tf.cast(beam_widths, tf.int32)[:, None]
    memory = tf.nest.map_structure(lambda x: tf.repeat(x, beam, axis=0), encoder_outputs)
    cached = () if cache is None else (
        tf.nest.map_structure(lambda x: tf.repeat(x, beam, axis=0), cache),)
    slots = tf.range(beam)
    neg_inf = tf.constant(-float("inf"), tf.float64)

    def padded(prefixes):  # (batch, t) -> (batch, max_length), end_id after the prefix
        return tf.pad(prefixes, [[0, 0], [0, max_length - tf.shape(prefixes)[1]]],
                      constant_values=end_id)

    def cond(step, prefixes, live, *_):
        return tf.logical_and(step < max_length - 1, tf.reduce_any(live))

    def body(step, prefixes, live, scores, finished, has_best, best_score, best_seq, best_len,
             *cached):
        length = step + 2  # of every candidate: the prefix (step + 1 tokens) and one more
        rows = tf.reshape(prefixes, [batch * beam, -1])  # (batch * beam, step + 1)
        if cached:
            logits, new_cache = next_logits(rows, memory, cached[0])
        else:
            logits = next_logits(rows, memory)
        log_probs = tf.cast(tf.nn.log_softmax(logits, axis=-1), tf.float64)  # (batch * beam, vocab)
        vocab = log_probs.shape[-1] or tf.shape(log_probs)[-1]
        candidates = scores[:, :, None] + tf.reshape(log_probs, [batch, beam, vocab])
        # (batch, beam * vocab) -> the k best, (batch, k). Dead slots score -inf and come after
        # the live ones (top_k puts equal values in index order, and live slots come first).
        values, index = tf.math.top_k(tf.reshape(candidates, [batch, beam * vocab]),
                                      k=tf.minimum(2 * beam, beam * vocab))
        parent, token = index // vocab, index % vocab  # (batch, k) each
        from_live = parent < tf.reduce_sum(tf.cast(live, tf.int32), axis=1, keepdims=True)
        if widths is not None:
            # An example of width w ranks its 2 * w best candidates only. In the first w * vocab
            # positions, these are the candidates of a w-slot search, in its order: the slots
            # above w are dead and come later.
            ranked = tf.minimum(2 * widths, widths * vocab)  # (batch, 1)
            from_live = tf.logical_and(from_live, tf.range(tf.shape(index)[1]) < ranked)
        ends = tf.logical_and(from_live, tf.equal(token, end_id))
        extends = tf.logical_and(from_live, ~ends)
        # Closed sequences: only the count and the best (the first end, values are sorted) matter.
        finished += tf.reduce_sum(tf.cast(ends, tf.int32), axis=1)
        first_end = tf.argmax(tf.cast(ends, tf.int32), axis=1, output_type=tf.int32)
        closed_score = tf.gather(values, first_end, batch_dims=1) / norms[length]
        closes = tf.reduce_any(ends, axis=1)
        better = tf.logical_and(closes, tf.logical_or(~has_best, closed_score > best_score))
        closed = tf.gather(prefixes, tf.gather(parent, first_end, batch_dims=1), batch_dims=1)
        closed = padded(tf.concat([closed, tf.fill([batch, 1], end_id)], axis=1))
        best_seq = tf.where(better[:, None], closed, best_seq)
        best_score = tf.where(better, closed_score, best_score)
        best_len = tf.where(better, length, best_len)
        has_best = tf.logical_or(has_best, closes)
        # The first `beam` extending candidates fill the slots in order: (batch, beam, k) match.
        rank = tf.cumsum(tf.cast(extends, tf.int32), axis=1, exclusive=True)
        match = tf.logical_and(extends[:, None, :], tf.equal(rank[:, None, :],
                                                             slots[None, :, None]))
        filled = tf.reduce_any(match, axis=-1)  # (batch, beam)
        if widths is not None:
            filled = tf.logical_and(filled, slots[None, :] < widths)
        pick = tf.argmax(tf.cast(match, tf.int32), axis=-1, output_type=tf.int32)
        new_scores = tf.gather(values, pick, batch_dims=1)  # (batch, beam), best first
        best_live = tf.where(filled[:, 0], new_scores[:, 0], neg_inf) / norms[length]
        # No live prefix can beat the best closed sequence any more: the example stops.
        stop = tf.logical_and(finished >= (beam if widths is None else widths[:, 0]),
                              best_score >= best_live)
        live = tf.logical_and(filled, ~stop[:, None])
        parents = tf.gather(parent, pick, batch_dims=1)  # (batch, beam): each slot's parent slot
        prefixes = tf.concat([tf.gather(prefixes, parents, batch_dims=1),
                              tf.gather(token, pick, batch_dims=1)[:, :, None]], axis=2)
        scores = tf.where(live, new_scores, neg_inf)
        if cached and (dynamic or beam > 1):  # with one slot the parent is the slot itself
            parent_rows = tf.reshape(parents + tf.range(batch)[:, None] * beam, [-1])
            new_cache = tf.nest.map_structure(lambda x: tf.gather(x, parent_rows), new_cache)
        return (step + 1, prefixes, live, scores, finished, has_best, best_score, best_seq,
                best_len) + ((new_cache,) if cached else ())

    first = tf.equal(slots, 0)[None, :]  # (1, beam): one live prefix per example at the start
    state = (tf.constant(0), tf.fill([batch, beam, 1], start_id), tf.tile(first, [batch, 1]),
             tf.where(tf.tile(first, [batch, 1]), tf.constant(0.0, tf.float64), neg_inf),
             tf.zeros([batch], tf.int32), tf.zeros([batch], tf.bool), tf.fill([batch], neg_inf),
             tf.fill([batch, max_length], end_id), tf.zeros([batch], tf.int32)) + cached
    slot_dim = None if dynamic else beam
    invariants = (tf.TensorShape([]), tf.TensorShape([None, slot_dim, None]),
                  tf.TensorShape([None, slot_dim]), tf.TensorShape([None, slot_dim]),
                  tf.TensorShape([None]), tf.TensorShape([None]), tf.TensorShape([None]),
                  tf.TensorShape([None, max_length]), tf.TensorShape([None])) + tuple(
        tf.nest.map_structure(lambda x: tf.TensorShape([None, *x.shape[1:]]), c)
        for c in cached)  # the rows: batch * beam
    _, prefixes, live, scores, _, has_best, best_score, best_seq, best_len = tf.while_loop(
        cond, body, state, shape_invariants=invariants)[:9]
    # Live prefixes at the end count as closed, after the others: the best (slot 0) wins only if
    # strictly better.
    length = tf.shape(prefixes)[2]
    final_score = scores[:, 0] / tf.gather(norms, length)
    better = tf.logical_and(live[:, 0], tf.logical_or(~has_best, final_score > best_score))
    best_seq = tf.where(better[:, None], padded(prefixes[:, 0]), best_seq)
    best_len = tf.where(better, length, best_len)
    return best_seq[:, :tf.reduce_max(tf.concat([best_len, [1]], axis=0))]
