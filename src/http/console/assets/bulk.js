// Bulk actions on every workflow the list's filter matches (CancelWorkflows, ResumeWorkflows,
// DeleteWorkflows, ForkWorkflows): each first runs as a dry run, the confirmation shows how many
// workflows it selects and would change, and only a confirmed action runs for real.

import { call } from "./api.js";
import { confirmAction, h, toast } from "./dom.js";

const ACTIONS = [
  { key: "cancel", label: "Cancel", method: "CancelWorkflows", verb: "cancel", done: "Cancelled",
    children: "cancelChildren", style: "danger" },
  { key: "resume", label: "Resume", method: "ResumeWorkflows", verb: "resume", done: "Resumed",
    style: "primary" },
  { key: "fork", label: "Fork", method: "ForkWorkflows", verb: "fork (re-run from the start)",
    done: "Forked", style: "primary" },
  { key: "delete", label: "Delete", method: "DeleteWorkflows", verb: "delete", done: "Deleted",
    children: "deleteChildren", style: "danger" },
];

/** The bulk action buttons; `filter()` returns the list's current WorkflowFilter. */
export function bulkBar(filter, refresh) {
  return h("div.bulk", {}, h("span.muted", {}, "All matching:"),
    ACTIONS.map((action) =>
      h("button.small.ghost", { type: "button", dataset: { bulk: action.key },
        onclick: () => run(action, filter(), refresh) }, `${action.label}…`)));
}

async function dryRun(action, filter, withChildren) {
  const request = { filter, dryRun: true };
  if (action.children && withChildren) request[action.children] = true;
  return call(action.method, request);
}

async function run(action, filter, refresh) {
  if (!Object.keys(filter).length) {
    toast(`${action.label} by filter needs at least one filter condition (a status, a name, …)`, "error");
    return;
  }
  let counts;
  try {
    counts = await dryRun(action, filter, false);
  } catch (e) {
    toast(`${action.label}: ${e.label || "error"}: ${e.message}`, "error");
    return;
  }
  const summary = h("p.dry-run", {});
  const show = (c) => summary.replaceChildren(
    h("strong", {}, String(c.selectedCount || 0)), " workflows match; ",
    h("strong", {}, String(c.changedCount || 0)), ` would ${action.verb.split(" ")[0]}.`);
  show(counts);
  let children = null;
  if (action.children) {
    children = h("input", { type: "checkbox" });
    // The count changes with descendants included: ask the server again.
    children.addEventListener("change", async () => {
      try {
        show(await dryRun(action, filter, children.checked));
      } catch (e) {
        summary.replaceChildren(`${e.label}: ${e.message}`);
      }
    });
  }
  const body = h("div", {},
    h("p", {}, `This will ${action.verb} every workflow matching the current filter.`),
    summary,
    children ? h("label.check", {}, children, " include their descendants") : null);
  if (!(await confirmAction(`${action.label} matching workflows`, body, `${action.label} workflows`))) return;
  try {
    const request = { filter };
    if (children?.checked) request[action.children] = true;
    const result = await call(action.method, request);
    toast(`${action.done} ${result.changedCount || 0} of ${result.selectedCount || 0} workflows`);
  } catch (e) {
    toast(`${action.label}: ${e.label || "error"}: ${e.message}`, "error");
  }
  refresh();
}
