from _mcp_fixtures import anyio_backend, flavor_sandbox  # noqa: F401  (fixtures)
