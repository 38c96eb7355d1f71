"""Display names of the users a page mentions, so a read shows `@Alice Example` rather than an account id.

Storage names users by Cloud account id (`ri:account-id`), Server/DC user key (`ri:userkey`) or username
(`ri:username`). Each is looked up once per site and account and remembered (names change rarely; a stale one
only shows in the label, never in what is written back). A lookup that fails leaves the id as the label; one
that fails for now (connection, 429, 5xx) is not remembered, and `mentioned_users_by_page` says so, so the index
can redo that page. A Server/DC answer names the user's key and username both: either ref then costs no lookup.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import anyio

from confluence_mcp.errors import ConfluenceConnectionError, ConfluenceHTTPError, ConfluenceMCPError, RateLimited

if TYPE_CHECKING:
    from confluence_mcp.confluence.client import ConfluenceClient

__all__ = ["MentionedUsers", "UserNames", "mentioned_user_names", "mentioned_users_by_page", "person_names",
           "user_names_by_page"]

UserNames = tuple[tuple[str, str], ...]  # (id, display name) pairs, sorted: hashable, for the conversion cache
_Ref = tuple[str, str]  # (kind, id), kind as storage names it: "account-id", "userkey" or "username"

_USER_REF = re.compile(r'<ri:user\s[^>]*?\bri:(account-id|userkey|username)="([^"]+)"')
_QUERY = {"account-id": "accountId", "userkey": "key", "username": "username"}
_ANSWER_REFS = (("account-id", "accountId"), ("userkey", "userKey"), ("username", "username"))  # user JSON keys
_LOOKUPS = 8  # users looked up at once
_PER_PAGE = 100  # users looked up for one page at most
_REMEMBERED = 4096
# (site and account, kind, id) -> name or None: what one account may see says nothing about another's view
_NAMES: OrderedDict[tuple[str, str, str], str | None] = OrderedDict()


class MentionedUsers(NamedTuple):
    """The users one storage mentions: (id, display name) of those found, and whether a lookup failed for now."""

    names: UserNames
    pending: bool  # some id stands in for a name only because its lookup failed for now: asking again may help


async def mentioned_user_names(client: ConfluenceClient, storage: str) -> UserNames:
    """(id, display name) for every user `storage` mentions (those found; at most 100 looked up per call)."""
    return (await user_names_by_page(client, [storage]))[0]


async def user_names_by_page(client: ConfluenceClient, storages: Sequence[str]) -> list[UserNames]:
    """`mentioned_user_names` of each storage, the users of all of them looked up together (each once, at most
    `_LOOKUPS` at a time); storage without mentions costs no request."""
    return [users.names for users in await mentioned_users_by_page(client, storages)]


async def mentioned_users_by_page(client: ConfluenceClient, storages: Sequence[str]) -> list[MentionedUsers]:
    """`user_names_by_page`, each with whether a lookup of one of its users failed for now."""
    wanted = [list(dict.fromkeys(_USER_REF.findall(storage)))[:_PER_PAGE] for storage in storages]
    found = await _look_up(client, [ref for refs in wanted for ref in refs])
    return [MentionedUsers(_named(refs, found), any(ref not in found for ref in refs)) for refs in wanted]


async def person_names(client: ConfluenceClient, *people: dict[str, Any] | None) -> list[str | None]:
    """The display name of each v1 user object (`version.by`, `history.createdBy`): its own `displayName`, else
    (REST v2 answers carry only an account id) the name looked up by id; None when neither is known."""
    known: list[str | None] = []
    refs: list[_Ref | None] = []
    for person in people:
        person = person if isinstance(person, dict) else {}
        known.append(person.get("displayName") or person.get("publicName"))
        ident = next(((kind, str(person[key])) for kind, key in _ANSWER_REFS if person.get(key)), None)
        refs.append(None if known[-1] else ident)
    wanted = [ref for ref in refs if ref]
    found = dict(_named(wanted, await _look_up(client, wanted)))
    return [name or (found.get(ref[1]) if ref else None) for name, ref in zip(known, refs, strict=True)]


async def _look_up(client: ConfluenceClient, refs: Iterable[_Ref]) -> dict[_Ref, str | None]:
    """The name (None: the site has none) of each of `refs`, remembered or looked up (each once, `_LOOKUPS` at a
    time); a ref whose lookup failed for now is left out."""
    account, gate = client.account_key, anyio.Semaphore(_LOOKUPS)
    wanted = list(dict.fromkeys(refs))
    found: dict[_Ref, str | None] = {}

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
        user = user if isinstance(user, dict) else {}
        name = user.get("displayName") or user.get("publicName")
        found[(kind, ident)] = name = str(name) if name else None
        # The answer's other refs to the same user are remembered too (on Server/DC its key and its username).
        for ref in {(kind, ident), *((other, str(user[key])) for other, key in _ANSWER_REFS if user.get(key))}:
            _NAMES[(account, *ref)] = name
        while len(_NAMES) > _REMEMBERED:
            _NAMES.popitem(last=False)

    # Usernames last: a user key's answer brings the username too, so a user one storage names by key and
    # another by username (Server/DC content from before user keys) costs one lookup, not two.
    for stage in ([ref for ref in wanted if ref[0] != "username"], [ref for ref in wanted if ref[0] == "username"]):
        async with anyio.create_task_group() as group:
            for ref in stage:
                if (account, *ref) in _NAMES:
                    found[ref] = _NAMES[(account, *ref)]
                else:
                    group.start_soon(look_up, *ref)
    return found


def _named(refs: list[_Ref], found: dict[_Ref, str | None]) -> UserNames:
    names = {ident: found.get((kind, ident)) for kind, ident in refs}
    return tuple(sorted((ident, name) for ident, name in names.items() if name))
