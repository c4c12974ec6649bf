// The same test host, with the host side played by the official AppBridge of
// @modelcontextprotocol/ext-apps instead of host.js (a bundle of it is loaded first as
// window.ExtApps; see scripts/build_ext_apps_bridge.sh). It checks that the view speaks the
// protocol as the reference implementation expects. window.kros keeps host.js's shape.
"use strict";

const { AppBridge, PostMessageTransport } = window.ExtApps;

const OFFICIAL_STYLES = {
  light: {
    "--color-background-primary": "#fbfaf6",
    "--color-background-secondary": "#f1efe7",
    "--color-text-primary": "#1f1e1b",
    "--color-text-secondary": "#5f5c55",
    "--color-border-primary": "#d8d5cc",
  },
  dark: {
    "--color-background-primary": "#262624",
    "--color-background-secondary": "#30302d",
    "--color-text-primary": "#f2f0e8",
    "--color-text-secondary": "#b7b3a8",
    "--color-border-primary": "#4a4843",
  },
};

const kros = {
  log: { viewCalls: [], refused: [], modelContext: [], messages: [], notices: [], initialized: false },
  tools: new Map(),
  proxy: null,
  bridge: null,
  theme: "light",
  hostStyles: OFFICIAL_STYLES,
};
window.kros = kros;

async function forward(method, params) {
  return JSON.parse(await window.hostRpc(method, JSON.stringify(params)));
}

function visibleToApp(name) {
  const tool = kros.tools.get(name);
  if (!tool) return false;
  const visibility = (tool._meta && tool._meta.ui && tool._meta.ui.visibility) || ["model", "app"];
  return visibility.includes("app");
}

function context(options) {
  return {
    toolInfo: { id: 1, tool: kros.tools.get(options.toolName) },
    theme: kros.theme,
    styles: { variables: OFFICIAL_STYLES[kros.theme] },
    displayMode: "inline",
    availableDisplayModes: ["inline"],
    containerDimensions: { maxHeight: 4000 },
    locale: "en-GB",
    timeZone: "UTC",
    platform: "web",
  };
}

kros.start = async function start(options) {
  for (const tool of options.tools) kros.tools.set(tool.name, tool);
  kros.theme = options.theme || "light";
  kros.options = options;
  const proxy = document.createElement("iframe");
  proxy.id = "proxy";
  proxy.title = "kros-mcp app";
  proxy.setAttribute("sandbox", "allow-scripts allow-same-origin");
  kros.proxy = proxy;
  document.getElementById("frame").append(proxy);
  const bridge = new AppBridge(
    null,
    { name: "kros-mcp test host (ext-apps AppBridge)", version: "1" },
    {
      serverTools: {},
      serverResources: {},
      logging: {},
      updateModelContext: { text: {} },
      message: { text: {} },
      sandbox: { csp: options.csp || {} },
    },
    { hostContext: context(options) },
  );
  bridge.oncalltool = async (params) => {
    if (!visibleToApp(params.name)) {
      kros.log.refused.push(params.name);
      throw new Error(`Tool ${params.name} is not available to this app`);
    }
    const result = await forward("tools/call", params);
    kros.log.viewCalls.push({ name: params.name, arguments: params.arguments, result });
    return result;
  };
  bridge.onreadresource = async (params) => forward("resources/read", params);
  bridge.onupdatemodelcontext = async (params) => {
    kros.log.modelContext.push(params);
    return {};
  };
  bridge.onmessage = async (params) => {
    kros.log.messages.push(params);
    return {};
  };
  bridge.onsizechange = (params) => {
    if (typeof params.height === "number") proxy.style.height = `${Math.ceil(params.height) + 2}px`;
    kros.log.lastSize = params;
  };
  bridge.oninitialized = () => {
    kros.log.initialized = true;
    kros.log.appInfo = bridge.getAppVersion();
    bridge.sendToolInput({ arguments: options.toolArgs });
    bridge.sendToolResult(options.toolResult);
  };
  bridge.onsandboxready = () => {
    bridge.sendSandboxResourceReady({ html: options.html, csp: options.csp || {} });
  };
  kros.bridge = bridge;
  // Listening before the proxy loads: it announces itself as soon as it runs.
  await bridge.connect(new PostMessageTransport(proxy.contentWindow, proxy.contentWindow));
  proxy.src = options.sandboxUrl;
};

kros.setTheme = function setTheme(theme) {
  kros.theme = theme;
  document.body.classList.toggle("dark", theme === "dark");
  kros.bridge.setHostContext(context(kros.options));
};

kros.setWidth = function setWidth(pixels) {
  document.getElementById("frame").style.maxWidth = `${pixels}px`;
};
