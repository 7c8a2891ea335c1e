"""Session fixtures: one tiny export of every kind (`kinds.export_every_kind`), checked in other
processes (a fresh process that cannot import seqmodels, saved_model_cli) while the tests run."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from tests.export import kinds
from tests.transfer.conftest import tiny_preset  # noqa: F401  (the BERT export's preset)

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


@pytest.fixture(scope="session")
def exports(tmp_path_factory):
    """Exports one tiny model of each kind; expected outputs; the checks in other processes."""
    root = tmp_path_factory.mktemp("exports")
    dirs, plan, expected, built = kinds.export_every_kind(root)
    with open(root / "plan.json", "w") as f:
        json.dump(plan, f)
    fresh = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "fresh_process.py"), str(root / "plan.json"),
         str(root / "results.json")], cwd=str(root), env=ENV, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    cli = subprocess.Popen(
        ["bash", "-c", f'"{BIN}/saved_model_cli" show --all --dir "{dirs["vit"]}" && echo '
         f'=== && "{BIN}/saved_model_cli" run --dir "{dirs["text"]}" --tag_set serve '
         f'--signature_def serving_default --input_exprs \'text=["a good film", ""]\''],
        cwd=str(root), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = dict(dirs=dirs, plan=plan, models=built, expected=expected, root=root,
                 results=None, cli=None)

    def results():
        if state["results"] is None:
            _, err = fresh.communicate(timeout=300)
            assert fresh.returncode == 0, err[-3000:]
            with open(root / "results.json") as f:
                state["results"] = json.load(f)
        return state["results"]

    def cli_output():
        if state["cli"] is None:
            out, err = cli.communicate(timeout=300)
            assert cli.returncode == 0, err[-3000:]
            state["cli"] = out
        return state["cli"]

    def signature(kind, name="serving_default"):
        """The signature `name` of `kind`'s export, loaded with `tf.saved_model.load` once a
        session (tests only call it)."""
        if kind not in state["loaded"]:
            state["loaded"][kind] = tf.saved_model.load(dirs[kind])
        return state["loaded"][kind].signatures[name]

    state["fresh"], state["cli_output"], state["signature"] = results, cli_output, signature
    state["loaded"] = {}
    # The Python models' decoded strings (test_decoding_signatures.py asks for each beam width):
    # width 1 of the plan's inputs is the greedy decode `expected` already holds.
    state["python_strings"] = {("translate", 1): list(expected["translate"]),
                               ("caption", 1): list(expected["caption"])}
    yield state
    for process in (fresh, cli):
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture(scope="session")
def bert_export(tiny_preset, tmp_path_factory):  # noqa: F811
    """A keras-hub BERT classifier's export: `(version_dir, case, probabilities)`."""
    return kinds.export_bert_classifier(tiny_preset, tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="session")
def sessions(exports, bert_export):
    """Every export (the BERT one as "bert") loaded as the server loads it
    (`kinds.ServerSession`)."""
    opened = {kind: kinds.ServerSession(path) for kind, path in exports["dirs"].items()}
    opened["bert"] = kinds.ServerSession(bert_export[0])
    yield opened
    for session in opened.values():
        session.close()
