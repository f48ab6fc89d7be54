"""The documents served where people already chat: an OpenAI-compatible HTTP API and an MCP server.

Both talk only to `qa`. `api.app.create_app(settings)` is the HTTP API (mounted at /v1 by
`api.server` for `qa serve`, and by the `qa` command into the web chat's server for `qa ui`);
`api.mcp_server` is `qa mcp`. The response shapes are in `api.shapes` and docs/api.md.
"""
