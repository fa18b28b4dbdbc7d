// One workflow: its status record, input and output (decoded when portable, else stored text),
// error, steps timeline, the messages sent to it and its streams (inbox.js), events, lineage
// (parent, children, fork source, forks), the message form, and cancel / resume / fork-from-step /
// delete behind a confirmation. It reloads when the workflow changes (WatchWorkflows on its id).

import { call, stream } from "./api.js";
import { confirmAction, errorBox, facts, fill, h, panel, toast } from "./dom.js";
import { duration, durationMs, isTerminal, payload, pretty, statusBadge, time, workflowDuration,
  workflowError, workflowLink } from "./format.js";
import { messagesPanel, streamsPanel } from "./inbox.js";
import { loadSteps, timeline } from "./steps.js";

export function renderWorkflow(root, id, ctx) {
  const abort = new AbortController();
  let wf = null;
  let steps = [];
  const head = h("div.detail-head");
  const content = h("div.detail-body", {}, h("p.muted", {}, "Loading…"));
  fill(root, h("nav.crumbs", {}, h("a", { href: ctx.lastList() }, "Workflows"), " / ", h("span.mono", {}, id)),
    head, content);

  async function load() {
    try {
      const [got, gotSteps] = await Promise.all([
        call("GetWorkflow", { workflowId: id }), loadSteps(id).catch(() => [])]);
      wf = got.workflow;
      steps = gotSteps;
    } catch (e) {
      fill(head, h("h1.mono", {}, id));
      fill(content, errorBox(e));
      return;
    }
    fill(head, h("h1.mono.wf-id", {}, id), statusBadge(wf.status), h("span.spacer"), actions());
    fill(content,
      h("div.columns", {},
        h("div.col", {}, panel("Overview", overview()), panel("Lineage", lineage())),
        h("div.col", {}, panel("Input", payload(wf.input, "no input")),
          wf.error ? panel("Error", workflowError(wf.error)) : panel("Output",
            wf.output ? payload(wf.output) : h("p.muted", {}, isTerminal(wf.status) ? "no output" : "not finished yet")),
          wf.attributes && Object.keys(wf.attributes).length ? panel("Attributes", h("pre.code", {}, pretty(wf.attributes))) : null)),
      panel(`Steps (${steps.length})`, timeline(wf, steps)),
      messagesPanel(id),
      h("div.columns", {}, h("div.col", {}, events()), h("div.col", {}, streamsPanel(id, abort.signal), message())));
  }

  function overview() {
    const timeout = durationMs(wf.timeout);
    return facts([
      ["Workflow", wf.workflowName],
      ["Class", wf.className],
      ["Instance", wf.configName],
      ["Queue", wf.queueName ? h("a", { href: `#/workflows?queue=${encodeURIComponent(wf.queueName)}` }, wf.queueName) : ""],
      ["Partition key", wf.queuePartitionKey],
      ["Application", wf.applicationName],
      ["App version", wf.appVersion],
      ["Executor", wf.executorId],
      ["Created", time(wf.createdAt)],
      ["Delayed until", time(wf.delayUntil)],
      ["Dequeued", time(wf.dequeuedAt)],
      ["Completed", time(wf.completedAt)],
      ["Duration", workflowDuration(wf)],
      ["Queue wait", wf.dequeuedAt && wf.createdAt ? duration(Date.parse(wf.dequeuedAt) - Date.parse(wf.createdAt)) : ""],
      ["Timeout", timeout !== null ? duration(timeout) : ""],
      ["Deadline", time(wf.deadline)],
      ["Recovery attempts", wf.recoveryAttempts && wf.recoveryAttempts !== "0" ? String(wf.recoveryAttempts) : ""],
      ["Priority", wf.priority ? String(wf.priority) : ""],
      ["Deduplication id", wf.deduplicationId ? `${wf.deduplicationId}${wf.isDebounced ? " (debounce key)" : ""}` : ""],
      ["Schedule", wf.scheduleName],
      ["Serialization", wf.serialization],
      ["User", wf.authenticatedUser],
      ["Role", wf.assumedRole],
    ]);
  }

  function lineage() {
    const box = h("div", {}, facts([
      ["Parent", wf.parentWorkflowId ? workflowLink(wf.parentWorkflowId) : ""],
      ["Forked from", wf.forkedFrom ? workflowLink(wf.forkedFrom) : ""],
    ]));
    const related = async (label, filter) => {
      try {
        const res = await call("ListWorkflows", { filter, pageSize: 20, sortDesc: true });
        const list = res.workflows || [];
        if (!list.length) return;
        box.append(h("h4", {}, label), h("ul.links", {}, list.map((w) =>
          h("li", {}, workflowLink(w.workflowId), " ", statusBadge(w.status), " ", h("span.muted", {}, w.workflowName)))));
      } catch (e) {
        box.append(errorBox(e));
      }
    };
    related("Children", { parentWorkflowIds: [id] });
    if (wf.wasForkedFrom) related("Forks", { forkedFrom: [id] });
    if (!wf.parentWorkflowId && !wf.forkedFrom && !wf.wasForkedFrom) box.append(h("p.muted.small", {}, "Top-level, not a fork."));
    return box;
  }

  function events() {
    const box = h("div", {}, h("p.muted", {}, "Loading…"));
    call("GetWorkflowEvents", { workflowId: id }).then((res) => {
      const list = res.events || [];
      fill(box, list.length ? h("dl.events", {}, list.flatMap((e) => [h("dt.mono", {}, e.key), h("dd", {}, payload(e.value))]))
        : h("p.muted", {}, "No events set."));
    }, (e) => fill(box, errorBox(e)));
    return panel("Events", box);
  }

  function message() {
    const topic = h("input", { type: "text", placeholder: "topic (optional)", spellcheck: "false" });
    const body = h("textarea", { rows: 3, placeholder: "message as JSON, e.g. {\"approved\": true}", spellcheck: "false" });
    const send = async () => {
      try {
        JSON.parse(body.value);
      } catch {
        toast("The message must be JSON (a string needs quotes)", "error");
        return;
      }
      // The text as typed (messageJson), so big integers keep every digit.
      const request = { destinationId: id, messageJson: body.value.trim() };
      if (topic.value.trim()) request.topic = topic.value.trim();
      try {
        await call("SendMessage", request);
        toast("Message sent");
        body.value = "";
        load(); // the Messages panel lists it
      } catch (e) {
        toast(`Send: ${e.label}: ${e.message}`, "error");
      }
    };
    return panel("Send a message", h("p.muted.small", {}, "What DBOS.recv in the workflow receives."),
      h("div.stack-form", {}, topic, body, h("div", {}, h("button.ghost", { type: "button", onclick: send }, "Send"))));
  }

  function actions() {
    const button = (label, style, handler, enabled = true) =>
      h(`button.${style}`, { type: "button", disabled: !enabled, dataset: { action: label.toLowerCase() }, onclick: handler }, label);
    const s = wf.status.replace("WORKFLOW_STATUS_", "");
    return h("div.actions", {},
      button("Cancel", "danger", cancel, ["ENQUEUED", "DELAYED", "PENDING", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"].includes(s)),
      button("Resume", "ghost", resume, !["SUCCESS", "ERROR"].includes(s)),
      button("Fork", "ghost", fork),
      button("Delete", "ghost", remove));
  }

  async function act(label, method, request, after) {
    try {
      const res = await call(method, request);
      const outcome = (res.result?.outcome || "").replace("WORKFLOW_ACTION_OUTCOME_", "").replaceAll("_", " ").toLowerCase();
      toast(`${label}: ${outcome || "done"}`);
      after(res);
    } catch (e) {
      toast(`${label}: ${e.label}: ${e.message}`, "error");
    }
  }

  async function cancel() {
    const children = h("input", { type: "checkbox" });
    const body = h("div", {}, h("p", {}, "It leaves its queue and becomes CANCELLED; a running execution stops at its next step."),
      h("label.check", {}, children, " also cancel its descendants"));
    if (await confirmAction(`Cancel ${id}?`, body, "Cancel workflow")) {
      await act("Cancel", "CancelWorkflow", { workflowId: id, cancelChildren: children.checked }, load);
    }
  }

  async function resume() {
    const body = h("p", {}, "It is enqueued again and continues after its last recorded step.");
    if (await confirmAction(`Resume ${id}?`, body, "Resume workflow")) {
      await act("Resume", "ResumeWorkflow", { workflowId: id }, load);
    }
  }

  async function fork() {
    // TypeScript and Go workers number steps from 0, Python from 1: the recorded ids tell which.
    const fromZero = steps.some((s) => (s.functionId ?? 0) === 0);
    const pick = h("select", {}, h("option", { value: "" }, "the beginning (re-run everything)"),
      steps.map((s) => h("option", { value: String(s.functionId ?? 0) }, `step ${s.functionId ?? 0}: ${s.functionName}`)));
    const body = h("div", {}, h("p", {}, "A new workflow re-runs this one from the chosen step, reusing the recorded outputs before it."),
      h("label.field", {}, h("span", {}, "Start from"), pick));
    if (!(await confirmAction(`Fork ${id}`, body, "Fork workflow"))) return;
    const request = { workflowId: id, stepNumbering: fromZero ? "STEP_NUMBERING_FROM_ZERO" : "STEP_NUMBERING_FROM_ONE" };
    if (pick.value) request.startStep = Number(pick.value);
    await act("Fork", "ForkWorkflow", request, (res) => ctx.navigate(`#/workflow/${encodeURIComponent(res.forkedWorkflowId)}`));
  }

  async function remove() {
    const children = h("input", { type: "checkbox" });
    const body = h("div", {}, h("p", {}, "Its rows go from every table: status, input, output, steps, events, messages, streams. This cannot be undone."),
      h("label.check", {}, children, " also delete its descendants"));
    if (await confirmAction(`Delete ${id}?`, body, "Delete workflow")) {
      await act("Delete", "DeleteWorkflow", { workflowId: id, deleteChildren: children.checked }, () => ctx.navigate(ctx.lastList()));
    }
  }

  // Reload on each change of this workflow while the page is open.
  (async () => {
    let cursor = "";
    let timer = null;
    for (let attempt = 0; !abort.signal.aborted; attempt++) {
      try {
        await stream("WatchWorkflows", { workflowIds: [id], cursor }, (m) => {
          cursor = m.cursor || cursor;
          attempt = 0;
          clearTimeout(timer);
          timer = setTimeout(load, 300);
        }, abort.signal);
      } catch (e) {
        if (abort.signal.aborted || ["permission_denied", "unauthenticated", "invalid_argument"].includes(e.code)) break;
      }
      await new Promise((r) => setTimeout(r, Math.min(30_000, 1000 * 2 ** attempt)));
    }
  })();

  load();
  return { cleanup: () => abort.abort(), keys: { r: load } };
}
