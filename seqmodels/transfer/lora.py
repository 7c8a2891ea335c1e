"""LoRA: low-rank fine-tuning of a model's dense and attention projections (Keras' `enable_lora`).

`enable_lora(model, rank)` freezes every weight of the model and adds a trainable low-rank pair
to each `Dense` and `EinsumDense` layer (our attention's query, key, value and output
projections, the feed-forward layers, the pooler; keras-hub's BERT is built from the same
layers): the layer computes with `kernel + lora_kernel_a @ lora_kernel_b * alpha / rank`, where
`lora_kernel_b` starts at zero, so the model starts from the pretrained function. Layers named
in `train` (a new classification head) train whole. `save_lora` writes the trainable weights
alone (the adapters and the head: what fine-tuning changes), `load_lora` puts them back on a
fresh copy of the same base model, and `merge_lora` folds each pair into its kernel (one
matmul per layer again, no adapter variables) for export; `export_for_serving` and
`export_litert` do that on their own for the duration of the export (`lora_merged`).
"""

import contextlib
import json
import os

import keras
import numpy as np

LORA_LAYERS = (keras.layers.Dense, keras.layers.EinsumDense)
METADATA_KEY = "__lora__"
ADAPTERS = ("lora_kernel_a", "lora_kernel_b")


def _projections(model, names):
    """The model's Dense and EinsumDense layers, outside the layers named in `names`."""
    inside = set()
    for layer in model._flatten_layers():
        if layer.name in names:
            inside.update(id(sub) for sub in layer._flatten_layers())
    return [layer for layer in model._flatten_layers()
            if isinstance(layer, LORA_LAYERS) and id(layer) not in inside]


def lora_layers(model):
    """The layers of `model` that compute with a LoRA pair (in `_flatten_layers` order).

    Example:

    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense")])
    >>> lora_layers(model)
    []
    """
    return [layer for layer in model._flatten_layers() if getattr(layer, "lora_enabled", False)]


def enable_lora(model, rank, alpha=None, train=(), skip=()):
    """Freezes `model` and gives each of its dense and attention projections a LoRA pair.

    Every weight of `model` stops training (`variable.trainable = False`), except the weights
    of the layers named in `train`, which train whole (e.g. `("logits",)`, the new head of a
    `text_backbone_classifier`). Every other `Dense` and `EinsumDense` layer, outside the
    layers named in `skip`, gets Keras' `enable_lora(rank, alpha)`: two float32 weights,
    He-uniform and zeros, so the model computes exactly what it did until they train. A
    `Dense` kernel `(input, output)` gets `(input, rank) x (rank, output)`; an `EinsumDense`
    kernel gets `kernel.shape[:-1] + (rank,)` times `(rank, kernel.shape[-1])`: for the query,
    key and value kernels `(hidden, heads, head_size)` a rank-`rank` update per head (with
    one shared `(rank, head_size)` factor), for the attention output `(heads, head_size,
    hidden)` one rank-`rank` update of the whole projection. Build the model first; under a
    `tf.distribute` strategy, call this inside its scope.

    Args:
        model: a built `keras.Model` (e.g. a `TextClassifier`, a `BertEncoder` or a
            classifier from `text_backbone_classifier`).
        rank: the rank of each low-rank update, a positive integer.
        alpha: the update's scale numerator (`alpha / rank`); default `rank` (scale 1).
        train: names of layers (anywhere in the model) that train whole and get no pair.
        skip: names of layers that stay frozen and get no pair (e.g. a BERT pooler that a
            mean-pooling head does not use: its pair would get no gradient).

    Returns:
        The layers that got a LoRA pair.

    Raises:
        ValueError: a bad `rank` or `alpha`, a name of `train` or `skip` that is no layer of
            the model, a model without Dense or EinsumDense layers (a TF Hub SavedModel's
            encoder), projections inside a layer set `trainable=False` (their pairs could not
            train), or projections that have LoRA already.

    Example:

    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, name="hidden"),
    ...                           keras.layers.Dense(2, name="logits")])
    >>> [layer.name for layer in enable_lora(model, rank=2, train=("logits",))]
    ['hidden']
    >>> sorted(path_in(model, w.path) for w in model.trainable_weights)
    ['hidden/lora_kernel_a', 'hidden/lora_kernel_b', 'logits/bias', 'logits/kernel']
    """
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        raise ValueError(f"`rank` must be a positive integer. Received: rank={rank!r}")
    if alpha is not None and (isinstance(alpha, bool) or not isinstance(alpha, (int, float))
                              or alpha <= 0):
        raise ValueError(f"`alpha` must be a positive number or None. Received: alpha={alpha!r}")
    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError("`model` must be a built keras.Model. Received: "
                         f"{type(model).__name__}" + ("" if isinstance(model, keras.Model)
                                                      else f" {model!r:.60}"))
    train = (train,) if isinstance(train, str) else tuple(train)
    skip = (skip,) if isinstance(skip, str) else tuple(skip)
    names = {layer.name for layer in model._flatten_layers()}
    for argument, given in (("train", train), ("skip", skip)):
        unknown = [name for name in given if name not in names]
        if unknown:
            raise ValueError(f"`{argument}` names layers of the model; {unknown} are no layers "
                             f"of {model.name}. Received: {argument}={given!r}")
    targets = _projections(model, train + skip)
    if not targets:
        raise ValueError(f"LoRA adapts Dense and EinsumDense layers, and {model.name} has none "
                         "outside `train` and `skip` (a TF Hub encoder is one SavedModel, "
                         f"without Keras layers). Received: train={train!r}, skip={skip!r}")
    inside_frozen = {id(sub) for layer in model._flatten_layers() if not layer.trainable
                     for sub in layer._flatten_layers(include_self=False)}
    frozen = [path_in(model, layer.path) for layer in targets if id(layer) in inside_frozen]
    if frozen or not model.trainable:
        raise ValueError(f"LoRA pairs must be able to train, but {frozen[:3] or model.name} lie "
                         "inside a layer set trainable=False (a frozen encoder): set it "
                         "trainable; enable_lora freezes the weights one by one itself.")
    already = [path_in(model, layer.path) for layer in targets if layer.lora_enabled]
    if already:
        raise ValueError(f"LoRA is enabled already on {already[:3]}: a model gets it once "
                         "(merge_lora, then enable_lora again, for a second round).")
    trained = {id(weight) for layer in model._flatten_layers() if layer.name in train
               for weight in layer.weights}
    for weight in model.weights:
        weight.trainable = id(weight) in trained
    for layer in targets:
        base = list(layer.weights)
        layer.trainable = True  # a frozen layer would create its adapters frozen
        layer.enable_lora(rank, lora_alpha=alpha)
        for weight in base:  # the `trainable` setter turned them back on
            weight.trainable = False
    model.lora_train, model.lora_skip = list(train), list(skip)  # save_lora records them
    return targets


def path_in(model, path):
    """A weight's or layer's `path` without `model`'s own name in front.

    A `Sequential` model builds its layers under its name (`sequential_3/hidden/kernel`), a
    functional one does not (`hidden/kernel`); without the prefix, the path of a weight is the
    same in every copy of the model.

    Example:

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="hidden")],
    ...                          name="tiny")
    >>> model.weights[0].path, path_in(model, model.weights[0].path)
    ('tiny/hidden/kernel', 'hidden/kernel')
    """
    prefix = model.name + "/"
    return path[len(prefix):] if path.startswith(prefix) else path


def _checked_paths(model, variables):
    paths = [path_in(model, v.path) for v in variables]
    repeated = sorted({p for p in paths if paths.count(p) > 1})
    if repeated:
        raise ValueError(f"The trainable weights must have distinct paths to be saved by name; "
                         f"{repeated[:3]} repeat (name the layers of the model).")
    return paths


def save_lora(model, path):
    """Writes the weights LoRA fine-tuning trains, alone: each pair and the layers trained whole.

    A NumPy `.npz` file: one array per trainable weight of `model`, by its path
    (`transformer_layer_0/self_attention/query/lora_kernel_a`, `logits/kernel`, ...), and the
    rank, alpha, `train` and `skip` layers to rebuild the same adapters (`load_lora`). The frozen base
    model is not in it: a MiniLM classifier's file at rank 4 holds ~150k numbers, not 22.7M.

    Args:
        model: a model after `enable_lora`.
        path: the file to write (`.npz` is appended when missing, as NumPy does).

    Returns:
        The path written.

    Raises:
        ValueError: `model` has no LoRA layers.

    Example:

    >>> import os, tempfile
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, name="hidden"),
    ...                           keras.layers.Dense(2, name="logits")])
    >>> _ = enable_lora(model, rank=2, train=("logits",))
    >>> path = save_lora(model, os.path.join(tempfile.mkdtemp(), "adapters"))
    >>> os.path.basename(path)
    'adapters.npz'
    """
    layers = lora_layers(model)
    if not layers:
        raise ValueError(f"`model` has no LoRA layers to save: call enable_lora first. "
                         f"Received: {model.name}")
    variables = model.trainable_weights
    paths = _checked_paths(model, variables)
    metadata = {"rank": layers[0].lora_rank, "alpha": layers[0].lora_alpha,
                "train": list(getattr(model, "lora_train", [])),
                "skip": list(getattr(model, "lora_skip", [])),
                "layers": [path_in(model, layer.path) for layer in layers]}
    path = os.fspath(path)
    path = path if path.endswith(".npz") else path + ".npz"
    arrays = {p: keras.ops.convert_to_numpy(v) for p, v in zip(paths, variables)}
    np.savez(path, **arrays, **{METADATA_KEY: np.array(json.dumps(metadata))})
    return path


def load_lora(model, path):
    """Puts the weights `save_lora` wrote back on `model`, the same base model.

    A model without LoRA first gets the file's adapters (`enable_lora` with its rank, alpha,
    `train` and `skip` layers); then every trainable weight is read from the file by path.

    Args:
        model: the base model the adapters were trained on (e.g. a fresh
            `text_backbone_classifier` of the same backbone), with or without LoRA.
        path: a file written by `save_lora`.

    Returns:
        `model`, with the file's weights.

    Raises:
        ValueError: the file is not a LoRA file, or its weights do not fit the model (missing,
            extra or of another shape), naming them.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> def base():
    ...     keras.utils.set_random_seed(0)
    ...     return keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="hidden")])
    >>> tuned = base()
    >>> _ = enable_lora(tuned, rank=2)
    >>> _ = tuned.get_layer("hidden").lora_kernel_b.assign(np.ones((2, 4)))
    >>> path = save_lora(tuned, os.path.join(tempfile.mkdtemp(), "adapters"))
    >>> loaded = load_lora(base(), path)
    >>> x = np.ones((1, 8), "float32")
    >>> bool(np.allclose(loaded(x), tuned(x)))
    True
    """
    with np.load(os.fspath(path), allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}
    if METADATA_KEY not in arrays:
        raise ValueError(f"{path} is not a file save_lora wrote (no {METADATA_KEY} entry).")
    metadata = json.loads(str(arrays.pop(METADATA_KEY)))
    if not lora_layers(model):
        enable_lora(model, metadata["rank"], metadata["alpha"], train=metadata["train"],
                    skip=metadata["skip"])
    variables = model.trainable_weights
    paths = _checked_paths(model, variables)
    missing = [p for p in paths if p not in arrays]
    extra = [p for p in arrays if p not in paths]
    if missing or extra:
        raise ValueError(f"The LoRA weights in {path} do not fit {model.name}: the model's "
                         f"{missing[:3]} are not in the file and the file's {extra[:3]} are not "
                         "trainable weights of the model (same backbone, rank and `train`?)")
    for p, variable in zip(paths, variables):
        if tuple(arrays[p].shape) != tuple(variable.shape):
            raise ValueError(f"The weight {p} in {path} has shape {arrays[p].shape}; "
                             f"{model.name}'s has {tuple(variable.shape)} (another rank or "
                             "base model?)")
        variable.assign(arrays[p])
    return model


def _check_mergeable(layers):
    quantized = [layer.name for layer in layers if layer.quantization_mode is not None]
    if quantized:
        raise ValueError(f"Cannot merge LoRA into the quantized kernels of {quantized[:3]}: "
                         "merge_lora first, then quantize (transfer.quantize_int8 does).")


def merge_lora(model):
    """Folds each LoRA pair into its kernel, for good: plain layers again, without adapters.

    Each LoRA layer's kernel becomes `kernel + lora_kernel_a @ lora_kernel_b * alpha / rank`
    and its pair leaves the model's weights, so the model computes the same outputs with
    one matmul per projection (and can be quantized, exported or adapted again). The merged
    kernels stay frozen; set `trainable` to train them.

    Args:
        model: a model after `enable_lora` (a model without LoRA is returned unchanged).

    Returns:
        `model`, merged in place.

    Raises:
        ValueError: a LoRA layer's kernel is quantized (merge before `quantize`).

    Example:

    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="hidden")])
    >>> _ = enable_lora(model, rank=2)
    >>> _ = model.get_layer("hidden").lora_kernel_b.assign(np.ones((2, 4)))
    >>> x = np.ones((1, 8), "float32")
    >>> before = model(x)
    >>> [path_in(model, w.path) for w in merge_lora(model).weights]
    ['hidden/kernel', 'hidden/bias']
    >>> bool(np.allclose(model(x), before, atol=1e-5))
    True
    """
    layers = lora_layers(model)
    _check_mergeable(layers)
    for layer in layers:
        _merge(layer)
    return model


def _merge(layer):
    """Assigns the merged kernel and drops the pair; returns what `_unmerge` restores."""
    kernel = keras.ops.convert_to_numpy(layer._kernel)
    merged = keras.ops.convert_to_numpy(layer.kernel)  # kernel + a @ b * alpha / rank
    state = (kernel, layer.lora_kernel_a, layer.lora_kernel_b, layer.lora_rank, layer.lora_alpha)
    layer._kernel.assign(merged)
    for adapter in (layer.lora_kernel_a, layer.lora_kernel_b):
        layer._untrack_variable(adapter)
    layer.lora_enabled, layer.lora_rank, layer.lora_alpha = False, None, None
    return state


def _unmerge(layer, state):
    kernel, adapter_a, adapter_b, rank, alpha = state
    layer._kernel.assign(kernel)
    layer._tracker.unlock()
    for adapter in (adapter_a, adapter_b):
        layer._track_variable(adapter)
    layer._tracker.lock()
    layer.lora_enabled, layer.lora_rank, layer.lora_alpha = True, rank, alpha


@contextlib.contextmanager
def lora_merged(model):
    """Merges `model`'s LoRA pairs for the duration of a `with` block, then restores them.

    Exports run inside it (`export_for_serving`, `export_litert`): the exported graph computes
    with merged kernels and holds no adapter variables, while the Keras model keeps training
    its adapters afterwards (kernels, adapters and the order of `model.weights` as before).
    Without LoRA layers, it does nothing.

    Example:

    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="hidden")])
    >>> _ = enable_lora(model, rank=2)
    >>> with lora_merged(model):
    ...     len(model.weights)
    2
    >>> len(model.weights)
    4
    """
    layers = lora_layers(model)
    _check_mergeable(layers)
    states = []
    try:
        for layer in layers:
            states.append((layer, _merge(layer)))
        yield model
    finally:
        for layer, state in reversed(states):
            _unmerge(layer, state)
