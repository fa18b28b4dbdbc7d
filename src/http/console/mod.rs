//! The web console at `/ui` (`--ui`, on in `start-dev`): plain HTML, CSS and JavaScript modules
//! from `assets/`, compiled into the binary, so it works offline and building dbosd needs no Node
//! toolchain. The pages hold no data: the browser calls the API over Connect JSON on this same
//! port with the bearer token the user typed in, so every call passes the same auth, scopes and
//! limits as gRPC. Every asset is sent with a restrictive Content-Security-Policy (same-origin
//! scripts, styles and fetches only; no inline code, no framing).

use axum::{
    http::{header, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

/// What the console's pages may do: load their own scripts and styles, call this origin, nothing else.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// One embedded file: its path under `/ui/`, content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_str!(concat!("assets/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console; `index.html` is also what `/ui` and `/ui/` serve.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("format.js", JS),
    asset!("filters.js", JS),
    asset!("workflows.js", JS),
    asset!("bulk.js", JS),
    asset!("workflow.js", JS),
    asset!("steps.js", JS),
    asset!("inbox.js", JS),
    asset!("registry.js", JS),
];

/// The `/ui` routes: the index at `/ui` and `/ui/`, each asset at `/ui/<name>`, 404 for the rest.
pub fn router() -> Router {
    Router::new()
        .route("/ui", get(|| async { serve("index.html") }))
        .route("/ui/", get(|| async { serve("index.html") }))
        .route(
            "/ui/{*name}",
            get(|axum::extract::Path(name): axum::extract::Path<String>| async move {
                serve(&name)
            }),
        )
}

/// The asset `name` with its headers, or a plain 404.
fn serve(name: &str) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such console file\n").into_response();
    };
    let headers: [(HeaderName, HeaderValue); 6] = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        // The files change with the binary: revalidate rather than run an old console on a new API.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    (headers, asset.body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_console_imports_is_served() {
        // A module imported but missing from ASSETS would only fail in a browser.
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            for line in asset.body.lines() {
                let Some(from) = line.split(" from \"./").nth(1) else {
                    continue;
                };
                let target = from.split('"').next().unwrap_or_default();
                assert!(
                    ASSETS.iter().any(|a| a.name == target),
                    "{} imports {target}, which is not served",
                    asset.name
                );
            }
        }
        let index = ASSETS[0].body;
        assert!(index.contains("src=\"/ui/app.js\""), "index loads app.js");
        assert!(
            !index.contains("<script>"),
            "no inline script (CSP forbids it)"
        );
        assert!(
            !index.contains("style=\""),
            "no inline style (CSP forbids it)"
        );
    }
}
