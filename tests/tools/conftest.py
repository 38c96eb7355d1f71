import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from _mcp_fixtures import anyio_backend, flavor_sandbox  # noqa: F401  (fixtures)
