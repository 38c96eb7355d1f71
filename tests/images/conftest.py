import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _image_site import anyio_backend, image_host, site, vision  # noqa: F401  (fixtures)
