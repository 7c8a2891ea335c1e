"""The learning-rate schedule of the training binary: linear warm-up, then cosine decay."""

import math

import keras


@keras.saving.register_keras_serializable(package="seqmodels")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly from 0 to `peak` over `warmup_steps`, then follows a cosine down to 0.

    Args:
        peak: the highest learning rate.
        total_steps: steps of the whole run.
        warmup_steps: steps of the linear warm-up.

    Example:

    >>> schedule = WarmupCosineDecay(1e-3, total_steps=100, warmup_steps=10)
    >>> float(schedule(10))
    0.001
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
