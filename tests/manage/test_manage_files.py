"""add_file_to_page inputs as agents send them: base64 variants, empty files, media types, parallel uploads."""

from __future__ import annotations

import base64
import textwrap

import anyio
import pytest
from manage_helpers import Rest, call, refused, unique
from mcp import Client

from confluence_mcp.sandbox.demo import make_png

pytestmark = pytest.mark.anyio
DATA = bytes(range(256)) * 3


def _files(rest: Rest, page_id: str) -> dict[str, tuple[int, str, int]]:
    listed = rest.http.get(f"/content/{page_id}/child/attachment", params={"expand": "version"}).json()
    return {a["title"]: (a["version"]["number"], a["metadata"]["mediaType"], a["extensions"]["fileSize"])
            for a in listed["results"]}


async def test_base64_as_tools_and_models_write_it(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("B64"), body="start")
    plain = base64.b64encode(DATA).decode()
    forms = {"wrapped.bin": "\n".join(textwrap.wrap(plain, 76)) + "\n",  # `base64` CLI, MIME
             "uri.bin": "data:application/octet-stream;base64," + plain,
             "urlsafe.bin": base64.urlsafe_b64encode(DATA).decode(),
             "unpadded.bin": plain.rstrip("=")}
    for name, text in forms.items():
        await call(tools, "add_file_to_page", page_id=page["id"], file_base64=text, filename=name, show_on_page=False)
    for name in forms:
        assert rest.http.get(f"/content/{page['id']}/child/attachment", params={"filename": name}).json()[
            "results"][0]["extensions"]["fileSize"] == len(DATA)
    message = await refused(tools, "add_file_to_page", page_id=page["id"], file_base64="!!not base64!!",
                            filename="bad.bin")
    assert "not valid base64" in message


async def test_empty_files_and_malformed_media_types_are_refused(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("Refused"), body="start")
    message = await refused(tools, "add_file_to_page", page_id=page["id"], file_base64="", filename="e.txt")
    assert "empty" in message
    message = await refused(tools, "add_file_to_page", page_id=page["id"], file_base64="aGk=", filename="m.txt",
                            media_type="text plain\r\nX-Injected: 1")
    assert "not a MIME type" in message
    await call(tools, "add_file_to_page", page_id=page["id"], file_base64="aGk=", filename="c.txt",
               media_type="Text/Plain; charset=utf-8", show_on_page=False)
    assert _files(rest, page["id"]) == {"c.txt": (1, "text/plain", 2)}
    assert rest.version(page["id"]) == 1


async def test_parallel_uploads_of_one_new_name_make_versions_of_one_file(tools: Client, rest: Rest) -> None:
    page = await call(tools, "create_page", title=unique("Race"), body="start")
    png = base64.b64encode(make_png(4, 4, (1, 2, 3), (4, 5, 6))).decode()

    async def upload() -> None:
        await call(tools, "add_file_to_page", page_id=page["id"], file_base64=png, filename="race.png")

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(upload)
    assert _files(rest, page["id"])["race.png"][0] == 3  # one attachment, three versions, no 400
    assert rest.storage(page["id"]).count('ri:filename="race.png"') == 1
