// The console shell: routes the URL hash to a view (#/workflows?filters, #/workflow/<id>,
// #/queues, #/schedules, #/versions), keeps the token dialog, and the keyboard shortcuts.
// Each view returns { cleanup, keys }: cleanup stops its streams when another view opens.

import { call, session, setToken } from "./api.js";
import { fill, h } from "./dom.js";
import { renderQueues, renderSchedules, renderVersions } from "./registry.js";
import { renderWorkflow } from "./workflow.js";
import { renderWorkflows } from "./workflows.js";

const view = document.getElementById("view");
const live = document.getElementById("live");
let current = { cleanup: null, keys: {} };
let lastList = "#/workflows";
let pendingG = false;
let focusSearch = false;

const ctx = {
  navigate: (hash) => {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  refresh: () => route(),
  setLive: (on) => {
    live.hidden = !on;
  },
  lastList: () => lastList,
};

function route() {
  current.cleanup?.();
  ctx.setLive(false);
  const hash = location.hash.replace(/^#/, "") || "/workflows";
  const [path, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean);
  const name = parts[0] || "workflows";
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.view === name || (name === "workflow" && a.dataset.view === "workflows"));
  }
  let result;
  if (name === "workflow" && parts[1]) {
    const id = decodeURIComponent(parts.slice(1).join("/"));
    document.title = `${id} · dbosd`;
    result = renderWorkflow(view, id, ctx);
  } else if (name === "queues") {
    document.title = "Queues · dbosd";
    result = renderQueues(view, params, ctx);
  } else if (name === "schedules") {
    document.title = "Schedules · dbosd";
    result = renderSchedules(view, params, ctx);
  } else if (name === "versions") {
    document.title = "Versions · dbosd";
    result = renderVersions(view, params, ctx);
  } else {
    lastList = `#${hash}`;
    document.title = "Workflows · dbosd";
    result = renderWorkflows(view, params, ctx);
  }
  current = { cleanup: result?.cleanup || null, keys: result?.keys || {} };
  if (focusSearch) {
    focusSearch = false;
    document.getElementById("search")?.focus();
  }
}

// --- Token: asked once per tab, kept in sessionStorage.
const tokenDialog = document.getElementById("token-dialog");
const tokenInput = document.getElementById("token-input");
const tokenButton = document.getElementById("token-button");
function showToken() {
  tokenButton.textContent = session.token ? "Token ✓" : "Token";
  tokenButton.title = session.token ? "A bearer token is set for this tab" : "No bearer token set";
}
function openToken() {
  tokenInput.value = session.token;
  tokenDialog.showModal();
  tokenInput.focus();
}
function saveToken(value) {
  setToken(value.trim());
  showToken();
  tokenDialog.close();
  route();
  showDatabases();
}
tokenButton.addEventListener("click", openToken);
document.getElementById("token-save").addEventListener("click", () => saveToken(tokenInput.value));
document.getElementById("token-clear").addEventListener("click", () => saveToken(""));
document.getElementById("token-cancel").addEventListener("click", () => tokenDialog.close());
tokenInput.addEventListener("keydown", (e) => {
  if (e.key === "Enter") saveToken(tokenInput.value);
});

// --- Help.
const help = document.getElementById("help-dialog");
document.getElementById("help-button").addEventListener("click", () => help.showModal());
document.getElementById("help-close").addEventListener("click", () => help.close());

// --- Database (fleet mode): the picker lists the databases the token may use (ListDatabases);
// the choice is ?db=NAME in the page URL (shareable; api.js sends it as dbos-database metadata),
// and picking one reloads the page on it. Hidden when the default database is the only one.
const dbSlot = document.getElementById("db-slot");
async function showDatabases() {
  let list = [];
  try {
    list = (await call("ListDatabases", {})).databases || [];
  } catch {
    // Without the list (no token yet, an older dbosd) the chosen database is still named.
  }
  const current = session.database || list.find((d) => d.isDefault)?.name || "";
  if (!list.some((d) => d.name === current) && current) list.push({ name: current, unknown: true });
  // `data-databases` says how many were listed (for whoever checks the picker is hidden).
  dbSlot.dataset.databases = String(list.length);
  if (list.length <= 1 && !session.database) {
    fill(dbSlot);
    return;
  }
  const label = (d) => `${d.name}${d.isDefault && d.name !== "default" ? " (default)" : ""}` +
    `${d.unknown ? " (not served to this token)" : d.health === "DATABASE_HEALTH_NOT_SERVING" ? " (down)" : ""}`;
  const select = h("select", { id: "db-select", title: "The database every call goes to (dbos-database)" },
    list.map((d) => h("option", { value: d.name, selected: d.name === current }, label(d))));
  select.addEventListener("change", () => {
    const chosen = list.find((d) => d.name === select.value);
    const query = chosen?.isDefault ? "" : `?db=${encodeURIComponent(select.value)}`;
    // A workflow id belongs to one database: another opens on the list.
    const hash = location.hash.startsWith("#/workflow/") ? lastList : location.hash;
    location.assign(`${location.pathname}${query}${hash}`);
  });
  fill(dbSlot, h("label.db-picker", {}, "Database", select));
}

// --- Keyboard: ignored while typing, except Escape.
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const typing = e.target.closest?.("input, textarea, select");
  if (typing) {
    if (e.key === "Escape") e.target.blur();
    return;
  }
  if (document.querySelector("dialog[open]")) return;
  if (pendingG) {
    pendingG = false;
    const to = { w: "#/workflows", q: "#/queues", s: "#/schedules", v: "#/versions" }[e.key];
    if (to) {
      e.preventDefault();
      ctx.navigate(to === "#/workflows" ? lastList : to);
    }
    return;
  }
  const own = current.keys[e.key];
  if (own) {
    e.preventDefault();
    own();
    return;
  }
  if (e.key === "g") pendingG = true;
  else if (e.key === "r") route();
  else if (e.key === "t") openToken();
  else if (e.key === "?") help.showModal();
  else if (e.key === "Escape" && location.hash.startsWith("#/workflow/")) ctx.navigate(lastList);
  else if (e.key === "/") {
    e.preventDefault();
    focusSearch = true;
    ctx.navigate(lastList);
  }
});

// A call refused for want of a (valid) token opens the token dialog.
window.addEventListener("dbosd:unauthenticated", () => {
  if (!tokenDialog.open) openToken();
});

window.addEventListener("hashchange", route);
showToken();
route();
showDatabases();
