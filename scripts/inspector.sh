#!/usr/bin/env bash
# The official MCP Inspector (its CLI), an MCP client nobody here wrote, for tests/test_mcp.py.
# Installed once from the npm registry into the cache; needs Node.js 18+ (Debian's nodejs).
set -euo pipefail
VERSION=0.15.0
DIR="${XDG_CACHE_HOME:-$HOME/.cache}/seedqa/inspector-$VERSION"
if [ -x "$DIR/node_modules/.bin/mcp-inspector-cli" ]; then exit 0; fi
if ! command -v npm >/dev/null; then
  echo "==> installing Node.js from Debian packages (for the MCP Inspector)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
echo "==> installing the MCP Inspector $VERSION into $DIR"
mkdir -p "$DIR"
npm install --prefix "$DIR" --no-audit --no-fund --silent "@modelcontextprotocol/inspector@$VERSION"
