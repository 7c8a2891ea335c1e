"""Every docstring example of the seqmodels package runs as a doctest, and none is lost silently.

One test per module (found by walking the package, so a new module is tested without a line
here) runs its examples with ELLIPSIS and NORMALIZE_WHITESPACE, in a fresh working directory
(examples may write relative paths) with `tempfile` pointed into it. Two package-wide tests
make sure an example cannot pass by not running: every source file whose text holds
`Example:` is collected and yields one doctest per `Example:` section, and a module whose every
example is `+SKIP` fails unless `ALL_SKIPPED` names it with the reason. An example (a
docstring's doctest) runs when at least one of its statements is not `+SKIP`.
"""

import doctest
import importlib
import pathlib
import pkgutil
import re
import sys
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import seqmodels

PACKAGE = "seqmodels"
PACKAGE_DIR = pathlib.Path(seqmodels.__file__).parent
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
# Names an example may use without importing them; an example that imports what it uses reads
# better on its own (and runs pasted into a shell), so prefer that.
EXTRAGLOBS = {"np": np, "keras": keras, "tf": tf}
# An `Example:` / `Examples:` section heading alone on its line.
SECTION = re.compile(r"^\s*Examples?:\s*$", re.MULTILINE)
# Modules whose every example is `+SKIP`, each with its reason: only what `make test`'s setup
# lacks (the datasets and pretrained weights of `make data`, the internet) or minutes of
# training. Everything else runs. An entry whose module runs an example fails: remove it.
ALL_SKIPPED = {
}


def _walk_package():
    """`(sorted module names, {package: error})` of every module under seqmodels."""
    errors = {}

    def onerror(name):
        errors[name] = repr(sys.exc_info()[1])

    names = [PACKAGE] + [info.name for info in pkgutil.walk_packages(
        seqmodels.__path__, PACKAGE + ".", onerror=onerror)]
    return sorted(names), errors


MODULES, WALK_ERRORS = _walk_package()


def _doctests(module):
    """The module's doctests (one per docstring with examples), with the extra globals."""
    tests = doctest.DocTestFinder().find(module, module.__name__, extraglobs=EXTRAGLOBS)
    return [test for test in tests if test.examples]


def _imported_doctests(names):
    """`({name: doctests}, {name: import error})` of `names`: one broken module hides no other."""
    found, errors = {}, {}
    for name in names:
        try:
            found[name] = _doctests(importlib.import_module(name))
        except Exception as error:  # noqa: BLE001  (reported by name, and by test_examples_run)
            errors[name] = f"{type(error).__name__}: {error}"
    return found, errors


def _runs(example):
    return not example.options.get(doctest.SKIP, False)


@pytest.mark.parametrize("name", MODULES)
@pytest.mark.usefixtures("young_heap")  # tests/conftest.py: the converters' gc passes
def test_examples_run(name, tmp_path, monkeypatch):
    module = importlib.import_module(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    report = []
    failed = attempted = 0
    for test in _doctests(module):
        result = runner.run(test, out=report.append)
        failed += result.failed
        attempted += result.attempted
    assert failed == 0, f"{failed} of {attempted} examples of {name} failed:\n" + "".join(report)


def _module_name(path):
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_file_with_examples_is_collected():
    sections = {}  # path -> number of `Example:` headings
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "Example:" in text or SECTION.search(text):
            sections[path] = len(SECTION.findall(text))
    found, errors = _imported_doctests(
        sorted({_module_name(path) for path in sections} & set(MODULES)))
    problems = [f"package {name} does not import: {error}" for name, error in WALK_ERRORS.items()]
    for path, count in sections.items():
        name = _module_name(path)
        if name not in MODULES:
            problems.append(f"{path}: module {name} is not collected by the package walk (a "
                            "folder without __init__.py?)")
        elif name in errors:
            problems.append(f"{path}: module {name} does not import: {errors[name]}")
        elif not found[name] or (count and len(found[name]) != count):
            tests = ", ".join(test.name for test in found[name]) or "none"
            problems.append(f"{path}: {count} Example sections but {len(found[name])} doctests "
                            f"found ({tests}); each section must be the `>>>` lines of one "
                            "docstring that doctest reaches (not a nested function, not an "
                            "object of another module)")
    assert not problems, "\n".join(problems)


def test_no_module_skips_every_example():
    assert all(isinstance(reason, str) and reason.strip() for reason in ALL_SKIPPED.values())
    found, errors = _imported_doctests(MODULES)
    counts = {}  # name -> (examples, examples that run, statements, statements attempted)
    for name, tests in found.items():
        if tests:
            runs = [sum(map(_runs, test.examples)) for test in tests]
            counts[name] = (len(tests), sum(run > 0 for run in runs),
                            sum(len(test.examples) for test in tests), sum(runs))
    examples, running, statements, attempted = (sum(column) for column in zip(*counts.values()))
    summary = (f"{examples} examples in {len(counts)} modules, {running} of them run: "
               f"{attempted} of {statements} statements attempted")
    all_skipped = sorted(name for name, count in counts.items() if count[1] == 0)
    unexplained = [name for name in all_skipped if name not in ALL_SKIPPED]
    stale = sorted(name for name in ALL_SKIPPED if name not in all_skipped)
    assert attempted > 0, summary
    assert not errors, f"{summary}. Modules that do not import: {errors}"
    assert not unexplained, (
        f"{summary}. Every example of these modules is +SKIP: make one run, or add the module "
        f"to ALL_SKIPPED with what `make test` lacks: {unexplained}")
    assert not stale, (f"{summary}. ALL_SKIPPED names modules that run an example now (or that "
                       f"have none): remove them: {stale}")
