"""Fixtures of the verse tests: fresh caches, and SWORD module folders read by a fake pysword."""

import importlib.util
import os
import sys
import types

import pytest

from seqmodels.data.verses import sword


@pytest.fixture(autouse=True)
def _fresh_caches():
    sword.clear_caches()
    yield
    sword.clear_caches()


class _Book:
    def __init__(self, osis_name, chapter_lengths):
        self.osis_name = osis_name
        self.chapter_lengths = chapter_lengths


class _FakeBible:
    """What `read_module` uses of pysword's SwordBible, over `MODULES[basename(path)]`."""

    MODULES = {}

    def __init__(self, path, module_type, versification, encoding, source_type):
        assert (module_type, encoding, source_type) == ("ztext", "utf-8", "OSIS")
        self.books = self.MODULES[os.path.basename(path)][versification]

    def get_structure(self):
        structure = types.SimpleNamespace()
        structure.get_books = lambda: {"ot": [_Book(name, [len(c) for c in chapters])
                                              for name, chapters in self.books.items()]}
        return structure

    def get_iter(self, books, clean):
        assert not clean
        for chapter in self.books[books[0]]:
            yield from chapter


@pytest.fixture()
def fake_modules(tmp_path, monkeypatch):
    """Module folders in tmp_path, read through a fake pysword: 40 chapters of Gen in both,
    with footnotes in English; Tob only in English."""
    gen_en = [[f'<w>In chapter {c}</w><note placement="foot">note</note><w>verse {v}</w>.'
               for v in range(1, 4)] for c in range(1, 41)]
    gen_es = [[f"<w>En capítulo {c}</w> <w>versículo {v}</w>." for v in range(1, 4)]
              for c in range(1, 41)]
    _FakeBible.MODULES = {"engWEB2015eb": {"nrsva": {"Gen": gen_en, "Tob": [["Tobit went."]]}},
                          "spaRV1909eb": {"kjv": {"Gen": gen_es}}}
    for name in ("engWEB2015eb", "spaRV1909eb"):
        (tmp_path / name).mkdir()
    package = types.ModuleType("pysword")
    bible = types.ModuleType("pysword.bible")
    bible.SwordBible = _FakeBible
    package.bible = bible
    monkeypatch.setitem(sys.modules, "pysword", package)
    monkeypatch.setitem(sys.modules, "pysword.bible", bible)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "pysword" else find_spec(name, *a))
    return str(tmp_path)
