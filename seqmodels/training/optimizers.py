"""Learning-rate schedules and the one AdamW recipe of the binary, `transfer` and the benches.

Two schedules, both a linear warm-up from 0 to the peak: `WarmupCosineDecay` (then a cosine to
0: the binary's default) and `WarmUpLinearDecay` (then a straight line to 0: BERT's fine-tuning
recipe, Devlin et al., 2019). `make_optimizer` builds AdamW on either, with the same
weight-decay exclusions everywhere: no decay on biases, normalization scales and offsets, and
embeddings (token, position, class token), whose pull towards 0 regularises nothing useful.
"""

import math

import keras

# Matched with `re.search` against each variable's name (Keras' `exclude_from_weight_decay`):
# biases; LayerNormalization / BatchNormalization `gamma` and `beta`; embedding tables
# (`embeddings`, `token_embeddings`, `position_embeddings`) and the ViT class token.
NO_WEIGHT_DECAY = ("bias", "gamma", "beta", "embeddings", "class_token")
SCHEDULES = ("cosine", "linear", "constant")


@keras.saving.register_keras_serializable(package="seqmodels")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly from 0 to `peak` over `warmup_steps`, then follows a cosine down to 0.

    Args:
        peak: the highest learning rate.
        total_steps: steps of the whole run.
        warmup_steps: steps of the linear warm-up.

    Example:

    >>> schedule = WarmupCosineDecay(1e-3, total_steps=100, warmup_steps=10)
    >>> round(float(schedule(10)), 6), round(float(schedule(55)), 6), float(schedule(100))
    (0.001, 0.0005, 0.0)
    """

    def __init__(self, peak, total_steps, warmup_steps=0):
        if total_steps < 1 or not 0 <= warmup_steps <= total_steps:
            raise ValueError("WarmupCosineDecay needs total_steps >= 1 and 0 <= warmup_steps <= "
                             f"total_steps. Received: total_steps={total_steps}, "
                             f"warmup_steps={warmup_steps}")
        self.peak = peak
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warmup = self.peak * step / max(self.warmup_steps, 1)
        progress = (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1)
        progress = keras.ops.clip(progress, 0.0, 1.0)
        decay = 0.5 * self.peak * (1.0 + keras.ops.cos(math.pi * progress))
        return keras.ops.where(step < self.warmup_steps, warmup, decay)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps}


@keras.saving.register_keras_serializable(package="seqmodels")
class WarmUpLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly from 0 to `learning_rate` over `warmup_steps`, then falls linearly to 0.

    The schedule of BERT's fine-tuning recipe (Devlin et al., 2019): the warm-up keeps the
    first updates of a freshly initialised head from wrecking the pretrained weights.

    Args:
        learning_rate: the peak learning rate.
        total_steps: steps of the whole run (the rate is 0 from there on).
        warmup_steps: steps of the linear warm-up (0 for none).

    Example:

    >>> schedule = WarmUpLinearDecay(1e-4, total_steps=100, warmup_steps=10)
    >>> [round(float(schedule(step)), 6) for step in (0, 5, 10, 55, 100)]
    [0.0, 5e-05, 0.0001, 5e-05, 0.0]
    """

    def __init__(self, learning_rate, total_steps, warmup_steps=0):
        if not isinstance(learning_rate, (int, float)) or learning_rate <= 0:
            raise ValueError("`learning_rate` must be a positive number. "
                             f"Received: learning_rate={learning_rate!r}")
        if not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError("`total_steps` must be a positive integer. "
                             f"Received: total_steps={total_steps!r}")
        if not isinstance(warmup_steps, int) or not 0 <= warmup_steps < total_steps:
            raise ValueError("`warmup_steps` must be an integer in [0, total_steps). "
                             f"Received: warmup_steps={warmup_steps!r}, total_steps={total_steps}")
        self.learning_rate = float(learning_rate)
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warmup = keras.ops.cast(max(self.warmup_steps, 1), "float32")
        rising = self.learning_rate * step / warmup
        decay_steps = float(self.total_steps - self.warmup_steps)
        falling = self.learning_rate * keras.ops.maximum(
            0.0, (self.total_steps - step) / decay_steps)
        return keras.ops.where(step < self.warmup_steps, rising, falling)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps}


def make_optimizer(learning_rate, total_steps=None, warmup_fraction=0.1, weight_decay=0.01,
                   schedule="cosine", loss_scale=False):
    """AdamW on a warm-up schedule, with no weight decay on biases, norms and embeddings.

    The one recipe of the training binary (`schedule="cosine"`), the BERT fine-tuning bench
    (`schedule="linear"`) and `seqmodels.transfer.fine_tune` (`schedule="constant"`, no
    weight decay: Adam).

    Args:
        learning_rate: the peak learning rate (the only one, for `constant`).
        total_steps: optimizer steps of the whole run (or phase); not used by `constant`.
        warmup_fraction: the share of `total_steps` spent warming up, in [0, 1).
        weight_decay: AdamW's decoupled weight decay.
        schedule: what follows the warm-up: `cosine` or `linear` decay to 0; `constant`: no
            warm-up, the rate stays at `learning_rate`.
        loss_scale: wrap the optimizer in a `LossScaleOptimizer` (for `mixed_float16`).

    Returns:
        A `keras.optimizers.AdamW` (or a `LossScaleOptimizer` around one).

    Example:

    >>> optimizer = make_optimizer(5e-5, total_steps=960, schedule="linear")
    >>> round(float(optimizer.learning_rate), 8)  # step 0 of the warm-up
    0.0
    >>> type(optimizer).__name__, optimizer.weight_decay
    ('AdamW', 0.01)
    """
    if not isinstance(warmup_fraction, (int, float)) or not 0 <= warmup_fraction < 1:
        raise ValueError("`warmup_fraction` must be a number in [0, 1). "
                         f"Received: warmup_fraction={warmup_fraction!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"`schedule` must be one of {', '.join(SCHEDULES)}. "
                         f"Received: schedule={schedule!r}")
    if schedule == "constant":
        rate = learning_rate
    elif schedule == "cosine":
        rate = WarmupCosineDecay(learning_rate, total_steps, int(warmup_fraction * total_steps))
    else:
        rate = WarmUpLinearDecay(learning_rate, total_steps, int(warmup_fraction * total_steps))
    optimizer = keras.optimizers.AdamW(rate, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=list(NO_WEIGHT_DECAY))
    if loss_scale:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
