# confluence-mcp over streamable HTTP. Build: docker build -t confluence-mcp .
# Run:   docker run -p 8000:8000 -e CONFLUENCE_URL=... -e CONFLUENCE_USERNAME=... -e CONFLUENCE_API_TOKEN=... confluence-mcp
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    CONFLUENCE_MCP_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY confluence_mcp ./confluence_mcp
RUN pip install . \
    && useradd --create-home --uid 10001 mcp \
    && mkdir -p /data \
    && chown mcp:mcp /data

# Postgres (embedded, for the default index) refuses to run as root.
USER mcp
VOLUME ["/data"]
EXPOSE 8000

# 0.0.0.0 inside the container: the port is published by Docker; put a proxy with TLS in front in production.
ENTRYPOINT ["confluence-mcp"]
CMD ["serve", "--transport", "http", "--host", "0.0.0.0", "--port", "8000"]
