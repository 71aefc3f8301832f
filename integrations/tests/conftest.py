"""Fixtures shared by the integrations app's tests."""

import pytest

from integrations.services import create_integration

from . import services as svc


@pytest.fixture
def drive(workspace):
    """A Cloud storage integration with an access and a refresh token, saving into folder 1AbcFolder."""
    return create_integration(workspace, name="Drive", type="CLOUD_STORAGE", config={"rootFolderId": "1AbcFolder"},
                              credentials=dict(svc.VALUES["CLOUD_STORAGE"][1]))  # fmt: skip
