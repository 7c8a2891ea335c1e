"""ViT patch embedding: "an image is worth 16x16 words"."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="seqmodels")
class PatchEncoder(keras.layers.Layer):
    """Cuts an image into patches, projects each to a vector, adds a class token and positions.

    The patches and their linear projection are one strided convolution (kernel = stride =
    `patch_size`, "valid" padding); the (height/p, width/p) grid is flattened row by row to a
    sequence, an optional learned class token is prepended and a learned position embedding
    added. Fed an image of another size than the one it was built for (ViT fine-tuning at a
    higher resolution), the layer resamples its grid of position embeddings bilinearly with
    half-pixel centres and antialiasing, the same numbers as timm's
    `resample_abs_pos_embed(..., interpolation="bilinear")` (big_vision's `resample_posemb`
    uses `scipy.ndimage.zoom(order=1)`, which aligns the corners instead); the class token's
    position embedding is kept as is. Image sizes must be static and divisible by
    `patch_size`. There is no mask.

    Args:
        patch_size: side of the square patches.
        hidden_dim: size of each patch vector.
        image_size: `(height, width)` (or one int for a square) the position table is built
            for (default: the first input's size).
        use_class_token: prepend a learned class token.
        kernel_initializer: initializer of the projection.
        **kwargs: base layer arguments.

    Call arguments:
        images: (batch, height, width, channels) floats; both sides divisible by `patch_size`.

    Example:

    >>> import numpy as np
    >>> encoder = PatchEncoder(patch_size=4, hidden_dim=16)
    >>> tuple(encoder(np.zeros((2, 28, 28, 1), "float32")).shape)
    (2, 50, 16)

    References:
        Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image Recognition
        at Scale", 2020.
    """

    def __init__(self, patch_size, hidden_dim, image_size=None, use_class_token=True,
                 kernel_initializer="glorot_uniform", **kwargs):
        for name, value in (("patch_size", patch_size), ("hidden_dim", hidden_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if isinstance(image_size, int):
            image_size = (image_size, image_size)
        if image_size is not None:
            image_size = tuple(image_size)
            self._check_divisible(image_size, patch_size, "image_size")
        super().__init__(**kwargs)
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.image_size = image_size
        self.use_class_token = use_class_token
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    @staticmethod
    def _check_divisible(size, patch_size, what):
        if len(size) != 2 or any(not isinstance(s, int) or s % patch_size for s in size):
            raise ValueError(
                f"PatchEncoder needs an {what} (height, width) divisible by patch_size="
                f"{patch_size}. Received: {what}={tuple(size)}")

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError("PatchEncoder expects images of shape (batch, height, width, "
                             f"channels). Received: images.shape={tuple(input_shape)}")
        if self.image_size is None:
            self.image_size = tuple(input_shape[1:3])
            self._check_divisible(self.image_size, self.patch_size, "image size")
        p = self.patch_size
        self.kernel = self.add_weight(shape=(p, p, input_shape[-1], self.hidden_dim),
                                      name="kernel", initializer=self.kernel_initializer)
        self.bias = self.add_weight(shape=(self.hidden_dim,), name="bias", initializer="zeros")
        if self.use_class_token:
            self.class_token = self.add_weight(shape=(1, 1, self.hidden_dim), name="class_token",
                                               initializer="zeros")
        grid = (self.image_size[0] // p) * (self.image_size[1] // p)
        self.position_embeddings = self.add_weight(
            shape=(int(self.use_class_token) + grid, self.hidden_dim),
            name="position_embeddings",
            initializer=keras.initializers.RandomNormal(stddev=0.02))

    def _positions(self, grid_h, grid_w):
        """The position table for a (grid_h, grid_w) grid, resized from the built one if needed."""
        table = self.position_embeddings
        built_h = self.image_size[0] // self.patch_size
        built_w = self.image_size[1] // self.patch_size
        if (grid_h, grid_w) == (built_h, built_w):
            return table
        cls = table[:int(self.use_class_token)]
        grid = ops.reshape(table[int(self.use_class_token):],
                           (1, built_h, built_w, self.hidden_dim))  # (1, h, w, hidden)
        grid = ops.image.resize(grid, (grid_h, grid_w), interpolation="bilinear", antialias=True,
                                data_format="channels_last")  # (1, h', w', hidden)
        grid = ops.reshape(grid, (grid_h * grid_w, self.hidden_dim))  # (h' * w', hidden)
        return ops.concatenate([cls, grid], axis=0)

    def call(self, images):
        self._check_divisible(images.shape[1:3], self.patch_size, "image size")
        patches = ops.conv(images, self.kernel, strides=self.patch_size, padding="valid",
                           data_format="channels_last")
        patches = patches + self.bias  # (batch, h / p, w / p, hidden)
        grid_h, grid_w = patches.shape[1], patches.shape[2]
        x = ops.reshape(patches, (-1, grid_h * grid_w, self.hidden_dim))  # (batch, patches, hidden)
        if self.use_class_token:
            cls = ops.broadcast_to(ops.cast(self.class_token, x.dtype),
                                   (ops.shape(x)[0], 1, self.hidden_dim))  # (batch, 1, hidden)
            x = ops.concatenate([cls, x], axis=1)  # (batch, 1 + patches, hidden)
        return x + ops.cast(self._positions(grid_h, grid_w), x.dtype)

    def compute_output_shape(self, input_shape):
        self._check_divisible(input_shape[1:3], self.patch_size, "image size")
        tokens = (input_shape[1] // self.patch_size) * (input_shape[2] // self.patch_size)
        return (input_shape[0], int(self.use_class_token) + tokens, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update({
            "patch_size": self.patch_size,
            "hidden_dim": self.hidden_dim,
            "image_size": None if self.image_size is None else list(self.image_size),
            "use_class_token": self.use_class_token,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        })
        return config
