// What a workflow was sent and what it wrote: the messages sent to it (ListWorkflowMessages: topic,
// decoded message, time sent, received by a recv at which step or still pending; older pages on
// demand), and its streams listed by key (ListStreamKeys: value count, closed or open), a click on a
// key reading its values (ReadStream).

import { call, stream } from "./api.js";
import { errorBox, fill, h, panel } from "./dom.js";
import { payload, pretty, time } from "./format.js";

const PAGE_SIZE = 50;

/** A message's value on one line when short: decoded JSON, or the stored text with its format. */
function messageValue(p) {
  if (!p) return h("span.muted", {}, "none");
  if (p.json === undefined) return payload(p);
  const compact = JSON.stringify(p.json);
  return h("pre.code.msg-value", {}, compact.length > 80 ? pretty(p.json) : compact);
}

/** Received (by which step) or pending, as a badge. */
function state(m) {
  if (!m.consumed) return h("span.badge.s-enqueued", { title: "No recv of the workflow has taken it yet" }, "PENDING");
  const step = m.consumedByStep === undefined ? "" : ` · step ${m.consumedByStep}`;
  return h("span.badge.s-success", { title: "Taken by the workflow's recv" }, `RECEIVED${step}`);
}

export function messagesPanel(id) {
  const title = h("h3", {}, "Messages");
  const rows = h("tbody");
  const body = h("div", {}, h("p.muted", {}, "Loading…"));
  const more = h("button.ghost.small", { type: "button", hidden: true }, "Load more");
  let token = "";
  let count = 0;

  const row = (m) => h("tr", { dataset: { messageId: m.messageId, consumed: String(Boolean(m.consumed)) } },
    h("td.nowrap", {}, time(m.createdAt)),
    h("td.mono", {}, m.topic === undefined ? h("span.muted", {}, "(no topic)") : m.topic),
    h("td.msg-cell", {}, messageValue(m.message)),
    h("td.msg-state", {}, state(m)));

  async function page() {
    more.disabled = true;
    try {
      const res = await call("ListWorkflowMessages", { workflowId: id, pageSize: PAGE_SIZE, pageToken: token });
      const list = res.messages || [];
      count += list.length;
      token = res.nextPageToken || "";
      rows.append(...list.map(row));
      fill(title, `Messages (${count}${token ? "+" : ""})`);
      if (count === 0) fill(body, h("p.muted", {}, "No message was sent to this workflow."));
      else if (!body.querySelector("table")) {
        fill(body, h("div.table-wrap", {}, h("table.list.plain.messages", {},
          h("thead", {}, h("tr", {}, h("th", {}, "Sent"), h("th", {}, "Topic"), h("th", {}, "Message"), h("th", {}, "State"))),
          rows)));
      }
      more.hidden = !token;
    } catch (e) {
      fill(body, errorBox(e));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", page);
  page();
  return h("section.panel.messages-panel", {}, title,
    h("p.muted.small", {}, "What was sent to it, oldest first; DBOS.recv takes the oldest of a topic and keeps it as received."),
    body, h("div.more-row", {}, more));
}

export function streamsPanel(id, signal) {
  const keys = h("div", {}, h("p.muted", {}, "Loading…"));
  const out = h("div.stream-out");

  async function read(key, button) {
    for (const b of keys.querySelectorAll("button.stream-key")) b.setAttribute("aria-pressed", String(b === button));
    const values = [];
    fill(out, h("p.muted", {}, `Reading ${key}…`));
    let open = false;
    try {
      // A short timeout: a stream still being written would otherwise hold the panel open.
      await stream("ReadStream", { workflowId: id, key, timeout: "2s" }, (m) => values.push(m), signal);
    } catch (e) {
      if (e.code !== "deadline_exceeded") {
        fill(out, errorBox(e));
        return;
      }
      open = true;
    }
    fill(out, h("h4.mono", {}, key),
      values.length ? h("ol.stream-values", { start: values[0].offset ?? 0 }, values.map((m) => h("li", {}, payload(m.value))))
        : h("p.muted", {}, "No values."),
      open ? h("p.muted.small", {}, "The stream is still open.") : null);
  }

  call("ListStreamKeys", { workflowId: id }).then((res) => {
    const list = res.keys || [];
    if (!list.length) {
      fill(keys, h("p.muted", {}, "This workflow wrote no stream."));
      return;
    }
    fill(keys, h("ul.stream-keys", {}, list.map((k) => {
      const n = k.valueCount || 0;
      const button = h("button.stream-key", { type: "button", "aria-pressed": "false", dataset: { key: k.key } },
        h("span.mono.key", {}, k.key),
        h("span.muted.small.count", {}, `${n} value${n === 1 ? "" : "s"}`),
        h(`span.badge.${k.closed ? "s-success" : "s-pending"}`, {}, k.closed ? "CLOSED" : "OPEN"));
      button.addEventListener("click", () => read(k.key, button));
      return h("li", {}, button);
    })), res.truncated ? h("p.muted.small", {}, "Only the first 1,000 keys are listed.") : null);
  }, (e) => fill(keys, errorBox(e)));

  return panel("Streams", keys, out);
}
