//! OpenTelemetry traces: one server span per RPC, exported over OTLP/gRPC to the endpoint and with
//! the sampler the standard `OTEL_*` variables name, off when no endpoint is configured (or
//! `OTEL_SDK_DISABLED=true`, or `OTEL_TRACES_EXPORTER=none`). A span continues the caller's W3C
//! `traceparent`; the RPC layer then rewrites the request's `traceparent` to the span itself, so
//! what the handler stamps on an enqueued workflow (`dbos.otelContext`, see
//! `api::service::trace_context`) names the RPC span and the worker's spans join under it.
//! Each server owns its provider (no process-global tracer): in-process servers stay apart, and
//! the server flushes its spans when it stops.

use std::{sync::Arc, time::Duration};

use http::{HeaderMap, HeaderValue};
use opentelemetry::{
    propagation::{Extractor, TextMapPropagator},
    trace::{SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _},
    Context, KeyValue,
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{
    propagation::TraceContextPropagator,
    trace::{Sampler, SdkTracer, SdkTracerProvider},
    Resource,
};
use tonic::Code;

use super::Method;

/// The service name spans carry when `OTEL_SERVICE_NAME` names none.
pub const DEFAULT_SERVICE_NAME: &str = "dbosd";
/// How long the exporter may take to send one batch.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which spans are recorded: the `OTEL_TRACES_SAMPLER` values (with `OTEL_TRACES_SAMPLER_ARG`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum SamplerSetting {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
    #[default]
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedRatio(f64),
}

impl SamplerSetting {
    fn sampler(self) -> Sampler {
        match self {
            SamplerSetting::AlwaysOn => Sampler::AlwaysOn,
            SamplerSetting::AlwaysOff => Sampler::AlwaysOff,
            SamplerSetting::Ratio(r) => Sampler::TraceIdRatioBased(r),
            SamplerSetting::ParentBasedAlwaysOn => {
                Sampler::ParentBased(Box::new(Sampler::AlwaysOn))
            }
            SamplerSetting::ParentBasedAlwaysOff => {
                Sampler::ParentBased(Box::new(Sampler::AlwaysOff))
            }
            SamplerSetting::ParentBasedRatio(r) => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r)))
            }
        }
    }
}

/// Where and what to export; `endpoint: None` turns traces off.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSettings {
    /// The OTLP/gRPC collector, e.g. `http://otel-collector:4317`.
    pub endpoint: Option<String>,
    pub sampler: SamplerSetting,
    pub service_name: String,
}

impl Default for TraceSettings {
    fn default() -> Self {
        TraceSettings {
            endpoint: None,
            sampler: SamplerSetting::default(),
            service_name: DEFAULT_SERVICE_NAME.to_owned(),
        }
    }
}

impl TraceSettings {
    /// The settings the process environment's `OTEL_*` variables give.
    pub fn from_env() -> Result<TraceSettings, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings the variables `get` returns give; a value dbosd cannot honour is an error
    /// naming the variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<TraceSettings, String> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let off = TraceSettings::default();
        if get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(off);
        }
        match get("OTEL_TRACES_EXPORTER").as_deref() {
            None | Some("otlp") => {}
            Some("none") => return Ok(off),
            Some(other) => {
                return Err(format!(
                    "OTEL_TRACES_EXPORTER={other} is not supported: dbosd exports traces over OTLP \
                     (otlp) or not at all (none)"
                ))
            }
        }
        let protocol =
            get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or(get("OTEL_EXPORTER_OTLP_PROTOCOL"));
        if let Some(p) = protocol.filter(|p| p != "grpc") {
            return Err(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={p} is not supported: dbosd exports OTLP over gRPC; \
                 set it to grpc and point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's gRPC port \
                 (usually 4317)"
            ));
        }
        let endpoint =
            get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or(get("OTEL_EXPORTER_OTLP_ENDPOINT"));
        if let Some(e) = &endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(format!(
                    "OTEL_EXPORTER_OTLP_ENDPOINT={e} must be an http:// or https:// URL"
                ));
            }
        }
        Ok(TraceSettings {
            endpoint,
            sampler: parse_sampler(get("OTEL_TRACES_SAMPLER"), get("OTEL_TRACES_SAMPLER_ARG"))?,
            service_name: get("OTEL_SERVICE_NAME")
                .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned()),
        })
    }
}

fn parse_sampler(name: Option<String>, arg: Option<String>) -> Result<SamplerSetting, String> {
    let ratio = || -> Result<f64, String> {
        match arg.as_deref() {
            None => Ok(1.0),
            Some(a) => a
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| format!("OTEL_TRACES_SAMPLER_ARG={a} must be a number from 0 to 1")),
        }
    };
    Ok(match name.as_deref().unwrap_or("parentbased_always_on") {
        "always_on" => SamplerSetting::AlwaysOn,
        "always_off" => SamplerSetting::AlwaysOff,
        "traceidratio" => SamplerSetting::Ratio(ratio()?),
        "parentbased_always_on" => SamplerSetting::ParentBasedAlwaysOn,
        "parentbased_always_off" => SamplerSetting::ParentBasedAlwaysOff,
        "parentbased_traceidratio" => SamplerSetting::ParentBasedRatio(ratio()?),
        other => {
            return Err(format!(
                "OTEL_TRACES_SAMPLER={other} is not supported; use always_on, always_off, \
                 traceidratio, parentbased_always_on, parentbased_always_off or \
                 parentbased_traceidratio"
            ))
        }
    })
}

/// A server's tracer and the provider that batches and exports its spans.
pub struct Traces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Traces {
    /// The tracer `settings` configure, or `None` when traces are off. Must run inside the Tokio
    /// runtime (the gRPC exporter's channel lives there).
    pub fn start(settings: &TraceSettings) -> Result<Option<Arc<Traces>>, String> {
        let Some(endpoint) = &settings.endpoint else {
            return Ok(None);
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| format!("OTLP exporter for {endpoint}: {e}"))?;
        let resource = Resource::builder()
            .with_service_name(settings.service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(settings.sampler.sampler())
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("dbosd");
        tracing::info!(endpoint = %endpoint, "exporting traces over OTLP");
        Ok(Some(Arc::new(Traces { provider, tracer })))
    }

    /// Starts the server span of a call to `method`, a child of the caller's `traceparent` in
    /// `headers` when there is a valid one.
    pub(super) fn rpc_span(
        &self,
        method: &Method,
        headers: &HeaderMap,
        request_id: &str,
    ) -> RpcSpan {
        let parent = TraceContextPropagator::new().extract(&Headers(headers));
        let name = format!("{}/{}", method.service, method.method);
        let span = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", method.service.to_string()),
                KeyValue::new("rpc.method", method.method.to_string()),
                KeyValue::new("dbosd.request_id", request_id.to_owned()),
            ])
            .start_with_context(&self.tracer, &parent);
        RpcSpan(Context::new().with_span(span))
    }

    /// Exports the spans still buffered and stops the exporter (the server calls it last).
    pub async fn shutdown(&self) {
        let provider = self.provider.clone();
        // The SDK's shutdown blocks until the batch is sent.
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "flushing traces at shutdown failed");
        }
    }
}

/// One RPC's span, ended with the call's status.
pub struct RpcSpan(Context);

impl RpcSpan {
    /// The W3C `traceparent` naming this span, as a child would carry it.
    pub fn traceparent(&self) -> HeaderValue {
        let sc = self.0.span().span_context().clone();
        let value = format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        );
        HeaderValue::from_str(&value).expect("hex digits and dashes are a valid header value")
    }

    /// The trace id, for log lines.
    pub fn trace_id(&self) -> String {
        self.0.span().span_context().trace_id().to_string()
    }

    /// Ends the span with the call's gRPC status (the server-side errors of OpenTelemetry's gRPC
    /// conventions mark it failed).
    pub fn finish(self, code: Code) {
        let span = self.0.span();
        span.set_attribute(KeyValue::new("rpc.grpc.status_code", code as i64));
        if matches!(
            code,
            Code::Unknown
                | Code::DeadlineExceeded
                | Code::Unimplemented
                | Code::Internal
                | Code::Unavailable
                | Code::DataLoss
        ) {
            span.set_status(Status::error(format!("{code:?}")));
        }
        span.end();
    }
}

/// Request headers as the propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<TraceSettings, String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TraceSettings::from_lookup(|k| vars.get(k).cloned())
    }

    #[test]
    fn otel_variables_configure_the_exporter_and_sampler() {
        assert_eq!(settings(&[]).unwrap().endpoint, None);
        let s = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_SERVICE_NAME", "dbosd-eu"),
        ])
        .unwrap();
        assert_eq!(s.endpoint.as_deref(), Some("http://collector:4317"));
        assert_eq!(s.sampler, SamplerSetting::ParentBasedRatio(0.25));
        assert_eq!(s.service_name, "dbosd-eu");
        // The traces-only endpoint wins over the general one.
        let s = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:4317"),
        ])
        .unwrap();
        assert_eq!(s.endpoint.as_deref(), Some("http://b:4317"));
        for off in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            let s = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4317"), off]).unwrap();
            assert_eq!(s.endpoint, None, "{off:?}");
        }
        let ratio = ("OTEL_TRACES_SAMPLER", "traceidratio");
        for (vars, names) in [
            (
                vec![("OTEL_TRACES_SAMPLER", "sometimes")],
                "OTEL_TRACES_SAMPLER",
            ),
            (
                vec![ratio, ("OTEL_TRACES_SAMPLER_ARG", "2")],
                "OTEL_TRACES_SAMPLER_ARG",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")],
                "grpc",
            ),
            (
                vec![("OTEL_TRACES_EXPORTER", "zipkin")],
                "OTEL_TRACES_EXPORTER",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")],
                "http://",
            ),
        ] {
            let err = settings(&vars).unwrap_err();
            assert!(err.contains(names), "{vars:?}: {err}");
        }
    }
}
