// A Connect client from npm (@connectrpc/connect + connect-node), used unmodified against dbosd.
// No generated code: the service comes from dbosd's descriptor set (the one reflection serves),
// loaded with @bufbuild/protobuf's createFileRegistry. Prints one JSON line per call:
//   node connect_client.mjs <descriptor-set.bin> <base-url> <workflow-id>
// The last line repeats a unary and a streaming call with every request gzip-compressed.
import { readFileSync } from "node:fs";
import { createFileRegistry, fromBinary, toJson } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { compressionGzip, createConnectTransport } from "@connectrpc/connect-node";

const [descriptorPath, baseUrl, workflowId] = process.argv.slice(2);
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorPath)));
const service = registry.getService("dbosd.v1.WorkflowService");
const transport = createConnectTransport({ baseUrl, httpVersion: "1.1" });
const client = createClient(service, transport);
const print = (value) => console.log(JSON.stringify(value));

// Unary.
const got = await client.getWorkflow({ workflowId });
print({ call: "GetWorkflow", response: toJson(service.method.getWorkflow.output, got) });

// Server streaming: every message until the outcome.
const messages = [];
for await (const message of client.awaitWorkflow({ workflowId, timeout: { seconds: 60n } })) {
  messages.push(toJson(service.method.awaitWorkflow.output, message));
}
print({ call: "AwaitWorkflow", messages });

// An error, as a ConnectError with the code and message gRPC callers get.
try {
  await client.getWorkflow({ workflowId: "no-such-workflow" });
  print({ call: "GetWorkflow(missing)", error: null });
} catch (e) {
  const err = ConnectError.from(e);
  print({ call: "GetWorkflow(missing)", error: { code: Code[err.code], message: err.rawMessage } });
}

// The same calls with gzip-compressed requests (compressMinBytes 0: even small ones).
const gzipped = createClient(
  service,
  createConnectTransport({ baseUrl, httpVersion: "1.1", sendCompression: compressionGzip, compressMinBytes: 0 }),
);
const gzGot = await gzipped.getWorkflow({ workflowId });
const gzMessages = [];
for await (const message of gzipped.awaitWorkflow({ workflowId, timeout: { seconds: 60n } })) {
  gzMessages.push(toJson(service.method.awaitWorkflow.output, message));
}
print({
  call: "gzip",
  response: toJson(service.method.getWorkflow.output, gzGot),
  messages: gzMessages,
});
