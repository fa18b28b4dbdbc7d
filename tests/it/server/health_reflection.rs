//! Health (SERVING only while the database and schema are fine) and server reflection (v1 and v1alpha).

use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

use crate::harness::{eventually, TestServer, WAIT};

async fn status(srv: &TestServer, service: &str) -> Result<ServingStatus, tonic::Status> {
    let mut health = HealthClient::new(srv.channel.clone());
    let resp = health
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await?;
    Ok(resp.into_inner().status())
}

#[tokio::test]
async fn health_follows_the_database_schema() {
    let srv = TestServer::start().await;
    for service in ["", "dbosd.v1.WorkflowService"] {
        eventually("SERVING", || async {
            (status(&srv, service).await.ok() == Some(ServingStatus::Serving)).then_some(())
        })
        .await;
    }
    let unknown = status(&srv, "no.such.Service").await;
    assert_eq!(unknown.unwrap_err().code(), Code::NotFound);

    // Break the schema: health must flip to NOT_SERVING, then recover when it is fixed.
    let db = srv.db.client().await;
    db.batch_execute("ALTER TABLE dbos.workflow_events RENAME TO workflow_events_gone")
        .await
        .unwrap();
    for service in ["", "dbosd.v1.WorkflowService"] {
        eventually("NOT_SERVING", || async {
            (status(&srv, service).await.ok() == Some(ServingStatus::NotServing)).then_some(())
        })
        .await;
    }
    // Liveness does not follow the database: an outage must not restart replicas.
    assert_eq!(
        status(&srv, dbosd::health::LIVENESS).await.ok(),
        Some(ServingStatus::Serving)
    );
    db.batch_execute("ALTER TABLE dbos.workflow_events_gone RENAME TO workflow_events")
        .await
        .unwrap();
    eventually("SERVING again", || async {
        (status(&srv, "").await.ok() == Some(ServingStatus::Serving)).then_some(())
    })
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn reflection_lists_the_services_in_v1_and_v1alpha() {
    let srv = TestServer::start().await;
    {
        use tonic_reflection::pb::v1::{
            server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
            ServerReflectionRequest,
        };
        let mut client = ServerReflectionClient::new(srv.channel.clone());
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = client
            .server_reflection_info(tokio_stream::iter([req]))
            .await
            .unwrap()
            .into_inner();
        let resp = tokio::time::timeout(WAIT, stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
            panic!("unexpected reflection response {resp:?}");
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for expected in ["dbosd.v1.WorkflowService", "grpc.health.v1.Health"] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing from {names:?}"
            );
        }
        // The descriptor for the service resolves, so grpcurl can describe and call it.
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "dbosd.v1.WorkflowService".into(),
            )),
        };
        let mut stream = client
            .server_reflection_info(tokio_stream::iter([req]))
            .await
            .unwrap()
            .into_inner();
        let resp = tokio::time::timeout(WAIT, stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(
            matches!(resp.message_response, Some(MessageResponse::FileDescriptorResponse(ref f)) if !f.file_descriptor_proto.is_empty())
        );
    }
    {
        use tonic_reflection::pb::v1alpha::{
            server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
            ServerReflectionRequest,
        };
        let mut client = ServerReflectionClient::new(srv.channel.clone());
        let req = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = client
            .server_reflection_info(tokio_stream::iter([req]))
            .await
            .unwrap()
            .into_inner();
        let resp = tokio::time::timeout(WAIT, stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
            panic!("unexpected reflection response {resp:?}");
        };
        assert!(list
            .service
            .iter()
            .any(|s| s.name == "dbosd.v1.WorkflowService"));
    }
    srv.stop().await;
}
