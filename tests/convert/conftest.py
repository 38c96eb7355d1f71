from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))  # for sandbox_helpers.shared_dir

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "storage"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
