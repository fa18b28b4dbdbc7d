// The workflow list's filter: every WorkflowFilter condition as a short URL parameter (so a
// filtered list is a shareable URL), the form that edits them, and the request messages built
// from them (ListWorkflows' filter, WatchWorkflows' subset of it).

import { h } from "./dom.js";
import { STATUSES } from "./format.js";

/** The text filters: URL key, label, WorkflowFilter field (each takes a comma-separated list). */
export const LIST_FIELDS = [
  ["name", "Workflow name", "workflowNames"],
  ["queue", "Queue", "queueNames"],
  ["version", "App version", "appVersions"],
  ["app", "Application", "applicationNames"],
  ["executor", "Executor", "executorIds"],
  ["user", "Authenticated user", "authenticatedUsers"],
  ["parent", "Parent workflow", "parentWorkflowIds"],
  ["forkof", "Fork of (source id)", "forkedFrom"],
  ["schedule", "Schedule", "scheduleNames"],
  ["dedup", "Deduplication id", "deduplicationIds"],
  ["ids", "Workflow ids", "workflowIds"],
];

/** The time filters: URL key, label, WorkflowFilter field (RFC 3339 in the URL). */
export const TIME_FIELDS = [
  ["after", "Created after", "createdAfter"],
  ["before", "Created before", "createdBefore"],
  ["cafter", "Completed after", "completedAfter"],
  ["cbefore", "Completed before", "completedBefore"],
  ["dafter", "Dequeued after", "dequeuedAfter"],
  ["dbefore", "Dequeued before", "dequeuedBefore"],
];

/** Relative windows on creation time: `window=1h` means created in the last hour. */
export const WINDOWS = [["", "any time"], ["15m", "last 15 minutes"], ["1h", "last hour"],
  ["24h", "last 24 hours"], ["7d", "last 7 days"], ["30d", "last 30 days"]];
const WINDOW_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Yes/no filters: URL key, label, WorkflowFilter field. */
export const BOOL_FIELDS = [
  ["child", "Is a child", "hasParent"],
  ["fork", "Is a fork", "isFork"],
  ["forked", "Has forks", "wasForkedFrom"],
  ["debounced", "Is debounced", "isDebounced"],
];

const list = (text) => (text || "").split(",").map((s) => s.trim()).filter(Boolean);

/** The statuses selected in `params` (short names). */
export function statusesOf(params) {
  return list(params.get("status")).map((s) => s.toUpperCase()).filter((s) => STATUSES.includes(s));
}

/**
 * The WorkflowFilter for `params`, or throws an Error naming the bad parameter. With
 * `withStatuses` false the status condition is left out (for the counts by status).
 */
export function filterOf(params, withStatuses = true) {
  const filter = {};
  const prefix = list(params.get("prefix"));
  if (prefix.length) filter.workflowIdPrefixes = prefix;
  for (const [key, , field] of LIST_FIELDS) {
    const values = list(params.get(key));
    if (values.length) filter[field] = values;
  }
  for (const [key, label, field] of TIME_FIELDS) {
    const value = params.get(key);
    if (!value) continue;
    const t = Date.parse(value);
    if (Number.isNaN(t)) throw new Error(`${label}: "${value}" is not a date and time`);
    filter[field] = new Date(t).toISOString();
  }
  const window = params.get("window");
  if (window) {
    const m = /^(\d+)([mhd])$/.exec(window);
    if (!m) throw new Error(`time window "${window}" is not like 15m, 1h or 7d`);
    const since = new Date(Date.now() - Number(m[1]) * WINDOW_MS[m[2]]).toISOString();
    if (!filter.createdAfter || filter.createdAfter < since) filter.createdAfter = since;
  }
  for (const [key, , field] of BOOL_FIELDS) {
    const value = params.get(key);
    if (value === "yes" || value === "no") filter[field] = value === "yes";
  }
  const attrs = params.get("attrs");
  if (attrs) {
    let parsed;
    try {
      parsed = JSON.parse(attrs);
    } catch {
      throw new Error("Attributes: not JSON (write an object such as {\"tenant\": \"acme\"})");
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Error("Attributes: must be a JSON object such as {\"tenant\": \"acme\"}");
    }
    filter.attributes = parsed;
  }
  if (withStatuses) {
    const statuses = statusesOf(params);
    if (statuses.length) filter.statuses = statuses.map((s) => `WORKFLOW_STATUS_${s}`);
  }
  return filter;
}

/** The WatchWorkflows request covering the list: the conditions the watch can express. */
export function watchOf(filter) {
  const watch = {};
  for (const [from, to] of [["queueNames", "queueNames"], ["workflowNames", "workflowNames"],
    ["applicationNames", "applicationNames"], ["workflowIds", "workflowIds"],
    ["workflowIdPrefixes", "workflowIdPrefixes"], ["attributes", "attributes"]]) {
    if (filter[from]) watch[to] = filter[from];
  }
  return watch;
}

/** How many conditions other than id prefix and status are set (the "Filters" button's count). */
export function extraCount(params) {
  const keys = [...LIST_FIELDS, ...TIME_FIELDS, ...BOOL_FIELDS].map(([k]) => k).concat(["attrs", "window"]);
  return keys.filter((k) => params.get(k)).length;
}

/** The "more filters" form, filled from `params`; `apply(newParams)` is called on Apply. */
export function filterForm(params, apply) {
  const inputs = new Map();
  const field = (key, label, input) => {
    inputs.set(key, input);
    return h("label.field", {}, h("span", {}, label), input);
  };
  const text = (key, placeholder) =>
    h("input", { type: "text", value: params.get(key) || "", placeholder, spellcheck: "false", name: key });
  const localTime = (key) => {
    const t = Date.parse(params.get(key) || "");
    const value = Number.isNaN(t) ? "" : new Date(t - new Date(t).getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
    return h("input", { type: "datetime-local", step: "1", value, name: key });
  };
  const select = (key, options) => {
    const el = h("select", { name: key }, options.map(([v, l]) => h("option", { value: v }, l)));
    el.value = params.get(key) || "";
    return el;
  };
  const form = h("div.filter-form", {},
    h("div.filter-grid", {},
      LIST_FIELDS.map(([key, label]) => field(key, label, text(key, "any (comma-separated)"))),
      field("window", "Created within", select("window", WINDOWS)),
      TIME_FIELDS.map(([key, label]) => field(key, label, localTime(key))),
      BOOL_FIELDS.map(([key, label]) => field(key, label, select(key, [["", "any"], ["yes", "yes"], ["no", "no"]]))),
      field("attrs", "Attributes contain (JSON object)", text("attrs", "{\"tenant\": \"acme\"}"))),
    h("div.filter-actions", {},
      h("button.ghost", { type: "button", onclick: () => apply(clearedParams(params)) }, "Clear filters"),
      h("button.primary", { type: "button", onclick: () => apply(read()) }, "Apply")));
  function read() {
    const next = new URLSearchParams(params);
    next.delete("page");
    for (const [key, input] of inputs) {
      let value = input.value.trim();
      if (value && input.type === "datetime-local") value = new Date(value).toISOString();
      if (value) next.set(key, value);
      else next.delete(key);
    }
    return next;
  }
  form.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target.tagName === "INPUT") apply(read());
  });
  return form;
}

/** `params` without any filter (sort and page size kept). */
export function clearedParams(params) {
  const next = new URLSearchParams();
  for (const key of ["asc", "size"]) if (params.get(key)) next.set(key, params.get(key));
  return next;
}
