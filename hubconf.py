"""PyTorch Hub entry points: seqmodels' models as `torch.nn.Module`s.

On Keras' torch backend every Keras layer and model is a `torch.nn.Module` (its weights are
`parameters()`, its call is `forward`), so these entries return our Keras models to PyTorch
users. Set the backend before anything imports Keras, then load from a local checkout:

    KERAS_BACKEND=torch python
    >>> import torch
    >>> model = torch.hub.load("/path/to/seqmodels", "text_classifier", source="local",
    ...                        vocab_size=20000, num_classes=2)
    >>> logits = model(torch.tensor([[5, 8, 2, 0]]))  # token ids (batch, seq) -> (batch, 2)

`weights=` takes a `.weights.h5` file saved by `model.save_weights` on any backend (e.g. a
model trained by the TensorFlow binary, same constructor arguments). The entries need
`keras` and `torch` (torch 2.13's `torch.hub.list` reads GitHub repositories only).
"""

dependencies = ["keras", "torch"]


def _check_backend(entry):
    import keras

    if keras.backend.backend() != "torch":
        raise RuntimeError(
            f"hubconf.{entry} returns torch.nn.Modules on Keras' torch backend only: set "
            "KERAS_BACKEND=torch before Keras is imported. Received: the "
            f"{keras.backend.backend()!r} backend")


def _loaded(model, weights):
    if weights is not None:
        model.load_weights(weights)
    return model


def text_classifier(vocab_size=20000, num_classes=2, weights=None, **kwargs):
    """`seqmodels.models.TextClassifier`: token ids (batch, seq) -> logits (batch, classes).

    Args:
        vocab_size: embedding rows (ids 0 padding, 1 out of vocabulary, as TextVectorization's).
        num_classes: logits per text.
        weights: optional `.weights.h5` file of a model of the same arguments.
        **kwargs: the other `TextClassifier` arguments (`encoder`, `sequence_length`,
            `hidden_dim`, `num_layers`, `num_heads`, `intermediate_dim`, `dropout`, ...).

    Returns:
        The model, a `torch.nn.Module` (and a `keras.Model`).
    """
    _check_backend("text_classifier")
    from seqmodels.models.text_classifier import TextClassifier

    return _loaded(TextClassifier(vocab_size=vocab_size, num_classes=num_classes, **kwargs),
                   weights)


def vision_transformer(image_shape=(224, 224, 3), num_classes=1000, variant="Ti/16",
                       weights=None, **kwargs):
    """`seqmodels.models.VisionTransformer`: images (batch, h, w, c) -> logits (batch, classes).

    Args:
        image_shape: (height, width, channels), channels last as in Keras.
        num_classes: logits per image.
        variant: the ViT variant, e.g. `"Ti/16"`, `"S/16"`, `"B/16"`.
        weights: optional `.weights.h5` file of a model of the same arguments.
        **kwargs: the other `VisionTransformer` arguments.

    Returns:
        The model, a `torch.nn.Module` (and a `keras.Model`).
    """
    _check_backend("vision_transformer")
    from seqmodels.models.vision_transformer import VisionTransformer

    return _loaded(VisionTransformer(tuple(image_shape), num_classes, variant=variant, **kwargs),
                   weights)
