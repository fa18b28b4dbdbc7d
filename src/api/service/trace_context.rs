//! W3C trace context from a call's gRPC metadata (`traceparent`, `tracestate`), stamped on enqueued
//! workflows the way the DBOS Python client's `PropagateOtelContext` stores it: a carrier under the
//! reserved attribute `dbos.otelContext`, so the worker's spans continue the caller's trace. With
//! traces on, the RPC layer (`telemetry::layer`) has already rewritten `traceparent` to name the
//! call's own span (a child of the caller's), so the carrier points at the RPC span and the
//! worker's workflow span becomes its child.

use serde_json::{Map, Value as Json};
use tonic::metadata::MetadataMap;

/// The workflow attribute DBOS workers read the carrier from (`OTEL_CARRIER_ATTRIBUTE`).
pub const OTEL_CARRIER_ATTRIBUTE: &str = "dbos.otelContext";
/// W3C's bound on `tracestate` (32 list members of at most 256 characters, plus commas).
const MAX_TRACESTATE: usize = 8_224;

/// A validated trace context.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceContext {
    traceparent: String,
    tracestate: Option<String>,
}

impl TraceContext {
    /// The context in `metadata`, or `None` when absent or invalid (W3C: an invalid traceparent
    /// is ignored, never an error; then tracestate is ignored too).
    pub fn from_metadata(metadata: &MetadataMap) -> Option<TraceContext> {
        let header = |name| metadata.get(name).and_then(|v| v.to_str().ok());
        let traceparent = normalize_traceparent(header("traceparent")?)?;
        let tracestate = header("tracestate")
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= MAX_TRACESTATE)
            .map(str::to_owned);
        Some(TraceContext {
            traceparent,
            tracestate,
        })
    }

    /// `attributes` (JSON object text, if any) with the carrier set, replacing a hand-written one
    /// as the Python client does.
    pub fn stamp(&self, attributes: Option<&str>) -> String {
        let mut map: Map<String, Json> = attributes
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_default();
        let mut carrier = Map::new();
        carrier.insert("traceparent".into(), Json::from(self.traceparent.clone()));
        if let Some(state) = &self.tracestate {
            carrier.insert("tracestate".into(), Json::from(state.clone()));
        }
        map.insert(OTEL_CARRIER_ATTRIBUTE.into(), Json::Object(carrier));
        Json::Object(map).to_string()
    }
}

/// `version-traceid-parentid-flags` as OpenTelemetry's propagator accepts it, re-written as the
/// version 00 it injects: lowercase hex, trace and parent ids not all zero, version not `ff`, and
/// no extra fields on version 00.
fn normalize_traceparent(value: &str) -> Option<String> {
    let value = value.trim();
    let mut parts = value.split('-');
    let (version, trace_id, parent_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let zero = |s: &str| s.bytes().all(|b| b == b'0');
    let extra = parts.next().is_some();
    let valid = hex(version, 2)
        && version != "ff"
        && !(version == "00" && extra)
        && hex(trace_id, 32)
        && !zero(trace_id)
        && hex(parent_id, 16)
        && !zero(parent_id)
        && hex(flags, 2);
    valid.then(|| format!("00-{trace_id}-{parent_id}-{flags}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn metadata(pairs: &[(&'static str, &str)]) -> MetadataMap {
        let mut m = MetadataMap::new();
        for (k, v) in pairs {
            m.insert(*k, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn valid_contexts_are_kept_and_invalid_ones_ignored() {
        let ctx = TraceContext::from_metadata(&metadata(&[
            ("traceparent", PARENT),
            ("tracestate", "congo=t61rcWkgMzE"),
        ]))
        .expect("valid");
        let stamped: Json = serde_json::from_str(&ctx.stamp(Some(r#"{"team":"a"}"#))).unwrap();
        assert_eq!(
            stamped,
            serde_json::json!({"team": "a", "dbos.otelContext":
                {"traceparent": PARENT, "tracestate": "congo=t61rcWkgMzE"}})
        );
        // A future version with extra fields is read as version 00.
        let future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what";
        let ctx = TraceContext::from_metadata(&metadata(&[("traceparent", future)])).unwrap();
        assert_eq!(ctx.traceparent, PARENT);
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "garbage",
        ] {
            let got = TraceContext::from_metadata(&metadata(&[("traceparent", bad)]));
            assert_eq!(got, None, "{bad}");
        }
        assert_eq!(TraceContext::from_metadata(&MetadataMap::new()), None);
    }
}
