// The workflow list: search by id prefix, status chips with counts (GetWorkflowAggregates),
// every other filter in a panel, pages by page token, live row updates (WatchWorkflows) and the
// bulk actions. Everything the list shows is in the URL hash, so a filtered page can be shared.

import { call, stream } from "./api.js";
import { bulkBar } from "./bulk.js";
import { errorBox, fill, h } from "./dom.js";
import { extraCount, filterForm, filterOf, statusesOf, watchOf } from "./filters.js";
import { STATUSES, statusBadge, time, workflowDuration } from "./format.js";

const PAGE_SIZES = ["25", "50", "100", "250"];
// Page tokens of the pages before the current one, per query, for "Previous".
const earlier = new Map();

/** Renders the list into `root` for the hash query `params`; returns the cleanup. */
export function renderWorkflows(root, params, ctx) {
  const go = (next) => ctx.navigate(`#/workflows${next.toString() ? `?${next}` : ""}`);
  const query = new URLSearchParams(params);
  query.delete("page");
  const queryKey = query.toString();
  const abort = new AbortController();
  let rows = [];
  let selected = -1;

  const search = h("input.search", { type: "search", id: "search", placeholder: "Workflow id prefix  ( / )",
    value: params.get("prefix") || "", spellcheck: "false", autocomplete: "off" });
  search.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    const next = new URLSearchParams(params);
    next.delete("page");
    if (search.value.trim()) next.set("prefix", search.value.trim());
    else next.delete("prefix");
    go(next);
  });
  const chips = h("div.chips", { role: "group", "aria-label": "Status" });
  const filtersOpen = params.get("filters") === "open";
  const more = h("button.ghost", { type: "button", "aria-expanded": String(filtersOpen), onclick: () => {
    const next = new URLSearchParams(params);
    if (filtersOpen) next.delete("filters");
    else next.set("filters", "open");
    go(next);
  } }, `Filters${extraCount(params) ? ` (${extraCount(params)})` : ""}`);
  const sort = h("button.ghost", { type: "button", title: "Sort by creation time", onclick: () => {
    const next = new URLSearchParams(params);
    next.delete("page");
    if (params.get("asc")) next.delete("asc");
    else next.set("asc", "1");
    go(next);
  } }, params.get("asc") ? "Oldest first" : "Newest first");
  const size = h("select", { "aria-label": "Page size" }, PAGE_SIZES.map((s) => h("option", { value: s }, `${s} / page`)));
  size.value = PAGE_SIZES.includes(params.get("size")) ? params.get("size") : "50";
  size.addEventListener("change", () => {
    const next = new URLSearchParams(params);
    next.delete("page");
    next.set("size", size.value);
    go(next);
  });
  const notice = h("div.notice");
  const banner = h("button.banner", { type: "button", hidden: true, onclick: () => ctx.refresh() });
  const body = h("tbody");
  const table = h("table.list", {},
    h("thead", {}, h("tr", {}, ["Workflow id", "Name", "Status", "Queue", "Created", "Duration", "Version", "Executor"]
      .map((c) => h("th", {}, c)))), body);
  const pager = h("div.pager");
  let filter = {};
  let countFilter = {};
  let invalid = null;
  try {
    filter = filterOf(params);
    countFilter = filterOf(params, false);
  } catch (e) {
    invalid = e;
    notice.append(errorBox({ label: "invalid filter", message: e.message }));
  }
  fill(root,
    h("div.toolbar", {}, search, chips, h("span.spacer"), more, sort, size),
    filtersOpen ? filterForm(params, go) : null,
    h("div.toolbar.secondary", {}, bulkBar(() => filter, () => ctx.refresh())),
    notice, banner,
    h("div.table-wrap", {}, table), pager);

  function select(i) {
    if (!rows.length) return;
    selected = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, j) => r.el.classList.toggle("selected", j === selected));
    rows[selected].el.scrollIntoView({ block: "nearest" });
  }

  function row(wf) {
    const id = wf.workflowId;
    const href = `#/workflow/${encodeURIComponent(id)}`;
    const el = h("tr", { dataset: { id }, onclick: (e) => { if (!e.target.closest("a")) ctx.navigate(href); } },
      h("td.mono.id", {}, h("a", { href }, id)),
      h("td", {}, wf.workflowName || ""),
      h("td.status", {}, statusBadge(wf.status)),
      h("td.muted", {}, wf.queueName || ""),
      h("td.muted.nowrap", {}, time(wf.createdAt)),
      h("td.muted.nowrap.duration", {}, workflowDuration(wf)),
      h("td.muted", {}, wf.appVersion || ""),
      h("td.muted.mono.small", {}, wf.executorId || ""));
    return { id, el, wf };
  }

  async function loadCounts() {
    const active = statusesOf(params);
    let counts = new Map();
    let total = 0;
    try {
      const res = await call("GetWorkflowAggregates", { filter: countFilter, groupBy: ["WORKFLOW_GROUP_BY_STATUS"] });
      for (const a of res.aggregates || []) {
        const n = Number(a.count || 0);
        counts.set(a.group?.[0]?.value || "", n);
        total += n;
      }
    } catch {
      counts = null; // The list still works; the chips just show no numbers.
    }
    const chip = (status, label, n) => {
      const on = status ? active.includes(status) : active.length === 0;
      return h(`button.chip${status ? `.s-${status.toLowerCase()}` : ""}${on ? ".on" : ""}`, {
        type: "button", "aria-pressed": String(on), dataset: { status: status || "ALL" },
        title: status ? "Click: only this status. Shift-click: add or remove it." : "Every status",
        onclick: (e) => {
          const next = new URLSearchParams(params);
          next.delete("page");
          let chosen = status ? (e.shiftKey ? (on ? active.filter((s) => s !== status) : [...active, status]) : [status]) : [];
          if (!e.shiftKey && on && active.length === 1) chosen = [];
          if (chosen.length) next.set("status", chosen.join(","));
          else next.delete("status");
          go(next);
        } }, label, n === null ? null : h("span.count", {}, String(n)));
    };
    fill(chips, chip(null, "All", counts ? total : null),
      STATUSES.filter((s) => !counts || counts.get(s) || active.includes(s) || ["ENQUEUED", "PENDING", "SUCCESS", "ERROR"].includes(s))
        .map((s) => chip(s, s === "MAX_RECOVERY_ATTEMPTS_EXCEEDED" ? "DEAD-LETTERED" : s, counts ? counts.get(s) || 0 : null)));
  }

  async function loadPage() {
    const token = params.get("page") || "";
    const request = { filter, sortDesc: !params.get("asc"), pageSize: Number(size.value), pageToken: token };
    try {
      const res = await call("ListWorkflows", request);
      rows = (res.workflows || []).map(row);
      fill(body, rows.length ? rows.map((r) => r.el)
        : h("tr", {}, h("td.empty", { colSpan: 8 }, "No workflows match.")));
      const stack = earlier.get(queryKey) || [];
      const prev = h("button.ghost", { type: "button", disabled: !token, onclick: () => {
        const back = stack.pop();
        const next = new URLSearchParams(params);
        if (back) next.set("page", back);
        else next.delete("page");
        go(next);
      } }, "← Previous");
      const nextBtn = h("button.ghost", { type: "button", disabled: !res.nextPageToken, onclick: () => {
        stack.push(token);
        earlier.set(queryKey, stack);
        const next = new URLSearchParams(params);
        next.set("page", res.nextPageToken);
        go(next);
      } }, "Next →");
      fill(pager, prev, h("span.muted", {}, `${rows.length} shown${token ? `, page ${stack.length + 1}` : ""}`), nextBtn);
      if (rows.length) select(0);
    } catch (e) {
      fill(body);
      notice.append(errorBox(e));
    }
  }

  // Live updates: rows on this page change in place; anything else shows a banner to reload.
  let changed = 0;
  let countsTimer = null;
  async function watch() {
    let cursor = "";
    for (let attempt = 0; !abort.signal.aborted; attempt++) {
      try {
        await stream("WatchWorkflows", { ...watchOf(filter), cursor }, (msg) => {
          cursor = msg.cursor || cursor;
          attempt = 0;
          const wf = msg.workflow;
          const r = rows.find((x) => x.id === wf.workflowId);
          if (r) {
            const fresh = row({ ...r.wf, ...wf });
            r.el.replaceChildren(...fresh.el.childNodes);
            r.el.classList.add("flash");
            setTimeout(() => r.el.classList.remove("flash"), 1200);
            r.wf = { ...r.wf, ...wf };
          } else {
            changed += 1;
            banner.hidden = false;
            fill(banner, `${changed} workflow${changed === 1 ? "" : "s"} changed or added — show`);
          }
          clearTimeout(countsTimer);
          countsTimer = setTimeout(loadCounts, 500);
        }, abort.signal, () => ctx.setLive(true));
      } catch (e) {
        if (abort.signal.aborted) break;
        ctx.setLive(false);
        if (e.code === "permission_denied" || e.code === "unauthenticated" || e.code === "invalid_argument") break;
      }
      ctx.setLive(false);
      // Reconnect after a pause that grows, resuming after the last cursor.
      await new Promise((r) => setTimeout(r, Math.min(30_000, 1000 * 2 ** attempt)));
    }
  }

  // A filter that does not parse lists nothing (rather than everything) until it is fixed.
  if (!invalid) {
    loadCounts();
    loadPage();
    watch();
  }
  return {
    cleanup: () => {
      abort.abort();
      clearTimeout(countsTimer);
      ctx.setLive(false);
    },
    keys: {
      j: () => select(selected + 1),
      k: () => select(selected - 1),
      Enter: () => rows[selected] && ctx.navigate(`#/workflow/${encodeURIComponent(rows[selected].id)}`),
      "/": () => search.focus(),
    },
  };
}
