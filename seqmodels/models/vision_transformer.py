"""The Vision Transformer image classifier: "an image is worth 16x16 words"."""

import re

import keras

from seqmodels.layers.hashed_dropout import HashedDropout
from seqmodels.layers.patch_encoder import PatchEncoder
from seqmodels.layers.transformer_encoder_block import TransformerEncoderBlock
from seqmodels.models.arguments import check_positive_integers

# Widths, depths, MLP widths and heads of the named ViT sizes (big_vision's table; "mu" is a toy).
VARIANTS = {
    "mu": dict(hidden_dim=32, depth=1, intermediate_dim=128, num_heads=2),
    "Ti": dict(hidden_dim=192, depth=12, intermediate_dim=768, num_heads=3),
    "S": dict(hidden_dim=384, depth=12, intermediate_dim=1536, num_heads=6),
    "M": dict(hidden_dim=512, depth=12, intermediate_dim=2048, num_heads=8),
    "B": dict(hidden_dim=768, depth=12, intermediate_dim=3072, num_heads=12),
    "L": dict(hidden_dim=1024, depth=24, intermediate_dim=4096, num_heads=16),
    "H": dict(hidden_dim=1280, depth=32, intermediate_dim=5120, num_heads=16),
}

POOLINGS = ("token", "mean")
STEMS = ("patch", "conv")


def parse_variant(variant):
    """Parses `"<size>/<patch>"` (e.g. `"S/16"`, `"Ti/4"`) into the architecture's numbers.

    Args:
        variant: a size of `VARIANTS` and a patch size, separated by `/`.

    Returns:
        A dict with `hidden_dim`, `depth`, `intermediate_dim`, `num_heads`, `patch_size`.

    Example:

    >>> parse_variant("Ti/4")["hidden_dim"], parse_variant("Ti/4")["patch_size"]
    (192, 4)
    """
    match = re.fullmatch(r"([A-Za-z]+)/(\d+)", str(variant))
    if not match or match.group(1) not in VARIANTS or int(match.group(2)) < 1:
        raise ValueError(
            "`variant` must look like '<size>/<patch>' with size one of "
            f"{', '.join(VARIANTS)} and a positive patch size (e.g. 'S/16'). "
            f"Received: variant={variant!r}")
    return dict(VARIANTS[match.group(1)], patch_size=int(match.group(2)))


@keras.saving.register_keras_serializable(package="seqmodels")
class VisionTransformer(keras.Model):
    """Classifies images with a ViT: patches as tokens, transformer encoder, class-token head.

    A functional model: `images` (batch, height, width, channels) float in [0, 1] →
    logits (batch, num_classes). Pre-norm encoder blocks (as in the paper), a final layer norm
    and a linear head on the class token.

    Args:
        image_shape: `(height, width, channels)`; both sides divisible by the patch size.
        num_classes: number of classes.
        variant: `"<size>/<patch>"`, e.g. `"Ti/16"`, `"S/16"`, `"mu/4"` (see `VARIANTS`).
        hidden_dim, depth, intermediate_dim, num_heads, patch_size: override the variant's
            numbers (`None` keeps them).
        dropout: dropout rate in the encoder blocks and before the head.
        pooling: `"token"` (a class token, as in the paper) or `"mean"` (the average of the
            patch tokens, no class token; Beyer et al. find it as good and simpler).
        stem: `"patch"` (one linear projection per patch, as in the paper) or `"conv"` (the
            paper's hybrid: a stack of stride-2 3x3 convolutions makes the tokens, Xiao et al.'s
            convolutional stem; it trains faster and better on small data).
        **kwargs: passed to `keras.Model`.

    Example:

    >>> import numpy as np
    >>> model = VisionTransformer((28, 28, 1), num_classes=10, variant="mu/7")
    >>> tuple(model(np.zeros((2, 28, 28, 1), "float32")).shape)
    (2, 10)

    References:
        Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition
        at Scale", 2020.
        Beyer et al., "Better plain ViT baselines for ImageNet-1k", 2022.
        Xiao et al., "Early Convolutions Help Transformers See Better", 2021.
    """

    def __init__(self, image_shape, num_classes, variant="Ti/16", hidden_dim=None, depth=None,
                 intermediate_dim=None, num_heads=None, patch_size=None, dropout=0.0,
                 pooling="token", stem="patch", **kwargs):
        arch = parse_variant(variant)
        overrides = dict(hidden_dim=hidden_dim, depth=depth, intermediate_dim=intermediate_dim,
                         num_heads=num_heads, patch_size=patch_size)
        check_positive_integers(**overrides)
        arch.update({name: value for name, value in overrides.items() if value is not None})
        image_shape = tuple(image_shape)
        if len(image_shape) != 3:
            raise ValueError("`image_shape` must be (height, width, channels). "
                             f"Received: image_shape={image_shape}")
        check_positive_integers(num_classes=num_classes)
        if pooling not in POOLINGS:
            raise ValueError(f"`pooling` must be one of {', '.join(POOLINGS)}. "
                             f"Received: pooling={pooling!r}")
        if stem not in STEMS:
            raise ValueError(f"`stem` must be one of {', '.join(STEMS)}. Received: stem={stem!r}")
        patch = arch["patch_size"]
        if stem == "conv" and (patch < 2 or patch & (patch - 1)):
            raise ValueError("`stem='conv'` halves the image with each 3x3 convolution, so the "
                             "patch size must be a power of two >= 2. Received: "
                             f"patch_size={patch}")
        images = keras.Input(shape=image_shape, name="images")
        x = images
        if stem == "conv":
            # log2(patch) stride-2 3x3 convolutions, widths doubling up to hidden_dim (Xiao et
            # al.: the last 3x3 convolution has the model's width, then a 1x1 projection):
            # (batch, h, w, c) -> (batch, h / patch, w / patch, hidden).
            convolutions = patch.bit_length() - 1
            for i in range(convolutions):
                width = max(arch["hidden_dim"] // 2 ** (convolutions - 1 - i), 8)
                x = keras.layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False,
                                        name=f"stem_conv_{i}")(x)
                x = keras.layers.BatchNormalization(name=f"stem_norm_{i}")(x)
                x = keras.layers.Activation("relu", name=f"stem_relu_{i}")(x)
            patch = 1  # each feature-map position is one token
        x = PatchEncoder(patch, arch["hidden_dim"], use_class_token=pooling == "token",
                         name="patch_encoder")(x)
        x = HashedDropout(dropout)(x)  # (batch, 1 + patches, hidden)
        for i in range(arch["depth"]):
            x = TransformerEncoderBlock(arch["num_heads"], arch["intermediate_dim"],
                                        dropout=dropout, activation="gelu", norm_first=True,
                                        layer_norm_epsilon=1e-6, name=f"encoder_block_{i}")(x)
        x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
        if pooling == "token":
            x = x[:, 0, :]  # (batch, hidden): the class token
        else:
            x = keras.layers.GlobalAveragePooling1D(name="pool")(x)  # (batch, hidden)
        x = keras.layers.Dropout(dropout)(x)
        logits = keras.layers.Dense(num_classes, name="logits")(x)
        super().__init__(inputs=images, outputs=logits, **kwargs)
        self.image_shape = image_shape
        self.num_classes = num_classes
        self.variant = variant
        self.hidden_dim = hidden_dim
        self.depth = depth
        self.intermediate_dim = intermediate_dim
        self.num_heads = num_heads
        self.patch_size = patch_size
        self.dropout = dropout
        self.pooling = pooling
        self.stem = stem

    def get_config(self):
        # Not chained to super: a functional model's config is its graph, not these arguments.
        return {"name": self.name, "trainable": self.trainable,
                "image_shape": list(self.image_shape), "num_classes": self.num_classes,
                "variant": self.variant, "hidden_dim": self.hidden_dim, "depth": self.depth,
                "intermediate_dim": self.intermediate_dim, "num_heads": self.num_heads,
                "patch_size": self.patch_size, "dropout": self.dropout, "pooling": self.pooling,
                "stem": self.stem}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
