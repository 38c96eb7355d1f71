"""Display names of the users a page mentions, so a read shows `@Alice Example` rather than an account id.

Storage names users by Cloud account id (`ri:account-id`), Server/DC user key (`ri:userkey`) or username
(`ri:username`). Each is looked up once per site and account and remembered (names change rarely; a stale one
only shows in the label, never in what is written back). A lookup that fails leaves the id as the label.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from confluence_mcp.errors import ConfluenceConnectionError, ConfluenceHTTPError, ConfluenceMCPError, RateLimited

if TYPE_CHECKING:
    from confluence_mcp.confluence.client import ConfluenceClient

__all__ = ["UserNames", "mentioned_user_names", "person_names", "user_names_by_page"]

UserNames = tuple[tuple[str, str], ...]  # (id, display name) pairs, sorted: hashable, for the conversion cache

_USER_REF = re.compile(r'<ri:user\s[^>]*?\bri:(account-id|userkey|username)="([^"]+)"')
_QUERY = {"account-id": "accountId", "userkey": "key", "username": "username"}
_LOOKUPS = 8  # users looked up at once
_PER_PAGE = 100  # users looked up for one page at most
_REMEMBERED = 4096
# (site and account, kind, id) -> name or None: what one account may see says nothing about another's view
_NAMES: OrderedDict[tuple[str, str, str], str | None] = OrderedDict()


async def mentioned_user_names(client: ConfluenceClient, storage: str) -> UserNames:
    """(id, display name) for every user `storage` mentions (those found; at most 100 looked up per call)."""
    return (await user_names_by_page(client, [storage]))[0]


async def user_names_by_page(client: ConfluenceClient, storages: Sequence[str]) -> list[UserNames]:
    """`mentioned_user_names` of each storage, the users of all of them looked up together (each once, at most
    `_LOOKUPS` at a time); storage without mentions costs no request."""
    wanted = [list(dict.fromkeys(_USER_REF.findall(storage)))[:_PER_PAGE] for storage in storages]
    await _look_up(client, [ref for refs in wanted for ref in refs])
    return [_known(client.account_key, refs) for refs in wanted]


async def person_names(client: ConfluenceClient, *people: dict[str, Any] | None) -> list[str | None]:
    """The display name of each v1 user object (`version.by`, `history.createdBy`): its own `displayName`, else
    (REST v2 answers carry only an account id) the name looked up by id; None when neither is known."""
    refs: list[tuple[str, str] | None] = []
    for person in people:
        person = person if isinstance(person, dict) else {}
        ident = next(((kind, str(person[key])) for kind, key in _ID_KEYS if person.get(key)), None)
        refs.append(None if person.get("displayName") or person.get("publicName") else ident)
    wanted = [ref for ref in refs if ref]
    await _look_up(client, wanted)
    found = dict(_known(client.account_key, wanted))
    return [(p or {}).get("displayName") or (p or {}).get("publicName") or (found.get(ref[1]) if ref else None)
            for p, ref in zip(people, refs, strict=True)]


_ID_KEYS = (("account-id", "accountId"), ("userkey", "userKey"), ("username", "username"))


async def _look_up(client: ConfluenceClient, refs: Iterable[tuple[str, str]]) -> None:
    """Look up and remember each of `refs` not remembered yet (each once, `_LOOKUPS` at a time)."""
    account, gate = client.account_key, anyio.Semaphore(_LOOKUPS)
    missing = dict.fromkeys(ref for ref in refs if (account, *ref) not in _NAMES)

    async def look_up(kind: str, ident: str) -> None:
        async with gate:
            try:
                user = await client.get_json("user", params={_QUERY[kind]: ident})
            except (ConfluenceConnectionError, RateLimited):
                return  # passing: the id stands in this time, and the next read asks again
            except ConfluenceHTTPError as exc:
                if exc.status >= 500:
                    return
                user = {}  # unknown or hidden user: remembered as nameless
            except ConfluenceMCPError:
                user = {}
        name = user.get("displayName") or user.get("publicName") if isinstance(user, dict) else None
        _NAMES[(account, kind, ident)] = str(name) if name else None
        while len(_NAMES) > _REMEMBERED:
            _NAMES.popitem(last=False)

    async with anyio.create_task_group() as group:
        for kind, ident in missing:
            group.start_soon(look_up, kind, ident)


def _known(account: str, refs: list[tuple[str, str]]) -> UserNames:
    names = {ident: _NAMES.get((account, kind, ident)) for kind, ident in refs}
    return tuple(sorted((ident, name) for ident, name in names.items() if name))
