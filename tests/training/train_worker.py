"""`train_and_evaluate` in a subprocess that can die like a crashed machine, for resume tests.

Usage: python train_worker.py CONFIG_JSON MODEL_DIR KILL_AFTER_STEP

Runs `train_and_evaluate(TrainConfig.from_json(CONFIG_JSON), MODEL_DIR)`; the process kills
itself with SIGKILL right after the checkpoint of step KILL_AFTER_STEP is written.
"""

import json
import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from seqmodels.training.config import TrainConfig  # noqa: E402
from seqmodels.training.custom_loop import CustomTrainingLoop  # noqa: E402
from seqmodels.training.train import train_and_evaluate  # noqa: E402


def main(config_json, model_dir, kill_after):
    original_save = CustomTrainingLoop.save

    def save_then_maybe_die(loop):
        original_save(loop)
        if int(loop.step.numpy()) == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    CustomTrainingLoop.save = save_then_maybe_die
    train_and_evaluate(TrainConfig.from_json(json.loads(config_json)), model_dir)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
