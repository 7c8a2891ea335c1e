"""`RunDir`: the layout of a training run's directory, in one place.

```
model_dir/
  config.json        the run's TrainConfig (`TrainConfig.to_json`)
  checkpoints/       resumable backups (CustomTrainingLoop; the chief's)
  logs/              TensorBoard event files
  best.weights.h5    the weights of the best validation epoch
  history.json       per-epoch logs, across resumed sessions
  metrics.json       test metrics and where the pictures and the export went
  export.json        the version this run exports (written before the export, so a rerun
                     after a kill finishes that version instead of writing another)
  *.png              training curves and the task's pictures
  servers/           parameter-server training: where the chief tells each worker and ps
                     task that the run is done (`parameter_server.release_servers`)
```
"""

import json
import os
import tempfile  # noqa: F401 (the Examples write into temporary directories)

import numpy as np

from seqmodels.training import checkpoints


def write_json(path, payload):
    """Writes `payload` as indented JSON (numpy scalars converted), atomically.

    The text goes to a temporary sibling that is renamed over `path`, so a kill at any moment
    leaves the old file or the new one, never half of one.

    Example:

    >>> path = os.path.join(tempfile.mkdtemp(), "x.json")
    >>> write_json(path, {"loss": np.float32(0.5)})
    >>> open(path).read()
    '{\\n  "loss": 0.5\\n}'
    """
    # (The export package loads with the first write, as train.py loads it with the first export.)
    from seqmodels.export.atomic import write_text_atomically

    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        raise TypeError(f"not JSON serializable: {type(o).__name__}")
    write_text_atomically(path, json.dumps(payload, indent=2, sort_keys=True, default=default))


class RunDir:
    """Every path under a run's `model_dir`, and reading and writing its JSON files.

    Args:
        path: the run directory (created by `create`, not by the constructor).

    Example:

    >>> run = RunDir(tempfile.mkdtemp())
    >>> os.path.basename(run.best_weights), run.read_history()
    ('best.weights.h5', {})
    """

    def __init__(self, path):
        self.path = path
        self.config = os.path.join(path, "config.json")
        self.checkpoints = os.path.join(path, "checkpoints")
        self.logs = os.path.join(path, "logs")
        self.best_weights = os.path.join(path, "best.weights.h5")
        self.history = os.path.join(path, "history.json")
        self.metrics = os.path.join(path, "metrics.json")
        self.export = os.path.join(path, "export.json")

    def create(self):
        """Makes the directory (and its parents) if it does not exist."""
        os.makedirs(self.path, exist_ok=True)

    def picture(self, name):
        """The path of the picture file `name` (e.g. "attention.png")."""
        return os.path.join(self.path, name)

    def latest_checkpoint(self):
        """The prefix of the newest checkpoint in `checkpoints/` that reads back whole, or None.

        (`seqmodels.training.checkpoints.newest_readable` also says what was wrong with newer
        ones.)
        """
        return checkpoints.newest_readable(self.checkpoints)[0]

    def read_config(self):
        """The JSON payload of `config.json`.

        Raises:
            FileNotFoundError: the directory holds no `config.json`, so it is no run directory.
        """
        if not os.path.exists(self.config):
            raise FileNotFoundError(f"{self.config} does not exist: `model_dir` must be a run "
                                    "directory of the training binary. Received: model_dir="
                                    f"{self.path!r}")
        with open(self.config) as f:
            return json.load(f)

    def write_config(self, payload):
        """Writes `payload` (`TrainConfig.to_json()`) to `config.json`."""
        write_json(self.config, payload)

    def read_history(self):
        """The per-epoch history a resumed run keeps (empty before the first epoch)."""
        if not os.path.exists(self.history):
            return {}
        with open(self.history) as f:
            return json.load(f)

    def write_history(self, history):
        """Writes the per-epoch history to `history.json`."""
        write_json(self.history, history)

    def read_export(self):
        """The export record (`export_dir`, `version`, `step`), or None before any export."""
        if not os.path.exists(self.export):
            return None
        with open(self.export) as f:
            return json.load(f)

    def write_export(self, record):
        """Writes the export record to `export.json`."""
        write_json(self.export, record)

    def write_metrics(self, metrics):
        """Writes the final metrics to `metrics.json`."""
        write_json(self.metrics, metrics)
