// DOM helpers: elements built from data with textContent only (never HTML from the API), toasts,
// the confirmation dialog, and how an RPC error is shown.

/**
 * `h("a.link", {href}, "text", child)`: an element with classes after dots, attributes (`on*`
 * functions become listeners; `null`/`false` are skipped) and children (strings become text).
 */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces `el`'s children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A short message at the bottom right; `kind` is "ok" or "error". */
export function toast(message, kind = "ok") {
  const el = h(`div.toast.${kind}`, { role: kind === "error" ? "alert" : "status" }, message);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), kind === "error" ? 9000 : 4500);
}

/** How an RPC error reads in a view: its code in words, then dbosd's message. */
export function errorBox(error) {
  const code = error.label || "error";
  const hint = {
    "permission denied": "This token may not make this call.",
    unauthenticated: "Set a bearer token (press t).",
    "not found": "It does not exist, or this token may not see it.",
  }[code];
  return h("div.error-box", { role: "alert" },
    h("strong", {}, code), " ", error.message, hint ? h("div.muted", {}, hint) : null);
}

/** Asks before a change; resolves true when confirmed. `body` is a node or text. */
export function confirmAction(title, body, confirmLabel) {
  const dialog = document.getElementById("confirm-dialog");
  fill(document.getElementById("confirm-title"), title);
  fill(document.getElementById("confirm-body"), body);
  const yes = document.getElementById("confirm-yes");
  const no = document.getElementById("confirm-no");
  fill(yes, confirmLabel);
  return new Promise((resolve) => {
    const done = (answer) => {
      yes.removeEventListener("click", onYes);
      no.removeEventListener("click", onNo);
      dialog.removeEventListener("close", onNo);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onYes = () => done(true);
    const onNo = () => done(false);
    yes.addEventListener("click", onYes);
    no.addEventListener("click", onNo);
    dialog.addEventListener("close", onNo);
    dialog.showModal();
    yes.focus();
  });
}

/** A titled panel. */
export function panel(title, ...children) {
  return h("section.panel", {}, h("h3", {}, title), ...children);
}

/** A definition list from [label, value] pairs, skipping empty values. */
export function facts(pairs) {
  const dl = h("dl.facts");
  for (const [label, value] of pairs) {
    if (value === undefined || value === null || value === "") continue;
    dl.append(h("dt", {}, label), h("dd", {}, value));
  }
  return dl;
}
