"""The BERT fine-tuning learning-rate schedule: linear warm-up, then linear decay to zero."""

import keras


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
