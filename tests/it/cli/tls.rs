//! The CLI over TLS with a client certificate (mTLS): the CA, the client identity and the name to
//! verify come from flags or from the profile.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

use super::{assert_code, command, text};
use crate::harness::{run_bounded, TestDb, TestServer};

/// A CA's PEM and its signer.
fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let pem = params.self_signed(&key).unwrap().pem();
    (pem, Issuer::new(params, key))
}

/// A leaf certificate for `names` and its key, as PEM files in `dir`.
fn leaf(
    dir: &Path,
    stem: &str,
    issuer: &Issuer<'static, KeyPair>,
    names: &[&str],
) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, issuer)
        .unwrap();
    let (c, k) = (
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}.key")),
    );
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

#[tokio::test]
async fn mutual_tls_from_flags_or_profile() {
    let dir = tempfile::tempdir().unwrap();
    let (server_ca_pem, server_ca) = ca("server-ca");
    let (client_ca_pem, client_ca) = ca("client-ca");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &server_ca_pem).unwrap();
    let client_ca_file = dir.path().join("client-ca.pem");
    std::fs::write(&client_ca_file, &client_ca_pem).unwrap();
    // The server's certificate names only `localhost`: dialling 127.0.0.1 needs --tls-server-name.
    let (cert, key) = leaf(dir.path(), "server", &server_ca, &["localhost"]);
    let (ccert, ckey) = leaf(dir.path(), "client", &client_ca, &["cli"]);
    let srv = TestServer::start_on(TestDb::new().await, |s| {
        s.tls.cert = Some(cert);
        s.tls.key = Some(key);
        s.tls.client_ca = Some(client_ca_file);
    })
    .await;
    let https = format!("https://{}", srv.addr);
    let p = |p: &PathBuf| p.to_str().unwrap().to_owned();
    let run = |args: Vec<String>, config: Option<PathBuf>| {
        let mut cmd = command();
        cmd.args([
            "workflow",
            "list",
            "--connect-timeout",
            "5",
            "--address",
            &https,
        ])
        .args(args);
        if let Some(c) = config {
            cmd.env("DBOSD_CONFIG", c);
        }
        run_bounded(cmd, "dbosd workflow list over TLS")
    };
    let full = vec![
        "--tls-ca".to_owned(),
        p(&ca_file),
        "--tls-server-name".to_owned(),
        "localhost".to_owned(),
        "--tls-client-cert".to_owned(),
        p(&ccert),
        "--tls-client-key".to_owned(),
        p(&ckey),
    ];
    assert_code(&run(full.clone(), None).await, 0);
    // Without the client certificate, or without the name the certificate holds: refused.
    assert_code(&run(full[..4].to_vec(), None).await, 1);
    let out = run([&full[..2], &full[4..]].concat(), None).await;
    assert_code(&out, 1);
    // A certificate without its key is a command-line error.
    let out = run(full[..6].to_vec(), None).await;
    assert_code(&out, 2);
    assert!(
        text(&out.stderr).contains("--tls-client-key"),
        "{}",
        text(&out.stderr)
    );

    // The same settings from the profile.
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.default]\ntls_ca = {:?}\ntls_server_name = \"localhost\"\ntls_client_cert = {:?}\ntls_client_key = {:?}\n",
            p(&ca_file), p(&ccert), p(&ckey)
        ),
    )
    .unwrap();
    assert_code(&run(vec![], Some(config)).await, 0);
    srv.stop().await;
}
