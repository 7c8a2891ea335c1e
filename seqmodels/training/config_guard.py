"""The config guard: a run directory trains one model on one dataset, whatever the reruns say.

Restarted with the same `--model_dir`, a run resumes from its checkpoints. Started with another
task, another model shape or other data, the restore would fail deep inside TensorFlow (a raw
shape error) after `config.json` had been overwritten, so the original run could no longer be
exported. `check_same_run` compares the new config with the saved one first, before anything is
written, and names the fields that differ. `epochs` may grow (train a finished run further);
everything else of the run (learning rate, batch size, strategy, export) may change as well, as
it changes neither the model nor the data.
"""

import dataclasses
import os

from seqmodels.training.config import TrainConfig

# The run fields that change the data a checkpoint was trained on (the task's config fields
# all count: they shape the model or its data). Fields a version of RunConfig lacks are skipped.
DATA_FIELDS = ("dataset", "data_dir", "max_examples", "data_options")


class ConfigMismatchError(ValueError):
    """A run directory holds a run of another model or data than the new config describes."""


def differences(saved, new):
    """The fields in which two `TrainConfig`s train another model or data, as readable lines.

    Args:
        saved: the `TrainConfig` of the run directory (`TrainConfig.from_json(config.json)`).
        new: the `TrainConfig` of the new run.

    Returns:
        A list of `"field: saved value -> new value"` strings (empty when the run may resume).

    Example:

    >>> from seqmodels.training.config import make_config
    >>> differences(make_config("text_classification", "tiny"),
    ...             make_config("text_classification", "tiny", ["hidden_dim=16", "epochs=5"]))
    ['task_config.hidden_dim: 8 -> 16']
    """
    if saved.task != new.task:
        return [f"task: {saved.task!r} -> {new.task!r}"]
    lines = []
    old_fields = dataclasses.asdict(saved.task_config)
    new_fields = dataclasses.asdict(new.task_config)
    for name in sorted(set(old_fields) | set(new_fields)):
        if old_fields.get(name) != new_fields.get(name):
            lines.append(f"task_config.{name}: {old_fields.get(name)!r} -> "
                         f"{new_fields.get(name)!r}")
    old_run, new_run = dataclasses.asdict(saved.run), dataclasses.asdict(new.run)
    for name in DATA_FIELDS:
        if name in old_run or name in new_run:
            if old_run.get(name) != new_run.get(name):
                lines.append(f"run.{name}: {old_run.get(name)!r} -> {new_run.get(name)!r}")
    if new.run.epochs < saved.run.epochs:
        lines.append(f"run.epochs: {saved.run.epochs} -> {new.run.epochs} (epochs may grow, not "
                     "shrink)")
    return lines


def check_same_run(run_dir, config):
    """Raises unless `config` may resume the run in `run_dir` (or `run_dir` holds no run yet).

    The saved `config.json` is read with `TrainConfig.from_json`, so an older flat file compares
    too. Nothing is written.

    Args:
        run_dir: a `seqmodels.training.run_dir.RunDir`.
        config: the new run's `TrainConfig`.

    Raises:
        ConfigMismatchError: listing the differing fields and the two ways out.
    """
    if not os.path.exists(run_dir.config):
        return
    saved = TrainConfig.from_json(run_dir.read_config())
    lines = differences(saved, config)
    if lines:
        raise ConfigMismatchError(
            f"model_dir {run_dir.path!r} holds a run of another model or data; its config.json "
            "differs in:\n  " + "\n  ".join(lines) + "\nEither train in another --model_dir, or "
            "run with the same config as that config.json (only epochs may grow). Nothing was "
            "written.")
