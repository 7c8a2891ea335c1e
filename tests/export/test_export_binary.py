"""seqmodels-export: flags in, export_trained called with them (in subprocesses: absl flags are
process-global and the training binary, which the last test runs in this process, defines flags
of the same names)."""

import os
import subprocess
import sys

from tests.trainers.in_process import run_train_binary

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def _run(*args, code=None):
    command = [sys.executable, "-m", "trainers.export", *args] if code is None else [
        sys.executable, "-c", code, *args]
    return subprocess.run(command, cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=300)


def test_required_flags_and_version_bound_fail_before_tensorflow_starts():
    missing = _run("--model_dir=runs/x")
    assert missing.returncode != 0
    assert "Flag --export_dir must have a value other than None" in missing.stderr
    bad = _run("--model_dir=runs/x", "--export_dir=out", "--version=0")
    assert bad.returncode != 0
    assert "flag --version=0: 0 is not a positive integer" in bad.stderr
    extra = _run("--model_dir=runs/x", "--export_dir=out", "stray")
    assert extra.returncode != 0 and "Unexpected arguments: stray" in extra.stderr


def test_flags_reach_export_trained(tmp_path):
    # export_trained (seqmodels.training.train) replaced by a recorder: the binary's own job is
    # to pass the flags through and print the written path.
    code = (
        "import sys, types\n"
        "calls = []\n"
        "fake = types.ModuleType('seqmodels.training.train')\n"
        "fake.export_trained = lambda m, e, version=None, **options: "
        "calls.append((m, e, version, options)) or e + '/' + str(version or 1)\n"
        "sys.modules['seqmodels.training.train'] = fake\n"
        "from trainers import export\n"
        "sys.argv = ['seqmodels-export'] + sys.argv[1:]\n"
        "try:\n"
        "    export.run()\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print('CALLS', calls)\n")
    result = _run(f"--model_dir={tmp_path}/run", f"--export_dir={tmp_path}/out", "--version=4",
                  code=code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"{tmp_path}/out/4" in result.stdout
    assert (f"CALLS [('{tmp_path}/run', '{tmp_path}/out', 4, {{'batching': False, "
            "'version_labels': ()})]") in result.stdout
    result = _run(f"--model_dir={tmp_path}/run", f"--export_dir={tmp_path}/out", "--batching",
                  "--version_label=canary", "--version_label=new", code=code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (f"CALLS [('{tmp_path}/run', '{tmp_path}/out', None, {{'batching': True, "
            "'version_labels': ('canary', 'new')})]") in result.stdout


def test_training_binary_batching_flag_writes_the_parameters_beside_the_export(tmp_path, capsys):
    # A corpus the test writes (the bundled Rotten Tomatoes comes with `make data`, which
    # `make test` does not run), one file per split.
    for split in ("train", "validation", "test"):
        with open(tmp_path / f"{split}.csv", "w") as reviews:
            reviews.write("text,label\n")
            for i in range(12):
                reviews.write(f"{'a fine warm film' if i % 2 else 'a dull cold mess'} {i},"
                              f"{i % 2}\n")
    flags = [f"--model_dir={tmp_path}/run", "--config=tiny",
             f"--dataset=csv:{tmp_path}/{{split}}.csv", "--batching"]
    # The refusal in a process of its own: its exit status and stderr are what a user sees.
    alone = subprocess.run([sys.executable, "-m", "trainers.train", *flags], cwd=REPO, env=ENV,
                           capture_output=True, text=True, timeout=300)
    assert alone.returncode != 0 and "--batching writes the batching parameters of an export: " \
                                     "give --export_dir too." in alone.stderr
    assert not os.path.exists(f"{tmp_path}/run")
    # The run that writes them: the binary's main in this process (the flags parsed as
    # `app.run` parses them), one step of one epoch (the test is about the files, not learning),
    # run eagerly (not about the traced steps: the tiny preset's traced run is
    # tests/training/conftest.py's `tiny_run`).
    run_train_binary(flags + [f"--export_dir={tmp_path}/out", "--epochs=1",
                              "--override=steps_per_epoch=1", "--override=run_eagerly=true"])
    printed = capsys.readouterr().out
    assert f"'batching_parameters': '{tmp_path}/out/batching_parameters.txt'" in printed
    assert sorted(os.listdir(f"{tmp_path}/out")) == ["1", "batching_parameters.txt",
                                                     "models.config"]

