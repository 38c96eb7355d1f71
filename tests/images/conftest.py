import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for _stub_server

from _image_site import anyio_backend, image_host, site, vision  # noqa: F401  (fixtures)
