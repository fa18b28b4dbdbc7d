//! TLS for the gRPC port (rustls through tonic): a server certificate and key, and optionally a CA
//! whose client certificates are required (mTLS). Files are PEM, read once at startup.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// Where the PEM files are; all `None` for plaintext.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// CA bundle that signs the client certificates dbosd requires.
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    /// The server's TLS configuration, `None` for plaintext, or why the flags cannot work. A client
    /// must finish its handshake within `handshake_timeout` (`--handshake-timeout-ms`): the
    /// listener's opening deadline (`crate::connections`) ends after the first bytes of the
    /// ClientHello, and one that stops halfway would otherwise keep its place under the cap.
    pub fn server_config(
        &self,
        handshake_timeout: Option<Duration>,
    ) -> Result<Option<ServerTlsConfig>, String> {
        let (cert, key) = match (&self.cert, &self.key) {
            (None, None) if self.client_ca.is_some() => {
                return Err("--tls-client-ca needs --tls-cert and --tls-key".to_owned())
            }
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert, key),
            _ => return Err("give both --tls-cert and --tls-key, or neither".to_owned()),
        };
        let identity = Identity::from_pem(read(cert, "--tls-cert")?, read(key, "--tls-key")?);
        let mut config = ServerTlsConfig::new().identity(identity);
        if let Some(timeout) = handshake_timeout {
            config = config.timeout(timeout);
        }
        if let Some(ca) = &self.client_ca {
            config = config.client_ca_root(Certificate::from_pem(read(ca, "--tls-client-ca")?));
        }
        Ok(Some(config))
    }
}

fn read(path: &Path, flag: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{flag} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_flags_are_refused_and_missing_files_named() {
        let files = |cert: Option<&str>, key: Option<&str>, ca: Option<&str>| TlsFiles {
            cert: cert.map(PathBuf::from),
            key: key.map(PathBuf::from),
            client_ca: ca.map(PathBuf::from),
        };
        assert!(files(None, None, None)
            .server_config(None)
            .unwrap()
            .is_none());
        let err = files(Some("c.pem"), None, None)
            .server_config(None)
            .unwrap_err();
        assert!(err.contains("both --tls-cert and --tls-key"), "{err}");
        let err = files(None, None, Some("ca.pem"))
            .server_config(None)
            .unwrap_err();
        assert!(err.contains("--tls-client-ca needs"), "{err}");
        let err = files(Some("/no/such.pem"), Some("/no/key.pem"), None)
            .server_config(None)
            .unwrap_err();
        assert!(err.contains("--tls-cert /no/such.pem"), "{err}");
    }
}
