"""What every converter shares: the named error, torch tensors as numpy, checked options."""

import keras
import numpy as np


class UnsupportedTorchModuleError(ValueError):
    """A torch module, or one of its options, that `from_torch` cannot convert.

    The message names the module type and the option (e.g. `nn.LSTM with proj_size=4`), and
    what would convert.

    Example:

    >>> str(UnsupportedTorchModuleError("nn.LSTM", "proj_size", 4, "proj_size=0"))
    'Cannot convert nn.LSTM with proj_size=4: convertible with proj_size=0.'
    """

    def __init__(self, module_type, option, value, supported):
        super().__init__(f"Cannot convert {module_type} with {option}={value!r}: convertible "
                         f"with {supported}.")
        self.module_type, self.option, self.value = module_type, option, value


def torch_name(module):
    """`nn.<Class>` for a module of `torch.nn`, else its class name."""
    cls = type(module)
    return f"nn.{cls.__name__}" if cls.__module__.startswith("torch.nn") else cls.__name__


def to_numpy(tensor):
    """A torch parameter or buffer as a numpy array of Keras' float type."""
    return tensor.detach().cpu().numpy().astype(keras.backend.floatx())


def require(module, option, supported, allowed):
    """Raises `UnsupportedTorchModuleError` unless `module.<option>` is in `allowed`."""
    value = getattr(module, option)
    if value not in allowed:
        raise UnsupportedTorchModuleError(torch_name(module), option, value, supported)


def assign(variable, value):
    """Assigns a numpy array to a Keras variable, checking the shape."""
    value = np.asarray(value)
    if tuple(variable.shape) != value.shape:
        raise ValueError(f"Converted weight {variable.path} must have shape "
                         f"{tuple(variable.shape)}. Received: {value.shape}")
    variable.assign(value)


def sequential(stack):
    """A `keras.Sequential` of `stack` that takes a Keras mask and hands it on.

    A nested `keras.Sequential` in `stack` is spliced in (its layers, not the model), so that
    masks reach every layer.
    """
    flat = []
    for layer in stack:
        if isinstance(layer, keras.Sequential):
            flat.extend(layer.layers if flat else [layer.inputs[0]] + layer.layers)
        else:
            flat.append(layer)
    model = keras.Sequential(flat)
    model.supports_masking = True  # the layers mask; the model passes a mask in and out
    return model
