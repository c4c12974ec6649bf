// The host side of MCP Apps (spec 2026-01-26) for the browser test: renders a tool's ui://
// resource through a sandbox proxy on another origin, answers the view's ui/* requests, proxies
// its tools/call and resources/read to the MCP server (through window.hostRpc, a function the test
// exposes: the test holds the MCP client), and honours tool visibility. It records what the model
// would be told (ui/update-model-context, ui/message) apart from what only the view sees.
"use strict";

const HOST_STYLES = {
  light: {
    "--color-background-primary": "#fbfaf6",
    "--color-background-secondary": "#f1efe7",
    "--color-text-primary": "#1f1e1b",
    "--color-text-secondary": "#5f5c55",
    "--color-border-primary": "#d8d5cc",
    "--font-sans": "\"DejaVu Sans\", sans-serif",
  },
  dark: {
    "--color-background-primary": "#262624",
    "--color-background-secondary": "#30302d",
    "--color-text-primary": "#f2f0e8",
    "--color-text-secondary": "#b7b3a8",
    "--color-border-primary": "#4a4843",
    "--font-sans": "\"DejaVu Sans\", sans-serif",
  },
};

const kros = {
  log: { viewCalls: [], refused: [], modelContext: [], messages: [], notices: [], initialized: false },
  tools: new Map(),
  proxy: null,
  theme: "light",
};
window.kros = kros;

function send(message) {
  kros.proxy.contentWindow.postMessage(message, "*");
}

function reply(id, result) {
  send({ jsonrpc: "2.0", id, result });
}

function fail(id, code, message) {
  send({ jsonrpc: "2.0", id, error: { code, message } });
}

function notify(method, params) {
  send({ jsonrpc: "2.0", method, params });
}

function visibleToApp(name) {
  const tool = kros.tools.get(name);
  if (!tool) return false;
  const visibility = (tool._meta && tool._meta.ui && tool._meta.ui.visibility) || ["model", "app"];
  return visibility.includes("app");
}

async function forward(method, params) {
  return JSON.parse(await window.hostRpc(method, JSON.stringify(params)));
}

async function onRequest(message, options) {
  const { id, method, params } = message;
  if (method === "ui/initialize") {
    kros.log.appInfo = params.appInfo;
    kros.log.protocolVersion = params.protocolVersion;
    reply(id, {
      protocolVersion: "2026-01-26",
      hostInfo: { name: "kros-mcp test host", version: "1" },
      hostCapabilities: {
        serverTools: {},
        serverResources: {},
        logging: {},
        updateModelContext: { text: {} },
        message: { text: {} },
        sandbox: { csp: options.csp || {} },
      },
      hostContext: {
        toolInfo: { id: 1, tool: kros.tools.get(options.toolName) },
        theme: kros.theme,
        styles: { variables: HOST_STYLES[kros.theme] },
        displayMode: "inline",
        availableDisplayModes: ["inline"],
        containerDimensions: { maxHeight: 4000 },
        locale: "en-GB",
        timeZone: "UTC",
        platform: "web",
      },
    });
  } else if (method === "tools/call") {
    if (!visibleToApp(params.name)) {
      kros.log.refused.push(params.name);
      fail(id, -32602, `Tool ${params.name} is not available to this app`);
      return;
    }
    const result = await forward("tools/call", params);
    kros.log.viewCalls.push({ name: params.name, arguments: params.arguments, result });
    reply(id, result);
  } else if (method === "resources/read") {
    reply(id, await forward("resources/read", params));
  } else if (method === "ui/update-model-context") {
    kros.log.modelContext.push(params);
    reply(id, {});
  } else if (method === "ui/message") {
    kros.log.messages.push(params);
    reply(id, {});
  } else if (method === "ui/request-display-mode") {
    reply(id, { mode: "inline" });
  } else if (method === "ping") {
    reply(id, {});
  } else {
    fail(id, -32601, `Method not found: ${method}`);
  }
}

function onNotification(message, options) {
  const { method, params } = message;
  if (method === "ui/notifications/initialized") {
    kros.log.initialized = true;
    // The host must not speak to the view before this; then the tool's input and result.
    notify("ui/notifications/tool-input", { arguments: options.toolArgs });
    notify("ui/notifications/tool-result", options.toolResult);
  } else if (method === "ui/notifications/size-changed") {
    if (typeof params.height === "number") kros.proxy.style.height = `${Math.ceil(params.height) + 2}px`;
    kros.log.lastSize = params;
  } else {
    kros.log.notices.push(message);
  }
}

kros.start = function start(options) {
  for (const tool of options.tools) kros.tools.set(tool.name, tool);
  kros.theme = options.theme || "light";
  document.body.classList.toggle("dark", kros.theme === "dark");
  const proxy = document.createElement("iframe");
  proxy.id = "proxy";
  proxy.title = "kros-mcp app";
  proxy.setAttribute("sandbox", "allow-scripts allow-same-origin");
  proxy.src = options.sandboxUrl;
  kros.proxy = proxy;
  window.addEventListener("message", (event) => {
    if (event.source !== proxy.contentWindow) return;
    const message = event.data;
    if (!message || message.jsonrpc !== "2.0") return;
    if (message.method === "ui/notifications/sandbox-proxy-ready") {
      send({
        jsonrpc: "2.0",
        method: "ui/notifications/sandbox-resource-ready",
        params: { html: options.html, csp: options.csp || {} },
      });
    } else if (typeof message.method === "string" && message.id !== undefined) {
      onRequest(message, options).catch((error) => fail(message.id, -32603, String(error)));
    } else if (typeof message.method === "string") {
      onNotification(message, options);
    }
  });
  document.getElementById("frame").append(proxy);
};

kros.setTheme = function setTheme(theme) {
  kros.theme = theme;
  document.body.classList.toggle("dark", theme === "dark");
  notify("ui/notifications/host-context-changed", { theme, styles: { variables: HOST_STYLES[theme] } });
};

kros.setWidth = function setWidth(pixels) {
  document.getElementById("frame").style.maxWidth = `${pixels}px`;
};

kros.hostStyles = HOST_STYLES;
