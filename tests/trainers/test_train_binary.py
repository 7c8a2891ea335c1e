"""The absl binary: flags documented, parsed into the config, bad overrides rejected."""

import os
import subprocess
import sys

import pytest
from absl import flags

from trainers import train as binary

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _parse(argv):
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train"] + argv)
    return binary.config_from_flags()


def test_flags_become_the_config():
    config = _parse(["--model_dir=/tmp/x", "--config=tiny", "--override=hidden_dim=16",
                     "--override=epochs=3", "--strategy=mirrored", "--num_cpu_devices=2",
                     "--mixed_precision=mixed_bfloat16", "--learning_rate=0.01", "--seed=7"])
    run = config.run
    assert (config.task_config.hidden_dim, run.epochs, run.strategy, run.num_cpu_devices,
            run.mixed_precision, run.learning_rate, run.seed) == (
        16, 3, "mirrored", 2, "mixed_bfloat16", 0.01, 7)


def test_fine_tune_schedule_flags_become_the_config():
    config = _parse(["--model_dir=/tmp/x", "--task=image_classification", "--config=tiny",
                     "--backbone=keras_app:MobileNetV3Small", "--epochs=4", "--head_epochs=2",
                     "--unfreeze_top=20", "--fine_tune_learning_rate=2e-5"]).task_config
    assert (config.head_epochs, config.unfreeze_top, config.fine_tune_learning_rate) == (
        2, 20, 2e-5)
    with pytest.raises(ValueError, match="`head_epochs` must be less than `epochs`"):
        _parse(["--model_dir=/tmp/x", "--task=image_classification", "--config=tiny",
                "--backbone=keras_app:MobileNetV3Small", "--head_epochs=1"])


def test_jit_compile_flag_keeps_the_presets_choice_unless_given():
    image = ["--model_dir=/tmp/x", "--task=image_classification"]
    assert _parse(image).run.jit_compile is True  # the ViT preset compiles with XLA
    assert _parse(image + ["--nojit_compile"]).run.jit_compile is False
    assert _parse(["--model_dir=/tmp/x"]).run.jit_compile is False  # the text preset does not
    assert _parse(["--model_dir=/tmp/x", "--jit_compile"]).run.jit_compile is True


def test_bad_override_is_rejected():
    with pytest.raises(ValueError, match="unknown key 'hiden_dim'"):
        _parse(["--model_dir=/tmp/x", "--override=hiden_dim=16"])


def test_helpfull_documents_every_flag(capsys):
    """What `--helpfull` prints (absl's `HelpfullFlag` calls `app.usage(writeto_stdout=True)`),
    in this process, which defines the binary's flags (`from trainers import train`). That
    TensorFlow starts with oneDNN kernels, which this test checked in the `--helpfull`
    process, is checked in the fresh process of
    test_a_refused_run_exits_2_with_one_line_naming_the_flag."""
    from absl import app

    app.usage(writeto_stdout=True)
    out = capsys.readouterr().out
    for flag in ("--task", "--model", "--dataset", "--config", "--override", "--strategy",
                 "--tpu", "--num_cpu_devices", "--model_dir", "--epochs", "--global_batch_size",
                 "--learning_rate", "--mixed_precision", "jit_compile", "--seed",
                 "--export_dir", "--backbone", "--head_epochs", "--unfreeze_top",
                 "--fine_tune_learning_rate", "--flagfile", "--mode", "--eval_timeout"):
        assert flag in out, flag


def test_a_field_given_by_its_flag_and_an_override_is_an_error_naming_both():
    with pytest.raises(ValueError, match=r"^`epochs` is given twice: --epochs=2 and "
                                         r"--override=epochs=1\. Give it once\.$"):
        _parse(["--model_dir=/tmp/x", "--epochs=2", "--override=epochs=1"])
    # A flag left at its default is not given: the override alone sets the field.
    assert _parse(["--model_dir=/tmp/x", "--override=seed=3"]).run.seed == 3


def test_a_field_of_another_task_names_the_tasks_that_have_it():
    with pytest.raises(ValueError, match=r"`window_length` applies to forecasting\. Received: "
                                         r"task='text_classification', window_length='5'"):
        _parse(["--model_dir=/tmp/x", "--override=window_length=5"])


def test_a_refused_run_exits_2_with_one_line_naming_the_flag(tmp_path):
    """(The other refusals, in process: tests/training/test_preflight.py, test_config_guard.py.)

    The same fresh process also shows that TensorFlow starts with oneDNN kernels (it says so
    at import, where TF_ENABLE_ONEDNN_OPTS is unset): the refusal comes after TensorFlow
    started (formerly checked in a `--helpfull` process of its own)."""
    from seqmodels.training.exit_status import REFUSED

    model_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "0"  # TensorFlow says at import which kernels it runs
    result = subprocess.run(
        [sys.executable, "-m", "trainers.train", f"--model_dir={model_dir}", "--config=tiny",
         "--strategy=tpu"], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert "oneDNN custom operations are on" in result.stderr, result.stderr[-2000:]
    assert result.returncode == REFUSED == 2, result.stderr[-2000:]
    assert "PreflightError: `--strategy=tpu` needs `--tpu`" in result.stderr
    assert "Traceback" not in result.stderr
    assert not model_dir.exists()
