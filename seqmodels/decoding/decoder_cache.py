"""The encoder-decoders' (Translator, Captioner) decoding with a key/value cache.

`cached_decoder_step` is one step of their transformer decoder, `encoder_decoder_search` the
beam search over their `decode_step`, with the cache or without. A cached step feeds the
decoder the newest token only: its self-attention reads the earlier positions' keys and values
from the cache, masking the padding id 0 there as the full pass masks it
(`TransformerDecoderBlock`'s `self_attention_cache_mask`). The logits are the ones the full
pass over the whole prefix gives, with one exception the cache cannot hold: a padded position
attends evenly to every position of the sequence, so in the second and later blocks the keys
and values of an earlier padded position change as the sequence grows, and a later padded
position reads them. A row whose newest token is padding and whose prefix holds another one
therefore takes its logits from the full pass (`full_logits`), computed for the batch only at
the steps where some row needs it (never with one block, never for a model that does not
generate the padding id).
"""

import tensorflow as tf

from seqmodels.decoding.beam_search import beam_search


def empty_decoder_cache(blocks, batch_size, max_length, dtype):
    """Zeroed keys and values of `blocks`: (batch, num_blocks, 2, max_length, heads, key_dim).

    Args:
        blocks: the decoder's built `TransformerDecoderBlock`s.
        batch_size: rows (an int or an int32 scalar tensor).
        max_length: positions the cache holds (the longest prefix fed to it).
        dtype: the cache's dtype (the model's compute dtype).

    Returns:
        The zero cache, the layout of keras-hub's causal LMs (batch first, then the block).

    Example:

    >>> from seqmodels.layers.transformer_decoder_block import TransformerDecoderBlock
    >>> block = TransformerDecoderBlock(2, 16, cross_attention=False)
    >>> _ = block(tf.zeros([1, 3, 8]))
    >>> empty_decoder_cache([block], 5, 7, "float32").shape
    TensorShape([5, 1, 2, 7, 2, 4])
    """
    attention = blocks[0].self_attention
    return tf.zeros([batch_size, len(blocks), 2, max_length, attention.num_heads,
                     attention.key_dim], dtype)


def cached_decoder_step(embedding, blocks, head, target_ids, encoder_outputs, encoder_mask,
                        cache, full_logits):
    """Logits of the token after each prefix, reading and extending the key/value cache.

    The cache holds the keys and values of `target_ids[:, :-1]`; the decoder reads the last
    token only, at position `t - 1`, and writes its keys and values there.

    Args:
        embedding: the target `PositionalEmbedding` (token ids, `mask_zero=True`).
        blocks: the `TransformerDecoderBlock`s, each called with `encoder_outputs` and
            `encoder_mask` (None: the blocks read `encoder_outputs`' Keras mask, if any).
        head: the layer from the last block's outputs to logits.
        target_ids: (batch, t) int32 prefixes, start token first; t <= the cache's max_length.
        encoder_outputs, encoder_mask: what the blocks cross-attend to.
        cache: (batch, num_blocks, 2, max_length, heads, key_dim), from `empty_decoder_cache`.
        full_logits: `full_logits(target_ids)` -> (batch, t, vocab), the full pass: the rows
            the cache cannot compute exactly take their logits from it (see the module).

    Returns:
        `(logits (batch, vocab), new_cache)`.

    Example:

    >>> import keras
    >>> from seqmodels.layers.positional_embedding import PositionalEmbedding
    >>> from seqmodels.layers.transformer_decoder_block import TransformerDecoderBlock
    >>> embedding = PositionalEmbedding("learned", 6, 10, 8, mask_zero=True)
    >>> blocks = [TransformerDecoderBlock(2, 16, cross_attention=False) for _ in range(2)]
    >>> head = keras.layers.Dense(10)
    >>> def full(ids):
    ...     y = embedding(ids)
    ...     for block in blocks:
    ...         y = block(y)
    ...     return head(y)
    >>> ids = tf.constant([[1, 4, 0, 3, 0]])
    >>> expected = full(ids)[:, -1]  # also builds the layers
    >>> cache = empty_decoder_cache(blocks, 1, 6, "float32")
    >>> for t in range(1, 6):
    ...     logits, cache = cached_decoder_step(embedding, blocks, head, ids[:, :t], None,
    ...                                         None, cache, full)
    >>> float(tf.reduce_max(tf.abs(logits - expected))) < 1e-5
    True
    """
    index = tf.shape(target_ids)[1] - 1
    real = tf.not_equal(target_ids, 0)  # (batch, t)
    cache_mask = tf.pad(real, [[0, 0], [0, tf.shape(cache)[3] - tf.shape(real)[1]]])
    y = embedding(target_ids[:, -1:], start_index=index)  # (batch, 1, hidden)
    inputs = () if encoder_outputs is None else (encoder_outputs,)
    layer_caches = []
    for i, block in enumerate(blocks):
        y, layer_cache = block(y, *inputs, encoder_mask=encoder_mask, training=False,
                               self_attention_cache=cache[:, i],
                               self_attention_cache_update_index=index,
                               self_attention_cache_mask=cache_mask)
        layer_caches.append(layer_cache)
    logits = head(y)[:, -1, :]  # (batch, vocab)
    new_cache = tf.stack(layer_caches, axis=1)  # (batch, num_blocks, 2, max_length, heads, dim)
    if len(blocks) < 2:
        return logits, new_cache
    padded = tf.logical_not(real)
    recompute = tf.logical_and(padded[:, -1],
                               tf.reduce_sum(tf.cast(padded, tf.int32), axis=1) >= 2)  # (batch,)
    logits = tf.cond(tf.reduce_any(recompute),
                     lambda: tf.where(recompute[:, None], full_logits(target_ids)[:, -1, :],
                                      logits),
                     lambda: logits)
    return logits, new_cache


def encoder_decoder_search(decode_step, memory, empty_cache, start_id, end_id, max_length,
                           beam_size=1, use_cache=True, beam_widths=None):
    """`beam_search` over an encoder-decoder's `decode_step`, with its cache or without.

    Args:
        decode_step: `decode_step(prefixes, *memory)` -> logits, and with `cache=` ->
            `(logits, new_cache)` (`Translator.decode_step`, `Captioner.decode_step`).
        memory: tuple of the encoder's outputs (batch first), passed after the prefixes.
        empty_cache: `empty_cache(batch_size, max_length)` -> the zero cache.
        start_id, end_id, max_length, beam_size, beam_widths: see `beam_search`.
        use_cache: feed the decoder one new token a step (False: the whole prefix).

    Returns:
        (batch, <= max_length) int32 ids.

    Example:

    >>> table = tf.math.log(tf.constant([[0.1, 0.1, 0.8]] * 3))  # row: the last token
    >>> def step(prefixes, rows, cache=None):  # a decoder that needs no cache
    ...     logits = tf.gather(table, prefixes[:, -1])
    ...     return logits if cache is None else (logits, cache)
    >>> empty = lambda batch, length: tf.zeros([batch, length])
    >>> encoder_decoder_search(step, (tf.zeros([1]),), empty, 0, 2, 4).numpy()
    array([[0, 2]], dtype=int32)
    """
    if not use_cache:
        return beam_search(lambda prefixes, rows: decode_step(prefixes, *rows), memory,
                           start_id, end_id, max_length, beam_size, beam_widths=beam_widths)
    batch = tf.shape(tf.nest.flatten(memory)[0])[0]
    return beam_search(
        lambda prefixes, rows, cache: decode_step(prefixes, *rows, cache=cache), memory,
        start_id, end_id, max_length, beam_size, cache=empty_cache(batch, max_length),
        beam_widths=beam_widths)
