//! The gRPC connection to a running dbosd (plaintext or TLS, with a bearer token when given), and
//! error text for people.

use std::time::Duration;

use tonic::{
    metadata::{Ascii, MetadataValue},
    service::{interceptor::InterceptedService, Interceptor},
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
    Request, Status,
};

use super::{CliError, ClientArgs};
use crate::pb::workflow_service_client::WorkflowServiceClient;

/// The generated client on a connected channel, sending `--token` with every call.
pub type Client = WorkflowServiceClient<InterceptedService<Channel, Bearer>>;

/// Adds `authorization: Bearer <token>` to every call when a token was given, and
/// `dbos-database: <name>` when a database was.
#[derive(Clone)]
pub struct Bearer {
    token: Option<MetadataValue<Ascii>>,
    database: Option<MetadataValue<Ascii>>,
}

impl Bearer {
    /// Sends `token` (none: sends nothing); fails on a token that cannot be metadata.
    pub fn new(token: Option<&str>) -> Result<Bearer, String> {
        let token = token
            .map(|t| format!("Bearer {t}").parse())
            .transpose()
            .map_err(|_| "--token must be printable ASCII".to_owned())?;
        Ok(Bearer {
            token,
            database: None,
        })
    }

    /// Also names the database of every call (none: the server's default database).
    pub fn with_database(mut self, database: Option<&str>) -> Result<Bearer, String> {
        self.database = database
            .map(str::parse)
            .transpose()
            .map_err(|_| "--database must be printable ASCII".to_owned())?;
        Ok(self)
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.token {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        if let Some(value) = &self.database {
            request.metadata_mut().insert(
                crate::api::service::databases::DATABASE_HEADER,
                value.clone(),
            );
        }
        Ok(request)
    }
}

/// Connects to the address of the flags, environment or profile, within `--connect-timeout`.
pub async fn connect(given: &ClientArgs) -> Result<Client, CliError> {
    let (channel, token) = channel(given).await?;
    let database = super::profile::resolve(given)?.database;
    let bearer = Bearer::new(token.as_deref())?.with_database(database.as_deref())?;
    Ok(WorkflowServiceClient::with_interceptor(channel, bearer)
        .max_decoding_message_size(64 * 1024 * 1024))
}

/// The channel [`connect`] makes, and the token the flags, environment or profile give (for
/// callers that put it on each call themselves, such as `dbosd mcp`).
pub async fn channel(given: &ClientArgs) -> Result<(Channel, Option<String>), CliError> {
    let args = super::profile::resolve(given)?;
    let address = args.address.as_deref().unwrap_or("localhost:50051");
    let uri = if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    let timeout = Duration::from_secs(args.connect_timeout.max(1));
    let mut endpoint = Endpoint::from_shared(uri.clone())
        .map_err(|e| CliError::usage(format!("--address {address:?}: {e}")))?
        .connect_timeout(timeout);
    let tls_asked = args.tls_ca.is_some() || args.tls_client_cert.is_some();
    if uri.starts_with("https://") {
        endpoint = endpoint
            .tls_config(tls(&args)?)
            .map_err(|e| format!("TLS: {e}"))?;
    } else if tls_asked {
        return Err(CliError::usage(format!(
            "--tls-ca/--tls-client-cert need an https:// address (got {address:?})"
        )));
    }
    // A token that cannot be metadata fails before any connection is tried.
    Bearer::new(args.token.as_deref())?;
    let channel = tokio::time::timeout(timeout, endpoint.connect())
        .await
        .map_err(|_| format!("no answer from dbosd at {uri} within {timeout:?}"))?
        .map_err(|e| format!("cannot connect to dbosd at {uri}: {e}"))?;
    Ok((channel, args.token.clone()))
}

fn read(flag: &str, path: &std::path::Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::usage(format!("{flag} {}: {e}", path.display())))
}

/// The TLS settings: the CA to trust, the client identity (mTLS), the name to verify.
fn tls(args: &ClientArgs) -> Result<ClientTlsConfig, CliError> {
    let mut tls = ClientTlsConfig::new();
    if let Some(path) = &args.tls_ca {
        tls = tls.ca_certificate(Certificate::from_pem(read("--tls-ca", path)?));
    }
    match (&args.tls_client_cert, &args.tls_client_key) {
        (Some(cert), Some(key)) => {
            let cert = read("--tls-client-cert", cert)?;
            let key = read("--tls-client-key", key)?;
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        (None, None) => {}
        _ => {
            return Err(CliError::usage(
                "--tls-client-cert and --tls-client-key go together",
            ))
        }
    }
    if let Some(name) = &args.tls_server_name {
        tls = tls.domain_name(name.clone());
    }
    Ok(tls)
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
            " (run `dbosd workflow describe` with --no-output and/or --no-input to leave the payloads out)"
        }
        "AwaitWorkflow" if too_large => {
            " (run `dbosd workflow result` with --no-output to leave the output out)"
        }
        _ => "",
    };
    format!("{what}: {:?}: {}{hint}", status.code(), status.message())
}
