// The view side of the MCP Apps protocol (io.modelcontextprotocol/ui, spec 2026-01-26):
// JSON-RPC 2.0 over postMessage with the host, which proxies tools/call and resources/read to
// the server. A small implementation of what @modelcontextprotocol/ext-apps' App class speaks:
// ui/initialize then ui/notifications/initialized, tool input and result notifications, host
// context changes (theme, styles), size-changed reports, ping and resource-teardown answers.
"use strict";

const Bridge = (() => {
  const PROTOCOL_VERSION = "2026-01-26";
  const TIMEOUT_MS = 120000;
  const pending = new Map();
  const listeners = new Map();
  let nextId = 1;
  let host = { capabilities: {}, context: {}, info: null };

  function post(message) {
    window.parent.postMessage(message, "*");
  }

  function on(method, handler) {
    listeners.set(method, handler);
  }

  function notify(method, params) {
    post({ jsonrpc: "2.0", method, params: params || {} });
  }

  function request(method, params) {
    const id = nextId++;
    post({ jsonrpc: "2.0", id, method, params: params || {} });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${method}: the host did not answer`));
      }, TIMEOUT_MS);
      pending.set(id, { resolve, reject, timer });
    });
  }

  function answer(id, result) {
    post({ jsonrpc: "2.0", id, result });
  }

  function onHostRequest(message) {
    if (message.method === "ping") {
      answer(message.id, {});
    } else if (message.method === "ui/resource-teardown") {
      const handler = listeners.get(message.method);
      if (handler) handler(message.params || {});
      answer(message.id, {});
    } else {
      post({
        jsonrpc: "2.0",
        id: message.id,
        error: { code: -32601, message: `Method not found: ${message.method}` },
      });
    }
  }

  function onResponse(message) {
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    clearTimeout(waiting.timer);
    if (message.error) {
      const error = new Error(String(message.error.message || "the host refused the request"));
      error.code = message.error.code;
      waiting.reject(error);
    } else {
      waiting.resolve(message.result || {});
    }
  }

  window.addEventListener("message", (event) => {
    // Only the host (our parent) speaks to the view; anything else is ignored.
    if (event.source !== window.parent) return;
    const message = event.data;
    if (!message || typeof message !== "object" || message.jsonrpc !== "2.0") return;
    const hasId = message.id !== undefined && message.id !== null;
    if (typeof message.method === "string" && hasId) {
      onHostRequest(message);
    } else if (typeof message.method === "string") {
      if (message.method === "ui/notifications/host-context-changed") {
        host.context = Object.assign({}, host.context, message.params || {});
      }
      const handler = listeners.get(message.method);
      if (handler) handler(message.params || {});
    } else if (hasId) {
      onResponse(message);
    }
  });

  function reportSize() {
    let scheduled = false;
    let last = { width: 0, height: 0 };
    const measure = () => {
      scheduled = false;
      const root = document.documentElement;
      const before = root.style.height;
      root.style.height = "max-content";
      const height = Math.ceil(root.getBoundingClientRect().height);
      root.style.height = before;
      const width = Math.ceil(window.innerWidth);
      if (width !== last.width || height !== last.height) {
        last = { width, height };
        notify("ui/notifications/size-changed", { width, height });
      }
    };
    const schedule = () => {
      if (!scheduled) {
        scheduled = true;
        requestAnimationFrame(measure);
      }
    };
    const observer = new ResizeObserver(schedule);
    observer.observe(document.documentElement);
    observer.observe(document.body);
    schedule();
  }

  async function connect(appInfo) {
    const result = await request("ui/initialize", {
      appInfo,
      appCapabilities: { availableDisplayModes: ["inline"] },
      protocolVersion: PROTOCOL_VERSION,
    });
    host = {
      capabilities: result.hostCapabilities || {},
      context: result.hostContext || {},
      info: result.hostInfo || null,
    };
    notify("ui/notifications/initialized", {});
    reportSize();
    return host;
  }

  async function callTool(name, args) {
    return request("tools/call", { name, arguments: args || {} });
  }

  async function updateModelContext(text) {
    if (!host.capabilities.updateModelContext) return false;
    await request("ui/update-model-context", { content: [{ type: "text", text }] });
    return true;
  }

  return {
    on,
    connect,
    callTool,
    updateModelContext,
    get host() {
      return host;
    },
  };
})();
