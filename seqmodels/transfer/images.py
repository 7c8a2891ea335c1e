"""Image classifiers on pretrained backbones, the fine-tune schedule, feature extractors."""

import os

import keras

from seqmodels.hub import HubLayer
from seqmodels.transfer.application_preprocessing import (ApplicationPreprocessing,
                                                          application_module)
from seqmodels.transfer.backbones import parse_backbone
from seqmodels.training.optimizers import make_optimizer

BACKBONE_LAYER = "backbone"
# Smallest input side each application accepts (include_top=False); others take 32.
MIN_INPUT_SIZE = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71}


def _check_image_arguments(image_shape, num_classes, dropout):
    shape = tuple(image_shape) if isinstance(image_shape, (list, tuple)) else None
    if (shape is None or len(shape) != 3
            or not all(isinstance(d, int) and d > 0 for d in shape)):
        raise ValueError("`image_shape` must be (height, width, channels) positive integers. "
                         f"Received: image_shape={image_shape!r}")
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"`num_classes` must be a positive integer. Received: "
                         f"num_classes={num_classes!r}")
    if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be a number in [0, 1). Received: dropout={dropout!r}")
    return shape


def image_backbone_classifier(backbone, image_shape, num_classes, weights=None, dropout=0.2,
                              input_size=None, trainable=True, seed=None):
    """An image classifier on a pretrained backbone: images in [0, 1] in, logits out.

    The returned functional `keras.Model` takes `(batch, height, width, channels)` float
    images in [0, 1] (as `seqmodels.data.image_pipeline` makes them) and returns logits
    `(batch, num_classes)`. Its backbone is the layer named `"backbone"` (what `fine_tune`
    freezes and unfreezes); a dropout and a linear layer named `"logits"` form the head.

    Backbones:
        - `"keras_app:<Name>"`: `keras.applications.<Name>(include_top=False,
          pooling="avg")`, e.g. `MobileNetV3Small`, `EfficientNetB0`, `ResNet50`. Grayscale
          images are repeated to 3 channels, resized to `input_size` (default: the image size,
          or the application's minimum, 32 for most, when smaller), and scaled as the
          application's ImageNet weights expect (`ApplicationPreprocessing`).
        - `"hub:<handle>"`: a feature-vector SavedModel (e.g. one written by `export_reusable`
          from `feature_extractor`), called on the images as they are through `HubLayer`.

    Args:
        backbone: the backbone string (see above).
        image_shape: `(height, width, channels)`, channels 1 or 3 for applications.
        num_classes: number of classes.
        weights: for applications: `None` (random), a weights file of the application without
            its top, or `"imagenet"` (downloaded by Keras; needs the internet once).
        dropout: the head's dropout rate.
        input_size: the side the images are resized to for an application.
        trainable: whether the backbone starts trainable (`fine_tune` sets it per phase).
        seed: seeds the head's initializer and dropout.

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: for a bad backbone string, unknown application, bad shapes or weights.
        FileNotFoundError: when `weights` is a path that does not exist.

    Example:

    >>> import numpy as np
    >>> model = image_backbone_classifier("keras_app:MobileNetV3Small", (28, 28, 1), 10)
    >>> tuple(model(np.zeros((2, 28, 28, 1), "float32")).shape)
    (2, 10)
    """
    kind, value = parse_backbone(backbone, kinds=("keras_app", "hub"))
    shape = _check_image_arguments(image_shape, num_classes, dropout)
    if not isinstance(trainable, bool):
        raise ValueError(f"`trainable` must be a bool. Received: trainable={trainable!r}")
    images = keras.Input(shape=shape, name="images")
    if kind == "keras_app":
        application_module(value)  # a clear error for unknown names
        if shape[-1] not in (1, 3):
            raise ValueError("`image_shape` must have 1 (grayscale) or 3 channels for a Keras "
                             f"Application. Received: image_shape={shape}")
        if weights is not None and weights != "imagenet":
            if not isinstance(weights, (str, os.PathLike)):
                raise ValueError("`weights` must be None, 'imagenet' or the path of a weights "
                                 f"file. Received: weights={weights!r}")
            weights = os.fspath(weights)
            if not os.path.isfile(weights):
                raise FileNotFoundError(f"`weights` must be an existing weights file of "
                                        f"{value} without its top. Received: weights={weights!r}")
        minimum = MIN_INPUT_SIZE.get(value, 32)
        if input_size is None:
            size = (max(shape[0], minimum), max(shape[1], minimum))
        elif isinstance(input_size, int) and input_size >= minimum:
            size = (input_size, input_size)
        else:
            raise ValueError(f"`input_size` must be None or an integer >= {minimum} for {value}. "
                             f"Received: input_size={input_size!r}")
        x = images
        if shape[-1] == 1:
            x = keras.ops.repeat(x, 3, axis=-1)  # grayscale -> RGB
        if size != shape[:2]:
            x = keras.layers.Resizing(*size, name="resize")(x)
        x = ApplicationPreprocessing(value, name="application_preprocessing")(x)
        net = getattr(keras.applications, value)(include_top=False, weights=weights,
                                                 input_shape=size + (3,), pooling="avg")
        net.name = BACKBONE_LAYER  # noqa: the layer fine_tune finds
        net.trainable = trainable
        features = net(x)
    else:
        if weights is not None:
            raise ValueError("`weights` applies to Keras Applications; a hub backbone carries "
                             f"its own. Received: weights={weights!r} for {backbone!r}")
        net = HubLayer(value, trainable=trainable, name=BACKBONE_LAYER)
        features = net(images)
        if isinstance(features, dict) or len(features.shape) != 2:
            raise ValueError(f"The hub backbone {value!r} must return feature vectors "
                             "(batch, features). Received: "
                             f"{features if isinstance(features, dict) else features.shape}")
    features = keras.layers.Dropout(dropout, seed=seed, name="head_dropout")(features)
    logits = keras.layers.Dense(num_classes, name="logits",
                                kernel_initializer=keras.initializers.GlorotUniform(seed=seed))(
                                    features)
    return keras.Model(images, logits, name=f"{kind}_image_classifier")


def set_backbone_trainable(model, unfreeze_top=None):
    """Unfreezes a classifier's backbone, or only its top layers; BatchNormalization stays frozen.

    With `unfreeze_top=N`, the last `N` entries of `backbone.layers` become trainable (Keras'
    fine-tuning guide counts layers the same way; layers without weights count too) and the
    rest stay frozen. Every `BatchNormalization` layer stays `trainable=False`, which in Keras 3
    also runs it in inference mode: its moving statistics are used and never updated, even under
    `training=True`. A `HubLayer` backbone unfreezes whole (`unfreeze_top` must be None).

    Args:
        model: a model with a layer named `"backbone"` (from `image_backbone_classifier`) or
            a `text_backbone_classifier`, whose backbone is its `encoder`.
        unfreeze_top: the number of top backbone layers to unfreeze; None for all.

    Returns:
        The names of the backbone's layers with trainable weights.

    Example:

    >>> model = image_backbone_classifier("keras_app:MobileNetV3Small", (32, 32, 3), 2)
    >>> trainable = set_backbone_trainable(model, unfreeze_top=5)
    """
    backbone = _backbone_of(model)
    if unfreeze_top is not None and (not isinstance(unfreeze_top, int)
                                     or isinstance(unfreeze_top, bool) or unfreeze_top < 1):
        raise ValueError("`unfreeze_top` must be None (all layers) or a positive integer. "
                         f"Received: unfreeze_top={unfreeze_top!r}")
    backbone.trainable = True
    if isinstance(backbone, HubLayer):
        if unfreeze_top is not None:
            raise ValueError("A HubLayer backbone is one SavedModel and unfreezes whole: pass "
                             f"unfreeze_top=None. Received: unfreeze_top={unfreeze_top}")
        return [backbone.name]
    layers = backbone.layers
    for layer in _all_layers(backbone):  # a functional model does not pass `trainable` down
        layer.trainable = True
    if unfreeze_top is not None:
        for layer in layers[:max(len(layers) - unfreeze_top, 0)]:
            layer.trainable = False
    for layer in _all_layers(backbone):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    return [layer.name for layer in layers if layer.trainable_weights]


def _all_layers(layer):
    found = []
    for sub in getattr(layer, "layers", None) or []:
        found.append(sub)
        found.extend(_all_layers(sub))
    return found


def _backbone_of(model):
    """The pretrained part: the layer named "backbone", or a text classifier's `encoder`."""
    if not isinstance(model, keras.Model):
        raise ValueError("`model` must be a keras.Model with a layer named 'backbone' (from "
                         f"image_backbone_classifier). Received: {type(model).__name__}")
    try:
        return model.get_layer(BACKBONE_LAYER)
    except ValueError:
        pass
    encoder = getattr(model, "encoder", None)  # text_backbone_classifier's
    if isinstance(encoder, keras.layers.Layer) and any(layer is encoder
                                                       for layer in model.layers):
        return encoder
    raise ValueError(f"`model` must have a layer named {BACKBONE_LAYER!r} (from "
                     "image_backbone_classifier) or the `encoder` layer of a "
                     "text_backbone_classifier. Received: a model with layers "
                     f"{[layer.name for layer in model.layers]}")


def fine_tune(model, train, validation, head_epochs, fine_tune_epochs, unfreeze_top=None,
              learning_rate=1e-3, fine_tune_learning_rate=1e-5, loss=None,
              metrics=("accuracy",), callbacks=None, verbose=0, run_eagerly=False):
    """The standard two-phase fine-tune: train the head on a frozen backbone, then unfreeze.

    Phase 1 (`head_epochs` at `learning_rate`): the backbone is frozen (all its layers,
    BatchNormalization in inference mode); only the head trains. Phase 2 (`fine_tune_epochs` at
    the lower `fine_tune_learning_rate`): `set_backbone_trainable(model, unfreeze_top)` unfreezes
    the top `unfreeze_top` backbone layers (all for None) while every BatchNormalization layer
    stays frozen and in inference mode, so its moving statistics do not change. Each phase
    compiles the model with a fresh Adam optimizer (the package's one recipe,
    `seqmodels.training.optimizers.make_optimizer`, at a constant rate; Keras needs a compile
    after `trainable` changes); epochs are numbered on through both phases.

    Args:
        model: a model from `image_backbone_classifier` (a layer named `"backbone"`) or
            `text_backbone_classifier` (its `encoder`).
        train: the training data (`tf.data.Dataset` of `(images, labels)` batches).
        validation: validation data, or None.
        head_epochs: epochs of phase 1 (0 skips it).
        fine_tune_epochs: epochs of phase 2 (0 skips it).
        unfreeze_top: how many top backbone layers phase 2 unfreezes (None: all).
        learning_rate: Adam's learning rate in phase 1.
        fine_tune_learning_rate: Adam's learning rate in phase 2.
        loss: the loss (default: sparse categorical cross-entropy on logits).
        metrics: compile metrics.
        callbacks: Keras callbacks for both phases.
        verbose: `fit`'s verbosity.
        run_eagerly: compile both phases with `run_eagerly=True` (Keras' switch): the steps run
            as Python, without tracing, so a print or breakpoint in a layer runs at every step.

    Returns:
        `{"head": <history dict>, "fine_tune": <history dict>}`.

    Example:

    Any model with a layer named `"backbone"` will do; here a tiny one, for speed:

    >>> import keras
    >>> import numpy as np
    >>> import tensorflow as tf
    >>> backbone = keras.Sequential([
    ...     keras.layers.Conv2D(4, 3), keras.layers.BatchNormalization(),
    ...     keras.layers.GlobalAveragePooling2D()], name="backbone")
    >>> images = keras.Input((8, 8, 1))
    >>> model = keras.Model(images, keras.layers.Dense(2, name="logits")(backbone(images)))
    >>> train = tf.data.Dataset.from_tensor_slices(
    ...     (np.zeros((4, 8, 8, 1), "float32"), [0, 1, 0, 1])).batch(2)
    >>> history = fine_tune(model, train, None, head_epochs=1, fine_tune_epochs=1,
    ...                     unfreeze_top=2)
    >>> sorted(history["head"]), len(history["fine_tune"]["loss"]), model.run_eagerly
    (['accuracy', 'loss'], 1, False)

    On a MobileNet backbone (half a minute for one epoch of each phase on 2 CPU cores, so not
    run here), with `train` and `validation` from `seqmodels.data.image_pipeline`:

    >>> model = image_backbone_classifier(
    ...     "keras_app:MobileNetV3Small", (28, 28, 1), 10)  # doctest: +SKIP
    >>> fine_tune(model, train, validation, head_epochs=3, fine_tune_epochs=3,
    ...           unfreeze_top=20)  # doctest: +SKIP
    """
    backbone = _backbone_of(model)
    for name, value in (("head_epochs", head_epochs), ("fine_tune_epochs", fine_tune_epochs)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"`{name}` must be a non-negative integer. Received: {name}={value!r}")
    for name, value in (("learning_rate", learning_rate),
                        ("fine_tune_learning_rate", fine_tune_learning_rate)):
        if not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"`{name}` must be a positive number. Received: {name}={value!r}")
    if not isinstance(run_eagerly, bool):
        raise ValueError(f"`run_eagerly` must be True or False. Received: "
                         f"run_eagerly={run_eagerly!r}")
    loss = loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    history = {"head": {}, "fine_tune": {}}
    if head_epochs:
        backbone.trainable = False
        model.compile(_adam(learning_rate), loss, metrics=list(metrics),
                      run_eagerly=run_eagerly)
        history["head"] = model.fit(train, validation_data=validation, epochs=head_epochs,
                                    callbacks=callbacks, verbose=verbose).history
    if fine_tune_epochs:
        set_backbone_trainable(model, unfreeze_top)
        model.compile(_adam(fine_tune_learning_rate), loss, metrics=list(metrics),
                      run_eagerly=run_eagerly)
        history["fine_tune"] = model.fit(
            train, validation_data=validation, initial_epoch=head_epochs,
            epochs=head_epochs + fine_tune_epochs, callbacks=callbacks, verbose=verbose).history
    return history


def _adam(learning_rate):
    """The package's one optimizer recipe at a constant rate without weight decay: Adam."""
    return make_optimizer(learning_rate, schedule="constant", weight_decay=0.0)


def feature_extractor(classifier, name="feature_extractor"):
    """The part of a classifier below its head: images in, feature vectors out.

    Cuts a functional classifier (e.g. `seqmodels.models.CNNClassifier` or
    `VisionTransformer`) at the input of its layer named `"logits"`, skipping a dropout right
    before it: the pooled features (CNN) or the normalised class token (ViT). The returned model
    shares the classifier's layers and weights; write it with `seqmodels.hub.export_reusable` to
    reuse it as `image_backbone_classifier("hub:<dir>", ...)`.

    Args:
        classifier: a functional model with a layer named `"logits"`.
        name: the returned model's name.

    Returns:
        A `keras.Model` (images -> features).

    Example:

    >>> from seqmodels.models import CNNClassifier
    >>> features = feature_extractor(CNNClassifier((28, 28, 1), 10, filters=(8,)))
    >>> features.output.shape
    (None, 8)
    """
    try:
        logits = classifier.get_layer("logits")
    except (ValueError, AttributeError):
        raise ValueError("`classifier` must be a functional model with a layer named 'logits'. "
                         f"Received: {type(classifier).__name__}") from None
    tensor = logits.input
    producer = tensor._keras_history.operation
    if isinstance(producer, keras.layers.Dropout):
        tensor = producer.input
    return keras.Model(classifier.input, tensor, name=name)
