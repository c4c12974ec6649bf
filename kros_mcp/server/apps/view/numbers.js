// The view: a picker over the numbers for sale and a list of the organisation's numbers, with
// routing and release. Every action goes through the host (Bridge.callTool). Buy and Release act
// only on the quote this view shows: the proof of the click arrives in the quote's result _meta
// and goes straight back with the click; it is never shown, stored or sent anywhere else.
"use strict";

const PROOF_KEY = "kros-mcp/proof";
const OTHER = "__other";
const PAGE_SIZE = 6;
const $ = (id) => document.getElementById(id);

const state = {
  context: null,
  currency: "USD",
  locale: undefined,
  filters: { country: "NG" },
  offers: { offset: 0, history: [], next: null },
  owned: { offset: 0, next: null, total: null, items: [] },
  endpoints: new Map(),
  quote: null,
  quoteSeq: 0,
  typing: null,
  selected: null,
  routingFor: null,
  releaseFor: null,
  busy: false,
};

// -- small helpers ---------------------------------------------------------------------------

function money(cents) {
  if (typeof cents !== "number") return "—";
  const amount = (cents / 100).toLocaleString(state.locale, {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });
  return `${amount} ${state.currency}`;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("aria-") || key === "type" || key === "role") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function say(text, kind) {
  const status = $("status");
  status.textContent = text || "";
  status.className = kind === "ok" ? "status ok" : "status";
  if (kind !== "keep") showAlert("");
}

function showAlert(text) {
  const alert = $("alert");
  alert.textContent = text || "";
  alert.hidden = !text;
}

function errorText(result) {
  const blocks = (result && result.content) || [];
  const text = blocks.map((b) => (b && b.type === "text" ? b.text : "")).join(" ").trim();
  return text || "The server refused the request.";
}

async function call(name, args) {
  let result;
  try {
    result = await Bridge.callTool(name, args);
  } catch (error) {
    return { ok: false, error: error.message || String(error) };
  }
  if (result.isError) return { ok: false, error: errorText(result) };
  return { ok: true, data: result.structuredContent || {}, meta: result._meta || {} };
}

function centsFrom(text) {
  const value = String(text || "").trim().replace(",", ".");
  if (!value) return null;
  const number = Number(value);
  return Number.isFinite(number) && number >= 0 ? Math.round(number * 100) : NaN;
}

function focusPanel(panel) {
  panel.hidden = false;
  panel.focus();
}

// -- host context: theme, styles, locale -------------------------------------------------------

function applyHostContext(context) {
  if (!context) return;
  const root = document.documentElement;
  if (context.theme === "dark" || context.theme === "light") {
    root.dataset.theme = context.theme;
    root.style.colorScheme = context.theme;
  }
  const variables = context.styles && context.styles.variables;
  if (variables && typeof variables === "object") {
    for (const [name, value] of Object.entries(variables)) {
      if (/^--[a-z0-9-]+$/.test(name) && typeof value === "string" && value.length < 300) {
        root.style.setProperty(name, value);
      }
    }
  }
  if (typeof context.locale === "string") {
    state.locale = context.locale;
    root.lang = context.locale;
  }
}

// -- tabs ------------------------------------------------------------------------------------

function selectTab(which) {
  for (const name of ["buy", "owned"]) {
    const tab = $(`tab-${name}`);
    const on = name === which;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`panel-${name}`).hidden = !on;
  }
  if (which === "owned" && !state.owned.loaded) loadOwned(0);
}

function wireTabs() {
  const tabs = [$("tab-buy"), $("tab-owned")];
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => selectTab(index === 0 ? "buy" : "owned"));
    tab.addEventListener("keydown", (event) => {
      if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
      event.preventDefault();
      const next = event.key === "Home" ? 0 : event.key === "End" ? 1 : (index + 1) % 2;
      tabs[next].focus();
      selectTab(next === 0 ? "buy" : "owned");
    });
  });
}

// -- endpoints -------------------------------------------------------------------------------

async function loadEndpoints() {
  // Servers that offer list_endpoints give every endpoint; otherwise the picker knows the ones
  // the organisation's numbers use, and any other id can be typed.
  const listed = await call("list_endpoints", {});
  if (listed.ok && Array.isArray(listed.data.endpoints)) {
    for (const ep of listed.data.endpoints) {
      if (ep && typeof ep.id === "string") state.endpoints.set(ep.id, ep.name || ep.id);
    }
  }
}

function rememberEndpoint(id, name) {
  if (id && !state.endpoints.has(id)) state.endpoints.set(id, name || id);
}

function fillEndpointPicker(select, otherLabel, otherInput, current) {
  select.replaceChildren(el("option", { value: "", text: "Not routed yet" }));
  for (const [id, name] of state.endpoints) {
    select.append(el("option", { value: id, text: name === id ? id : `${name} (${id})` }));
  }
  select.append(el("option", { value: OTHER, text: "Other endpoint id…" }));
  if (current && !state.endpoints.has(current)) {
    select.value = OTHER;
    otherInput.value = current;
  } else {
    select.value = current || "";
    otherInput.value = "";
  }
  otherLabel.hidden = select.value !== OTHER;
}

// The endpoint chosen: an id, null for none, or undefined while "Other" waits for an id.
function pickedEndpoint(select, otherInput) {
  if (select.value !== OTHER) return select.value || null;
  return otherInput.value.trim() || undefined;
}

function endpointValid(id) {
  return id === null || (typeof id === "string" && /^[A-Za-z0-9_-]{1,100}$/.test(id));
}

const ENDPOINT_HINT = "Type an endpoint id: letters, digits, _ and -, such as ep_support_agent.";

// -- offers ----------------------------------------------------------------------------------

function readFilters() {
  const setup = centsFrom($("f-max-setup").value);
  const monthly = centsFrom($("f-max-monthly").value);
  const area = $("f-area").value.trim();
  if (Number.isNaN(setup) || Number.isNaN(monthly)) {
    showAlert("Enter price limits as amounts such as 5 or 12.50, or leave them empty.");
    return null;
  }
  if (area && !/^0?[0-9]{1,5}$/.test(area)) {
    showAlert("An area code is 1 to 5 digits, such as 803.");
    return null;
  }
  const filters = { country: $("f-country").value };
  if ($("f-type").value) filters.type = $("f-type").value;
  if (area) filters.area_code = area;
  if ($("f-capability").value) filters.capability = $("f-capability").value;
  if (setup !== null) filters.max_setup_cost_cents = setup;
  if (monthly !== null) filters.max_monthly_cost_cents = monthly;
  return filters;
}

function showFilters(filters) {
  const country = String(filters.country || "NG").toUpperCase();
  if (![...$("f-country").options].some((o) => o.value === country)) {
    $("f-country").append(el("option", { value: country, text: country }));
  }
  $("f-country").value = country;
  $("f-type").value = filters.type || "";
  $("f-area").value = filters.area_code || "";
  $("f-capability").value = filters.capability || "";
  $("f-max-setup").value =
    typeof filters.max_setup_cost_cents === "number" ? (filters.max_setup_cost_cents / 100).toFixed(2) : "";
  $("f-max-monthly").value =
    typeof filters.max_monthly_cost_cents === "number" ? (filters.max_monthly_cost_cents / 100).toFixed(2) : "";
}

async function loadOffers(offset, { fromHistory = false, quiet = false } = {}) {
  const args = Object.assign({}, state.filters, { offset, limit: PAGE_SIZE });
  if (!quiet) say("Looking for numbers…", "keep");
  const result = await call("app_offers", args);
  if (!result.ok) {
    if (!quiet) say("");
    showAlert(result.error);
    return;
  }
  if (!fromHistory && offset !== state.offers.offset) state.offers.history.push(state.offers.offset);
  state.offers.offset = offset;
  state.offers.next = result.data.next_offset ?? null;
  renderOffers(result.data.offers || [], result.data);
  if (!quiet) say(result.data.offers && result.data.offers.length ? "" : "No numbers match these filters.");
}

function offerRow(offer) {
  const tags = [offer.type, offer.area_code ? `area ${offer.area_code}` : null, ...(offer.capabilities || [])]
    .filter(Boolean)
    .map((t) => el("span", { class: "tag", text: String(t).replace("_", " ") }));
  const choose = el("button", {
    type: "button",
    class: offer.buyable === false ? "" : "primary",
    text: "Choose",
    disabled: offer.buyable === false || !(state.context && state.context.actions.buy),
    "aria-label": `Choose ${offer.number}`,
  });
  choose.addEventListener("click", () => openQuote(offer, choose));
  const row = el(
    "li",
    { class: "row" + (offer.buyable === false ? " refused" : "") },
    el("div", { class: "what" }, el("div", { class: "num", text: offer.number }), el("div", { class: "meta" }, ...tags)),
    el(
      "div",
      { class: "money" },
      el("span", { text: `${money(offer.first_charge_cents)} now` }),
      el("small", { text: `setup ${money(offer.setup_cost_cents)} · ${money(offer.monthly_cost_cents)}/month` }),
    ),
    el("div", { class: "buttons" }, choose),
  );
  for (const refusal of offer.refusals || []) {
    row.append(el("p", { class: "why", text: refusal.label }));
  }
  row.dataset.inventoryId = offer.inventory_id;
  return row;
}

function renderOffers(offers, page) {
  $("offers").replaceChildren(...offers.map(offerRow));
  $("offers-prev").disabled = state.offers.history.length === 0;
  $("offers-next").disabled = state.offers.next === null;
  const total = page && typeof page.total === "number" ? page.total : null;
  let range = offers.length ? `${offers.length} shown` : "";
  if (total !== null) range += `${range ? " · " : ""}${total} for sale in ${state.filters.country}`;
  if (page && page.filtered) range += " · filtered";
  $("offers-range").textContent = range;
}

// -- quote and buy ---------------------------------------------------------------------------

function quoteInputs() {
  return {
    inventory_id: state.selected.inventory_id,
    endpoint_id: pickedEndpoint($("q-endpoint"), $("q-endpoint-other")),
    allow_inbound: $("q-inbound").checked,
    allow_outbound: $("q-outbound").checked,
  };
}

function openQuote(offer, opener) {
  state.selected = offer;
  state.selectedOpener = opener;
  state.quote = null;
  document.querySelectorAll("#offers .row").forEach((row) => {
    row.classList.toggle("selected", row.dataset.inventoryId === offer.inventory_id);
  });
  $("q-number").textContent = offer.number;
  $("q-kind").textContent = [offer.country, offer.type, ...(offer.capabilities || [])].filter(Boolean).join(" · ");
  fillEndpointPicker($("q-endpoint"), $("q-endpoint-other-label"), $("q-endpoint-other"), null);
  $("q-inbound").checked = true;
  $("q-outbound").checked = true;
  renderQuote(null);
  focusPanel($("quote"));
  requestQuote();
}

function closeQuote() {
  $("quote").hidden = true;
  state.quote = null;
  state.quoteSeq++;
  document.querySelectorAll("#offers .row.selected").forEach((row) => row.classList.remove("selected"));
  if (state.selectedOpener && document.contains(state.selectedOpener)) state.selectedOpener.focus();
}

async function requestQuote() {
  clearTimeout(state.typing);
  const inputs = quoteInputs();
  const seq = ++state.quoteSeq;
  state.quote = null;
  renderQuote(null);
  if (!endpointValid(inputs.endpoint_id)) {
    $("q-expiry").textContent = ENDPOINT_HINT;
    return;
  }
  $("q-expiry").textContent = "Getting the current price…";
  const result = await call("app_quote_purchase", inputs);
  if (seq !== state.quoteSeq) return; // the person changed something meanwhile
  if (!result.ok) {
    $("q-expiry").textContent = "";
    showAlert(result.error);
    return;
  }
  state.quote = Object.assign({}, result.data, { proof: result.meta[PROOF_KEY] || null });
  renderQuote(state.quote);
}

function renderQuote(quote) {
  const fields = ["q-setup", "q-first-month", "q-now", "q-monthly"];
  if (!quote) {
    fields.forEach((id) => ($(id).textContent = "…"));
    $("q-buy").disabled = true;
    $("q-buy").textContent = "Buy";
    $("q-refusals").replaceChildren();
    $("q-changed").hidden = true;
    return;
  }
  $("q-setup").textContent = money(quote.setup_cost_cents);
  $("q-first-month").textContent = money(quote.monthly_cost_cents);
  $("q-now").textContent = money(quote.first_charge_cents);
  $("q-monthly").textContent = money(quote.monthly_cost_cents);
  $("q-refusals").replaceChildren(...(quote.refusals || []).map((r) => el("li", { text: r.label })));
  const moved = typeof quote.previous_setup_cost_cents === "number";
  $("q-changed").hidden = !moved;
  if (moved) {
    const before = quote.previous_setup_cost_cents + quote.previous_monthly_cost_cents;
    $("q-changed").textContent =
      `The price changed since it was shown: it was ${money(before)} now and ` +
      `${money(quote.previous_monthly_cost_cents)} a month.`;
  }
  const canBuy = Boolean(quote.buyable && quote.proof);
  $("q-buy").disabled = !canBuy;
  $("q-buy").textContent = canBuy ? `Buy for ${money(quote.first_charge_cents)}` : "Cannot be bought";
  $("q-expiry").textContent = quote.expires_at
    ? `This price holds until ${new Date(quote.expires_at).toLocaleTimeString(state.locale)}; then ${money(quote.monthly_cost_cents)} every month until released.`
    : "";
}

async function buy() {
  const quote = state.quote;
  if (!quote || !quote.proof || state.busy) return;
  state.busy = true;
  $("q-buy").disabled = true;
  $("q-buy").textContent = "Buying…";
  say(`Buying ${quote.number}…`, "keep");
  const result = await call("app_buy", {
    inventory_id: quote.inventory_id,
    number: quote.number,
    setup_cost_cents: quote.setup_cost_cents,
    monthly_cost_cents: quote.monthly_cost_cents,
    endpoint_id: quote.endpoint_id ?? null,
    allow_inbound: quote.allow_inbound,
    allow_outbound: quote.allow_outbound,
    proof: quote.proof,
  });
  state.busy = false;
  quote.proof = null; // a proof acts once; a new one comes with the next quote
  if (!result.ok) {
    say("");
    showAlert(result.error);
    requestQuote();
    return;
  }
  if (result.data.status === "price_changed") {
    state.quote = Object.assign({}, result.data.quote, { proof: result.meta[PROOF_KEY] || null });
    renderQuote(state.quote);
    say("");
    showAlert(result.data.message);
    $("q-buy").focus();
    return;
  }
  const bought = result.data.number || {};
  closeQuote();
  say(result.data.message, "ok");
  tellModel(
    `In the kros-mcp app the person bought ${quote.number}` +
      (bought.id ? ` (${bought.id})` : "") +
      ` for ${money(quote.first_charge_cents)} now and ${money(quote.monthly_cost_cents)} a month.`,
  );
  state.owned.loaded = false;
  loadOffers(state.offers.offset, { fromHistory: true, quiet: true });
}

// -- owned numbers ---------------------------------------------------------------------------

async function loadOwned(offset) {
  const result = await call("list_numbers", { limit: 20, offset });
  if (!result.ok) {
    showAlert(result.error);
    return;
  }
  state.owned.loaded = true;
  renderOwned(result.data, offset);
}

function ownedRow(number) {
  const actions = (state.context && state.context.actions) || {};
  const buttons = [];
  if (actions.route) {
    const route = el("button", { type: "button", text: "Routing", "aria-label": `Routing of ${number.number}` });
    route.addEventListener("click", () => openRouting(number, route));
    buttons.push(route);
  }
  if (actions.release) {
    const release = el("button", { type: "button", text: "Release", "aria-label": `Release ${number.number}` });
    release.addEventListener("click", () => openRelease(number, release));
    buttons.push(release);
  }
  const status = el("span", { class: "tag" + (number.status === "active" ? " ok" : " warn"), text: number.status });
  const routed = number.endpoint_id ? `→ ${state.endpoints.get(number.endpoint_id) || number.endpoint_id}` : "not routed";
  const row = el(
    "li",
    { class: "row" },
    el("div", { class: "what" }, el("div", { class: "num", text: number.number }), el("div", { class: "meta" }, status, routed)),
    el("div", { class: "money" }, el("span", { text: typeof number.monthly_cost_cents === "number" ? `${money(number.monthly_cost_cents)}/month` : "" })),
    el("div", { class: "buttons" }, ...buttons),
  );
  row.dataset.numberId = number.id;
  return row;
}

function renderOwned(page, offset) {
  const numbers = page.numbers || [];
  numbers.forEach((n) => rememberEndpoint(n.endpoint_id));
  state.owned.offset = offset;
  state.owned.next = page.next_offset ?? null;
  $("owned").replaceChildren(...numbers.map(ownedRow));
  $("owned-prev").disabled = offset === 0;
  $("owned-next").disabled = state.owned.next === null;
  const total = typeof page.total === "number" ? page.total : null;
  $("owned-range").textContent = numbers.length
    ? `${offset + 1}–${offset + numbers.length}${total !== null ? ` of ${total}` : ""}`
    : "This organisation has no numbers yet.";
}

async function openRouting(number, opener) {
  $("release").hidden = true;
  state.routingFor = { number, opener };
  $("r-number").textContent = number.number;
  $("r-effects").replaceChildren();
  const detail = await call("get_number", { number_id: number.id });
  if (!detail.ok) {
    showAlert(detail.error);
    return;
  }
  const endpoint = detail.data.endpoint || null;
  if (endpoint) rememberEndpoint(endpoint.id, endpoint.name);
  fillEndpointPicker($("r-endpoint"), $("r-endpoint-other-label"), $("r-endpoint-other"), endpoint ? endpoint.id : null);
  $("r-inbound").checked = detail.data.allow_inbound !== false;
  $("r-outbound").checked = detail.data.allow_outbound !== false;
  focusPanel($("routing"));
}

async function saveRouting() {
  const target = state.routingFor;
  if (!target || state.busy) return;
  const endpoint = pickedEndpoint($("r-endpoint"), $("r-endpoint-other"));
  if (!endpointValid(endpoint)) {
    showAlert(ENDPOINT_HINT);
    return;
  }
  state.busy = true;
  $("r-save").disabled = true;
  const result = await call("update_routing", {
    number_id: target.number.id,
    endpoint_id: endpoint,
    allow_inbound: $("r-inbound").checked,
    allow_outbound: $("r-outbound").checked,
  });
  state.busy = false;
  $("r-save").disabled = false;
  if (!result.ok) {
    showAlert(result.error);
    return;
  }
  $("r-effects").replaceChildren(...(result.data.effects || []).map((e) => el("li", { text: e })));
  say(result.data.message, "ok");
  tellModel(`In the kros-mcp app the person changed the routing of ${target.number.number}: ${(result.data.effects || []).join(" ")}`);
  loadOwned(state.owned.offset);
}

function closeRouting() {
  $("routing").hidden = true;
  const target = state.routingFor;
  state.routingFor = null;
  if (target && document.contains(target.opener)) target.opener.focus();
}

async function openRelease(number, opener) {
  $("routing").hidden = true;
  state.releaseFor = { number, opener, proof: null };
  $("x-number").textContent = number.number;
  $("x-effects").replaceChildren();
  $("x-refusals").replaceChildren();
  $("x-release").disabled = true;
  $("x-expiry").textContent = "Checking what stops working…";
  focusPanel($("release"));
  const preview = await call("app_preview_release", { number_id: number.id });
  if (!state.releaseFor || state.releaseFor.number !== number) return;
  if (!preview.ok) {
    $("x-expiry").textContent = "";
    showAlert(preview.error);
    return;
  }
  state.releaseFor.preview = preview.data;
  state.releaseFor.proof = preview.meta[PROOF_KEY] || null;
  $("x-effects").replaceChildren(...(preview.data.effects || []).map((e) => el("li", { text: e })));
  $("x-refusals").replaceChildren(...(preview.data.refusals || []).map((r) => el("li", { text: r.label })));
  const can = Boolean(preview.data.releasable && state.releaseFor.proof);
  $("x-release").disabled = !can;
  $("x-expiry").textContent = preview.data.expires_at
    ? `This cannot be undone. The button works until ${new Date(preview.data.expires_at).toLocaleTimeString(state.locale)}.`
    : "";
}

async function release() {
  const target = state.releaseFor;
  if (!target || !target.proof || state.busy) return;
  state.busy = true;
  $("x-release").disabled = true;
  const proof = target.proof;
  target.proof = null;
  const result = await call("app_release", {
    number_id: target.preview.number_id,
    number: target.preview.number,
    proof,
  });
  state.busy = false;
  if (!result.ok) {
    showAlert(result.error);
    return;
  }
  $("release").hidden = true;
  state.releaseFor = null;
  say(result.data.message, "ok");
  tellModel(`In the kros-mcp app the person released ${target.preview.number} (${target.preview.number_id}).`);
  await loadOwned(state.owned.offset);
  $("tab-owned").focus();
}

function closeRelease() {
  $("release").hidden = true;
  const target = state.releaseFor;
  state.releaseFor = null;
  if (target && document.contains(target.opener)) target.opener.focus();
}

// -- what the model learns -------------------------------------------------------------------

function tellModel(text) {
  // Only what happened, in words; never a proof.
  Bridge.updateModelContext(text).catch(() => {});
}

// -- the tool call that opened the view ------------------------------------------------------

function onToolInput(params) {
  const tool = Bridge.host.context.toolInfo && Bridge.host.context.toolInfo.tool;
  const name = tool && tool.name;
  const args = params.arguments || {};
  if (name === "list_numbers") {
    state.owned.loaded = true; // its result follows and is shown as it is
    selectTab("owned");
    return;
  }
  if (name === "search_available" || args.country) {
    state.filters = { country: String(args.country || "NG").toUpperCase() };
    if (args.type) state.filters.type = args.type;
    if (args.area_code) state.filters.area_code = args.area_code;
    if (typeof args.max_monthly_cost_cents === "number") state.filters.max_monthly_cost_cents = args.max_monthly_cost_cents;
    showFilters(state.filters);
  }
}

function onToolResult(result) {
  const data = (result && result.structuredContent) || {};
  if (Array.isArray(data.numbers)) {
    selectTab("owned");
    state.owned.loaded = true;
    renderOwned(data, 0);
  } else if (Array.isArray(data.offers)) {
    // Shown at once; the verdicts (budget, limits) follow from app_offers.
    renderOffers(data.offers.map((o) => Object.assign({ country: state.filters.country }, o)), data);
    loadOffers(0, { fromHistory: true });
  }
}

// -- start -----------------------------------------------------------------------------------

function wire() {
  wireTabs();
  // Hosts sandbox the view without allow-forms, where a form never submits: Search and Enter
  // are handled here instead.
  const search = () => {
    const filters = readFilters();
    if (!filters) return;
    state.filters = filters;
    state.offers.history = [];
    if (!$("quote").hidden) closeQuote();
    loadOffers(0, { fromHistory: true });
  };
  $("search").addEventListener("submit", (event) => event.preventDefault());
  $("f-search").addEventListener("click", search);
  $("search").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.tagName !== "BUTTON") {
      event.preventDefault();
      search();
    }
  });
  $("offers-next").addEventListener("click", () => state.offers.next !== null && loadOffers(state.offers.next));
  $("offers-prev").addEventListener("click", () => {
    const previous = state.offers.history.pop();
    if (previous !== undefined) loadOffers(previous, { fromHistory: true });
  });
  $("owned-next").addEventListener("click", () => state.owned.next !== null && loadOwned(state.owned.next));
  $("owned-prev").addEventListener("click", () => loadOwned(Math.max(0, state.owned.offset - 20)));
  $("q-buy").addEventListener("click", buy);
  $("q-cancel").addEventListener("click", closeQuote);
  for (const id of ["q-inbound", "q-outbound"]) $(id).addEventListener("change", requestQuote);
  $("q-endpoint").addEventListener("change", () => {
    $("q-endpoint-other-label").hidden = $("q-endpoint").value !== OTHER;
    if ($("q-endpoint").value === OTHER) $("q-endpoint-other").focus();
    requestQuote();
  });
  $("q-endpoint-other").addEventListener("input", () => {
    clearTimeout(state.typing);
    state.quoteSeq++;
    renderQuote(null);
    state.typing = setTimeout(requestQuote, 300);
  });
  $("r-endpoint").addEventListener("change", () => {
    $("r-endpoint-other-label").hidden = $("r-endpoint").value !== OTHER;
    if ($("r-endpoint").value === OTHER) $("r-endpoint-other").focus();
  });
  $("r-save").addEventListener("click", saveRouting);
  $("r-cancel").addEventListener("click", closeRouting);
  $("x-release").addEventListener("click", release);
  $("x-cancel").addEventListener("click", closeRelease);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    if (!$("quote").hidden) closeQuote();
    else if (!$("routing").hidden) closeRouting();
    else if (!$("release").hidden) closeRelease();
  });
}

function showContext(context) {
  state.context = context;
  state.currency = context.currency || "USD";
  document.querySelectorAll(".cur").forEach((node) => (node.textContent = state.currency));
  const badge = $("backend");
  badge.hidden = false;
  badge.textContent = context.backend === "sandbox" ? "Sandbox: no real money" : "KrosAI";
  badge.className = context.backend === "sandbox" ? "badge sandbox" : "badge";
  if (typeof context.daily_budget_cents === "number") {
    const left = Math.max(context.daily_budget_cents - (context.spent_24h_cents || 0), 0);
    $("budget").hidden = false;
    $("budget").textContent = `Daily budget: ${money(left)} left of ${money(context.daily_budget_cents)} (last 24 hours).`;
  }
  if (!context.actions.buy) say("Buying is turned off on this server; numbers can still be browsed.");
}

async function start() {
  wire();
  // The tool's input and result may arrive before this view knows what it may do: they wait.
  let ready;
  const isReady = new Promise((resolve) => (ready = resolve));
  let opened = false;
  Bridge.on("ui/notifications/tool-input", (params) => {
    opened = true;
    isReady.then(() => onToolInput(params));
  });
  Bridge.on("ui/notifications/tool-result", (params) => {
    opened = true;
    isReady.then(() => onToolResult(params));
  });
  Bridge.on("ui/notifications/tool-cancelled", () => say("The request was cancelled."));
  Bridge.on("ui/notifications/host-context-changed", applyHostContext);
  let host;
  try {
    host = await Bridge.connect({ name: "kros-mcp numbers", version: "1" });
  } catch (error) {
    showAlert(`This view could not reach its host: ${error.message}`);
    return;
  }
  applyHostContext(host.context);
  const context = await call("app_context", {});
  if (!context.ok) {
    showAlert(context.error);
    return;
  }
  showContext(context.data);
  await loadEndpoints();
  $("app").setAttribute("aria-busy", "false");
  ready();
  if (!opened && !(host.context.toolInfo && host.context.toolInfo.tool)) {
    loadOffers(0, { fromHistory: true });
  }
}

start();
