//! The attack suite: dbosd attacked as an outsider would, through real gRPC against a real dbosd
//! (in-process, or the real binary where process death matters) with two applications `alpha` and
//! `beta`, a token scoped to each and an `ops` token. One file per class of attack; every test ends
//! by checking that the daemon still serves (a health check and a GetWorkflow).

mod crash;
mod exhaustion;
mod hostile;
mod leaks;
mod native;
mod raw;
mod scope;

use dbosd::pb::GetWorkflowRequest;
use tonic::transport::Channel;

use crate::auth::setup::{client_as, OPS};
use crate::harness::{eventually, health_status};

/// The workflow every attack's server holds from the start (application `alpha`), read back by
/// [`assert_alive`].
pub const SENTINEL: &str = "attack-sentinel";

/// Asserts the daemon behind `channel` still serves: its health check answers SERVING and
/// GetWorkflow reads the sentinel workflow.
pub async fn assert_alive(channel: &Channel) {
    // Health is re-checked on an interval: one check that failed while the attack loaded the
    // database may still be reported, so wait (bounded) for SERVING; a dead daemon never gets there.
    eventually("the daemon to answer its health check SERVING", || async {
        (health_status(channel).await
            == Some(tonic_health::pb::health_check_response::ServingStatus::Serving))
        .then_some(())
    })
    .await;
    let got = client_as(channel, OPS)
        .get_workflow(GetWorkflowRequest {
            workflow_id: SENTINEL.into(),
            ..Default::default()
        })
        .await
        .expect("the daemon must still serve GetWorkflow")
        .into_inner();
    assert_eq!(
        got.workflow.map(|w| w.workflow_id).as_deref(),
        Some(SENTINEL)
    );
}
