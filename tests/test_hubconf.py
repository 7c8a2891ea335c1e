"""hubconf.py: torch.hub.load of this checkout returns our models as torch.nn.Modules.

The torch backend runs in a subprocess (KERAS_BACKEND=torch, as tests/layers/test_backends.py
does): it loads weights saved here on TensorFlow, gives the same logits, and trains one step
with a torch optimizer.
"""

import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from seqmodels.models import TextClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KWARGS = dict(vocab_size=30, num_classes=3, encoder="transformer", sequence_length=6,
              hidden_dim=8, num_heads=2, intermediate_dim=16)

TORCH_SIDE = """
import json, sys
import numpy as np
import torch

root, weights, arrays = sys.argv[1], sys.argv[2], np.load(sys.argv[3])
kwargs = json.loads(sys.argv[4])
model = torch.hub.load(root, "text_classifier", source="local", weights=weights, **kwargs)
ids = torch.from_numpy(arrays["ids"])
model.eval()
with torch.no_grad():
    logits = model(ids).cpu().numpy()
parameters = list(model.parameters())
before = [p.detach().clone() for p in parameters]
model.train()
optimizer = torch.optim.SGD(parameters, lr=0.5)
loss = torch.nn.functional.cross_entropy(model(ids), torch.tensor([0, 2]))
loss.backward()
optimizer.step()
vit = torch.hub.load(root, "vision_transformer", source="local", image_shape=(8, 8, 3),
                     num_classes=2, variant="Ti/4", depth=1)
with torch.no_grad():
    vit_logits = vit(torch.zeros(1, 8, 8, 3))
print(json.dumps({
    "is_module": isinstance(model, torch.nn.Module) and isinstance(vit, torch.nn.Module),
    "max_abs": float(np.abs(logits - arrays["logits"]).max()),
    "trainable_parameters": sum(p.numel() for p in parameters if p.requires_grad),
    "changed": sum(not torch.equal(a, b.detach()) for a, b in zip(before, parameters)),
    "loss": float(loss),
    "vit_shape": list(vit_logits.shape),
}))
"""


def test_torch_hub_load_returns_our_models_as_torch_modules(tmp_path):
    keras.utils.set_random_seed(0)
    model = TextClassifier(**KWARGS)
    ids = np.array([[5, 8, 2, 9, 0, 0], [3, 1, 4, 1, 5, 9]], "int32")
    weights = str(tmp_path / "text_classifier.weights.h5")
    model.save_weights(weights)
    np.savez(tmp_path / "arrays.npz", ids=ids, logits=np.asarray(model(ids, training=False)))
    env = dict(os.environ, KERAS_BACKEND="torch", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [sys.executable, "-c", TORCH_SIDE, ROOT, weights, str(tmp_path / "arrays.npz"),
         json.dumps(KWARGS)],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["is_module"]
    assert report["max_abs"] < 1e-5, report
    # The torch parameters include the dropout seeds' states (non-trainable, not weights).
    assert report["trainable_parameters"] == sum(
        int(np.prod(w.shape)) for w in model.trainable_weights)
    assert report["changed"] == len(model.trainable_weights) and np.isfinite(report["loss"])
    assert report["vit_shape"] == [1, 2]


def test_the_entries_refuse_another_backend():
    spec = importlib.util.spec_from_file_location("seqmodels_hubconf",
                                                  os.path.join(ROOT, "hubconf.py"))
    hubconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubconf)
    assert hubconf.dependencies == ["keras", "torch"]
    with pytest.raises(RuntimeError, match="KERAS_BACKEND=torch .* 'tensorflow' backend"):
        hubconf.text_classifier(**KWARGS)
