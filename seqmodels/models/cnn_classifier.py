"""A small convolutional image classifier: the baseline the Vision Transformer is measured against."""

import keras


@keras.saving.register_keras_serializable(package="seqmodels")
class CNNClassifier(keras.Model):
    """Classifies images with stacked conv-BN-ReLU blocks, pooling and a linear head.

    A functional model: `images` (batch, height, width, channels) float in [0, 1] →
    logits (batch, num_classes). Each of the `filters` entries adds two 3x3 convolutions and a
    2x2 max-pool; global average pooling and dropout precede the head.

    Args:
        image_shape: `(height, width, channels)`.
        num_classes: number of classes.
        filters: channels of each block, e.g. `(32, 64)`.
        dropout: dropout rate before the head.
        **kwargs: passed to `keras.Model`.

    Example:

    >>> import numpy as np
    >>> model = CNNClassifier((28, 28, 1), num_classes=10, filters=(8,))
    >>> tuple(model(np.zeros((2, 28, 28, 1), "float32")).shape)
    (2, 10)

    References:
        LeCun et al., "Gradient-Based Learning Applied to Document Recognition", 1998.
    """

    def __init__(self, image_shape, num_classes, filters=(32, 64), dropout=0.2, **kwargs):
        image_shape, filters = tuple(image_shape), tuple(filters)
        if len(image_shape) != 3:
            raise ValueError("`image_shape` must be (height, width, channels). "
                             f"Received: image_shape={image_shape}")
        if not filters or any(not isinstance(f, int) or f < 1 for f in filters):
            raise ValueError("`filters` must be a non-empty sequence of positive integers. "
                             f"Received: filters={filters}")
        images = keras.Input(shape=image_shape, name="images")
        x = images
        for i, width in enumerate(filters):
            for j in range(2):
                x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False,
                                        name=f"block{i}_conv{j}")(x)
                x = keras.layers.BatchNormalization(name=f"block{i}_bn{j}")(x)
                x = keras.layers.ReLU()(x)
            x = keras.layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)  # (batch, filters[-1])
        x = keras.layers.Dropout(dropout)(x)
        logits = keras.layers.Dense(num_classes, name="logits")(x)
        super().__init__(inputs=images, outputs=logits, **kwargs)
        self.image_shape = image_shape
        self.num_classes = num_classes
        self.filters = filters
        self.dropout = dropout

    def get_config(self):
        # Not chained to super: a functional model's config is its graph, not these arguments.
        return {"name": self.name, "trainable": self.trainable,
                "image_shape": list(self.image_shape), "num_classes": self.num_classes,
                "filters": list(self.filters), "dropout": self.dropout}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
