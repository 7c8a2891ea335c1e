"""Reading the SWORD modules: pairs and verses through a stand-in for pysword (`conftest`), and
missing modules or a missing pysword failing fast with the command that fetches them."""

import importlib.util
import re
import time

import pytest

from seqmodels import data
from seqmodels.data import DataNotFoundError, verses
from seqmodels.data.verses import sword


def test_read_verse_pairs_pairs_and_cleans_the_modules(fake_modules):
    pairs = sword.read_verse_pairs(fake_modules)
    assert len(pairs) == 120
    assert pairs[0] == ("Gen.1.1", "In chapter 1 verse 1.", "En capítulo 1 versículo 1.")
    assert sword.cleaning_counts(fake_modules)["unpaired"] == 1
    english = sword.read_english_verses(fake_modules)
    assert len(english) == 121 and ("Tob.1.1", "Tobit went.") in english


def test_missing_module_fails_fast_and_names_make_data(tmp_path):
    start = time.perf_counter()
    with pytest.raises(DataNotFoundError, match=re.escape(
            f"Dataset 'en_es_verses': file {tmp_path}/engWEB2015eb not found. It comes from the "
            "Debian package 'sword-text-web': run `make data` as root on a Debian/Ubuntu machine "
            "(apt-get install sword-text-web), or pass data_dir= pointing at your own copy.")):
        verses.load_en_es_verses("train", data_dir=str(tmp_path))
    assert time.perf_counter() - start < 1.0
    (tmp_path / "engWEB2015eb").mkdir()
    with pytest.raises(DataNotFoundError, match=re.escape(
            f"Dataset 'en_es_verses': file {tmp_path}/spaRV1909eb not found. It comes from the "
            "Debian package 'sword-text-sparv': run `make data`")):
        data.load("en_es_verses", "test", data_dir=str(tmp_path))
    (tmp_path / "engWEB2015eb").rmdir()
    with pytest.raises(DataNotFoundError, match=re.escape(
            f"Dataset 'verses_text': file {tmp_path}/engWEB2015eb not found. It comes from the "
            "Debian package 'sword-text-web': run `make data`")):
        verses.load_verses_text("validation", data_dir=str(tmp_path))


def test_missing_pysword_fails_fast_and_names_make_data(tmp_path, monkeypatch):
    for name in ("engWEB2015eb", "spaRV1909eb"):
        (tmp_path / name).mkdir()
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pysword" else find_spec(name, *a))
    start = time.perf_counter()
    with pytest.raises(DataNotFoundError, match=re.escape(
            "Dataset 'en_es_verses' needs the Python package 'pysword' to read its SWORD "
            "modules, which is not installed. Run `make data` (it installs the data packages "
            "without their dependencies).")):
        verses.load_en_es_verses("train", data_dir=str(tmp_path))
    assert time.perf_counter() - start < 1.0
