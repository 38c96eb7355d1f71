"""The checks behind `Settings.resolved_toolkits` and `${VAR}` secrets: one line per problem, naming the key to fix."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

from confluence_mcp.errors import ConfigError

if TYPE_CHECKING:
    from confluence_mcp.config import CredentialSettings, Settings, ToolkitSettings

__all__ = ["CLOUD_ID", "ENV_REF", "SECRET_FIELDS", "SPACE_KEY", "credential_problems", "describe_error",
           "expand_env_refs", "secret_file_problem", "secret_references", "toolkit_problems"]

SPACE_KEY = re.compile(r"^~?[A-Za-z0-9_]{1,255}$")
CLOUD_ID = re.compile(r"[0-9a-fA-F-]{8,64}")


def credential_problems(name: str, cred: CredentialSettings) -> list[str]:
    where = f"credentials.{name}"
    problems = []
    if not cred.base_url:
        problems.append(f"{where}: base_url is missing (set CONFLUENCE_URL or base_url in the config file)")
    elif not re.match(r"^https?://", cred.base_url):
        problems.append(f"{where}: base_url must start with http:// or https:// (got {cred.base_url!r})")
    has_basic = bool(cred.api_token or cred.api_token_file)
    has_bearer = bool(cred.token or cred.token_file)
    if has_basic and has_bearer:
        problems.append(f"{where}: give either api_token (Basic, with username) or token (Bearer PAT), not both")
    if cred.auth_kind == "basic" and has_basic and not cred.username:
        problems.append(f"{where}: Basic auth needs username (the account e-mail on Cloud) with the api_token")
    if cred.auth_kind == "basic" and cred.username and not has_basic:
        problems.append(f"{where}: username is set but api_token is missing (set api_token, api_token_file or "
                        "CONFLUENCE_API_TOKEN); without it every request would be anonymous")
    if cred.auth_kind == "bearer" and not has_bearer and cred.base_url:
        problems.append(f"{where}: auth = 'bearer' needs token or token_file (a personal access token)")
    if cred.cloud_id is not None and not CLOUD_ID.fullmatch(cred.cloud_id):
        problems.append(f"{where}: cloud_id {cred.cloud_id!r} is not a cloud id (a UUID: see <site>/_edge/tenant_info)")
    gateway = urlsplit(cred.gateway_url)
    if not gateway.hostname or (gateway.scheme != "https" and not (
            gateway.scheme == "http" and gateway.hostname in ("127.0.0.1", "localhost"))):
        problems.append(f"{where}: gateway_url must be an https:// URL (got {cred.gateway_url!r})")
    for key in ("api_token_file", "token_file"):
        problem = secret_file_problem(getattr(cred, key))
        if problem:
            problems.append(f"{where}.{key}: {problem}")
    return problems


def secret_file_problem(file: Path | None) -> str | None:
    """Why a secret file cannot serve as a secret (missing, unreadable, not UTF-8, empty); None when it can."""
    if file is None:
        return None
    path = Path(file).expanduser()
    if not path.is_file():
        return f"secret file {file} does not exist (or is not a file)"
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        return f"secret file {file} cannot be read: {exc.strerror or exc}"
    except UnicodeDecodeError:
        return f"secret file {file} is not UTF-8 text"
    return None if text.strip() else f"secret file {file} is empty"


def toolkit_problems(where: str, kit: ToolkitSettings) -> list[str]:
    problems = []
    if kit.space is not None and not SPACE_KEY.match(kit.space):
        problems.append(f"{where}: space {kit.space!r} looks like a space name; use its key (a short code like DOCS)")
    for key in kit.allowed_spaces or []:
        if not SPACE_KEY.match(key):
            problems.append(f"{where}.allowed_spaces: {key!r} is not a space key (a short code like DOCS); "
                            "an empty list allows every space")
    if kit.retry_max_seconds < kit.retry_min_seconds:
        problems.append(f"{where}: retry_max_seconds must be >= retry_min_seconds")
    return problems


# The settings that hold secrets, in credentials, [index] and [llm]; any may be given as `${VAR}`.
SECRET_FIELDS = ("api_token", "token", "api_key", "database_url")
ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def expand_env_refs(settings: Settings, environ: Mapping[str, str]) -> None:
    """Replace `${VAR}` secrets by the variable's value, so the rest of the code sees plain secrets. An unset or
    empty variable is a config problem (reported with the others), never a silent fall back to anonymous."""
    holders: dict[str, BaseModel] = {f"credentials.{name}": cred for name, cred in settings.credentials.items()}
    holders.update(index=settings.index, llm=settings.llm)
    problems = []
    for where, holder in holders.items():
        for name in SECRET_FIELDS:
            value = getattr(holder, name, None)
            match = ENV_REF.match(value.get_secret_value().strip()) if isinstance(value, SecretStr) else None
            if match is None:
                continue
            resolved = environ.get(match.group(1))
            if resolved:
                setattr(holder, name, SecretStr(resolved))
            else:
                problems.append(f"{where}.{name}: environment variable {match.group(1)} is not set (or empty)")
    if problems:
        try:
            settings.resolved_toolkits()
        except ConfigError as exc:
            problems += exc.problems
        raise ConfigError(problems)


def secret_references(data: dict[str, Any]) -> set[str]:
    """The variables a config file's secrets name as `${VAR}`."""
    credentials = data.get("credentials")
    tables = [*(credentials.values() if isinstance(credentials, dict) else ()), data.get("index"), data.get("llm")]
    values = [table.get(key) for table in tables if isinstance(table, dict) for key in SECRET_FIELDS]
    return {m.group(1) for value in values if isinstance(value, str) and (m := ENV_REF.match(value.strip()))}


def describe_error(err: Any, variables: Mapping[tuple[str, ...], str]) -> str:
    """A pydantic error as `key.path: message`, led by the environment variable that gave the value, if one
    did (`variables`: where each shortcut variable's value went)."""
    parts = tuple(str(part) for part in err.get("loc", ()))
    loc = ".".join(parts)
    variable = next((variables[parts[:n]] for n in range(len(parts), 0, -1) if parts[:n] in variables), None)
    where = f"{variable} ({loc})" if variable else loc
    return f"{where}: {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}"
