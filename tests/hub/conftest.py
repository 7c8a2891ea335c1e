"""Session fixtures: the SavedModels of `tests/hub/saved_models.py`, written once to a temp dir."""

import pytest

from seqmodels.hub import export_reusable
from tests.hub.saved_models import build_backbone, build_encoder


@pytest.fixture(scope="session")
def hub_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("hub")


@pytest.fixture(scope="session")
def encoder_dir(hub_dir):
    path = str(hub_dir / "encoder")
    build_encoder(path)
    return path


@pytest.fixture(scope="session")
def backbone_dir(hub_dir):
    path = str(hub_dir / "backbone")
    export_reusable(build_backbone(), path)
    return path
