"""Writes a Keras model, layer or tf.Module as a TF2 reusable SavedModel (the TF Hub format).

A reusable SavedModel (https://www.tensorflow.org/hub/reusable_saved_models) has a
`__call__(inputs, training=False)` traced for both values of `training`, the lists `variables`
and `trainable_variables`, and `regularization_losses` (callables without arguments that return
scalars). That is what `hub.load`, `hub.KerasLayer` and `seqmodels.hub.HubLayer` expect, and
what Kaggle Models / TF Hub publish.
"""

import inspect
import os

import keras
import tensorflow as tf
from tensorflow.python.saved_model import save_context

SERVING_SIGNATURE = "serving_default"


def _to_spec(x, name=None):
    """A tf.TensorSpec with an unknown batch dimension from a KerasTensor, spec or tensor."""
    if isinstance(x, tf.TensorSpec):
        return x
    if isinstance(x, (keras.KerasTensor, keras.InputSpec)) or hasattr(x, "shape"):
        shape = tuple(x.shape) if x.shape is not None else None
        if shape:
            shape = (None,) + tuple(shape[1:])
        return tf.TensorSpec(shape, tf.as_dtype(x.dtype), name=name)
    raise TypeError(f"Cannot turn {x!r} into a tf.TensorSpec")


def _default_input_signature(obj):
    """The `inputs` structure of a functional or Sequential model, as tf.TensorSpecs."""
    if isinstance(obj, keras.Model):
        try:
            structure = obj.input
        except (AttributeError, ValueError):  # a Sequential model never called
            inputs = getattr(obj, "inputs", None) or None
            structure = inputs[0] if inputs and len(inputs) == 1 else inputs
        if structure is not None:
            return tf.nest.map_structure(_to_spec, structure)
    raise ValueError(
        "`input_signature` is required when the inputs cannot be read from a functional or "
        "Sequential model: pass the structure of `inputs` as tf.TensorSpecs, e.g. "
        "tf.TensorSpec([None], tf.string) for a text preprocessor or "
        "{'input_word_ids': tf.TensorSpec([None, 128], tf.int32), ...} for an encoder. "
        f"Received: input_signature=None for a {type(obj).__name__}")


def _traced_names(input_signature):
    """`input_signature` with the names a trace gives unnamed specs ("inputs", "inputs_key")."""

    def probe(inputs):
        del inputs

    traced = tf.function(probe, autograph=False).get_concrete_function(input_signature)
    return traced.structured_input_signature[0][0]


def _accepts_training(fn):
    if isinstance(fn, keras.layers.Layer):
        return True  # Keras' __call__ routes `training` (and drops it for calls without it).
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "training" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _resources_of(trackables):
    """Lookup tables and other TrackableResources reachable from `trackables` (with assets)."""
    found = []
    for root in trackables:
        if not isinstance(root, tf.__internal__.tracking.Trackable):
            continue
        try:
            descendants = tf.train.TrackableView(root).descendants()
        except TypeError:
            continue
        for trackable in descendants:
            if isinstance(trackable, tf.saved_model.experimental.TrackableResource) and all(
                    trackable is not r for r in found):
                found.append(trackable)
    return found


def _unique(variables):
    """The distinct tf.Variables (a Keras variable counts as the tf.Variable it wraps)."""
    seen, result = set(), []
    for v in variables:
        if isinstance(v, keras.Variable):
            v = v.value  # the tf.Variable that traced functions capture
        if id(v) not in seen:
            seen.add(id(v))
            result.append(v)
    return result


def _signature_outputs(outputs):
    """Signature outputs must be a flat dict of tensors."""
    if isinstance(outputs, dict):
        flat = {}
        for key, value in outputs.items():
            if not isinstance(key, str) or not tf.is_tensor(value):
                raise ValueError("A serving signature needs a flat dict of tensors with string "
                                 f"keys; output {key!r} is {type(value).__name__}. Pass "
                                 "serving_signature=False.")
            flat[key] = value
        return flat
    if tf.is_tensor(outputs):
        return {"output_0": outputs}
    return {f"output_{i}": t for i, t in enumerate(tf.nest.flatten(outputs))}


def _traced_loss(loss):
    """A tf.function without arguments that returns `loss()` as a float32 scalar."""

    def scalar():
        return tf.cast(loss(), tf.float32)

    traced = tf.function(scalar, input_signature=[], autograph=False)
    traced.get_concrete_function()
    return traced


def export_reusable(obj, export_dir, input_signature=None, track=(), serving_signature=True):
    """Writes `obj` as a TF2 reusable SavedModel, loadable with `HubLayer` or `hub.load`.

    The SavedModel has `__call__(inputs, training=False)` traced for `training` False and True
    (objects whose call takes no `training` ignore it), `variables`, `trainable_variables`,
    `non_trainable_variables`, `regularization_losses` (for Keras objects: one callable per
    weight regularizer of a trainable weight -- activity regularizers depend on the inputs and
    are not exported; for other objects: their own `regularization_losses`), and, unless
    `serving_signature=False`, a `serving_default` signature (inference) whose inputs are named
    after the dict keys (or `inputs`) and whose outputs are the dict (or `output_0`...). Lookup
    tables reachable from `obj` (or from `track`) are saved with their vocabulary files as
    SavedModel assets, so a text preprocessor (`tf.string` batch -> encoder inputs) travels whole.

    Args:
        obj: a built Keras model or layer (e.g. a backbone or a preprocessing layer), a
            `tf.Module`, or a callable.
        export_dir: the directory to write.
        input_signature: the structure of `inputs` as `tf.TensorSpec`s; read from the model's
            inputs for functional and Sequential models, required otherwise.
        track: other objects whose variables or lookup tables `obj` uses (needed for a plain
            function that closes over a table).
        serving_signature: whether to add the `serving_default` signature.

    Returns:
        `export_dir`.

    Example:

    A Keras layer, loaded back without Keras as TF Hub's `hub.load` would:

    >>> import tempfile
    >>> directory = tempfile.TemporaryDirectory()
    >>> dense = keras.layers.Dense(4, kernel_regularizer=keras.regularizers.L2(0.01))
    >>> dense.build((None, 8))
    >>> loaded = tf.saved_model.load(export_reusable(dense, directory.name,
    ...                                              input_signature=tf.TensorSpec([None, 8])))
    >>> [tuple(v.shape) for v in loaded.trainable_variables], len(loaded.regularization_losses)
    ([(8, 4), (4,)], 1)
    >>> tuple(loaded(tf.ones((2, 8)), training=False).shape)
    (2, 4)
    >>> directory.cleanup()

    References:
        TF Hub, "Reusable SavedModels", https://www.tensorflow.org/hub/reusable_saved_models.
    """
    if not callable(obj):
        raise ValueError("`obj` must be a Keras model or layer, a tf.Module or a callable. "
                         f"Received: obj of type {type(obj).__name__}")
    if isinstance(obj, keras.layers.Layer) and not obj.built:
        raise ValueError(f"`obj` must be built before export: call the {type(obj).__name__} "
                         "once or build it. Received: an unbuilt layer")
    if not isinstance(export_dir, (str, os.PathLike)) or not os.fspath(export_dir):
        raise ValueError(f"`export_dir` must be a directory path. Received: {export_dir!r}")
    if not isinstance(track, (list, tuple)):
        raise ValueError(f"`track` must be a list or tuple. Received: track={track!r}")
    export_dir = os.fspath(export_dir)
    if input_signature is None:
        input_signature = _default_input_signature(obj)
    input_signature = tf.nest.map_structure(_to_spec, input_signature)

    is_keras = isinstance(obj, keras.layers.Layer)
    takes_training = _accepts_training(obj)

    def call(inputs, training=False):
        if takes_training:
            return obj(inputs, training=training)
        return obj(inputs)

    call_fn = tf.function(call, autograph=False)
    # `tf.saved_model.save` re-traces `call_fn` for each signature it has seen, and the function
    # cache key holds the save's variable policy and the specs' names: traced in that context
    # with the names a trace gives (`_traced_names`), the save reuses these two graphs instead of
    # tracing `obj` twice more.
    input_signature = _traced_names(input_signature)
    with save_context.save_context(tf.saved_model.SaveOptions()):
        concretes = [call_fn.get_concrete_function(input_signature, training=value)
                     for value in (False, True)]

    root = tf.__internal__.tracking.AutoTrackable()
    owners = [obj, *track]
    variables, trainable = [], []
    for owner in owners:
        variables.extend(getattr(owner, "variables", None) or [])
        trainable.extend(getattr(owner, "trainable_variables", None) or [])
    for concrete in concretes:  # e.g. a seed generator's state read by a dropout
        variables.extend(concrete.variables)
    variables, trainable = _unique(variables), _unique(trainable)
    trainable_ids = {id(v) for v in trainable}
    root.variables = variables
    root.trainable_variables = trainable
    root.non_trainable_variables = [v for v in variables if id(v) not in trainable_ids]

    regularization_losses = []
    if is_keras:
        for variable in obj.trainable_weights:
            regularizer = getattr(variable, "regularizer", None)
            if regularizer is None:
                continue
            regularization_losses.append(_traced_loss(
                lambda variable=variable, regularizer=regularizer: regularizer(variable)))
    else:
        for item in getattr(obj, "regularization_losses", None) or []:
            regularization_losses.append(_traced_loss(item))
    root.regularization_losses = regularization_losses
    root.__call__ = call_fn
    root._resources = _resources_of(owners)
    if not is_keras and isinstance(obj, tf.__internal__.tracking.Trackable):
        root._module = obj  # everything a tf.Module owns (tables, assets, submodules)

    signatures = None
    if serving_signature:
        if isinstance(input_signature, dict):
            names = sorted(input_signature)
            flat = [tf.TensorSpec(input_signature[k].shape, input_signature[k].dtype, name=k)
                    for k in names]

            def serve(*args):
                return _signature_outputs(call_fn(dict(zip(names, args)), training=False))
        elif isinstance(input_signature, tf.TensorSpec):
            flat = [tf.TensorSpec(input_signature.shape, input_signature.dtype, name="inputs")]

            def serve(inputs):
                return _signature_outputs(call_fn(inputs, training=False))
        else:
            raise ValueError("A serving signature needs `inputs` to be a tensor or a flat dict "
                             f"of tensors; got {input_signature!r}. Pass "
                             "serving_signature=False.")
        signatures = {SERVING_SIGNATURE: tf.function(serve, input_signature=flat,
                                                     autograph=False)}
    tf.saved_model.save(root, export_dir, signatures=signatures)
    return export_dir
