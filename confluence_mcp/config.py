"""Configuration: credentials (how to reach a site) and toolkits (what the tools may do there).

Sources, highest first: CLI overrides > environment > TOML file > defaults. The environment offers a
single-toolkit shortcut (`CONFLUENCE_URL`, `CONFLUENCE_USERNAME`, ...) for clients such as Claude Desktop.
Secrets may be inline, `${ENV_VAR}` references or `*_file` paths; they are never logged.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from confluence_mcp import config_problems
from confluence_mcp.config_problems import credential_problems, expand_env_refs, secret_references, toolkit_problems
from confluence_mcp.errors import ConfigError

__all__ = [
    "DEFAULT_NAME",
    "ENV_VARIABLES",
    "SITE_VARIABLES",
    "CredentialSettings",
    "Hosting",
    "IndexSettings",
    "LLMSettings",
    "Settings",
    "Toolkit",
    "ToolkitSettings",
    "default_data_dir",
    "env_log_level",
    "load_settings",
    "resolve_secret",
]

Hosting = Literal["cloud", "server"]
DEFAULT_NAME = "default"
CONFIG_ENV = "CONFLUENCE_MCP_CONFIG"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_LEVEL_ENV = "CONFLUENCE_MCP_LOG_LEVEL"


def default_data_dir() -> Path:
    """Where the embedded Postgres and other state live (`$XDG_DATA_HOME/confluence-mcp`)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "confluence-mcp"


def resolve_secret(value: SecretStr | None, file: Path | None) -> str | None:
    """The inline value (`${ENV_VAR}` references are expanded at load) or the file's content; None when unset."""
    if file is not None:
        return Path(file).expanduser().read_text(encoding="utf-8").strip()
    if value is None:
        return None
    return value.get_secret_value() or None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CredentialSettings(_Strict):
    """How to reach and authenticate to one Confluence site."""

    base_url: str | None = None
    auth: Literal["basic", "bearer"] | None = None
    username: str | None = None
    api_token: SecretStr | None = None
    api_token_file: Path | None = None
    token: SecretStr | None = None
    token_file: Path | None = None
    custom_headers: dict[str, str] = Field(default_factory=dict)
    verify_ssl: bool = True
    # Scoped API tokens (and service accounts' tokens) work only through Atlassian's API gateway; the site's
    # cloud id (for the gateway's paths) is read from `<site>/_edge/tenant_info` unless given.
    scoped_token: bool = False
    cloud_id: str | None = None
    gateway_url: str = "https://api.atlassian.com"
    timeout_seconds: float = Field(30.0, gt=0)
    connect_timeout_seconds: float = Field(10.0, gt=0)

    @property
    def auth_kind(self) -> Literal["basic", "bearer"]:
        if self.auth:
            return self.auth
        return "bearer" if (self.token or self.token_file) else "basic"

    def secret(self) -> str | None:
        """The API token (Basic) or personal access token (Bearer), resolved."""
        if self.auth_kind == "bearer":
            return resolve_secret(self.token, self.token_file)
        return resolve_secret(self.api_token, self.api_token_file)


class ToolkitSettings(_Strict):
    """What the tools may do with one credential."""

    credential: str = DEFAULT_NAME
    space: str | None = None
    hosting: Hosting | None = None
    limit: int = Field(5, ge=1, le=250)
    max_pages: int = Field(10, ge=1, le=10_000)
    labels: list[str] = Field(default_factory=list)
    retries: int = Field(2, ge=0, le=10)
    retry_min_seconds: float = Field(10.0, ge=0)
    retry_max_seconds: float = Field(60.0, ge=0)
    tools: list[str] | None = None
    read_only: bool = False
    allowed_spaces: list[str] | None = None
    upload_dir: Path | None = None


class IndexSettings(_Strict):
    """The semantic index: where vectors live and how they are made."""

    database_url: SecretStr | None = None
    data_dir: Path | None = None
    embedder: Literal["local", "sentence-transformers", "openai"] = "local"
    model: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    batch_size: int = Field(64, ge=1, le=2048)


class LLMSettings(_Strict):
    """An OpenAI-compatible chat endpoint for stepback search and summaries (optional)."""

    base_url: str | None = None
    model: str | None = None
    api_key: SecretStr | None = None
    timeout_seconds: float = Field(60.0, gt=0)


@dataclass(frozen=True)
class Toolkit:
    """A toolkit joined with its credential, with hosting and allowed spaces resolved."""

    name: str
    settings: ToolkitSettings
    credential: CredentialSettings
    hosting: Hosting
    allowed_spaces: tuple[str, ...]  # empty: every space the account can see
    prefix: str  # "" for a single toolkit, "<name>_" when several are configured

    @property
    def space(self) -> str | None:
        return self.settings.space

    def space_allowed(self, key: str | None) -> bool:
        return not self.allowed_spaces or (key or "").upper() in self.allowed_spaces


class _ShortcutEnvSource(PydanticBaseSettingsSource):
    """Maps the single-toolkit environment variables onto `credentials.default` / `toolkits.default`."""

    CREDENTIAL: ClassVar[dict[str, str]] = {
        "CONFLUENCE_URL": "base_url",
        "CONFLUENCE_USERNAME": "username",
        "CONFLUENCE_API_TOKEN": "api_token",
        "CONFLUENCE_TOKEN": "token",
        "CONFLUENCE_VERIFY_SSL": "verify_ssl",
        "CONFLUENCE_SCOPED_TOKEN": "scoped_token",
        "CONFLUENCE_CLOUD_ID": "cloud_id",
    }
    TOOLKIT: ClassVar[dict[str, str]] = {
        "CONFLUENCE_SPACE": "space",
        "CONFLUENCE_HOSTING": "hosting",
        "CONFLUENCE_MCP_LIMIT": "limit",
        "CONFLUENCE_MCP_MAX_PAGES": "max_pages",
        "CONFLUENCE_MCP_RETRIES": "retries",
        "CONFLUENCE_MCP_RETRY_MIN_SECONDS": "retry_min_seconds",
        "CONFLUENCE_MCP_RETRY_MAX_SECONDS": "retry_max_seconds",
        "CONFLUENCE_MCP_READ_ONLY": "read_only",
        "CONFLUENCE_MCP_UPLOAD_DIR": "upload_dir",
    }
    LISTS: ClassVar[dict[str, str]] = {
        "CONFLUENCE_MCP_TOOLS": "tools",
        "CONFLUENCE_MCP_ALLOWED_SPACES": "allowed_spaces",
        "CONFLUENCE_MCP_LABELS": "labels",
    }
    INDEX: ClassVar[dict[str, str]] = {
        "CONFLUENCE_MCP_DATABASE_URL": "database_url",
        "CONFLUENCE_MCP_EMBEDDER": "embedder",
        "CONFLUENCE_MCP_DATA_DIR": "data_dir",
    }
    LLM: ClassVar[dict[str, str]] = {
        "CONFLUENCE_MCP_LLM_BASE_URL": "base_url",
        "CONFLUENCE_MCP_LLM_MODEL": "model",
        "CONFLUENCE_MCP_LLM_API_KEY": "api_key",
    }

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def _targets(self, data: dict[str, Any], cred_keys: list[str], kit_keys: list[str]) -> tuple[str, str, bool]:
        """Which credential and toolkit the shortcuts set (and whether that toolkit is a credential's implicit one):
        `default`, or the config file's only one, so the environment beats the file; ConfigError when the file
        names several and a shortcut would have to pick."""
        tables: dict[str, dict[str, Any]] = {name: value if isinstance(value := data.get(name), dict) else {}
                                             for name in ("credentials", "toolkits")}
        creds, kits = sorted(tables["credentials"]), sorted(tables["toolkits"])
        only = tables["toolkits"][kits[0]] if len(kits) == 1 else None
        if not creds and isinstance(only, dict) and isinstance(only.get("credential"), str):
            creds = [only["credential"]]  # the file's one toolkit names the credential the environment gives
        kit_names = kits or creds  # a credential without toolkits serves one named after it
        for keys, names, table in ((cred_keys, creds, "credentials"), (kit_keys, kit_names, "toolkits")):
            if keys and len(names) > 1:
                raise ConfigError(f"{', '.join(keys)}: the config file names several {table} "
                                  f"({', '.join(names)}); set these under [{table}.NAME] in the file instead")
        return (creds[0] if cred_keys and creds else DEFAULT_NAME,
                kit_names[0] if kit_keys and kit_names else DEFAULT_NAME, bool(kit_keys and not kits and creds))

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = _LOAD_CONTEXT.get("toml") or {}
        # A variable the file names as a `${VAR}` secret feeds that secret, not a shortcut.
        referenced = secret_references(data)
        env = {k: v for k, v in self.environ.items() if v != "" and k not in referenced}
        cred: dict[str, Any] = {f: env[k] for k, f in self.CREDENTIAL.items() if k in env}
        kit: dict[str, Any] = {f: env[k] for k, f in self.TOOLKIT.items() if k in env}
        for key, name in self.LISTS.items():
            if key in env:
                kit[name] = [part.strip() for part in env[key].split(",") if part.strip()]
        if "CONFLUENCE_CUSTOM_HEADERS" in env:
            try:
                cred["custom_headers"] = json.loads(env["CONFLUENCE_CUSTOM_HEADERS"])
            except json.JSONDecodeError as exc:
                raise ConfigError(f"CONFLUENCE_CUSTOM_HEADERS is not valid JSON: {exc}") from exc
        out: dict[str, Any] = {}
        cred_name, kit_name, implicit = self._targets(data, sorted(k for k in env if k in self.CREDENTIAL or
                                                             k == "CONFLUENCE_CUSTOM_HEADERS") if cred else [],
                                                      sorted(k for k in env if k in self.TOOLKIT or k in self.LISTS))
        if implicit and kit:
            kit["credential"] = kit_name  # the file's toolkit-less credential gets its implicit toolkit
        credentials = data.get("credentials")
        stored = credentials.get(cred_name) if cred and isinstance(credentials, dict) else None
        if isinstance(stored, dict):  # a secret from the environment replaces the file's, of either kind
            other = ("api_token_file", "token", "token_file", "auth") if "api_token" in cred else \
                ("token_file", "api_token", "api_token_file", "username", "auth") if "token" in cred else ()
            cred.update({key: None for key in other if key in stored and key not in cred})
        if cred:
            out["credentials"] = {cred_name: cred}
        if kit:
            out["toolkits"] = {kit_name: kit}
        for table, fields in (("index", self.INDEX), ("llm", self.LLM)):
            if values := {f: env[k] for k, f in fields.items() if k in env}:
                out[table] = values
        # Where each variable's value went, so a validation error names the variable (`describe_error`).
        _LOAD_CONTEXT["variables"] = {(*where, f): k for where, table in (
            (("credentials", cred_name), {**self.CREDENTIAL, "CONFLUENCE_CUSTOM_HEADERS": "custom_headers"}),
            (("toolkits", kit_name), {**self.TOOLKIT, **self.LISTS}), (("index",), self.INDEX), (("llm",), self.LLM))
            for k, f in table.items() if k in env}
        level = env_log_level(env)
        if level:
            out["log_level"] = level
        return out


# Every environment variable configuration reads; SITE_VARIABLES are those outside the CONFLUENCE_MCP_* family
# (they name a site and how to log in to it).
ENV_VARIABLES = frozenset([*_ShortcutEnvSource.CREDENTIAL, *_ShortcutEnvSource.TOOLKIT, *_ShortcutEnvSource.LISTS,
                           *_ShortcutEnvSource.INDEX, *_ShortcutEnvSource.LLM, "CONFLUENCE_CUSTOM_HEADERS",
                           LOG_LEVEL_ENV, CONFIG_ENV])
SITE_VARIABLES = frozenset(key for key in ENV_VARIABLES if not key.startswith("CONFLUENCE_MCP_"))


class Settings(BaseSettings):
    """Everything confluence-mcp reads at start. Build it with `load_settings`."""

    model_config = SettingsConfigDict(extra="forbid")

    credentials: dict[str, CredentialSettings] = Field(default_factory=dict)
    toolkits: dict[str, ToolkitSettings] = Field(default_factory=dict)
    index: IndexSettings = Field(default_factory=IndexSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    log_level: str = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _known_level(cls, value: Any) -> str:
        level = str(value).strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
        return level

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings]
        sources.append(_ShortcutEnvSource(settings_cls, _LOAD_CONTEXT.get("environ", os.environ)))
        toml = _LOAD_CONTEXT.get("toml")
        if toml is not None:
            sources.append(InitSettingsSource(settings_cls, init_kwargs=toml))  # parsed once, by load_settings
        return tuple(sources)

    @property
    def configured(self) -> bool:
        """True when at least one credential names a site."""
        return any(c.base_url for c in self.credentials.values())

    def resolved_toolkits(self) -> list[Toolkit]:
        """Join toolkits with credentials; raise ConfigError listing every problem."""
        problems: list[str] = []
        toolkits = dict(self.toolkits)
        if not toolkits and self.credentials:
            toolkits = {name: ToolkitSettings(credential=name) for name in self.credentials}
        prefixed = len(toolkits) > 1
        out: list[Toolkit] = []
        for name, kit in toolkits.items():
            where = f"toolkits.{name}"
            cred = self.credentials.get(kit.credential)
            if cred is None:
                problems.append(f"{where}: credential '{kit.credential}' is not defined under [credentials]")
                continue
            problems += credential_problems(kit.credential, cred)
            problems += toolkit_problems(where, kit)
            hosting = kit.hosting or detect_hosting(cred.base_url or "")
            if cred.scoped_token and hosting != "cloud":
                problems.append(f"{where}: scoped_token works with Confluence Cloud only (hosting is {hosting})")
            spaces = kit.allowed_spaces if kit.allowed_spaces is not None else ([kit.space] if kit.space else [])
            out.append(Toolkit(name, kit, cred, hosting, tuple(s.upper() for s in spaces),
                               f"{name}_" if prefixed else ""))
        if self.index.embedder == "openai" and not self.index.model:
            problems.append("index.model: embedder 'openai' needs a model (e.g. text-embedding-3-small); "
                            "set [index] model in the config file")
        if problems:
            raise ConfigError(problems)
        return out


def env_log_level(environ: Mapping[str, str]) -> str | None:
    """CONFLUENCE_MCP_LOG_LEVEL upper-cased (None when unset); ConfigError naming the variable when invalid."""
    value = (environ.get(LOG_LEVEL_ENV) or "").strip()
    if not value:
        return None
    if value.upper() not in LOG_LEVELS:
        raise ConfigError(f"{LOG_LEVEL_ENV}: {value!r} is not one of {', '.join(LOG_LEVELS)}")
    return value.upper()


def detect_hosting(base_url: str) -> Hosting:
    """Cloud for `*.atlassian.net` or a `/wiki` base path; Server/Data Center otherwise."""
    lowered = base_url.lower().rstrip("/")
    return "cloud" if ".atlassian.net" in lowered or lowered.endswith("/wiki") else "server"


_LOAD_CONTEXT: dict[str, Any] = {}


def load_settings(
    config_path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read settings from overrides > environment > TOML file > defaults; ConfigError on any problem."""
    environ = os.environ if environ is None else environ
    path = config_path or environ.get(CONFIG_ENV) or None  # an empty variable (compose's ${X:-}) means unset
    if path is not None and not Path(path).expanduser().is_file():
        raise ConfigError(f"config file {path} does not exist")
    _LOAD_CONTEXT.clear()
    try:
        toml = tomllib.loads(Path(path).expanduser().read_text(encoding="utf-8")) if path else None
        _LOAD_CONTEXT.update(environ=environ, toml=toml)
        settings = Settings(**dict(overrides or {}))
    except ValidationError as exc:
        variables = _LOAD_CONTEXT.get("variables") or {}
        raise ConfigError([config_problems.describe_error(err, variables) for err in exc.errors()]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    finally:
        _LOAD_CONTEXT.clear()
    expand_env_refs(settings, environ)
    return settings

