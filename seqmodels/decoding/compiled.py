"""One `tf.function` per model and decoding setting, traced once and reused.

The models' decoding methods run a whole search in one graph: eagerly each step would run its
layers op by op, which costs more than the arithmetic. The functions are kept on the model in
a plain holder, which neither Keras nor `tf.saved_model.save` tracks, so a model that decoded
saves and exports exactly as one that did not. They are traced without AutoGraph, as the
serving signatures are (`seqmodels.export`): the searches are written with `tf.while_loop` and
`tf.cond`, so there is no Python control flow to convert; converting the layers' code
added a third to a half to each trace of a 2-layer `Translator`'s search.
"""

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
