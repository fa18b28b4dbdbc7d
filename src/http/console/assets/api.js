// The console's only way to dbosd: Connect JSON on this origin (POST /dbosd.v1.WorkflowService/<Method>),
// unary calls and server streams, with the tab's bearer token and, on a fleet, the database named
// by ?db= in the page URL. Errors come back as RpcError with the Connect code and dbosd's message.

const SERVICE = "/dbosd.v1.WorkflowService/";
const TOKEN_KEY = "dbosd.console.token";

/** The token (sessionStorage: this tab only) and the database (from ?db=). */
export const session = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  database: new URLSearchParams(location.search).get("db") || "",
};

export function setToken(token) {
  session.token = token;
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A failed call: `code` is the Connect code (`not_found`, `permission_denied`, ...). */
export class RpcError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
  /** The code as people read it: `permission denied`. */
  get label() {
    return this.code.replaceAll("_", " ");
  }
}

// Connect maps HTTP statuses to codes when a body carries none (a proxy in between, say).
const HTTP_CODES = { 400: "invalid_argument", 401: "unauthenticated", 403: "permission_denied",
  404: "not_found", 408: "deadline_exceeded", 409: "aborted", 429: "resource_exhausted",
  502: "unavailable", 503: "unavailable", 504: "unavailable" };

function headers(contentType) {
  const h = { "Content-Type": contentType, "Connect-Protocol-Version": "1" };
  if (session.token) h.Authorization = `Bearer ${session.token}`;
  if (session.database) h["dbos-database"] = session.database;
  return h;
}

async function post(method, contentType, body, signal) {
  try {
    return await fetch(SERVICE + method, { method: "POST", headers: headers(contentType), body, signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new RpcError("unavailable", `dbosd cannot be reached (${e.message})`);
  }
}

/** A unary call; resolves to the response message. */
export async function call(method, message = {}) {
  const response = await post(method, "application/json", JSON.stringify(message));
  const text = await response.text();
  let body = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { message: text };
  }
  if (!response.ok) {
    const error = new RpcError(body.code || HTTP_CODES[response.status] || "unknown",
      body.message || `HTTP ${response.status}`);
    if (error.code === "unauthenticated") window.dispatchEvent(new CustomEvent("dbosd:unauthenticated"));
    throw error;
  }
  return body;
}

/**
 * A server-streaming call: `onMessage` gets each message as it arrives. Resolves when the stream
 * ends cleanly, rejects with RpcError when it ends with an error; `signal` aborts it; `onOpen`
 * runs once dbosd has accepted the call.
 */
export async function stream(method, message, onMessage, signal, onOpen) {
  const json = new TextEncoder().encode(JSON.stringify(message));
  const request = new Uint8Array(5 + json.length);
  new DataView(request.buffer).setUint32(1, json.length);
  request.set(json, 5);
  const response = await post(method, "application/connect+json", request, signal);
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new RpcError(body.code || HTTP_CODES[response.status] || "unknown",
      body.message || `HTTP ${response.status}`);
  }
  onOpen?.();
  const reader = response.body.getReader();
  let buffer = new Uint8Array(0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new RpcError("unavailable", "the stream ended without its end message");
    const joined = new Uint8Array(buffer.length + value.length);
    joined.set(buffer);
    joined.set(value, buffer.length);
    buffer = joined;
    // Each envelope: flags (1 byte), length (4 bytes, big endian), the JSON message.
    while (buffer.length >= 5) {
      const length = new DataView(buffer.buffer, buffer.byteOffset + 1, 4).getUint32(0);
      if (buffer.length < 5 + length) break;
      const flags = buffer[0];
      const body = JSON.parse(new TextDecoder().decode(buffer.subarray(5, 5 + length)));
      buffer = buffer.slice(5 + length);
      if (flags & 2) {
        if (body.error) throw new RpcError(body.error.code || "unknown", body.error.message || "");
        return;
      }
      onMessage(body);
    }
  }
}
