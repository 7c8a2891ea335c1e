"""Post-training int8 quantization of a trained model's projections and embeddings."""

import gc
import warnings

import keras

from seqmodels.transfer.lora import merge_lora, path_in


def quantize_int8(model):
    """Quantizes a trained model's weights to int8 in place (Keras' `model.quantize("int8")`).

    Every `Dense`, `EinsumDense` and `Embedding` layer (attention projections, feed-forward
    layers, the head, keras-hub's and our segment embeddings) keeps its kernel as int8 with
    one float32 scale per output channel (abs-max), and quantizes its inputs on the fly
    (per row, abs-max): matmuls in int8, about a quarter of the float32 bytes for those
    kernels. LoRA pairs are merged into their kernels first (`merge_lora`), so the int8
    kernels hold the fine-tuned weights. Layers without a quantized form (layer norms, our
    `PositionalEmbedding`'s token and position tables, keras-hub's preprocessing) stay float32.
    The quantized model predicts, saves as `.keras` and exports for TF Serving
    (`export_for_serving`) like the float one; it is for inference (`fit` would train the
    remaining float weights only).

    Args:
        model: a built, trained `keras.Model`.

    Returns:
        The paths of the quantized layers.

    Raises:
        ValueError: the model is not built, or has no layer Keras can quantize.

    Example:

    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="hidden"),
    ...                           keras.layers.LayerNormalization(name="norm")])
    >>> quantize_int8(model)
    ['hidden']
    >>> str(model.get_layer("hidden")._kernel.dtype)
    'int8'
    """
    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError("`model` must be a built keras.Model. Received: "
                         f"{type(model).__name__}")
    merge_lora(model)
    # Keras runs a full `gc.collect()` for each float kernel it drops: 1.3 s each in a process
    # holding TensorFlow and a model (measured; a minute for MiniLM's 40 projections). One
    # collection at the end frees the same memory.
    collect, gc.collect = gc.collect, lambda generation=2: 0
    try:
        with warnings.catch_warnings():  # layers without weights to quantize say so, one by one
            warnings.filterwarnings("ignore", "Layer .* does not have a `quantize` method")
            warnings.filterwarnings("ignore", ".*does not support quantization.*")
            model.quantize("int8")
    finally:
        gc.collect = collect
    gc.collect()
    quantized = [path_in(model, layer.path) for layer in model._flatten_layers()
                 if getattr(layer, "quantization_mode", None) == "int8"]
    if not quantized:
        raise ValueError(f"{model.name} has no Dense, EinsumDense or Embedding layer to "
                         "quantize (a TF Hub encoder is one SavedModel, without Keras layers).")
    return quantized
