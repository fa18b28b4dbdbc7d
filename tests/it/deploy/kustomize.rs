//! deploy/: the kustomize base parses, has every object a production install needs, and agrees with
//! itself and with dbosd (probe ports = container port = DBOSD_LISTEN port, names of health services,
//! environment variables dbosd reads, drain within the termination grace period). Docker cannot run
//! here, so the Dockerfile is checked for its shape; the ConfigMap's settings are run for real.

use std::collections::{BTreeMap, BTreeSet};

use clap::CommandFactory;
use serde_norway::Value;
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

use crate::harness::{repo_file, Dbosd, TestDb};

const BASE: &str = "deploy/k8s/base";

fn yaml(rel: &str) -> Value {
    let path = repo_file(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"))
}

/// The value at a dotted path (`spec.template.spec.containers.0.ports`); panics naming what is missing.
fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, part| {
        let next = match part.parse::<usize>() {
            Ok(i) => v.get(i),
            Err(_) => v.get(part),
        };
        next.unwrap_or_else(|| panic!("missing {path} (at {part})"))
    })
}

fn text<'a>(v: &'a Value, path: &str) -> &'a str {
    at(v, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path} is not a string"))
}

fn number(v: &Value, path: &str) -> u64 {
    at(v, path)
        .as_u64()
        .unwrap_or_else(|| panic!("{path} is not a number"))
}

/// The port of a `host:port` setting.
fn port_of(addr: &str) -> u64 {
    let (_, port) = addr.rsplit_once(':').expect("host:port");
    port.parse().expect("numeric port")
}

/// Every object of the base, by `Kind/name`.
fn objects() -> BTreeMap<String, Value> {
    let kustomization = yaml(&format!("{BASE}/kustomization.yaml"));
    let mut objects = BTreeMap::new();
    for file in at(&kustomization, "resources").as_sequence().expect("list") {
        let rel = format!("{BASE}/{}", file.as_str().expect("file name"));
        let object = yaml(&rel);
        for field in ["apiVersion", "kind", "metadata.name"] {
            assert!(!text(&object, field).is_empty(), "{rel}: empty {field}");
        }
        let key = format!(
            "{}/{}",
            text(&object, "kind"),
            text(&object, "metadata.name")
        );
        assert!(objects.insert(key.clone(), object).is_none(), "two {key}");
    }
    objects
}

/// The only object of `kind`.
fn one<'a>(objects: &'a BTreeMap<String, Value>, kind: &str) -> &'a Value {
    let mut found = objects
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{kind}/")));
    let (_, object) = found.next().unwrap_or_else(|| panic!("no {kind}"));
    assert!(found.next().is_none(), "more than one {kind}");
    object
}

/// Every environment variable some dbosd flag reads.
fn dbosd_env_vars() -> BTreeSet<String> {
    fn walk(cmd: &clap::Command, into: &mut BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if let Some(env) = arg.get_env() {
                into.insert(env.to_string_lossy().into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, into);
        }
    }
    let mut vars = BTreeSet::new();
    walk(&dbosd::config::Cli::command(), &mut vars);
    vars
}

#[test]
fn the_kustomize_base_is_complete_and_consistent() {
    let objects = objects();
    let (deploy, config) = (one(&objects, "Deployment"), one(&objects, "ConfigMap"));
    let config = at(config, "data");
    for kind in ["HorizontalPodAutoscaler", "PodDisruptionBudget", "Service"] {
        one(&objects, kind);
    }
    let secret = |name: &str| &objects[&format!("Secret/{name}")];
    let pod = at(deploy, "spec.template");
    let container = at(pod, "spec.containers.0");
    let labels = at(pod, "metadata.labels");
    assert_eq!(at(deploy, "spec.selector.matchLabels"), labels);

    // Ports: the container's, the probes', and the ones dbosd is told to listen on agree.
    let port = |name: &str| {
        let ports = at(container, "ports").as_sequence().expect("ports");
        let found = ports.iter().find(|p| text(p, "name") == name);
        number(
            found.unwrap_or_else(|| panic!("no {name} port")),
            "containerPort",
        )
    };
    let grpc = port("grpc");
    assert_eq!(grpc, port_of(text(config, "DBOSD_LISTEN")));
    assert_eq!(
        port("metrics"),
        port_of(text(config, "DBOSD_METRICS_LISTEN"))
    );
    // (Annotation keys hold dots, so no dotted path here.)
    let annotations = at(pod, "metadata.annotations");
    let scrape = annotations
        .get("prometheus.io/port")
        .and_then(Value::as_str);
    assert_eq!(scrape, Some(port("metrics").to_string().as_str()));
    for (probe, service) in [
        ("startupProbe", dbosd::health::LIVENESS),
        ("livenessProbe", dbosd::health::LIVENESS),
        ("readinessProbe", dbosd::health::SERVICE_NAME),
    ] {
        assert_eq!(
            number(container, &format!("{probe}.grpc.port")),
            grpc,
            "{probe}"
        );
        assert_eq!(
            text(container, &format!("{probe}.grpc.service")),
            service,
            "{probe}"
        );
    }
    for resource in ["cpu", "memory"] {
        text(container, &format!("resources.requests.{resource}"));
    }
    assert_eq!(
        at(pod, "spec.securityContext.runAsNonRoot").as_bool(),
        Some(true)
    );

    // Settings come from the ConfigMap and a Secret, and each is a variable dbosd reads.
    let sources = at(container, "envFrom").as_sequence().expect("envFrom");
    let from = |kind: &str| {
        let source = sources.iter().find_map(|s| s.get(kind));
        text(source.unwrap_or_else(|| panic!("no {kind}")), "name").to_owned()
    };
    assert_eq!(from("configMapRef"), "dbosd-config");
    let env_secret = secret(&from("secretRef"));
    let known = dbosd_env_vars();
    let secret_data = at(env_secret, "stringData")
        .as_mapping()
        .expect("stringData");
    let config_data = config.as_mapping().expect("data");
    for key in config_data.keys().chain(secret_data.keys()) {
        let key = key.as_str().expect("key");
        assert!(known.contains(key), "{key} is not read by dbosd");
    }
    assert!(secret_data.contains_key("DBOS_SYSTEM_DATABASE_URL"));

    // The tokens file dbosd is told to read is mounted from a Secret holding a valid token file.
    let tokens_file = std::path::Path::new(text(config, "DBOSD_TOKENS_FILE"));
    let mounts = at(container, "volumeMounts")
        .as_sequence()
        .expect("volumeMounts");
    let mount = mounts
        .iter()
        .find(|m| std::path::Path::new(text(m, "mountPath")) == tokens_file.parent().unwrap())
        .expect("a volume mounted where the tokens file is");
    let volumes = at(pod, "spec.volumes").as_sequence().expect("volumes");
    let volume = volumes
        .iter()
        .find(|v| text(v, "name") == text(mount, "name"))
        .expect("the mounted volume");
    let tokens_secret = secret(text(volume, "secret.secretName"));
    let file_name = tokens_file.file_name().unwrap().to_str().unwrap();
    let tokens = at(tokens_secret, "stringData")
        .get(file_name)
        .and_then(Value::as_str)
        .expect("the tokens file in the Secret");
    dbosd::auth::Tokens::parse(tokens).expect("a valid tokens file");

    // The drain fits in the termination grace period, and the grace fits in the drain.
    let ms = |key: &str| text(config, key).parse::<u64>().expect("milliseconds");
    let termination_ms = number(pod, "spec.terminationGracePeriodSeconds") * 1000;
    assert!(ms("DBOSD_DRAIN_TIMEOUT_MS") < termination_ms);
    assert!(ms("DBOSD_DRAIN_GRACE_MS") < ms("DBOSD_DRAIN_TIMEOUT_MS"));

    // The Service, the budget and the autoscaler point at these pods.
    let service = one(&objects, "Service");
    assert_eq!(at(service, "spec.selector"), labels);
    let service_ports = at(service, "spec.ports").as_sequence().expect("ports");
    for p in service_ports {
        port(text(p, "targetPort"));
    }
    let pdb = one(&objects, "PodDisruptionBudget");
    assert_eq!(at(pdb, "spec.selector.matchLabels"), labels);
    let hpa = one(&objects, "HorizontalPodAutoscaler");
    assert_eq!(
        text(hpa, "spec.scaleTargetRef.name"),
        text(deploy, "metadata.name")
    );
    assert!(
        number(hpa, "spec.minReplicas") >= 2,
        "one replica cannot drain without downtime"
    );
}

#[test]
fn the_dockerfile_builds_in_stages_and_runs_unprivileged() {
    let path = repo_file("deploy/Dockerfile");
    let dockerfile = std::fs::read_to_string(path).expect("deploy/Dockerfile");
    let instructions: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms = instructions
        .iter()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert!(froms >= 2, "a multi-stage build");
    let last_from = instructions
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .unwrap();
    let runtime = &instructions[last_from..];
    let user = runtime
        .iter()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER");
    assert!(
        !user.starts_with("root") && !user.starts_with("0"),
        "USER {user}"
    );
    let config = yaml(&format!("{BASE}/configmap.yaml"));
    let data = at(&config, "data");
    let exposed = runtime
        .iter()
        .find_map(|l| l.strip_prefix("EXPOSE "))
        .expect("EXPOSE");
    for key in ["DBOSD_LISTEN", "DBOSD_METRICS_LISTEN"] {
        let port = port_of(text(data, key)).to_string();
        assert!(
            exposed.split_whitespace().any(|p| p == port),
            "EXPOSE {port}"
        );
        assert!(runtime
            .iter()
            .any(|l| l.contains(&format!("{key}=0.0.0.0:{port}"))));
    }
}

/// The ConfigMap's settings, as the container gets them, are accepted by the real binary.
#[tokio::test]
async fn the_configmap_settings_run() {
    let config = yaml(&format!("{BASE}/configmap.yaml"));
    let data = at(&config, "data").as_mapping().expect("data");
    let db = TestDb::new().await;
    // The tokens file as the Secret mounts it.
    let secret = yaml(&format!("{BASE}/tokens-secret.yaml"));
    let tokens = tempfile::NamedTempFile::new().unwrap();
    let content = at(&secret, "stringData")
        .get("tokens.json")
        .and_then(Value::as_str);
    std::fs::write(tokens.path(), content.expect("tokens.json")).unwrap();
    let mut env: Vec<(&str, &str)> = data
        .iter()
        .map(|(k, v)| (k.as_str().unwrap(), v.as_str().unwrap()))
        // The ports may be taken on this machine; their numbers are checked above.
        .filter(|(k, _)| !k.ends_with("LISTEN") && *k != "DBOSD_TOKENS_FILE")
        .collect();
    env.extend([
        ("DBOSD_LISTEN", "127.0.0.1:0"),
        ("DBOSD_METRICS_LISTEN", "127.0.0.1:0"),
        ("DBOSD_TOKENS_FILE", tokens.path().to_str().unwrap()),
    ]);
    let dbosd = Dbosd::spawn(&["--database-url", &db.url], &env, Dbosd::READY).await;
    let mut health = HealthClient::new(dbosd.channel.clone());
    let live = health
        .check(HealthCheckRequest {
            service: dbosd::health::LIVENESS.into(),
        })
        .await
        .expect("liveness")
        .into_inner();
    assert_eq!(live.status(), ServingStatus::Serving);
    // Tokens are on, and the placeholder lets nobody in.
    let mut api =
        dbosd::pb::workflow_service_client::WorkflowServiceClient::new(dbosd.channel.clone());
    let refused = api
        .list_workflows(dbosd::pb::ListWorkflowsRequest::default())
        .await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::Unauthenticated);
    // JSON logs, as configured.
    let line = dbosd.logged("DBOS schema detected").await;
    assert!(line.trim_start().starts_with('{'), "{line}");
}
