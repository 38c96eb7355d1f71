"""MCP tools, one module per group (search, content, generic, manage, index); see `registry` and `context`."""
