"""Argument checks the models share."""


def check_positive_integers(**values):
    """Raises a `ValueError` naming the first argument that is not a positive integer.

    `None` values are skipped (they mean "use the default").

    Example:

    >>> check_positive_integers(hidden_dim=64, num_heads=4)
    """
    for name, value in values.items():
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
