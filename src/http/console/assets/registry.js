// The registry views: queues (limits from ListQueues, depth and oldest waiting age from
// GetWorkflowAggregates), schedules (pause, resume, trigger, backfill) and application versions
// (which one is latest, make another latest).

import { call } from "./api.js";
import { confirmAction, errorBox, fill, h, toast } from "./dom.js";
import { ago, duration, durationMs, time, workflowLink } from "./format.js";

const table = (columns, rows, empty) => h("div.table-wrap", {}, h("table.list.plain", {},
  h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c)))),
  h("tbody", {}, rows.length ? rows : h("tr", {}, h("td.empty", { colSpan: columns.length }, empty)))));

const listLink = (param, value, text) =>
  h("a", { href: `#/workflows?${new URLSearchParams({ [param]: value })}` }, text ?? value);

function rate(limit) {
  if (!limit || !limit.limit) return "";
  return `${limit.limit} per ${duration(durationMs(limit.period))}`;
}

export function renderQueues(root) {
  const out = h("div", {}, h("p.muted", {}, "Loading…"));
  fill(root, h("div.page-head", {}, h("h1", {}, "Queues")), out);
  (async () => {
    let queues = [];
    let registryError = null;
    try {
      queues = (await call("ListQueues", {})).queues || [];
    } catch (e) {
      registryError = e; // Depth still comes from the workflows themselves.
    }
    // Waiting and running workflows by queue and status; the oldest ENQUEUED one is the wait age.
    const depth = new Map();
    try {
      const res = await call("GetWorkflowAggregates", {
        filter: { statuses: ["WORKFLOW_STATUS_ENQUEUED", "WORKFLOW_STATUS_DELAYED", "WORKFLOW_STATUS_PENDING"] },
        groupBy: ["WORKFLOW_GROUP_BY_QUEUE_NAME", "WORKFLOW_GROUP_BY_STATUS"] });
      for (const a of res.aggregates || []) {
        const queue = a.group?.[0]?.value;
        if (!queue) continue;
        const d = depth.get(queue) || { ENQUEUED: 0, DELAYED: 0, PENDING: 0, oldest: null };
        d[a.group?.[1]?.value] = Number(a.count || 0);
        if (a.group?.[1]?.value === "ENQUEUED") d.oldest = a.minCreatedAt;
        depth.set(queue, d);
      }
    } catch (e) {
      fill(out, errorBox(e));
      return;
    }
    const names = new Set([...queues.map((q) => q.name), ...depth.keys()]);
    const rows = [...names].sort().map((name) => {
      const q = queues.find((x) => x.name === name);
      const d = depth.get(name) || { ENQUEUED: 0, DELAYED: 0, PENDING: 0, oldest: null };
      return h("tr", { dataset: { queue: name } },
        h("td", {}, listLink("queue", name), q ? null : h("span.muted.small", {}, " not in the registry")),
        h("td.num", {}, h("a", { href: `#/workflows?${new URLSearchParams({ queue: name, status: "ENQUEUED" })}` }, String(d.ENQUEUED))),
        h("td.num", {}, String(d.PENDING)),
        h("td.num", {}, String(d.DELAYED)),
        h("td.nowrap", {}, d.oldest ? ago(d.oldest) : h("span.muted", {}, "—")),
        h("td.num", {}, q?.concurrency ?? ""),
        h("td.num", {}, q?.workerConcurrency ?? ""),
        h("td", {}, rate(q?.rateLimit)),
        h("td", {}, q?.partitioned ? "yes" : ""),
        h("td.muted", {}, q?.applicationName || ""));
    });
    fill(out, registryError ? errorBox(registryError) : null,
      table(["Queue", "Enqueued", "Running", "Delayed", "Oldest waiting", "Concurrency", "Per worker", "Rate limit", "Partitioned", "Application"],
        rows, "No queues registered and none in use."));
  })();
  return {};
}

export function renderSchedules(root) {
  const out = h("div", {}, h("p.muted", {}, "Loading…"));
  fill(root, h("div.page-head", {}, h("h1", {}, "Schedules")), out);
  const act = async (label, method, request) => {
    try {
      const res = await call(method, request);
      const said = {
        Trigger: () => h("span", {}, "Trigger: enqueued ", workflowLink(res.workflowId)),
        Backfill: () => `Backfill: enqueued ${(res.workflowIds || []).length} workflows`,
      }[label];
      toast(said ? said() : `${label}d ${request.scheduleName}`);
    } catch (e) {
      toast(`${label}: ${e.label}: ${e.message}`, "error");
    }
    load();
  };
  const backfill = async (s) => {
    const local = (t) => new Date(t - new Date(t).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    const start = h("input", { type: "datetime-local", value: local(Date.now() - 86_400_000) });
    const end = h("input", { type: "datetime-local", value: local(Date.now()) });
    const body = h("div", {}, h("p", {}, "Enqueues every firing in the window that was not enqueued yet (both ends exclusive)."),
      h("label.field", {}, h("span", {}, "From"), start), h("label.field", {}, h("span", {}, "To"), end));
    if (!(await confirmAction(`Backfill ${s.scheduleName}`, body, "Backfill"))) return;
    if (!start.value || !end.value) {
      toast("Backfill: choose both ends of the window", "error");
      return;
    }
    await act("Backfill", "BackfillSchedule", { scheduleName: s.scheduleName,
      start: new Date(start.value).toISOString(), end: new Date(end.value).toISOString() });
  };
  async function load() {
    let schedules;
    try {
      schedules = (await call("ListSchedules", {})).schedules || [];
    } catch (e) {
      fill(out, errorBox(e));
      return;
    }
    const rows = schedules.map((s) => {
      const paused = s.status === "SCHEDULE_STATUS_PAUSED";
      const name = s.scheduleName;
      return h("tr", { dataset: { schedule: name } },
        h("td", {}, listLink("schedule", name)),
        h("td", {}, s.workflowName),
        h("td.mono", {}, s.cron, s.cronTimezone ? h("span.muted", {}, ` ${s.cronTimezone}`) : null),
        h("td", {}, h(`span.badge.${paused ? "s-cancelled" : "s-success"}`, {}, paused ? "PAUSED" : "ACTIVE")),
        h("td.nowrap", {}, s.lastFiredAt ? time(s.lastFiredAt) : h("span.muted", {}, "never")),
        h("td.muted", {}, s.queueName || ""),
        h("td.actions-cell", {},
          paused
            ? h("button.small.ghost", { type: "button", onclick: () => act("Resume", "ResumeSchedule", { scheduleName: name }) }, "Resume")
            : h("button.small.ghost", { type: "button", onclick: () => act("Pause", "PauseSchedule", { scheduleName: name }) }, "Pause"),
          h("button.small.ghost", { type: "button", onclick: async () => {
            if (await confirmAction(`Trigger ${name}?`, h("p", {}, `Enqueues ${s.workflowName} now, as a firing would.`), "Trigger")) {
              act("Trigger", "TriggerSchedule", { scheduleName: name });
            }
          } }, "Trigger"),
          h("button.small.ghost", { type: "button", onclick: () => backfill(s) }, "Backfill…")));
    });
    fill(out, table(["Schedule", "Workflow", "Cron", "Status", "Last fired", "Queue", ""], rows, "No schedules."));
  }
  load();
  return { keys: { r: load } };
}

export function renderVersions(root) {
  const out = h("div", {}, h("p.muted", {}, "Loading…"));
  fill(root, h("div.page-head", {}, h("h1", {}, "Application versions")), out);
  async function load() {
    let versions;
    try {
      versions = (await call("ListApplicationVersions", {})).versions || [];
    } catch (e) {
      fill(out, errorBox(e));
      return;
    }
    // Newest first: the first version seen for each application is its latest.
    const seen = new Set();
    const rows = versions.map((v) => {
      const app = v.applicationName || "";
      const latest = !seen.has(app);
      seen.add(app);
      return h("tr", {},
        h("td", {}, listLink("version", v.versionName), latest ? h("span.badge.s-success.spaced", {}, "LATEST") : null),
        h("td.muted", {}, app),
        h("td.nowrap", {}, time(v.versionTimestamp)),
        h("td.nowrap.muted", {}, time(v.createdAt)),
        h("td.mono.small.muted", {}, v.versionId),
        h("td.actions-cell", {}, latest ? null : h("button.small.ghost", { type: "button", onclick: async () => {
          const body = h("p", {}, "Its workers then take the unpinned work of the application.");
          if (!(await confirmAction(`Make ${v.versionName} the latest?`, body, "Make latest"))) return;
          try {
            const request = { versionName: v.versionName };
            if (app) request.applicationName = app;
            await call("SetLatestApplicationVersion", request);
            toast(`${v.versionName} is now the latest`);
          } catch (e) {
            toast(`Make latest: ${e.label}: ${e.message}`, "error");
          }
          load();
        } }, "Make latest")));
    });
    fill(out, table(["Version", "Application", "Version timestamp", "Registered", "Id", ""], rows, "No versions registered."));
  }
  load();
  return { keys: { r: load } };
}
