"""One `tf.function` per model and decoding setting, traced once and reused.

The models' decoding methods run a whole search in one graph: eagerly each step would run its
layers op by op, which costs more than the arithmetic. The functions are kept on the model in
a plain holder, which neither Keras nor `tf.saved_model.save` tracks, so a model that decoded
saves and exports exactly as one that did not. They are traced without AutoGraph, as the
serving signatures are (`seqmodels.export`): the searches are written with `tf.while_loop` and
`tf.cond`, so there is no Python control flow to convert; converting the layers' code
added a third to a half to each trace of a 2-layer `Translator`'s search. A beam search's
width is an input of its function (`compiled_search`): one trace serves every width >= 2.
"""

import numbers

import tensorflow as tf


class CompiledFunctions:
    """`tf.function`s by key, outside TensorFlow's object tracking (a plain Python object)."""

    def __init__(self):
        self.functions = {}


def compiled(owner, key, function, input_signature):
    """`function` as a `tf.function` with `input_signature`, built once per `key` of `owner`.

    Traced without AutoGraph (`autograph=False`): `function` writes its loops and branches as
    `tf.while_loop` / `tf.cond`, as the serving signatures' functions do.

    Args:
        owner: the object that keeps the function (a model).
        key: hashable, everything the trace depends on besides the inputs (ids, sizes, names).
        function: the Python function to trace.
        input_signature: the `tf.TensorSpec`s of its arguments (unknown sizes as None, so one
            trace serves every batch and length).

    Returns:
        The `tf.function`.

    Example:

    >>> class Owner: pass
    >>> owner = Owner()
    >>> double = compiled(owner, "double", lambda x: 2 * x, [tf.TensorSpec([None], tf.int32)])
    >>> double(tf.constant([1, 2])).numpy(), compiled(owner, "double", None, None) is double
    (array([2, 4], dtype=int32), True)
    """
    holder = getattr(owner, "compiled_functions", None)
    if holder is None:
        holder = CompiledFunctions()
        owner.compiled_functions = holder
    if key not in holder.functions:
        holder.functions[key] = tf.function(function, input_signature=input_signature,
                                            autograph=False)
    return holder.functions[key]


def compiled_search(owner, key, search, input_spec, inputs, beam_size):
    """`search(inputs, beam_size)` run compiled: greedy in its own function, wider beams in one.

    Greedy decoding (`beam_size=1`) keeps its static width of one slot per example (no cache
    reordering: the cheapest steps), in the function of `key + (1,)`. Every width >= 2 runs in
    the one function of `key + ("beam",)`, the width an int32 scalar tensor input as the
    `serving_beam` signatures pass it: a model that decodes with widths 2, 3 and 4 traces its
    search once, not once per width. `beam_search` runs the same ops over a static or a tensor
    number of slots, so each width gets the tokens of its own static search.

    Args:
        owner: the object that keeps the functions (a model).
        key: tuple, everything the search's trace depends on besides the inputs and the width.
        search: `search(inputs, beam_size)` -> the tokens; `beam_size` an int (1) or an int32
            scalar tensor (>= 2).
        input_spec: the `tf.TensorSpec` of `inputs` (unknown sizes as None).
        inputs: the batch to decode.
        beam_size: an integer >= 1.

    Returns:
        `search`'s output tensor.

    Example:

    >>> class Owner: pass
    >>> owner, spec = Owner(), tf.TensorSpec([], tf.int32)
    >>> [int(compiled_search(owner, ("times",), lambda x, width: x * width, spec,
    ...                      tf.constant(5), width)) for width in (1, 2, 3)]
    [5, 10, 15]
    >>> sorted(owner.compiled_functions.functions, key=str)  # greedy's and the wider beams'
    [('times', 'beam'), ('times', 1)]
    """
    if not isinstance(beam_size, numbers.Integral) or isinstance(beam_size, bool) or beam_size < 1:
        raise ValueError(f"`beam_size` must be an integer >= 1. Received: beam_size={beam_size!r}")
    if beam_size == 1:
        return compiled(owner, (*key, 1), lambda inputs: search(inputs, 1), [input_spec])(inputs)
    function = compiled(owner, (*key, "beam"), search, [input_spec, tf.TensorSpec([], tf.int32)])
    return function(inputs, tf.constant(int(beam_size), tf.int32))
