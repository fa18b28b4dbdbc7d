// A workflow's steps as a timeline: one row per recorded step (ListWorkflowSteps, every page),
// a bar placed on the workflow's time axis with its duration, the child workflow it started
// linked, and its output or error unfolded on click.

import { call } from "./api.js";
import { h } from "./dom.js";
import { duration, ms, payload, workflowError, workflowLink } from "./format.js";

/** Every recorded step of workflow `id`, following page tokens. */
export async function loadSteps(id) {
  const steps = [];
  let pageToken = "";
  do {
    const res = await call("ListWorkflowSteps", { workflowId: id, pageSize: 1000, pageToken });
    steps.push(...(res.steps || []));
    pageToken = res.nextPageToken || "";
  } while (pageToken && steps.length < 10_000);
  return steps;
}

/** The timeline of `steps` for workflow `wf`. */
export function timeline(wf, steps) {
  if (!steps.length) return h("p.muted", {}, "No steps recorded.");
  const starts = steps.map((s) => ms(s.startedAt)).filter((t) => t !== null);
  const ends = steps.map((s) => ms(s.completedAt) ?? ms(s.startedAt)).filter((t) => t !== null);
  const t0 = Math.min(...starts, ms(wf.dequeuedAt) ?? Infinity);
  const t1 = Math.max(...ends, ms(wf.completedAt) ?? -Infinity);
  const span = Number.isFinite(t0) && Number.isFinite(t1) ? Math.max(1, t1 - t0) : null;
  const list = h("ol.timeline", { "aria-label": "Steps" });
  for (const step of steps) {
    const start = ms(step.startedAt);
    const end = ms(step.completedAt);
    const bar = h(`span.bar${step.error ? ".bar-error" : ""}${end === null ? ".bar-open" : ""}`);
    if (span !== null && start !== null) {
      // Positioned through CSSOM (allowed by the CSP), not a style attribute.
      bar.style.left = `${((start - t0) / span) * 100}%`;
      bar.style.width = `max(3px, ${(((end ?? t1) - start) / span) * 100}%)`;
    } else {
      bar.classList.add("bar-unknown");
    }
    const detail = h("div.step-detail", { hidden: true },
      step.error ? workflowError(step.error) : payload(step.output, "no output recorded"));
    const head = h("button.step-head", { type: "button", "aria-expanded": "false", onclick: () => {
      detail.hidden = !detail.hidden;
      head.setAttribute("aria-expanded", String(!detail.hidden));
    } },
    h("span.step-id", {}, String(step.functionId ?? 0)),
    h("span.step-name", {}, step.functionName || "(unnamed)"),
    h("span.track", {}, bar),
    h("span.step-duration", {}, start !== null && end !== null ? duration(end - start) : end === null && start !== null ? "running" : ""),
    h("span.step-outcome", {}, step.error ? h("span.badge.s-error", {}, "ERROR") : end !== null || step.output ? h("span.badge.s-success", {}, "OK") : ""));
    list.append(h("li.step", { dataset: { step: String(step.functionId ?? 0) } }, head,
      step.childWorkflowId ? h("div.step-child", {}, "child workflow ", workflowLink(step.childWorkflowId)) : null,
      detail));
  }
  const total = span !== null ? h("p.muted.small", {}, `${steps.length} steps over ${duration(span)}`) : null;
  return h("div", {}, total, list);
}
