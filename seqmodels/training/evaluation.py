"""Evaluation modes beside training: the latest checkpoint once, or each one as it appears.

As Model Garden's runner offers (`--mode=train`, `evaluate`, `continuous_evaluate`): `evaluate`
restores the newest readable checkpoint of a run directory and evaluates the validation and
test splits once; `continuous_evaluate` is a sidecar process that evaluates each new checkpoint
as the chief writes it and stops after the one of the last epoch. Both rebuild the run's task
from `config.json` (its tokenizers are learned again from the same training split), write the
metrics to TensorBoard under `logs/eval/` at the checkpoint's global step, and never write
anything else into the run directory.
"""

import os
import tempfile
import time

import keras
import tensorflow as tf

from seqmodels import tasks
from seqmodels.training import checkpoints
from seqmodels.training.config import TrainConfig
from seqmodels.training.custom_loop import CustomTrainingLoop
from seqmodels.training.run_dir import RunDir


class Evaluator:
    """Evaluates a run directory's checkpoints on its validation and test splits.

    Args:
        model_dir: a run directory with a `config.json` (as `train_and_evaluate` writes it).

    Example:

    A forecasting run on a series of your own, then its newest checkpoint evaluated:

    >>> import numpy as np
    >>> from seqmodels.training.config import make_config
    >>> from seqmodels.training.train import train_and_evaluate
    >>> directory = tempfile.mkdtemp()
    >>> with open(os.path.join(directory, "series.csv"), "w") as f:
    ...     _ = f.write("t,value\\n" + "".join(f"{t},{np.cos(t / 7):.4f}\\n" for t in range(300)))
    >>> config = make_config("forecasting", "tiny", dataset=f"csv:{directory}/series.csv",
    ...                      data_options=("target_columns=value", "time_column=t"))
    >>> model_dir = os.path.join(directory, "run")
    >>> _ = train_and_evaluate(config, model_dir)
    Epoch 1/1
    ...
    >>> metrics = Evaluator(model_dir).evaluate()
    step 2 - val_loss: ... - test_loss: ...
    >>> metrics["step"], sorted(os.listdir(os.path.join(model_dir, "logs")))
    (2, ['eval', ...])
    """

    def __init__(self, model_dir):
        self.run_dir = RunDir(model_dir)
        self.config = TrainConfig.from_json(self.run_dir.read_config())
        strategy = tf.distribute.get_strategy()
        self.task = tasks.build_task(self.config, strategy)
        self.final_step = self.config.run.epochs * self.task.steps_per_epoch
        # The loop only evaluates: its checkpoint manager points at a directory it never saves to.
        unused = os.path.join(tempfile.gettempdir(), f"seqmodels_eval_{os.getpid()}")
        self.loop = CustomTrainingLoop(
            self.task.model, keras.optimizers.SGD(), self.task.loss, strategy, unused,
            self.config.run.global_batch_size, accuracy=self.task.accuracy,
            run_eagerly=self.config.run.run_eagerly, verbose=0)
        self.writer = tf.summary.create_file_writer(os.path.join(self.run_dir.logs, "eval"))

    def evaluate(self, prefix=None):
        """Evaluates checkpoint `prefix` (default: the newest readable one).

        Returns:
            `{"step", "checkpoint", "val_loss", "val_accuracy", "test_loss", ...}`.

        Raises:
            FileNotFoundError: the run directory holds no readable checkpoint.
        """
        if prefix is None:
            prefix, _, problems = checkpoints.newest_readable(self.run_dir.checkpoints)
            for problem in problems:
                print(problem)
            if prefix is None:
                raise FileNotFoundError(f"{self.run_dir.checkpoints} holds no readable "
                                        "checkpoint to evaluate.")
        # Every weight of the model comes from the checkpoint (or this fails, naming it).
        tf.train.Checkpoint(model=self.task.model).restore(
            prefix).assert_existing_objects_matched().expect_partial()
        step = int(tf.train.load_variable(prefix, "step/.ATTRIBUTES/VARIABLE_VALUE"))
        metrics = {"step": step, "checkpoint": prefix}
        for split, data in (("val", self.task.validation), ("test", self.task.test)):
            metrics.update({f"{split}_{k}": v for k, v in self.loop.evaluate(data).items()})
        with self.writer.as_default():
            for name, value in metrics.items():
                if name not in ("step", "checkpoint"):
                    tf.summary.scalar(name, value, step=step)
        self.writer.flush()
        print(" - ".join([f"step {step}"] + [f"{k}: {v:.4f}" for k, v in metrics.items()
                                              if k not in ("step", "checkpoint")]))
        return metrics

    def evaluate_continuously(self, timeout_s=3600, poll_s=1.0):
        """Evaluates each new checkpoint until the one of the last epoch has been evaluated.

        A checkpoint superseded while another was being evaluated is skipped (the newest is
        evaluated next), as is one deleted or damaged before it could be read.

        Args:
            timeout_s: give up after this many seconds without a new checkpoint.
            poll_s: seconds between looks at the checkpoint directory.

        Returns:
            The list of metrics dicts, one per evaluated checkpoint.
        """
        results, last = [], -1
        for prefix in tf.train.checkpoints_iterator(self.run_dir.checkpoints, poll_s, timeout_s):
            problem = checkpoints.check_readable(prefix)
            if problem:
                print(f"checkpoint {prefix} skipped: {problem}")
                continue
            step = int(tf.train.load_variable(prefix, "step/.ATTRIBUTES/VARIABLE_VALUE"))
            if step > last:
                results.append(self.evaluate(prefix))
                last = step
            if last >= self.final_step:
                break
        return results


def wait_for_config(model_dir, timeout_s=3600, poll_s=1.0):
    """Waits until the chief has written `model_dir/config.json` (a sidecar may start first).

    Raises:
        TimeoutError: no `config.json` after `timeout_s` seconds.
    """
    deadline = time.monotonic() + timeout_s
    path = RunDir(model_dir).config
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout_s} s: is the chief "
                               "training into this --model_dir?")
        time.sleep(poll_s)
