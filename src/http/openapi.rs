//! `GET /openapi.json`: the OpenAPI 3.1 document of the Connect endpoints, generated from the proto
//! at build time (`build/openapi.rs`), so it always describes the service this binary serves.

use axum::{routing::get, Router};
use http::{header, HeaderValue};

/// The document, as build.rs wrote it.
pub const DOCUMENT: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

/// The route serving [`DOCUMENT`].
pub fn router() -> Router {
    Router::new().route(
        "/openapi.json",
        get(|| async {
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                DOCUMENT,
            )
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_lists_every_rpc_with_an_example() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        let pool = prost_reflect::DescriptorPool::decode(crate::pb::FILE_DESCRIPTOR_SET).unwrap();
        let service = pool
            .get_service_by_name("dbosd.v1.WorkflowService")
            .unwrap();
        for method in service.methods() {
            let path = format!("/dbosd.v1.WorkflowService/{}", method.name());
            let op = &paths.get(&path).unwrap_or_else(|| panic!("{path} missing"))["post"];
            assert!(
                op["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{path}: no description"
            );
            let content = op["requestBody"]["content"].as_object().unwrap();
            let media = content.values().next().unwrap();
            assert!(media.get("example").is_some(), "{path}: no example");
        }
        let status = &doc["components"]["schemas"]["dbosd.v1.WorkflowStatus"];
        assert_eq!(status["type"], "string", "enums are strings: {status}");
    }
}
