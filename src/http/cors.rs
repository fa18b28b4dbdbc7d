//! CORS for browsers calling Connect and gRPC-Web from another origin: off unless origins are
//! configured (`--cors-origin`), and then only for those origins, with the request headers those
//! protocols send and the response headers their clients read.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers a Connect or gRPC-Web client (and dbosd's auth and tracing) may send.
const ALLOW_HEADERS: &[&str] = &[
    "content-type",
    "authorization",
    // The call's database (a fleet); see `api::service::databases`.
    "dbos-database",
    "x-request-id",
    "connect-protocol-version",
    "connect-timeout-ms",
    "connect-accept-encoding",
    "connect-content-encoding",
    "grpc-timeout",
    "x-grpc-web",
    "x-user-agent",
];

/// Response headers the clients read (statuses, trailers of gRPC-Web, the request id).
const EXPOSE_HEADERS: &[&str] = &[
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "connect-content-encoding",
    "content-encoding",
    "x-request-id",
];

/// Rejects an origin that is not `scheme://host[:port]`, in the flag's terms.
pub fn check_origins(origins: &[String]) -> Result<(), String> {
    for origin in origins {
        let uri: http::Uri = origin.parse().map_err(|_| {
            format!("--cors-origin {origin:?} is not an origin like https://app.example.com")
        })?;
        let bare = uri
            .path_and_query()
            .is_none_or(|p| p.as_str() == "/" || p.as_str().is_empty());
        if uri.scheme().is_none() || uri.host().is_none() || !bare || origin.ends_with('/') {
            return Err(format!(
                "--cors-origin {origin:?} is not an origin like https://app.example.com (scheme and host, no path)"
            ));
        }
    }
    Ok(())
}

/// The CORS layer for `origins`, or `None` (CORS off) when there are none.
pub fn layer(origins: &[String]) -> Result<Option<CorsLayer>, String> {
    if origins.is_empty() {
        return Ok(None);
    }
    check_origins(origins)?;
    let origins = origins
        .iter()
        .map(|o| {
            HeaderValue::from_str(o)
                .map_err(|_| format!("--cors-origin {o:?} is not a valid header value"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let names = |list: &[&'static str]| {
        list.iter()
            .map(|h| HeaderName::from_static(h))
            .collect::<Vec<_>>()
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::POST, Method::GET])
            .allow_headers(names(ALLOW_HEADERS))
            .expose_headers(names(EXPOSE_HEADERS))
            .max_age(Duration::from_secs(7200)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_must_be_scheme_and_host() {
        assert!(check_origins(&[
            "https://app.example.com".into(),
            "http://localhost:3000".into()
        ])
        .is_ok());
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "https://a.com/path",
            "*",
        ] {
            let err = check_origins(&[bad.into()]).unwrap_err();
            assert!(err.contains("--cors-origin"), "{bad}: {err}");
        }
    }
}
