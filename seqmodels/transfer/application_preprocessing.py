"""Scales [0, 1] images the way a Keras Application's ImageNet weights expect."""

import keras


def application_module(application):
    """The `keras.applications` submodule (with `preprocess_input`) of an application name."""
    constructor = getattr(keras.applications, application, None)
    if not callable(constructor) or application[:1].islower():
        names = sorted(n for n in dir(keras.applications) if n[:1].isupper())
        raise ValueError(f"`application` must be a keras.applications model, one of "
                         f"{', '.join(names)}. Received: application={application!r}")
    module = getattr(keras.applications, constructor.__module__.rsplit(".", 1)[-1], None)
    if module is None or not hasattr(module, "preprocess_input"):
        raise ValueError(f"keras.applications has no preprocess_input for {application!r}")
    return module


@keras.saving.register_keras_serializable(package="seqmodels")
class ApplicationPreprocessing(keras.layers.Layer):
    """Maps images in [0, 1] to the input scale of a Keras Application.

    Multiplies by 255 and applies the application's own `preprocess_input` (caffe-style mean
    subtraction for ResNet50, [-1, 1] for MobileNetV2, identity for the applications that
    rescale inside the model such as MobileNetV3 and EfficientNet), so the same `[0, 1]` image
    pipeline feeds every application with `weights="imagenet"` or `weights=None` alike.

    Args:
        application: a `keras.applications` name, e.g. `"MobileNetV3Small"`, `"ResNet50"`.
        **kwargs: base layer arguments.

    Example:

    >>> import numpy as np
    >>> layer = ApplicationPreprocessing("MobileNetV2")
    >>> float(layer(np.ones((1, 2, 2, 3), "float32")).numpy().max())
    1.0
    """

    def __init__(self, application, **kwargs):
        super().__init__(**kwargs)
        self._module = application_module(application)
        self.application = application

    def call(self, images):
        return self._module.preprocess_input(images * 255.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "application": self.application}
