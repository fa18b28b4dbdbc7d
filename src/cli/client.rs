//! The gRPC connection to a running dbosd (plaintext or TLS, with a bearer token when given), and
//! error text for people.

use std::time::Duration;

use tonic::{
    metadata::{Ascii, MetadataValue},
    service::{interceptor::InterceptedService, Interceptor},
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint},
    Request, Status,
};

use super::ClientArgs;
use crate::pb::workflow_service_client::WorkflowServiceClient;

/// The generated client on a connected channel, sending `--token` with every call.
pub type Client = WorkflowServiceClient<InterceptedService<Channel, Bearer>>;

/// Adds `authorization: Bearer <token>` to every call when a token was given.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// Sends `token` (none: sends nothing); fails on a token that cannot be metadata.
    pub fn new(token: Option<&str>) -> Result<Bearer, String> {
        let value = token
            .map(|t| format!("Bearer {t}").parse())
            .transpose()
            .map_err(|_| "--token must be printable ASCII".to_owned())?;
        Ok(Bearer(value))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Connects to `--address` within `--connect-timeout`.
pub async fn connect(args: &ClientArgs) -> Result<Client, String> {
    let uri = if args.address.contains("://") {
        args.address.clone()
    } else {
        format!("http://{}", args.address)
    };
    let timeout = Duration::from_secs(args.connect_timeout.max(1));
    let mut endpoint = Endpoint::from_shared(uri.clone())
        .map_err(|e| format!("bad --address {:?}: {e}", args.address))?
        .connect_timeout(timeout);
    if uri.starts_with("https://") {
        let mut tls = ClientTlsConfig::new();
        if let Some(path) = &args.tls_ca {
            let pem =
                std::fs::read(path).map_err(|e| format!("--tls-ca {}: {e}", path.display()))?;
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        endpoint = endpoint.tls_config(tls).map_err(|e| format!("TLS: {e}"))?;
    }
    let bearer = Bearer::new(args.token.as_deref())?;
    let channel = tokio::time::timeout(timeout, endpoint.connect())
        .await
        .map_err(|_| format!("no answer from dbosd at {uri} within {timeout:?}"))?
        .map_err(|e| format!("cannot connect to dbosd at {uri}: {e}"))?;
    Ok(WorkflowServiceClient::with_interceptor(channel, bearer))
}

/// A failed call as one line: `<what>: <CODE>: <message>`, with the command's own way out when the
/// response was too large to receive.
pub fn rpc_error(what: &str, status: tonic::Status) -> String {
    let too_large = matches!(
        status.code(),
        tonic::Code::ResourceExhausted | tonic::Code::OutOfRange
    ) && status.message().contains("too large");
    let hint = match what {
        "GetWorkflow" if too_large => {
            " (run `dbosd workflow get` with --no-output and/or --no-input to leave the payloads out)"
        }
        "AwaitWorkflow" if too_large => {
            " (run `dbosd workflow await` with --no-output to leave the output out)"
        }
        _ => "",
    };
    format!("{what}: {:?}: {}{hint}", status.code(), status.message())
}
