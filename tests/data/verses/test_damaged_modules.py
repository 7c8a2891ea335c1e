"""A truncated or garbled SWORD module fails naming the dataset and the file (pysword itself
would read the damaged blocks as empty verses, losing them silently)."""

import zlib

import pytest

from seqmodels import data
from seqmodels.data import BadDataError
from seqmodels.data.verses import sword

DAMAGED = ("The copy on this machine is damaged: reinstall the package that ships it (`make "
           "data`), or pass data_dir= pointing at a good copy.")


def write_testament(folder, blocks, testament="ot"):
    """A zText testament: each block (a list of verse texts) zlib-compressed into `.bzz`,
    indexed by `.bzs` (offset, size, uncompressed size) and `.bzv` (block, start, length)."""
    text, block_index, verse_index = b"", b"", b""
    for number, verses in enumerate(blocks):
        raw = "".join(verses).encode("utf-8")
        packed = zlib.compress(raw)
        block_index += sword.BLOCK_RECORD.pack(len(text), len(packed), len(raw))
        text += packed
        start = 0
        for verse in verses:
            verse_index += sword.VERSE_RECORD.pack(number, start, len(verse.encode("utf-8")))
            start += len(verse.encode("utf-8"))
    (folder / f"{testament}.bzz").write_bytes(text)
    (folder / f"{testament}.bzs").write_bytes(block_index)
    (folder / f"{testament}.bzv").write_bytes(verse_index)


BLOCKS = [["In the beginning. ", "And the earth. "], ["Tobit went. "] * 3]


def test_a_whole_module_passes_the_check(tmp_path):
    write_testament(tmp_path, BLOCKS)
    write_testament(tmp_path, BLOCKS[:1], "nt")
    sword.check_module(str(tmp_path), "en_es_verses")  # raises nothing


def test_truncated_text_file_names_dataset_and_file(fake_modules, tmp_path):
    folder = tmp_path / "engWEB2015eb"
    write_testament(folder, BLOCKS)
    path = folder / "ot.bzz"
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:size - 5])
    with pytest.raises(BadDataError) as caught:
        data.load("en_es_verses", "train", data_dir=fake_modules)
    assert str(caught.value) == (
        f"Dataset 'en_es_verses': file {path}: block 1 ends at byte {size}, past the file's "
        f"{size - 5} bytes (truncated). {DAMAGED}")
    with pytest.raises(BadDataError, match="^Dataset 'verses_text': file .*ot.bzz: block 1"):
        data.load("verses_text", "train", data_dir=fake_modules)


def test_garbled_block_truncated_index_and_missing_file(fake_modules, tmp_path):
    folder = tmp_path / "spaRV1909eb"
    write_testament(folder, BLOCKS)
    text = bytearray((folder / "ot.bzz").read_bytes())
    text[2:6] = b"\0\0\0\0"  # inside block 0's deflate stream
    (folder / "ot.bzz").write_bytes(bytes(text))
    with pytest.raises(BadDataError) as caught:
        data.load("en_es_verses", "train", data_dir=fake_modules)
    assert str(caught.value).startswith(
        f"Dataset 'en_es_verses': file {folder / 'ot.bzz'}: block 0 does not decompress (Error ")
    write_testament(folder, BLOCKS)
    index = folder / "ot.bzv"
    index.write_bytes(index.read_bytes()[:-3])
    with pytest.raises(BadDataError) as caught:
        data.load("en_es_verses", "train", data_dir=fake_modules)
    assert str(caught.value) == (
        f"Dataset 'en_es_verses': file {index}: 47 bytes, not a whole number of 10-byte "
        f"records (truncated). {DAMAGED}")
    (folder / "ot.bzs").unlink()
    with pytest.raises(BadDataError) as caught:
        data.load("en_es_verses", "train", data_dir=fake_modules)
    assert str(caught.value) == (
        f"Dataset 'en_es_verses': file {folder / 'ot.bzs'}: missing (its testament's "
        f"{index}, {folder / 'ot.bzz'} are there). {DAMAGED}")


def test_verse_record_past_its_block(tmp_path):
    write_testament(tmp_path, BLOCKS)
    index = tmp_path / "ot.bzv"
    records = index.read_bytes()
    index.write_bytes(records[:10] + sword.VERSE_RECORD.pack(0, 10, 400) + records[20:])
    with pytest.raises(BadDataError) as caught:
        sword.check_module(str(tmp_path), "verses_text")
    assert str(caught.value) == (
        f"Dataset 'verses_text': file {index}: verse record 1 points past the text of block 0. "
        f"{DAMAGED}")
