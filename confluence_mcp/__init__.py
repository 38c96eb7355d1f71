"""confluence-mcp: an MCP server for Confluence Cloud and Server/Data Center."""

__version__ = "0.1.0"
