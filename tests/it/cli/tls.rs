//! The CLI over TLS with a client certificate (mTLS): the CA, the client identity and the name to
//! verify come from flags or from the profile.

use std::path::PathBuf;

use super::{assert_code, command, text};
use crate::harness::{run_bounded, TestDb, TestServer};
use crate::server::certs::{write, Ca};

#[tokio::test]
async fn mutual_tls_from_flags_or_profile() {
    let dir = tempfile::tempdir().unwrap();
    let (server_ca, client_ca) = (Ca::new("server-ca"), Ca::new("client-ca"));
    let ca_file = write(dir.path(), "ca.pem", &server_ca.pem);
    let client_ca_file = write(dir.path(), "client-ca.pem", &client_ca.pem);
    // The server's certificate names only `localhost`: dialling 127.0.0.1 needs --tls-server-name.
    let (cert, key) = server_ca.leaf_files(dir.path(), "server", &["localhost"]);
    let (ccert, ckey) = client_ca.leaf_files(dir.path(), "client", &["cli"]);
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
