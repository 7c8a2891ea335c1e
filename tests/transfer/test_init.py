"""seqmodels.transfer imports each public name from its module on first use."""

import json
import subprocess
import sys
import textwrap

import pytest


def test_lora_and_its_exports_import_neither_tensorflow_text_nor_keras_hub():
    """A fresh process: what the exports import of seqmodels.transfer (the LoRA merge) leaves
    out TensorFlow Text and keras-hub, which the text backbones load when first named."""
    script = textwrap.dedent("""
        import json, sys
        from seqmodels.transfer.lora import lora_merged
        from seqmodels import transfer
        light = [name for name in ("tensorflow_text", "keras_hub") if name in sys.modules]
        same = transfer.lora_merged is lora_merged
        builder = transfer.text_backbone_classifier
        print(json.dumps({"light": light, "same": same, "listed": sorted(dir(transfer)),
                          "loaded": [name for name in ("tensorflow_text", "keras_hub")
                                     if name in sys.modules]}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["light"] == [] and result["same"]
    assert result["loaded"] == ["tensorflow_text", "keras_hub"]
    from seqmodels import transfer
    assert set(transfer.__all__) <= set(result["listed"])


def test_every_public_name_resolves_and_an_unknown_one_is_an_attribute_error():
    from seqmodels import transfer

    for name in transfer.__all__:
        assert getattr(transfer, name).__name__ == name
    with pytest.raises(AttributeError, match="module 'seqmodels.transfer' has no attribute "
                                             "'fine_tuning'"):
        transfer.fine_tuning
