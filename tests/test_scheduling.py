"""The workers' share-out (tests/scheduling.py): each `SHARED` group goes to one worker whole,
the other tests as `--dist load` hands them out, and `SHARED` names every module that asks for
its fixtures."""

import os
import types

from tests import scheduling

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Config:
    """What xdist's LoadScheduling reads of a pytest config: `-n 2`, no `--maxschedchunk`."""

    def getvalue(self, name):
        return {"tx": ["2*popen"]}[name]

    def getoption(self, name):
        return {"maxschedchunk": None}[name]


class Node:
    """A worker: remembers the test indices it is sent."""

    def __init__(self, name):
        self.gateway = types.SimpleNamespace(id=name)
        self.sent, self.shutting_down = [], False

    def send_runtest_some(self, indices):
        self.sent += indices

    def shutdown(self):
        self.shutting_down = True


def _started(collection):
    """The scheduler and its two workers, once both collected `collection` (test ids) and the
    first tests were sent."""
    scheduler = scheduling.SharedFixtureScheduling(Config())
    nodes = [Node("gw0"), Node("gw1")]
    for node in nodes:
        scheduler.add_node(node)
    for node in nodes:
        scheduler.add_node_collection(node, collection)
    scheduler.schedule()
    return scheduler, nodes


def _run(collection):
    """Runs the share-out of `collection` (test ids) to two workers, each finishing its tests
    in the order sent; returns the indices each ran."""
    scheduler, nodes = _started(collection)
    done = [0, 0]
    while any(done[i] < len(node.sent) for i, node in enumerate(nodes)):
        for i, node in enumerate(nodes):  # one test each, in turn
            if done[i] < len(node.sent):
                scheduler.mark_test_complete(node, node.sent[done[i]])
                done[i] += 1
    assert all(node.shutting_down for node in nodes)
    return [node.sent for node in nodes]


def test_a_group_runs_on_one_worker_and_every_test_runs_once():
    group = scheduling.SHARED[("exports", "bert_export")]
    collection = [f"tests/layers/test_{i}.py::test_a" for i in range(40)]
    collection[7] = f"{group[0]}::test_x"  # a group split by other tests: a start, an end
    collection[25] = f"{group[1]}::test_y[1]"
    collection[39] = f"{group[1]}::test_y[2]"
    first, second = _run(collection)
    assert sorted(first + second) == list(range(40))
    together = first if 7 in first else second
    assert {25, 39} <= set(together)
    assert first and second  # the others are still shared out


def test_a_crashed_workers_group_goes_on_elsewhere_without_running_a_test_twice():
    group = scheduling.SHARED[("exports", "bert_export")]
    collection = [f"{group[0]}::test_{i}" for i in range(6)] + [
        f"tests/layers/test_{i}.py::test_a" for i in range(30)]
    scheduler, nodes = _started(collection)
    crashed, survivor = nodes if 0 in nodes[0].sent else nodes[::-1]
    assert set(range(6)) <= set(crashed.sent)
    for index in crashed.sent[:2]:  # two tests of the group ran, the third crashed the worker
        scheduler.mark_test_complete(crashed, index)
    assert scheduler.remove_node(crashed) == collection[crashed.sent[2]]
    ran = set(crashed.sent[:3])
    while len(ran) < len(collection) and not survivor.shutting_down:
        for index in [i for i in survivor.sent if i not in ran]:
            assert index not in ran
            scheduler.mark_test_complete(survivor, index)
            ran.add(index)
    assert ran == set(range(len(collection)))
    assert len(survivor.sent) == len(set(survivor.sent))  # nothing sent twice
    assert not set(survivor.sent) & set(crashed.sent[:2])  # what had run did not run again


def test_without_a_group_it_hands_out_as_dist_load_does():
    collection = [f"tests/layers/test_{i}.py::test_a" for i in range(40)]
    first, second = _run(collection)
    assert sorted(first + second) == list(range(40))
    # Chunks of consecutive tests, as LoadScheduling sends them: 40 // 2 // 4 = 5 at the start.
    assert first[:5] == [0, 1, 2, 3, 4] and second[:5] == [5, 6, 7, 8, 9]


def test_shared_names_every_module_that_uses_its_fixtures(request):
    used = {}
    for item in request.session.items:
        for fixtures, modules in scheduling.SHARED.items():
            if set(fixtures) & set(item.fixturenames):
                used.setdefault(fixtures, set()).add(scheduling.module_of(item.nodeid))
    for fixtures, modules in scheduling.SHARED.items():
        missing = used.get(fixtures, set()) - set(modules)
        assert not missing, f"add {sorted(missing)} to scheduling.SHARED[{fixtures}]"
        for module in modules:
            with open(os.path.join(ROOT, module)) as f:
                source = f.read()
            assert any(name in source for name in fixtures), (
                f"{module} does not use {fixtures}: take it out of scheduling.SHARED")
