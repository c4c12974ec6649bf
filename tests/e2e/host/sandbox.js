// The sandbox proxy of a web host (MCP Apps spec 2026-01-26, "Sandbox proxy"): served from an
// origin other than the host's, it loads the view's HTML into an inner iframe under the CSP built
// from the resource's declared domains, and relays every message between host and view except
// its own ui/notifications/sandbox-* messages.
"use strict";

const inner = document.createElement("iframe");
inner.title = "MCP App";

function cspFrom(declared) {
  const csp = declared || {};
  const list = (domains) => (Array.isArray(domains) ? domains.join(" ") : "");
  const resources = list(csp.resourceDomains);
  return [
    "default-src 'none'",
    `script-src 'self' 'unsafe-inline' ${resources}`,
    `style-src 'self' 'unsafe-inline' ${resources}`,
    `connect-src 'self' ${list(csp.connectDomains)}`,
    `img-src 'self' data: ${resources}`,
    `font-src 'self' ${resources}`,
    `media-src 'self' data: ${resources}`,
    `frame-src ${list(csp.frameDomains) || "'none'"}`,
    "object-src 'none'",
    `base-uri ${list(csp.baseUriDomains) || "'self'"}`,
  ]
    .map((d) => d.trim())
    .join("; ");
}

function load(params) {
  const meta = `<meta http-equiv="Content-Security-Policy" content="${cspFrom(params.csp)}">`;
  // No allow-same-origin: the view runs in an opaque origin, with no access to host or proxy.
  inner.setAttribute("sandbox", params.sandbox || "allow-scripts");
  inner.srcdoc = String(params.html).replace(/<head([^>]*)>/i, (m) => m + meta);
  document.body.append(inner);
}

window.addEventListener("message", (event) => {
  const message = event.data;
  if (event.source === window.parent) {
    if (message && message.method === "ui/notifications/sandbox-resource-ready") {
      load(message.params || {});
    } else if (!(message && typeof message.method === "string" && message.method.startsWith("ui/notifications/sandbox-"))) {
      if (inner.contentWindow) inner.contentWindow.postMessage(message, "*");
    }
  } else if (inner.contentWindow && event.source === inner.contentWindow) {
    window.parent.postMessage(message, "*");
  }
});

window.parent.postMessage({ jsonrpc: "2.0", method: "ui/notifications/sandbox-proxy-ready", params: {} }, "*");
