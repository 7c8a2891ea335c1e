"""A Keras 3 layer over a TF Hub / Kaggle Models SavedModel that really fine-tunes.

`hub.KerasLayer` is a tf_keras (Keras 2) layer and fails inside Keras 3 models
(tensorflow/hub#903). `HubLayer` is the Keras 3 replacement: it loads the SavedModel, adopts its
variables as Keras variables (on the TensorFlow backend `keras.Variable(tf_variable)` wraps the
loaded variable without copying it, so the optimizer updates the loaded variables themselves) and
calls the loaded `__call__` (or a named signature) on the layer's inputs. Handles are resolved
and loaded by `seqmodels.hub.handles`.
"""

import json
import os

import keras
import tensorflow as tf

from seqmodels.hub.handles import load_saved_model, resolve_handle


def _variable_name(variable):
    """A Keras variable name (no '/') from a TensorFlow one ('encoder/dense/kernel:0')."""
    name = variable.name.split(":")[0]
    return name.replace("/", "_") or "variable"


def _concrete_functions(fn):
    if hasattr(fn, "concrete_functions"):  # a restored tf.function
        return list(fn.concrete_functions)
    return [fn]  # a signature: already a concrete function


def _spec_repr(structure):
    def one(spec):
        return f"{spec.dtype.name}{list(spec.shape) if spec.shape.rank is not None else '[...]'}"

    if isinstance(structure, dict):
        items = sorted(structure.items())
        return "{" + ", ".join(f"{k!r}: {_spec_repr(v)}" for k, v in items) + "}"
    if isinstance(structure, (list, tuple)):
        return "[" + ", ".join(_spec_repr(v) for v in structure) + "]"
    return one(structure)


@keras.saving.register_keras_serializable(package="seqmodels")
class HubLayer(keras.layers.Layer):
    """A TF Hub / Kaggle Models SavedModel as a Keras 3 layer that fine-tunes.

    Loads the SavedModel at `handle` (a local directory, a `file://` URL, or a
    `https://tfhub.dev/...` / `https://www.kaggle.com/models/...` address resolved and cached by
    tensorflow_hub; see `resolve_handle`) and calls its `__call__(inputs, training)` (a TF2
    reusable SavedModel) or, with `signature=`, one of its signatures. The loaded variables are
    adopted as the layer's weights without copying, so fine-tuning updates them and `.keras`
    saving stores their values. Inputs and outputs may be dicts (the TF Hub text-encoder contract:
    `input_word_ids`, `input_mask`, `input_type_ids` -> `pooled_output`, `sequence_output`);
    `output_key` selects one output. The module's `regularization_losses` are added to
    `layer.losses` while the layer is trainable. Masks are not propagated.

    `training=True` reaches the SavedModel only when the layer is trainable: a frozen module runs
    in inference mode (dropout off, batch statistics frozen), like a frozen
    `keras.layers.BatchNormalization`. Signatures take no `training` argument.

    The variables are loaded when the layer is constructed (so construct it inside
    `strategy.scope()` to get distributed variables). `get_config` stores the handle; loading a
    `.keras` file reloads the SavedModel from the handle and then restores the saved (fine-tuned)
    values. Because a SavedModel's graph can run arbitrary TensorFlow ops, deserializing a
    `HubLayer` is refused in Keras' safe mode, like `keras.layers.TFSMLayer`: pass
    `safe_mode=False` to `keras.saving.load_model` for handles you trust. TensorFlow backend only.

    Args:
        handle: where the SavedModel is (see above).
        trainable: whether the loaded variables are trained (default False: a frozen feature
            extractor).
        signature: name of a signature to call (e.g. "serving_default") instead of `__call__`;
            dict inputs are passed as keyword arguments, a single tensor goes to the signature's
            only input. Signatures return dicts.
        output_key: the key of the one output to return when the SavedModel returns a dict.
        arguments: extra keyword arguments for every call of the SavedModel (JSON-serializable).
        **kwargs: base layer arguments (`name`, `dtype`: defaults to "float32", since a
            SavedModel's dtypes are fixed and mixed-precision casting of its inputs would break
            them).

    Call arguments:
        inputs: a tensor or a dict of tensors, as the SavedModel expects. Numeric and boolean
            tensors of another dtype (int64 ids, a bool mask) are cast to the expected one.
        training: whether the call is for training (see above).

    Example:

    A backbone written as a reusable SavedModel, loaded back and fine-tuned:

    >>> import tempfile
    >>> from seqmodels.hub import export_reusable
    >>> directory = tempfile.TemporaryDirectory()
    >>> backbone = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> handle = export_reusable(backbone, os.path.join(directory.name, "backbone"))
    >>> layer = HubLayer(handle, trainable=True)
    >>> [tuple(w.shape) for w in layer.trainable_weights]
    [(4, 3), (3,)]
    >>> model = keras.Sequential([keras.Input((4,)), layer, keras.layers.Dense(1)])
    >>> model.output_shape
    (None, 1)
    >>> directory.cleanup()

    A text encoder from TF Hub (needs network access the first time):

    >>> handle = "https://tfhub.dev/tensorflow/small_bert/bert_en_uncased_L-2_H-128_A-2/2"
    >>> encoder = HubLayer(handle, trainable=True, output_key="pooled_output")  # doctest: +SKIP
    >>> inputs = {k: keras.Input((64,), dtype="int32")
    ...           for k in ("input_word_ids", "input_mask", "input_type_ids")}  # doctest: +SKIP
    >>> model = keras.Model(inputs, keras.layers.Dense(2)(encoder(inputs)))  # doctest: +SKIP

    References:
        TF Hub, "Reusable SavedModels",
        https://www.tensorflow.org/hub/reusable_saved_models; "Common SavedModel APIs for
        text", https://www.tensorflow.org/hub/common_saved_model_apis/text.
    """

    def __init__(self, handle, trainable=False, signature=None, output_key=None, arguments=None,
                 **kwargs):
        if keras.backend.backend() != "tensorflow":
            raise NotImplementedError("HubLayer loads a TensorFlow SavedModel and needs the "
                                      "TensorFlow backend. Received: backend="
                                      f"{keras.backend.backend()!r}")
        if not isinstance(trainable, bool):
            raise ValueError(f"`trainable` must be a bool. Received: trainable={trainable!r}")
        if signature is not None and (not isinstance(signature, str) or not signature):
            raise ValueError("`signature` must be None or a signature name. "
                             f"Received: signature={signature!r}")
        if output_key is not None and (not isinstance(output_key, str) or not output_key):
            raise ValueError("`output_key` must be None or the name of an output. "
                             f"Received: output_key={output_key!r}")
        if arguments is not None and not isinstance(arguments, dict):
            raise ValueError("`arguments` must be None or a dict of keyword arguments. "
                             f"Received: arguments={arguments!r}")
        kwargs.setdefault("dtype", "float32")
        super().__init__(trainable=trainable, **kwargs)
        self.handle = os.fspath(handle) if isinstance(handle, os.PathLike) else handle
        self.signature = signature
        self.output_key = output_key
        self.arguments = dict(arguments or {})

        path = resolve_handle(self.handle)
        self._loaded = load_saved_model(path, self.handle)
        loaded = self._loaded
        if signature is None:
            if not callable(loaded):
                raise ValueError(
                    f"The SavedModel at {self.handle!r} has no __call__ (it is not a reusable "
                    "SavedModel): pass `signature=`, one of "
                    f"{sorted(loaded.signatures.keys())}.")
            self._function = loaded.__call__
            self._accepts_training = self._has_training_argument(self._function)
        else:
            if signature not in loaded.signatures:
                raise ValueError(
                    f"`signature` must name a signature of the SavedModel at {self.handle!r}: "
                    f"{sorted(loaded.signatures.keys())}. Received: signature={signature!r}")
            self._function = loaded.signatures[signature]
            self._accepts_training = False
        self._input_specs = self._expected_input_specs()
        self._check_output_key()

        # Adopt the loaded variables (no copy on the TF backend): first the module's own
        # `variables` list (ordered, as published), then any other variable its function reads.
        trainable_ids = None
        if isinstance(getattr(loaded, "trainable_variables", None), (list, tuple)):
            trainable_ids = {id(v) for v in loaded.trainable_variables}
        found = list(getattr(loaded, "variables", None) or [])
        for concrete in _concrete_functions(self._function):
            found.extend(concrete.variables)
        seen = set()
        adopted = []
        for variable in found:
            if id(variable) in seen:
                continue
            seen.add(id(variable))
            is_trainable = (id(variable) in trainable_ids if trainable_ids is not None
                            else variable.trainable)
            adopted.append(keras.Variable(variable, trainable=is_trainable,
                                          name=_variable_name(variable)))
        # Attribute tracking sorts them into `_trainable_variables` / `_non_trainable_variables`.
        self._hub_variables = adopted
        if not trainable:  # freeze them, as add_weight does in a frozen layer
            for variable in adopted:
                variable.trainable = False

        losses = list(getattr(loaded, "regularization_losses", None) or [])
        for loss in losses:
            if not callable(loss):
                raise ValueError(f"The SavedModel at {self.handle!r} has a regularization loss "
                                 f"that is not callable: {loss!r}")
        self._regularization_losses = losses
        self.built = True

    @staticmethod
    def _has_training_argument(function):
        spec = getattr(function, "function_spec", None)
        if spec is not None:
            fullargspec = spec.fullargspec
            return "training" in fullargspec.args or "training" in fullargspec.kwonlyargs
        return False

    def _expected_input_specs(self):
        """The structures of `inputs` that the SavedModel's function was traced for."""
        specs = []
        for concrete in _concrete_functions(self._function):
            args, kwargs = concrete.structured_input_signature
            if self.signature is not None:
                spec = dict(kwargs) if kwargs else list(args)
            else:
                spec = args[0] if args else kwargs.get("inputs")
            if spec is not None and all(s != spec for s in specs):
                specs.append(spec)
        return specs

    def _output_structure(self):
        concretes = _concrete_functions(self._function)
        return concretes[0].structured_outputs if concretes else None

    def _check_output_key(self):
        if self.output_key is None:
            return
        outputs = self._output_structure()
        if not isinstance(outputs, dict):
            raise ValueError(f"`output_key` selects one output of a dict, but the SavedModel at "
                             f"{self.handle!r} returns a {type(outputs).__name__}. "
                             f"Received: output_key={self.output_key!r}")
        if self.output_key not in outputs:
            raise ValueError(f"`output_key` must be one of the SavedModel's outputs "
                             f"{sorted(outputs)}. Received: output_key={self.output_key!r}")

    def _cast_inputs(self, inputs):
        """Casts numeric inputs to the dtypes the SavedModel was traced for (int64 -> int32)."""
        if len(self._input_specs) != 1:
            return inputs
        expected = self._input_specs[0]
        if self.signature is not None and not isinstance(inputs, dict):
            return inputs
        try:
            tf.nest.assert_same_structure(expected, inputs, expand_composites=False)
        except (ValueError, TypeError):
            return inputs

        def numeric(dtype):
            return dtype.is_integer or dtype.is_floating or dtype.is_bool

        def cast(spec, x):
            x = tf.convert_to_tensor(x)
            if x.dtype != spec.dtype and numeric(x.dtype) and numeric(spec.dtype):
                return tf.cast(x, spec.dtype)
            return x

        return tf.nest.map_structure(cast, expected, inputs)

    def _call_saved(self, inputs, training):
        """Calls the loaded function: no losses, no output selection."""
        inputs = self._cast_inputs(inputs)
        kwargs = dict(self.arguments)
        if self.signature is not None and not isinstance(inputs, dict):
            names = sorted(self._function.structured_input_signature[1])
            if len(names) != 1:
                raise ValueError(f"The signature {self.signature!r} takes the inputs {names}: "
                                 "pass a dict with these keys. Received: one tensor")
            inputs = {names[0]: inputs}
        try:
            if self.signature is not None:
                return self._function(**inputs, **kwargs)
            if self._accepts_training:
                return tf.__internal__.smart_cond.smart_cond(
                    training,
                    lambda: self._function(inputs, training=True, **kwargs),
                    lambda: self._function(inputs, training=False, **kwargs))
            return self._function(inputs, **kwargs)
        except (ValueError, TypeError) as error:
            if "matching" not in str(error) and "signature" not in str(error).lower():
                raise
            received = tf.nest.map_structure(
                lambda x: tf.TensorSpec(x.shape, x.dtype), inputs)
            expected = " or ".join(_spec_repr(s) for s in self._input_specs) or "unknown"
            raise ValueError(f"The SavedModel at {self.handle!r} accepts inputs {expected}. "
                             f"Received: {_spec_repr(received)}") from None

    def _select_output(self, outputs):
        if self.output_key is None:
            return outputs
        return outputs[self.output_key]

    def call(self, inputs, training=None):
        if training is None:
            training = False
        if not self.trainable:
            training = False
        outputs = self._call_saved(inputs, training)
        if self.trainable:
            for loss in self._regularization_losses:
                self.add_loss(loss())
        return self._select_output(outputs)

    def compute_output_spec(self, inputs, training=None):
        """Output `KerasTensor`s, found by tracing the SavedModel's function on `inputs`' specs."""
        specs = tf.nest.map_structure(
            lambda x: tf.TensorSpec(tuple(x.shape), x.dtype), inputs)
        traced = tf.function(lambda x: self._select_output(self._call_saved(x, False)),
                             autograph=False).get_concrete_function(specs)
        return tf.nest.map_structure(
            lambda t: keras.KerasTensor(tuple(t.shape.as_list()), dtype=t.dtype.name),
            traced.structured_outputs)

    def compute_output_shape(self, input_shape):
        """Output shapes for `input_shape` (a shape or a dict of shapes), by tracing."""
        expected = self._input_specs[0] if len(self._input_specs) == 1 else None

        def is_shape(value):
            return isinstance(value, (list, tuple)) and all(
                d is None or isinstance(d, int) for d in value)

        def dtype_for(path_spec):
            return path_spec.dtype.name if path_spec is not None else "float32"

        if is_shape(input_shape):
            spec = expected if isinstance(expected, tf.TensorSpec) else None
            if isinstance(expected, dict) and len(expected) == 1:  # a one-input signature
                spec = next(iter(expected.values()))
            inputs = keras.KerasTensor(tuple(input_shape), dtype=dtype_for(spec))
        elif isinstance(input_shape, dict):
            inputs = {key: keras.KerasTensor(
                tuple(shape),
                dtype=dtype_for(expected.get(key) if isinstance(expected, dict) else None))
                for key, shape in input_shape.items()}
        else:
            raise ValueError("`input_shape` must be a shape tuple or a dict of shape tuples. "
                             f"Received: input_shape={input_shape!r}")
        return tf.nest.map_structure(lambda t: tuple(t.shape), self.compute_output_spec(inputs))

    def get_config(self):
        config = super().get_config()
        for key, value in self.arguments.items():
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                raise ValueError(f"`arguments` must be JSON-serializable to save the layer; "
                                 f"arguments[{key!r}] is {value!r}") from None
        config.update({
            "handle": self.handle,
            "signature": self.signature,
            "output_key": self.output_key,
            "arguments": dict(self.arguments),
        })
        return config

    @classmethod
    def from_config(cls, config):
        from keras.src.saving import serialization_lib

        if serialization_lib.in_safe_mode():
            raise ValueError(
                f"Requested the deserialization of a HubLayer, which loads the SavedModel at "
                f"{config.get('handle')!r}; a SavedModel's graph can run arbitrary TensorFlow "
                "ops, so this is disallowed in safe mode. If you trust the handle, pass "
                "`safe_mode=False` to the loading function or call "
                "`keras.config.enable_unsafe_deserialization()`.")
        return cls(**config)
