//! The gRPC connection to a running dbosd, and error text for people.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use super::ClientArgs;
use crate::pb::workflow_service_client::WorkflowServiceClient;

/// The generated client on a connected channel.
pub type Client = WorkflowServiceClient<Channel>;

/// Connects to `--address` within `--connect-timeout`.
pub async fn connect(args: &ClientArgs) -> Result<Client, String> {
    let uri = if args.address.contains("://") {
        args.address.clone()
    } else {
        format!("http://{}", args.address)
    };
    let timeout = Duration::from_secs(args.connect_timeout.max(1));
    let endpoint = Endpoint::from_shared(uri.clone())
        .map_err(|e| format!("bad --address {:?}: {e}", args.address))?
        .connect_timeout(timeout);
    let channel = tokio::time::timeout(timeout, endpoint.connect())
        .await
        .map_err(|_| format!("no answer from dbosd at {uri} within {timeout:?}"))?
        .map_err(|e| format!("cannot connect to dbosd at {uri}: {e}"))?;
    Ok(WorkflowServiceClient::new(channel))
}

/// A failed call as one line: `<what>: <CODE>: <message>`.
pub fn rpc_error(what: &str, status: tonic::Status) -> String {
    format!("{what}: {:?}: {}", status.code(), status.message())
}
