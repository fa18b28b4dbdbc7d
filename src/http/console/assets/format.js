// How values read in the console: statuses as badges, times as local time with "ago", durations
// in the largest sensible unit, and payloads decoded as JSON when dbosd decoded them
// (portable_json) or shown as their stored text with the serialization named.

import { h } from "./dom.js";

export const STATUSES = ["ENQUEUED", "DELAYED", "PENDING", "SUCCESS", "ERROR", "CANCELLED",
  "MAX_RECOVERY_ATTEMPTS_EXCEEDED"];

/** `WORKFLOW_STATUS_SUCCESS` -> `SUCCESS`. */
export function shortStatus(status) {
  return (status || "").replace(/^WORKFLOW_STATUS_/, "");
}

export function statusBadge(status) {
  const s = shortStatus(status);
  const label = s === "MAX_RECOVERY_ATTEMPTS_EXCEEDED" ? "DEAD-LETTERED" : s;
  return h(`span.badge.s-${s.toLowerCase()}`, { title: s }, label);
}

export function isTerminal(status) {
  return ["SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"].includes(shortStatus(status));
}

/** Milliseconds since the epoch of an RFC 3339 timestamp (null when absent). */
export function ms(timestamp) {
  if (!timestamp) return null;
  const t = Date.parse(timestamp);
  return Number.isNaN(t) ? null : t;
}

/** A duration in ms as "850 ms", "12.3 s", "4m 05s", "3h 02m", "2d 04h". */
export function duration(millis) {
  if (millis === null || millis === undefined || Number.isNaN(millis)) return "";
  const m = Math.max(0, millis);
  if (m < 1000) return `${Math.round(m)} ms`;
  if (m < 60_000) return `${(m / 1000).toFixed(m < 10_000 ? 2 : 1)} s`;
  const pad = (n) => String(Math.floor(n)).padStart(2, "0");
  if (m < 3_600_000) return `${Math.floor(m / 60_000)}m ${pad((m % 60_000) / 1000)}s`;
  if (m < 86_400_000) return `${Math.floor(m / 3_600_000)}h ${pad((m % 3_600_000) / 60_000)}m`;
  return `${Math.floor(m / 86_400_000)}d ${pad((m % 86_400_000) / 3_600_000)}h`;
}

/** A protobuf Duration in JSON ("1.5s") as ms. */
export function durationMs(text) {
  if (!text) return null;
  const n = parseFloat(text);
  return Number.isNaN(n) ? null : n * 1000;
}

/** "12s ago", "3h ago". */
export function ago(timestamp) {
  const t = ms(timestamp);
  return t === null ? "" : `${duration(Date.now() - t)} ago`;
}

/** A timestamp as local date and time to the millisecond, with the full value on hover. */
export function time(timestamp) {
  const t = ms(timestamp);
  if (t === null) return "";
  const d = new Date(t);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  return h("time", { datetime: timestamp, title: `${timestamp} (${ago(timestamp)})` }, text);
}

/** How long a workflow ran (or has been running); for one not dequeued yet, how long it waits. */
export function workflowDuration(wf) {
  if (!wf.dequeuedAt && !isTerminal(wf.status) && ms(wf.createdAt) !== null) {
    return h("span.waiting", { title: "waiting to be dequeued" }, `waiting ${duration(Date.now() - ms(wf.createdAt))}`);
  }
  const start = ms(wf.dequeuedAt) ?? ms(wf.createdAt);
  if (start === null) return "";
  const end = ms(wf.completedAt) ?? (isTerminal(wf.status) ? ms(wf.updatedAt) : Date.now());
  return duration(end - start);
}

/** A JSON value as indented text. */
export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

/**
 * A stored payload: decoded JSON when dbosd decoded it, else its stored text labelled with its
 * serialization (native formats such as py_pickle are never decoded).
 */
export function payload(p, emptyText = "none") {
  if (!p || (p.text === undefined && p.json === undefined)) return h("p.muted", {}, emptyText);
  const decoded = p.json !== undefined;
  const serialization = p.serialization || "native (no serialization recorded)";
  return h("div.payload", {},
    h("div.payload-meta", {}, h("span.tag", {}, serialization),
      decoded ? null : h("span.muted", {}, " stored text, not decoded")),
    h("pre.code", {}, decoded ? pretty(p.json) : p.text || ""));
}

/** A workflow or step error: name and message when portable, else the stored payload. */
export function workflowError(e) {
  if (!e) return null;
  return h("div.error-detail", {},
    e.name || e.message ? h("p", {}, h("strong", {}, e.name || "Error"), e.message ? `: ${e.message}` : "") : null,
    e.code !== undefined ? h("p.muted", {}, `code: ${JSON.stringify(e.code)}`) : null,
    e.data !== undefined ? h("pre.code", {}, pretty(e.data)) : null,
    !e.name && !e.message ? payload(e.payload) : null);
}

/** A link to a workflow's page. */
export function workflowLink(id, text) {
  return h("a.mono", { href: `#/workflow/${encodeURIComponent(id)}` }, text || id);
}
