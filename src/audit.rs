//! The audit trail: one structured record per mutating call, on the tracing target `dbosd::audit`
//! (a log pipeline can route that target on its own), counted in `dbosd_audit_records_total{rpc,
//! result}`. The gRPC service records every call its policy table marks as a write; other writers
//! (say, native payload writes) call [`record`] the same way.

use std::{net::SocketAddr, sync::LazyLock};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};
use tonic::Code;

/// The tracing target of audit records.
pub const TARGET: &str = "dbosd::audit";

/// Who called without a token (authentication is off).
pub const ANONYMOUS: &str = "anonymous";

/// One audited call.
#[derive(Debug, Clone, Default)]
pub struct AuditRecord<'a> {
    /// The token's name; `None` when authentication is off (recorded as "anonymous").
    pub principal: Option<&'a str>,
    /// The RPC (or operation) name, e.g. `CancelWorkflow`.
    pub rpc: &'a str,
    /// What the call named: workflow ids, or `queue:<name>`, `schedule:<name>`, `application:<name>`.
    pub targets: Vec<String>,
    /// The filter a bulk call selected by, as the caller sent it.
    pub filter: Option<String>,
    /// How the call ended.
    pub result: Option<Code>,
    /// The caller's address.
    pub peer: Option<SocketAddr>,
    /// The call's request id (the `x-request-id` echoed to the caller).
    pub request_id: Option<&'a str>,
}

/// The labels of `dbosd_audit_records_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuditLabels {
    pub rpc: String,
    pub result: String,
}

static RECORDS: LazyLock<Family<AuditLabels, Counter>> = LazyLock::new(Family::default);

/// The counter family behind `dbosd_audit_records_total` (registered by `telemetry::Metrics`).
pub fn counter() -> Family<AuditLabels, Counter> {
    RECORDS.clone()
}

/// How a result is labelled: `OK`, or the code's name (`NotFound`, `PermissionDenied`).
pub fn result_label(code: Option<Code>) -> String {
    match code {
        Some(Code::Ok) => "OK".to_owned(),
        Some(other) => format!("{other:?}"),
        None => "Unknown".to_owned(),
    }
}

/// Whether audit records are logged (the [`TARGET`] enabled at INFO). When not, a record is only
/// counted, so a writer need not gather what it names (it costs a call more than the count).
pub fn logged() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::INFO)
}

/// Emits `record` on [`TARGET`] and counts it.
pub fn record(record: &AuditRecord<'_>) {
    let result = result_label(record.result);
    RECORDS
        .get_or_create(&AuditLabels {
            rpc: record.rpc.to_owned(),
            result: result.clone(),
        })
        .inc();
    if !logged() {
        return;
    }
    // JSON so a list of ids stays one field a log pipeline can parse.
    let targets = serde_json::to_string(&record.targets).unwrap_or_default();
    tracing::info!(
        target: TARGET,
        principal = record.principal.unwrap_or(ANONYMOUS),
        rpc = record.rpc,
        targets = %targets,
        filter = record.filter.as_deref().unwrap_or(""),
        result = %result,
        peer = %record.peer.map(|p| p.to_string()).unwrap_or_default(),
        request_id = record.request_id.unwrap_or(""),
        "audit"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_counted_by_rpc_and_result() {
        let count = |rpc: &str, result: &str| {
            RECORDS
                .get_or_create(&AuditLabels {
                    rpc: rpc.into(),
                    result: result.into(),
                })
                .get()
        };
        let before = count("UnitTestRpc", "PermissionDenied");
        record(&AuditRecord {
            rpc: "UnitTestRpc",
            targets: vec!["wf-1".into()],
            result: Some(Code::PermissionDenied),
            ..AuditRecord::default()
        });
        assert_eq!(count("UnitTestRpc", "PermissionDenied"), before + 1);
        assert_eq!(result_label(Some(Code::Ok)), "OK");
    }
}
