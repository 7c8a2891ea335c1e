"""How `make test`'s two workers (pytest-xdist, `-n 2`) share out the tests.

pytest-xdist's `--dist load` hands each worker the next few tests whenever it runs low, so a
session fixture that tests in several modules use is built in each worker that runs one of them.
tests/export's `exports` (one export of every kind, then the checks it starts in other processes:
about 60 s of CPU) was built twice; and a module's own fixtures are built again in the other
worker when the module is split between them. `SharedFixtureScheduling` is `--dist load`
except that the modules of `SHARED` go to one worker together, the first time one of their
tests is handed out.

pytest-xdist's own `--dist loadgroup` (an `xdist_group` mark) no longer groups under pytest 9.2:
its workers rename the test ids to carry the group, and pytest 9.2 ignores that
(pytest-dev/pytest-xdist#1386).
"""

from xdist.scheduler import LoadScheduling

# The session fixtures too costly to build twice, and the modules whose tests use them
# (tests/test_scheduling.py checks the list against what the tests ask for).
SHARED = {
    ("exports", "bert_export"): (
        "tests/export/test_bad_inputs.py",
        "tests/export/test_batching.py",
        "tests/export/test_decoding_signatures.py",
        "tests/export/test_export_for_serving.py",
        "tests/export/test_tf_serving.py",
    ),
    # Stand-ins of every dataset's files: 55,010 Fashion-MNIST images among them (3.5 s).
    ("fixture_data",): ("tests/tasks/test_registry.py", "tests/tasks/test_tasks.py"),
    # The tiny preset's TF Hub export, and the module's classifiers on it (2 s).
    ("tiny_hub",): ("tests/transfer/test_text.py",),
}


def module_of(nodeid):
    """The test module of a test id: `"tests/a/test_b.py::test_c[1]"` -> `"tests/a/test_b.py"`."""
    return nodeid.split("::", 1)[0]


class SharedFixtureScheduling(LoadScheduling):
    """`--dist load`, with each group of `SHARED` modules handed to one worker as a whole."""

    def __init__(self, config, log=None):
        super().__init__(config, log)
        self.groups = []

    def schedule(self):
        if self.collection is None:  # the first call: every worker's collection is in
            self.groups = group_indices(next(iter(self.node2collection.values())))
        super().schedule()

    def _send_tests(self, node, num):
        # xdist's LoadScheduling calls this with the next `num` pending tests for `node`; a test
        # of a group brings the rest of its group that is still pending along (all of it, but
        # after a worker crashed: then xdist puts back only what that worker had not run).
        chosen = self.pending[:num]
        if not chosen:
            return
        pending = set(self.pending)
        for group in self.groups:
            if any(index in group for index in chosen):
                chosen += [index for index in group if index in pending and index not in chosen]
        sent = set(chosen)
        self.pending[:] = [index for index in self.pending if index not in sent]
        self.node2pending[node].extend(chosen)
        node.send_runtest_some(chosen)


def group_indices(collection):
    """The indices into `collection` (test ids) of each `SHARED` group's tests, groups with
    tests only.

    Example:
        >>> group_indices(["tests/export/test_batching.py::test_a",
        ...                "tests/layers/test_gru.py::test_b",
        ...                "tests/export/test_bad_inputs.py::test_c[x]"])
        [[0, 2]]
    """
    groups = []
    for modules in SHARED.values():
        group = [i for i, nodeid in enumerate(collection) if module_of(nodeid) in modules]
        if group:
            groups.append(group)
    return groups
