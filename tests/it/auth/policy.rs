//! The policy table is what the server enforces: every RPC the table marks whole-database is
//! refused to a scoped token (PERMISSION_DENIED, whatever the request says), every other RPC is not
//! refused for its kind, and every refused write is audited. Driven by the table itself, over raw
//! gRPC with an empty message (valid bytes for any request type).

use std::str::FromStr;

use dbosd::{
    api::rpcs::POLICIES,
    auth::policy::{Access, ScopeKind, SERVICE},
};
use tonic::{transport::Channel, Code};

use crate::auth::setup::{server, ALPHA, OPS};
use crate::harness::telemetry_sample;

/// Calls unary `method` with an empty request as `token`.
async fn call_empty(channel: &Channel, method: &str, token: &str) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = http::uri::PathAndQuery::from_str(&format!("/{SERVICE}/{method}")).unwrap();
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let mut request = tonic::Request::new(());
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    grpc.unary(request, path, codec).await.map(|_| ())
}

#[tokio::test]
async fn the_table_decides_which_calls_a_scoped_token_may_make() {
    let (srv, _tokens) = server().await;
    let audited = |scrape: &str, rpc: &str| {
        let prefix =
            format!(r#"dbosd_audit_records_total{{rpc="{rpc}",result="PermissionDenied"}}"#);
        telemetry_sample(scrape, &prefix).unwrap_or(0.0)
    };
    let before = srv.scrape().await;
    let mut whole_database_writes = Vec::new();
    for (method, policy) in POLICIES.iter().filter(|(_, p)| !p.polling) {
        let answer = call_empty(&srv.channel, method, ALPHA).await;
        if policy.scope == ScopeKind::WholeDatabase {
            let status = answer.expect_err(method);
            assert_eq!(
                status.code(),
                Code::PermissionDenied,
                "{method}: {status:?}"
            );
            assert!(
                status.message().contains("needs a token for all of them"),
                "{method}: {status:?}"
            );
            if policy.access == Access::Write {
                whole_database_writes.push(*method);
            }
            // An unrestricted token is not refused for the kind of call.
            if let Err(status) = call_empty(&srv.channel, method, OPS).await {
                assert_ne!(
                    status.code(),
                    Code::PermissionDenied,
                    "{method}: {status:?}"
                );
            }
        } else if let Err(status) = answer {
            assert_ne!(
                status.code(),
                Code::PermissionDenied,
                "{method}: {status:?}"
            );
        }
    }
    assert!(
        whole_database_writes.len() >= 10,
        "{whole_database_writes:?}"
    );
    let after = srv.scrape().await;
    for rpc in whole_database_writes {
        assert!(
            audited(&after, rpc) >= audited(&before, rpc) + 1.0,
            "{rpc}'s refusal is audited"
        );
    }
    srv.stop().await;
}
