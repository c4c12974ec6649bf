#!/usr/bin/env bash
# Build the official MCP Apps host bridge (@modelcontextprotocol/ext-apps' AppBridge, with its
# dependencies) into one browser script, for the browser test's reference run:
#
#   scripts/build_ext_apps_bridge.sh /tmp/ext-apps-bridge.js
#   KROS_MCP_TEST_EXT_APPS_BRIDGE=/tmp/ext-apps-bridge.js .venv/bin/python -m pytest tests/e2e
#
# Needs node and npm (and the npm registry); nothing is installed outside a temporary directory.
set -euo pipefail
out="$(realpath -m "${1:?usage: $0 OUTPUT.js}")"
version="${EXT_APPS_VERSION:-2.0.4}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --silent --no-audit --no-fund "@modelcontextprotocol/ext-apps@${version}" \
  "@modelcontextprotocol/client@^2" "@modelcontextprotocol/core@^2" "@modelcontextprotocol/server@^2" \
  "zod@^4.2" esbuild >/dev/null
cat > entry.js <<'JS'
import { AppBridge, PostMessageTransport } from "@modelcontextprotocol/ext-apps/app-bridge";
window.ExtApps = { AppBridge, PostMessageTransport };
JS
node_modules/.bin/esbuild entry.js --bundle --format=iife --platform=browser --minify --outfile="$out"
echo "AppBridge of @modelcontextprotocol/ext-apps ${version} bundled into $out"
