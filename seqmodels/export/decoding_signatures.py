"""Serving signatures of the decoders (Translator, Captioner, MiniGPT): decoding in the graph.

Every signature decodes with `seqmodels.decoding` through the model's own decoding methods, the
ones `translate`, `caption` and `generate` compile (`search`, `call_with_cache`), so an export
gives the Python model's tokens for the same inputs:

- `serving_default`: greedy (`translate(beam_size=1)`, `caption(beam_size=1)`,
  `generate(strategy="greedy")`).
- `serving_beam` (Translator, Captioner): beam search with the key/value cache; `beam_width`
  int32 gives each row its width, 1 to `MAX_BEAM_WIDTH`, default `DEFAULT_BEAM_WIDTH`: a row of
  width w gets `translate(beam_size=w)`'s tokens whatever the other rows' widths.
- `serving_sample` (MiniGPT): sampling (`generate(strategy="sample")`); `temperature`,
  `top_k`, `top_p` and `seed` per row, each prompt drawn alone: a fixed seed gives
  `generate(prompt, seed=seed)`'s tokens.

The decoding parameters are inputs of shape (batch,), one value per row of the text or image
input, or (1,), one value for every row. A scalar would be simpler, but TF Serving's
server-side batching concatenates every input along its first dimension and refuses a scalar
("Batching Run() input tensors must have at least one dimension"); one value per row lets the
server merge requests of different settings, each row keeping its own answer. `beam_width` has
a default: `tf.saved_model.save` writes a `tf.function`'s tensor default arguments to the
SignatureDef's `defaults`, which TF Serving (2.14 and later) feeds for the inputs a request
leaves out, so a request may send `text` alone.
The server feeds the default as a (1,) tensor, so with `--enable_batching` a request of more
than one row must send `beam_width` (its batcher needs equal first dimensions). Python callers
of `tf.saved_model.load` pass every input (TF2 signatures do not apply defaults). Sampling has no
defaults: a request names its settings and seed.
"""

import numpy as np
import tensorflow as tf

from seqmodels.decoding import generate, seed_key
from seqmodels.export import assets
from seqmodels.export.signatures import (Servable, blank_png, built_vectorizer, checked_input,
                                         decode_images, image_size, missing_argument,
                                         nonempty_batch, text_ids)

# The Transformer's translation setting (Vaswani et al. 2017: beam 4, length penalty 0.6, the
# search's default penalty).
DEFAULT_BEAM_WIDTH = 4
# The widest beam a request may ask for: each row runs batch * width decoder rows at every step.
MAX_BEAM_WIDTH = 8


def _vocabulary(model, vocabulary, size, argument="vocabulary"):
    if vocabulary is None:
        raise missing_argument(argument, model, f"the {size} words of the output ids, in id order")
    vocabulary = [str(word) for word in vocabulary]
    if len(vocabulary) != size:
        raise ValueError(f"`{argument}` must have one entry per output id of the model "
                         f"({size}). Received: {len(vocabulary)} entries")
    return vocabulary


def _token_id(model, name, value, size):
    if value is None:
        raise missing_argument(name, model, "the id of the start or end token")
    if not isinstance(value, (int, np.integer)) or not 0 <= int(value) < size:
        raise ValueError(f"`{name}` must be an id in [0, {size}). Received: {name}={value!r}")
    return int(value)


def _max_length(value, limit, what):
    value = limit if value is None else value
    if not isinstance(value, (int, np.integer)) or not 2 <= value <= limit:
        raise ValueError(f"`max_length` must be an integer in [2, {limit}] (the model's "
                         f"{what}). Received: max_length={value!r}")
    return int(value)


def _decoding_arguments(model, vocabulary, size, start_id, end_id, max_length, limit, what,
                        directory):
    """Checked arguments of an encoder-decoder: (id -> word table read from
    `assets/output_vocabulary.txt`, start_id, end_id, max_length)."""
    return (assets.id_to_word_table(directory, "output_vocabulary.txt",
                                    _vocabulary(model, vocabulary, size), "vocabulary"),
            _token_id(model, "start_id", start_id, size), _token_id(model, "end_id", end_id, size),
            _max_length(max_length, limit, what))


def per_row(values, name, rows, of):
    """`values` (rows,) or (1,) as (rows,), once checked at run time to have one of those shapes.

    Like `checked_input`: an `InvalidArgumentError` naming the input, the expected shapes and
    the received one, read with the raw `Shape` op (the server feeds any shape).

    Args:
        values: a decoding parameter input.
        name: its name in the signature.
        rows: the batch size (of the input named `of`).
        of: the name of the signature's batch input (for the message).

    Example:

    >>> @tf.function(input_signature=[tf.TensorSpec([None], tf.string),
    ...                               tf.TensorSpec(None, tf.int32)], autograph=False)
    ... def serve(text, beam_width):
    ...     return per_row(beam_width, "beam_width", tf.shape(text)[0], "text")
    >>> serve(tf.constant(["a", "b", "c"]), tf.constant([4])).numpy()
    array([4, 4, 4], dtype=int32)
    >>> try:
    ...     serve(tf.constant(["a", "b", "c"]), tf.constant([4, 2]))
    ... except tf.errors.InvalidArgumentError as error:
    ...     print(next(line for line in error.message.splitlines() if "`beam_width`" in line))
    assertion failed: [`beam_width` must have shape (batch,) (one per row of `text`) or (1,)
    (one for all); received shape [2] for a batch of 3]
    """
    shape = tf.raw_ops.Shape(input=values)  # (rank,)
    size = tf.concat([shape, [-1]], 0)[0]  # -1: a scalar has no first dimension
    ok = tf.logical_and(tf.equal(tf.raw_ops.Size(input=shape), 1),
                        tf.logical_or(tf.equal(size, rows), tf.equal(size, 1)))
    message = tf.strings.format(
        f"`{name}` must have shape (batch,) (one per row of `{of}`) or (1,) (one for all); "
        "received shape {} for a batch of {}", (shape, rows))
    with tf.control_dependencies([tf.debugging.Assert(ok, [message])]):
        return tf.broadcast_to(tf.reshape(values, [-1]), [rows])


def checked_values(values, ok, message):
    """`values`, once `ok` (a bool per value) holds for all of them; else an
    `InvalidArgumentError`: `message` and the received values.

    Example:

    >>> top_p = tf.constant([0.5, 1.5])
    >>> try:
    ...     tf.function(checked_values, autograph=False)(top_p, top_p <= 1,
    ...                                                  "`top_p` must be in (0, 1]")
    ... except tf.errors.InvalidArgumentError as error:
    ...     print(next(line for line in error.message.splitlines() if "`top_p`" in line))
    assertion failed: [`top_p` must be in (0, 1]; received [0.5 1.5]]
    """
    text = tf.strings.format(message + "; received {}", values)
    with tf.control_dependencies([tf.debugging.Assert(tf.reduce_all(ok), [text])]):
        return tf.identity(values)


def _beam_widths(beam_width, rows, of):
    """Each row's checked beam width (rows,) int32 and the slots the search needs (their
    largest, 1 for an empty batch)."""
    widths = per_row(beam_width, "beam_width", rows, of)
    widths = checked_values(widths, (widths >= 1) & (widths <= MAX_BEAM_WIDTH),
                            f"`beam_width` must be in [1, {MAX_BEAM_WIDTH}]")
    return widths, tf.reduce_max(tf.concat([widths, [1]], 0))


def _beam_spec():
    return tf.TensorSpec([None], tf.int32, name="beam_width")


def translator_servable(model, vectorizer, vocabulary, start_id, end_id, max_length, directory):
    """Translator: `serving_default(text)`, greedy, and `serving_beam(text, beam_width)`, both
    -> `translation` tf.string (batch,). Assets: `source_vocabulary.txt`,
    `output_vocabulary.txt`."""
    vectorizer = assets.asset_vectorizer(built_vectorizer(model, vectorizer), directory,
                                         "source_vocabulary.txt")
    words, start_id, end_id, max_length = _decoding_arguments(
        model, vocabulary, model.target_vocab_size, start_id, end_id, max_length,
        model.max_target_length, "max_target_length", directory)

    def translation(ids):
        return {"translation": assets.ids_to_text(ids, words, (0, start_id, end_id))}

    def serve(text):
        source = text_ids(vectorizer, checked_input(text, "text"), model.max_source_length)
        # Translator.translate(beam_size=1): the same cached search.
        return translation(model.search(source, start_id, end_id, max_length, beam_size=1))

    def serve_beam(text, beam_width=tf.constant([DEFAULT_BEAM_WIDTH], tf.int32)):
        text = checked_input(text, "text")
        widths, slots = _beam_widths(beam_width, tf.shape(text)[0], "text")
        source = text_ids(vectorizer, text, model.max_source_length)
        # Translator.translate(beam_size=w) of each row's w: the same cached search.
        return translation(model.search(source, start_id, end_id, max_length, beam_size=slots,
                                        beam_widths=widths))

    text_spec = tf.TensorSpec([None], tf.string, name="text")
    example = np.array([b"hello"], object)
    return Servable(
        [("serving_default", serve, [text_spec]),
         ("serving_beam", serve_beam, [text_spec, _beam_spec()])],
        [model, vectorizer, words],
        [("serving_default", {"text": example}),
         ("serving_beam", {"text": example,
                           "beam_width": np.array([DEFAULT_BEAM_WIDTH], np.int32)})])


def captioner_servable(model, vocabulary, start_id, end_id, max_length, directory):
    """Captioner: `serving_default(images)`, greedy, and `serving_beam(images, beam_width)`,
    both -> `caption` tf.string (batch,). Assets: `output_vocabulary.txt`."""
    shape = image_size(model)
    words, start_id, end_id, max_length = _decoding_arguments(
        model, vocabulary, model.vocab_size, start_id, end_id, max_length, model.max_length,
        "max_length", directory)

    def caption(ids):
        return {"caption": assets.ids_to_text(ids, words, (0, start_id, end_id))}

    def serve(images):
        images, rows = nonempty_batch(decode_images(checked_input(images, "images"), shape))
        # Captioner.caption(beam_size=1): the same cached search.
        return caption(model.search(images, start_id, end_id, max_length, beam_size=1)[:rows])

    def serve_beam(images, beam_width=tf.constant([DEFAULT_BEAM_WIDTH], tf.int32)):
        images = checked_input(images, "images")
        widths, slots = _beam_widths(beam_width, tf.shape(images)[0], "images")
        images, rows = nonempty_batch(decode_images(images, shape))
        widths = tf.concat([widths, [1]], 0)[:tf.shape(images)[0]]  # the blank row's: 1
        # Captioner.caption(beam_size=w) of each row's w: the same cached search.
        return caption(model.search(images, start_id, end_id, max_length, beam_size=slots,
                                    beam_widths=widths)[:rows])

    images_spec = tf.TensorSpec([None], tf.string, name="images")
    example = np.array([blank_png(shape)], object)
    return Servable(
        [("serving_default", serve, [images_spec]),
         ("serving_beam", serve_beam, [images_spec, _beam_spec()])],
        [model, words],
        [("serving_default", {"images": example}),
         ("serving_beam", {"images": example,
                           "beam_width": np.array([DEFAULT_BEAM_WIDTH], np.int32)})])


def _sampling_inputs(model, rows, temperature, top_k, top_p, seed):
    """The checked sampling inputs, (rows,) each."""
    temperature = per_row(temperature, "temperature", rows, "prompt")
    temperature = checked_values(
        temperature, tf.math.is_finite(temperature) & (temperature > 0),
        "`temperature` must be positive and finite")
    top_k = per_row(top_k, "top_k", rows, "prompt")
    top_k = checked_values(top_k, top_k >= 0, "`top_k` must be >= 0 (0, or the vocabulary size "
                                              f"{model.vocab_size} or more: every token)")
    top_p = per_row(top_p, "top_p", rows, "prompt")
    top_p = checked_values(top_p, (top_p > 0) & (top_p <= 1), "`top_p` must be in (0, 1]")
    return temperature, top_k, top_p, per_row(seed, "seed", rows, "prompt")


def mini_gpt_servable(model, vocabulary, max_length, directory):
    """MiniGPT: `serving_default(prompt)`, greedy, and `serving_sample(prompt, temperature,
    top_k, top_p, seed)`, both -> `completion` tf.string (batch,): `max_length` new characters
    with the key/value cache, each prompt decoded on its own. Assets: `characters.txt`."""
    vocabulary = _vocabulary(model, vocabulary, model.vocab_size)
    table, code_points = assets.character_tables(directory, vocabulary)
    if max_length is None:
        max_length = min(64, model.max_length - 1)
    if not isinstance(max_length, (int, np.integer)) or not 1 <= max_length < model.max_length:
        raise ValueError(f"`max_length` (new characters per completion) must be an integer in "
                         f"[1, {model.max_length - 1}]. Received: max_length={max_length!r}")
    new_tokens = int(max_length)
    room = model.max_length - new_tokens  # the prompt keeps its last `room` characters

    def complete(prompt, sampling=None):
        codes = tf.strings.unicode_decode(prompt, "UTF-8", errors="replace")
        ids = tf.cast(table.lookup(tf.cast(codes, tf.int64)), tf.int32)[-room:]
        ids = tf.cond(tf.size(ids) > 0, lambda: ids, lambda: tf.zeros([1], tf.int32))
        if sampling is None:
            # MiniGPT.generate(strategy="greedy"): the same loop over the same cached calls.
            tokens = generate(model.call_with_cache, ids[None, :], new_tokens,
                              model.empty_cache(1))
        else:
            # MiniGPT.generate(strategy="sample", ..., seed=seed): the same loop and key.
            temperature, top_k, top_p, seed = sampling
            tokens = generate(model.call_with_cache, ids[None, :], new_tokens,
                              model.empty_cache(1), "sample", temperature, top_k, top_p,
                              seed_key(seed))
        codes = code_points.lookup(tf.cast(tokens[0, tf.size(ids):], tf.int64))  # 0 -> -1: no text
        codes = tf.boolean_mask(codes, codes >= 0)
        return tf.strings.unicode_encode(tf.cast(codes, tf.int32), "UTF-8")

    out = tf.TensorSpec([], tf.string)

    def serve(prompt):
        return {"completion": tf.map_fn(complete, checked_input(prompt, "prompt"),
                                        fn_output_signature=out)}

    def serve_sample(prompt, temperature, top_k, top_p, seed):
        prompt = checked_input(prompt, "prompt")
        sampling = _sampling_inputs(model, tf.shape(prompt)[0], temperature, top_k, top_p, seed)
        return {"completion": tf.map_fn(lambda row: complete(row[0], row[1:]),
                                        (prompt, *sampling), fn_output_signature=out)}

    prompt_spec = tf.TensorSpec([None], tf.string, name="prompt")
    example = np.array([vocabulary[1].encode()], object)
    return Servable(
        [("serving_default", serve, [prompt_spec]),
         ("serving_sample", serve_sample,
          [prompt_spec, tf.TensorSpec([None], tf.float32, name="temperature"),
           tf.TensorSpec([None], tf.int32, name="top_k"),
           tf.TensorSpec([None], tf.float32, name="top_p"),
           tf.TensorSpec([None], tf.int64, name="seed")])],
        [model, table, code_points],
        [("serving_default", {"prompt": example}),
         ("serving_sample", {"prompt": example, "temperature": np.array([1.0], np.float32),
                             "top_k": np.array([0], np.int32),
                             "top_p": np.array([1.0], np.float32),
                             "seed": np.array([0], np.int64)})])
