"""A Keras 3 layer over a TF Hub / Kaggle Models SavedModel that really fine-tunes.

`hub.KerasLayer` is a tf_keras (Keras 2) layer and fails inside Keras 3 models
(tensorflow/hub#903). `HubLayer` is the Keras 3 replacement: it loads the SavedModel, adopts its
variables as Keras variables (on the TensorFlow backend `keras.Variable(tf_variable)` wraps the
loaded variable without copying it, so the optimizer updates the loaded variables themselves) and
calls the loaded `__call__` (or a named signature) on the layer's inputs.
"""

import hashlib
import http.client
import json
import os
import socket
import sys
import threading
import types
import urllib.error
import urllib.parse
import urllib.request

import keras
import tensorflow as tf

# Seconds to wait for the name lookup and the TCP connection of a remote handle before deciding
# that the network is unreachable (a download itself is not bounded by this).
CONNECT_TIMEOUT_ENV = "SEQMODELS_HUB_CONNECT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT_S = 2.0

_REMOTE_PREFIXES = ("http://", "https://", "gs://")
_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def _import_tensorflow_hub():
    """Imports `tensorflow_hub`, working around its import of the removed `pkg_resources`.

    tensorflow_hub 0.16.1 runs `from pkg_resources import parse_version` at import time;
    setuptools >= 82 no longer ships `pkg_resources` (tensorflow/hub#934), so the import fails.
    When `pkg_resources` is missing, a stand-in exposing only `parse_version` (from `packaging`)
    is visible for the duration of the import and removed afterwards.
    """
    if "tensorflow_hub" in sys.modules:
        return sys.modules["tensorflow_hub"]
    try:
        import pkg_resources  # noqa: F401
        shim = None
    except ImportError:
        from packaging.version import parse as parse_version

        shim = types.ModuleType("pkg_resources")
        shim.parse_version = parse_version
        sys.modules["pkg_resources"] = shim
    try:
        import tensorflow_hub
    finally:
        if shim is not None and sys.modules.get("pkg_resources") is shim:
            del sys.modules["pkg_resources"]
    return tensorflow_hub


def _connect_timeout():
    value = os.environ.get(CONNECT_TIMEOUT_ENV, "")
    try:
        return float(value) if value else DEFAULT_CONNECT_TIMEOUT_S
    except ValueError:
        raise ValueError(f"{CONNECT_TIMEOUT_ENV} must be a number of seconds. "
                         f"Received: {CONNECT_TIMEOUT_ENV}={value!r}") from None


def _hub_cache_entry(handle):
    """The directory where tensorflow_hub caches `handle`, or None when it does not cache it.

    Mirrors `tensorflow_hub.compressed_module_resolver._module_dir`: the SHA-1 of the handle under
    `TFHUB_CACHE_DIR` (default: `<tmp>/tfhub_modules`). With `TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED`
    tensorflow_hub reads the model from its remote location every time, without a cache.
    """
    from tensorflow_hub import resolver

    load_format = resolver.model_load_format()
    if load_format not in (resolver.ModelLoadFormat.COMPRESSED.value,
                           resolver.ModelLoadFormat.AUTO.value):
        return None
    cache_dir = resolver.tfhub_cache_dir(use_temp=True)
    return os.path.join(cache_dir, hashlib.sha1(handle.encode("utf8")).hexdigest())


def _probe_connection(url, timeout):
    """Raises OSError unless a TCP connection to `url`'s host (or its proxy) opens in `timeout` s.

    The name lookup runs in a daemon thread so that a resolver that never answers cannot hang the
    caller; urllib's proxy settings (`https_proxy`, `no_proxy`, ...) are honoured.
    """
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parsed.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_url = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
        host, port = proxy_url.hostname, proxy_url.port or 80
    outcome = {}

    def connect():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as error:
            outcome["error"] = error

    thread = threading.Thread(target=connect, name="seqmodels-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"no connection to {host}:{port} within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]


def _offline_error(handle, cause, cache_entry):
    where = (f", or put the unpacked SavedModel in tensorflow_hub's cache at {cache_entry}"
             if cache_entry else "")
    return ConnectionError(
        f"Could not download the hub handle {handle!r}: it needs network access or a local copy. "
        f"Pass the directory of a downloaded copy of the SavedModel (or a file:// URL) as "
        f"`handle`{where}. Cause: {cause}")


def resolve_handle(handle):
    """Resolves a TF Hub / Kaggle Models handle to a local SavedModel directory.

    Local directories and `file://` URLs are used in place. `http(s)://` handles
    (`https://tfhub.dev/...`, `https://www.kaggle.com/models/...`, or a URL of a `.tar.gz`) and
    `gs://` handles go through tensorflow_hub's own resolver (`hub.resolve`), which downloads
    them once into its cache (`TFHUB_CACHE_DIR`). A remote handle that is not cached is checked
    first with a bounded connection attempt (`SEQMODELS_HUB_CONNECT_TIMEOUT`, default 2 s), so
    that without network it fails at once with a `ConnectionError` instead of hanging.

    Args:
        handle: a path, a `file://` URL, or a remote handle.

    Returns:
        The path of the local directory that holds the SavedModel.

    Raises:
        ConnectionError: a remote handle that is not cached and the network is unreachable.
        FileNotFoundError: a local handle that does not exist.
        ValueError: a directory that holds no SavedModel.
    """
    if not isinstance(handle, (str, os.PathLike)) or not str(handle):
        raise ValueError("`handle` must be a non-empty string: a directory, a file:// URL or a "
                         f"TF Hub / Kaggle Models URL. Received: handle={handle!r}")
    handle = os.fspath(handle)
    if handle.startswith(_REMOTE_PREFIXES):
        hub = _import_tensorflow_hub()
        cache_entry = _hub_cache_entry(handle)
        cached = bool(cache_entry and os.path.isdir(cache_entry) and os.listdir(cache_entry))
        if not cached and handle.startswith(("http://", "https://")):
            try:
                _probe_connection(handle, _connect_timeout())
            except OSError as error:
                raise _offline_error(handle, error, cache_entry) from error
        try:
            path = hub.resolve(handle)
        except urllib.error.HTTPError as error:
            raise OSError(f"Could not download the hub handle {handle!r}: the server answered "
                          f"HTTP {error.code} ({error.reason}).") from error
        except urllib.error.URLError as error:
            raise _offline_error(handle, error.reason, cache_entry) from error
        except (ConnectionError, TimeoutError, socket.gaierror, http.client.HTTPException) as error:
            raise _offline_error(handle, error, cache_entry) from error
    elif handle.startswith("file://"):
        path = urllib.request.url2pathname(urllib.parse.urlsplit(handle).path)
    else:
        path = handle
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"The hub handle {handle!r} points to {path}, which is not a "
                                "directory holding a SavedModel.")
    if not any(os.path.exists(os.path.join(path, name)) for name in _SAVED_MODEL_FILES):
        raise ValueError(f"The hub handle {handle!r} points to {path}, which holds no "
                         "saved_model.pb: it is not a SavedModel.")
    if os.path.exists(os.path.join(path, "tfhub_module.pb")):
        raise ValueError(f"The hub handle {handle!r} is in the TF1 Hub format (hub.Module), "
                         "which HubLayer does not load. Use the TF2 SavedModel version of the "
                         "model.")
    return path


def _load_saved_model(path, handle):
    """`tf.saved_model.load`, importing tensorflow_text when the graph needs its ops.

    Text preprocessors (BERT tokenizers) use ops that exist only once `tensorflow_text` is
    imported; TF Hub's instructions tell users to import it by hand.
    """
    try:
        return tf.saved_model.load(path)
    except (RuntimeError, tf.errors.NotFoundError) as error:
        if "Op type not registered" not in str(error):
            raise
        try:
            import tensorflow_text  # noqa: F401  (registers the ops)
        except ImportError:
            raise RuntimeError(
                f"The SavedModel at {handle!r} uses TensorFlow ops this process does not "
                "have; text preprocessors need `pip install tensorflow-text` (matching the "
                f"TensorFlow version). Cause: {str(error).splitlines()[0]}") from error
        return tf.saved_model.load(path)


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
        self._loaded = _load_saved_model(path, self.handle)
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
