"""Configuration: sources, precedence, secrets and one clear line per problem."""

from pathlib import Path

import pytest

from confluence_mcp.config import detect_hosting, load_settings
from confluence_mcp.errors import ConfigError

CLOUD_ENV = {
    "CONFLUENCE_URL": "https://acme.atlassian.net/wiki",
    "CONFLUENCE_USERNAME": "me@acme.test",
    "CONFLUENCE_API_TOKEN": "tok",
    "CONFLUENCE_SPACE": "DOCS",
}


def test_env_shortcut_builds_a_single_toolkit() -> None:
    env = {**CLOUD_ENV, "CONFLUENCE_MCP_TOOLS": "site_search, read_page_by_id",
           "CONFLUENCE_MCP_READ_ONLY": "true", "CONFLUENCE_CUSTOM_HEADERS": '{"X-Team": "a"}'}
    [kit] = load_settings(environ=env).resolved_toolkits()
    assert kit.name == "default" and kit.prefix == ""
    assert kit.hosting == "cloud"
    assert kit.allowed_spaces == ("DOCS",)
    assert kit.settings.tools == ["site_search", "read_page_by_id"]
    assert kit.settings.read_only is True
    assert kit.credential.custom_headers == {"X-Team": "a"}
    assert kit.credential.secret() == "tok"


def test_precedence_cli_over_env_over_toml(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(
        '[credentials.default]\nbase_url = "https://wiki.acme.test"\ntoken = "pat"\n'
        '[toolkits.default]\nspace = "FROMTOML"\nlimit = 7\nmax_pages = 30\n'
    )
    env = {"CONFLUENCE_SPACE": "FROMENV"}
    settings = load_settings(toml, overrides={"toolkits": {"default": {"limit": 9}}}, environ=env)
    [kit] = settings.resolved_toolkits()
    assert kit.settings.space == "FROMENV"
    assert kit.settings.limit == 9
    assert kit.settings.max_pages == 30
    assert kit.hosting == "server"
    assert kit.credential.auth_kind == "bearer"


def test_env_shortcuts_set_a_config_files_only_toolkit(tmp_path: Path) -> None:
    named = tmp_path / "named.toml"
    named.write_text('[credentials.cloud]\nbase_url = "https://wiki.acme.test"\ntoken = "pat"\n'
                     '[toolkits.docs]\ncredential = "cloud"\nspace = "DOCS"\n')
    env = {"CONFLUENCE_MCP_READ_ONLY": "true", "CONFLUENCE_URL": "https://other.acme.test"}
    [kit] = load_settings(named, environ=env).resolved_toolkits()
    assert (kit.name, kit.settings.read_only, kit.settings.space) == ("docs", True, "DOCS")
    assert kit.credential.base_url == "https://other.acme.test"  # the environment beats the file
    implicit = tmp_path / "implicit.toml"  # a credential without toolkits serves one named after it
    implicit.write_text('[credentials.onprem]\nbase_url = "https://wiki.acme.test"\ntoken = "pat"\n')
    [kit] = load_settings(implicit, environ={"CONFLUENCE_SPACE": "OPS"}).resolved_toolkits()
    assert (kit.name, kit.settings.space, kit.credential.base_url) == ("onprem", "OPS", "https://wiki.acme.test")


def test_env_shortcuts_and_a_files_secrets(tmp_path: Path) -> None:
    commented = tmp_path / "commented.toml"  # a reference in a comment is no reference
    commented.write_text('[credentials.cloud]\nbase_url = "https://acme.atlassian.net/wiki"\nusername = "me@a.test"\n'
                         '# api_token = "${CONFLUENCE_API_TOKEN}"\n')
    [kit] = load_settings(commented, environ={"CONFLUENCE_API_TOKEN": "s3cret"}).resolved_toolkits()
    assert kit.credential.secret() == "s3cret"
    bearer = tmp_path / "bearer.toml"  # a Basic login from the environment replaces the file's Bearer token
    bearer.write_text(f'[credentials.onprem]\nbase_url = "https://wiki.acme.test"\ntoken_file = "{tmp_path}/pat"\n')
    [kit] = load_settings(bearer, environ={"CONFLUENCE_USERNAME": "me", "CONFLUENCE_API_TOKEN": "t"}
                          ).resolved_toolkits()
    assert (kit.credential.auth_kind, kit.credential.secret()) == ("basic", "t")
    named = tmp_path / "named.toml"  # the file's one toolkit names the credential the environment gives
    named.write_text('[toolkits.docs]\ncredential = "cloud"\nspace = "DOCS"\n')
    [kit] = load_settings(named, environ=CLOUD_ENV).resolved_toolkits()
    assert (kit.name, kit.settings.credential) == ("docs", "cloud")
    assert kit.credential.base_url == CLOUD_ENV["CONFLUENCE_URL"]


def test_a_token_from_the_environment_beats_the_files_token_file(tmp_path: Path) -> None:
    """A rotated token given in the environment (Claude Desktop's `env`) replaces the file's secret file of the
    same kind, as the precedence promises; the file's old token used to win silently."""
    (tmp_path / "old").write_text("old-secret\n")
    bearer = tmp_path / "bearer.toml"
    bearer.write_text(f'[credentials.onprem]\nbase_url = "https://wiki.acme.test"\ntoken_file = "{tmp_path}/old"\n')
    [kit] = load_settings(bearer, environ={"CONFLUENCE_TOKEN": "new-pat"}).resolved_toolkits()
    assert (kit.credential.auth_kind, kit.credential.secret()) == ("bearer", "new-pat")
    basic = tmp_path / "basic.toml"
    basic.write_text('[credentials.cloud]\nbase_url = "https://acme.atlassian.net/wiki"\nusername = "me@a.test"\n'
                     f'api_token_file = "{tmp_path}/old"\n')
    [kit] = load_settings(basic, environ={"CONFLUENCE_API_TOKEN": "new-api"}).resolved_toolkits()
    assert (kit.credential.auth_kind, kit.credential.secret()) == ("basic", "new-api")


def test_env_shortcuts_refuse_to_pick_among_a_files_toolkits(tmp_path: Path) -> None:
    toml = tmp_path / "two.toml"
    toml.write_text('[credentials.cloud]\nbase_url = "https://wiki.acme.test"\ntoken = "pat"\n'
                    '[toolkits.docs]\ncredential = "cloud"\n[toolkits.hr]\ncredential = "cloud"\n')
    with pytest.raises(ConfigError, match=r"CONFLUENCE_MCP_READ_ONLY: the config file names several toolkits "
                                          r"\(docs, hr\); set these under \[toolkits.NAME\]"):
        load_settings(toml, environ={"CONFLUENCE_MCP_READ_ONLY": "true"})
    assert len(load_settings(toml, environ={"CONFLUENCE_URL": "https://x.test"}).resolved_toolkits()) == 2


def test_secrets_from_env_reference_and_file(tmp_path: Path) -> None:
    secret = tmp_path / "token.txt"
    secret.write_text("from-file\n")
    toml = tmp_path / "c.toml"
    toml.write_text(
        '[credentials.a]\nbase_url = "https://a.atlassian.net"\nusername = "u"\napi_token = "${A_TOKEN}"\n'
        f'[credentials.b]\nbase_url = "https://b.example"\ntoken_file = "{secret}"\n'
        '[toolkits.one]\ncredential = "a"\nspace = "ONE"\n'
        '[toolkits.two]\ncredential = "b"\nspace = "TWO"\nallowed_spaces = ["TWO", "THREE"]\n'
    )
    settings = load_settings(toml, environ={"A_TOKEN": "from-env"})
    one, two = settings.resolved_toolkits()
    assert one.credential.secret() == "from-env"
    assert two.credential.secret() == "from-file"
    assert (one.prefix, two.prefix) == ("one_", "two_")
    assert two.allowed_spaces == ("TWO", "THREE")
    assert "from-env" not in repr(settings) and "from-file" not in repr(settings)


def test_a_missing_secret_is_a_problem_not_anonymous_access(tmp_path: Path) -> None:
    empty, latin = tmp_path / "empty", tmp_path / "latin"
    empty.write_text("\n")
    latin.write_bytes(b"\xff\xfe")
    toml = tmp_path / "c.toml"
    toml.write_text(
        '[credentials.a]\nbase_url = "https://a.atlassian.net/wiki"\nusername = "u"\napi_token = "${A_TOKEN}"\n'
        f'[credentials.b]\nbase_url = "https://b.example"\ntoken_file = "{empty}"\n'
        f'[credentials.c]\nbase_url = "https://c.example"\nusername = "u"\napi_token_file = "{latin}"\n'
        '[credentials.d]\nbase_url = "https://d.example"\nusername = "u"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_settings(toml, environ={"A_TOKEN": ""})
    assert sorted(info.value.problems) == [
        "credentials.a.api_token: environment variable A_TOKEN is not set (or empty)",
        f"credentials.b.token_file: secret file {empty} is empty",
        f"credentials.c.api_token_file: secret file {latin} is not UTF-8 text",
        "credentials.d: username is set but api_token is missing (set api_token, api_token_file or "
        "CONFLUENCE_API_TOKEN); without it every request would be anonymous",
    ]
    with pytest.raises(ConfigError, match="username is set but api_token is missing"):
        load_settings(environ={"CONFLUENCE_URL": "https://x.atlassian.net", "CONFLUENCE_USERNAME": "u"}
                      ).resolved_toolkits()


def test_anonymous_access_needs_no_credential_at_all() -> None:
    [kit] = load_settings(environ={"CONFLUENCE_URL": "https://wiki.example"}).resolved_toolkits()
    assert kit.credential.secret() is None


def test_every_problem_is_reported_on_its_own_line() -> None:
    env = {"CONFLUENCE_USERNAME": "u", "CONFLUENCE_API_TOKEN": "a", "CONFLUENCE_TOKEN": "b",
           "CONFLUENCE_SPACE": "Engineering Docs"}
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env).resolved_toolkits()
    problems = info.value.problems
    assert any("base_url is missing" in p for p in problems)
    assert any("not both" in p for p in problems)
    assert any("looks like a space name" in p for p in problems)


def test_unknown_keys_and_bad_values_fail_clearly(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('[toolkits.default]\nlimit = 0\nspcae = "X"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(toml, environ={})
    text = str(info.value)
    assert "toolkits.default.limit" in text and "toolkits.default.spcae" in text


def test_missing_config_file() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings("/nonexistent/c.toml", environ={})


@pytest.mark.parametrize(("content", "expected"), [
    (b"[credentials.default\nbase_url = 'x'\n", "is not valid TOML: Expected ']'"),
    (b"[credentials.default]\nbase_url = 'http://x\xff'\n", "is not UTF-8 text"),
])
def test_unreadable_config_file_is_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    toml = tmp_path / "c.toml"
    toml.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_settings(toml, environ={})
    [line] = info.value.problems
    assert line.startswith(f"config file {toml} ") and expected in line


def test_log_level_is_validated(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('log_level = "loud"\n')
    with pytest.raises(ConfigError, match="log_level: 'loud' is not one of DEBUG, INFO, WARNING, ERROR"):
        load_settings(toml, environ={})
    with pytest.raises(ConfigError, match="CONFLUENCE_MCP_LOG_LEVEL: 'verbose' is not one of"):
        load_settings(toml, environ={"CONFLUENCE_MCP_LOG_LEVEL": "verbose"})
    toml.write_text('log_level = "debug"\n')
    assert load_settings(toml, environ={}).log_level == "DEBUG"
    assert load_settings(toml, environ={"CONFLUENCE_MCP_LOG_LEVEL": "error"}).log_level == "ERROR"


def test_empty_config_variable_means_no_file() -> None:
    assert not load_settings(environ={"CONFLUENCE_MCP_CONFIG": ""}).configured


def test_hosting_detection() -> None:
    assert detect_hosting("https://x.atlassian.net") == "cloud"
    assert detect_hosting("http://127.0.0.1:8090/wiki") == "cloud"
    assert detect_hosting("https://confluence.corp/confluence") == "server"


def test_openai_embedder_without_a_model_fails_at_start() -> None:
    settings = load_settings(environ={**CLOUD_ENV, "CONFLUENCE_MCP_EMBEDDER": "openai"})
    with pytest.raises(ConfigError) as info:
        settings.resolved_toolkits()
    assert info.value.problems == ["index.model: embedder 'openai' needs a model (e.g. text-embedding-3-small); "
                                   "set [index] model in the config file"]


def test_a_bad_allowed_space_names_the_key_to_fix() -> None:
    env = {**CLOUD_ENV, "CONFLUENCE_MCP_ALLOWED_SPACES": "DOCS,*"}
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env).resolved_toolkits()
    assert info.value.problems == ["toolkits.default.allowed_spaces: '*' is not a space key (a short code like DOCS); "
                                   "an empty list allows every space"]


def test_timeouts_must_be_positive(tmp_path: Path) -> None:
    """A zero or negative timeout made every request fail as "the site is slow or unreachable"."""
    toml = tmp_path / "c.toml"
    toml.write_text('[credentials.a]\nbase_url = "https://wiki.acme.test"\ntoken = "pat"\ntimeout_seconds = 0\n'
                    'connect_timeout_seconds = -1\n[llm]\ntimeout_seconds = 0\n')
    with pytest.raises(ConfigError) as info:
        load_settings(toml, environ={})
    assert info.value.problems == ["credentials.a.timeout_seconds: Input should be greater than 0",
                                   "credentials.a.connect_timeout_seconds: Input should be greater than 0",
                                   "llm.timeout_seconds: Input should be greater than 0"]


def test_a_bad_environment_value_names_its_variable() -> None:
    """Claude Desktop users set variables, not TOML keys: a bad value names the variable it came from."""
    env = {**CLOUD_ENV, "CONFLUENCE_HOSTING": "dc", "CONFLUENCE_MCP_LIMIT": "0", "CONFLUENCE_VERIFY_SSL": "perhaps",
           "CONFLUENCE_CUSTOM_HEADERS": '{"X-A": 1}', "CONFLUENCE_MCP_EMBEDDER": "foo"}
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    assert sorted(info.value.problems) == [
        "CONFLUENCE_CUSTOM_HEADERS (credentials.default.custom_headers.X-A): Input should be a valid string",
        "CONFLUENCE_HOSTING (toolkits.default.hosting): Input should be 'cloud' or 'server'",
        "CONFLUENCE_MCP_EMBEDDER (index.embedder): Input should be 'local', 'sentence-transformers' or 'openai'",
        "CONFLUENCE_MCP_LIMIT (toolkits.default.limit): Input should be greater than or equal to 1",
        "CONFLUENCE_VERIFY_SSL (credentials.default.verify_ssl): Input should be a valid boolean, unable to "
        "interpret input",
    ]
