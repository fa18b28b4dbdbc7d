//! OpenTelemetry traces end to end: dbosd exports a server span per RPC over OTLP/gRPC to a real
//! OTLP receiver running in the test (`receiver.rs`), continuing the caller's `traceparent`; the
//! enqueued workflow's `dbos.otelContext` carrier names the RPC span, and a real DBOS Python worker
//! with tracing on exports its workflow span (OTLP/HTTP, to the same receiver) under it.

mod receiver;
mod traces;
