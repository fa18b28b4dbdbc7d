//! Raw native schedule contexts (issue #23): off by default (FAILED_PRECONDITION), behind a token
//! permission (PERMISSION_DENIED) even with the switch on, and when allowed checked opcode by
//! opcode (INVALID_ARGUMENT naming the global or opcode) on Create, Update and Apply alike.
//! Hostile rows already stored (by a worker or an older dbosd) come back as text and are never
//! fired, and nothing of this crashes dbosd (issue #15's 9-byte pickle aborted it).

use std::io::Write;

use dbosd::{
    cli::Bearer,
    native::Allowlist,
    pb::{self, create_schedule_request::Context, workflow_service_client::WorkflowServiceClient},
};
use tonic::{service::interceptor::InterceptedService, transport::Channel, Code};

use crate::harness::{assert_status, pv, TestDb, TestServer};

/// `os.system("id")` by GLOBAL and REDUCE.
pub const OS_SYSTEM: &str = "gARjb3MKc3lzdGVtCowCaWSFUi4=";
/// `builtins.eval("print(1)")` by STACK_GLOBAL and REDUCE.
pub const EVAL: &str = "gASMCGJ1aWx0aW5zjARldmFsk4wIcHJpbnQoMSmFUi4=";
/// `80 04 4E 72 F0 FF FF FF 2E`: None memoized at index 0xfffffff0 (aborted dbosd before).
const MEMO_ABORT: &str = "gAROcvD///8u";
/// CPython 3.11's `pickle.dumps({"at": datetime(2026, 1, 2, 3, 4, 5, 678901,
/// tzinfo=timezone(timedelta(hours=5, minutes=30)))})`.
pub const PY_DATETIME: &str = "gASVYAAAAAAAAAB9lIwCYXSUjAhkYXRldGltZZSMCGRhdGV0aW1llJOUQwoH6gECAwQFClv1lGgCjAh0aW1lem9uZZSTlGgCjAl0aW1lZGVsdGGUk5RLAE1YTUsAh5RSlIWUUpSGlFKUcy4=";
/// CPython's `pickle.dumps(OrderedDict(a=1))`: `collections.OrderedDict`, not allowed by default.
const ORDERED_DICT: &str =
    "gASVKQAAAAAAAACMC2NvbGxlY3Rpb25zlIwLT3JkZXJlZERpY3SUk5QpUpSMAWGUSwFzLg==";
const TS_CLASS: &str = r#"{"json":{"a":{}},"meta":{"values":{"a":[["class","Evil"]]}},"__dbos_serializer":"superjson"}"#;

fn create(
    name: &str,
    lang: pb::WorkerLanguage,
    context: Option<Context>,
) -> pb::CreateScheduleRequest {
    pb::CreateScheduleRequest {
        schedule_name: name.into(),
        workflow_name: "scheduled".into(),
        cron: "0 0 1 1 *".into(),
        language: lang as i32,
        context,
        ..Default::default()
    }
}

fn native(text: &str) -> Option<Context> {
    Some(Context::ContextNativeText(text.into()))
}

fn update(name: &str, text: &str) -> pb::UpdateScheduleRequest {
    pb::UpdateScheduleRequest {
        schedule_name: name.into(),
        context: Some(pb::update_schedule_request::Context::ContextNativeText(
            text.into(),
        )),
        ..Default::default()
    }
}

fn apply(req: pb::CreateScheduleRequest) -> pb::ApplySchedulesRequest {
    pb::ApplySchedulesRequest {
        schedules: vec![req],
    }
}

/// Asserts that Create, Apply and Update of a Python schedule with `text` fail with `code` and a
/// message mentioning `needle`.
async fn refused_on_every_path(srv: &mut TestServer, text: &str, code: Code, needle: &str) {
    let c = &mut srv.client;
    let req = || create("victim", pb::WorkerLanguage::Python, native(text));
    assert_status(c.create_schedule(req()).await, code, needle);
    assert_status(c.apply_schedules(apply(req())).await, code, needle);
    let safe = create("victim", pb::WorkerLanguage::Python, None);
    c.apply_schedules(apply(safe))
        .await
        .expect("a null context");
    assert_status(
        c.update_schedule(update("victim", text)).await,
        code,
        needle,
    );
    let stored = c
        .get_schedule(pb::GetScheduleRequest {
            schedule_name: "victim".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .schedule
        .unwrap();
    assert_eq!(
        stored.context.unwrap().text,
        "gAROLg==",
        "still the null context"
    );
    c.delete_schedule(pb::DeleteScheduleRequest {
        schedule_name: "victim".into(),
        allow_missing: false,
    })
    .await
    .unwrap();
}

async fn with_switch(allow_raw: bool) -> TestServer {
    TestServer::start_on(TestDb::new().await, |s| s.native.allow_raw = allow_raw).await
}

#[tokio::test]
async fn raw_native_text_is_off_by_default_on_every_path() {
    let mut srv = with_switch(false).await;
    for text in [OS_SYSTEM, EVAL, PY_DATETIME] {
        refused_on_every_path(
            &mut srv,
            text,
            Code::FailedPrecondition,
            "--allow-native-payloads",
        )
        .await;
    }
    // The message says why, in the caller's terms.
    let got = srv
        .client
        .create_schedule(create("s", pb::WorkerLanguage::Python, native(OS_SYSTEM)))
        .await
        .unwrap_err();
    assert!(
        got.message().contains("execute what they unpickle"),
        "{got:?}"
    );
    assert!(got.message().contains("context_typed"), "{got:?}");
    srv.stop().await;
}

#[tokio::test]
async fn with_the_switch_pickles_are_checked_by_opcode_and_never_crash_dbosd() {
    let mut srv = with_switch(true).await;
    let os = "context_native_text: pickle global os.system is not allowed";
    let eval = "context_native_text: pickle global builtins.eval is not allowed";
    refused_on_every_path(&mut srv, OS_SYSTEM, Code::InvalidArgument, os).await;
    refused_on_every_path(&mut srv, EVAL, Code::InvalidArgument, eval).await;
    refused_on_every_path(&mut srv, MEMO_ABORT, Code::InvalidArgument, "memo index").await;
    refused_on_every_path(
        &mut srv,
        ORDERED_DICT,
        Code::InvalidArgument,
        "collections.OrderedDict",
    )
    .await;
    // Apply names the item.
    let bad = create("a", pb::WorkerLanguage::Python, native(OS_SYSTEM));
    assert_status(
        srv.client.apply_schedules(apply(bad)).await,
        Code::InvalidArgument,
        "schedules[0].context_native_text: pickle global os.system",
    );
    let ts = create("ts", pb::WorkerLanguage::Typescript, native(TS_CLASS));
    assert_status(
        srv.client.create_schedule(ts).await,
        Code::InvalidArgument,
        "[\"class\",\"Evil\"] is not allowed",
    );

    // A CPython datetime pickle passes, and reads back typed.
    let ok = create("dated", pb::WorkerLanguage::Python, native(PY_DATETIME));
    let stored = srv.client.create_schedule(ok).await.unwrap().into_inner();
    let ctx = stored.schedule.unwrap().context.unwrap();
    assert_eq!(ctx.text, PY_DATETIME);
    let typed = format!("{:?}", ctx.typed.expect("decoded"));
    assert!(typed.contains("utc_offset_seconds: 19800"), "{typed}");
    assert!(typed.contains("seconds: 1767303245"), "{typed}");
    assert!(srv
        .client
        .list_schedules(pb::ListSchedulesRequest::default())
        .await
        .is_ok());
    srv.stop().await;

    // --native-allow-global extends the allowlist.
    let mut srv = TestServer::start_on(TestDb::new().await, |s| {
        s.native.allow_raw = true;
        s.native.allowlist = Allowlist::with_extra(&["collections.OrderedDict".into()]).unwrap();
    })
    .await;
    let ok = create("ordered", pb::WorkerLanguage::Python, native(ORDERED_DICT));
    srv.client
        .create_schedule(ok)
        .await
        .expect("allowed by the operator");
    srv.stop().await;
}

type Client = WorkflowServiceClient<InterceptedService<Channel, Bearer>>;

pub fn client_as(channel: &Channel, token: &str) -> Client {
    WorkflowServiceClient::with_interceptor(channel.clone(), Bearer::new(Some(token)).unwrap())
}

/// A tokens file with one token that may store raw native payloads (`tok-native`) and one that
/// may not (`tok-plain`), both for every application.
pub fn native_tokens() -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(
        br#"{"tokens": [
            {"name": "plain", "token": "tok-plain", "applications": ["*"]},
            {"name": "native", "token": "tok-native", "applications": ["*"], "native_payloads": true}
        ]}"#,
    )
    .unwrap();
    file
}

#[tokio::test]
async fn tokens_need_the_native_payloads_permission_even_with_the_switch_on() {
    let tokens = native_tokens();
    let path = tokens.path().to_owned();
    let srv = TestServer::start_on(TestDb::new().await, |s| {
        s.native.allow_raw = true;
        s.tokens_file = Some(path);
    })
    .await;
    let mut plain = client_as(&srv.channel, "tok-plain");
    let mut permitted = client_as(&srv.channel, "tok-native");
    let req = |name: &str| create(name, pb::WorkerLanguage::Python, native(PY_DATETIME));
    assert_status(
        plain.create_schedule(req("p")).await,
        Code::PermissionDenied,
        "token \"plain\" may not store raw native payloads",
    );
    assert_status(
        plain.apply_schedules(apply(req("p"))).await,
        Code::PermissionDenied,
        "\"native_payloads\": true",
    );
    // The typed and JSON paths need no permission.
    let typed = create(
        "p",
        pb::WorkerLanguage::Python,
        Some(Context::ContextJson(pv(serde_json::json!({"a": 1})))),
    );
    plain
        .create_schedule(typed)
        .await
        .expect("JSON needs no permission");
    assert_status(
        plain.update_schedule(update("p", PY_DATETIME)).await,
        Code::PermissionDenied,
        "native_payloads",
    );
    permitted
        .create_schedule(req("n"))
        .await
        .expect("permitted");
    permitted
        .update_schedule(update("p", PY_DATETIME))
        .await
        .expect("permitted");
    // The permission does not lift the checks.
    assert_status(
        permitted.update_schedule(update("p", OS_SYSTEM)).await,
        Code::InvalidArgument,
        "pickle global os.system is not allowed",
    );
    srv.stop().await;
}

#[tokio::test]
async fn hostile_stored_rows_are_read_as_text_and_never_fired() {
    let mut srv = TestServer::start().await;
    let db = srv.db.client().await;
    let rows = [
        ("abort", MEMO_ABORT, "memo index"),
        ("os", OS_SYSTEM, "pickle global os.system is not allowed"),
        ("eval", EVAL, "pickle global builtins.eval is not allowed"),
        ("ts-class", TS_CLASS, "[\"class\",\"Evil\"] is not allowed"),
    ];
    for (name, text, _) in rows {
        db.execute(
            "INSERT INTO dbos.workflow_schedules (schedule_id, schedule_name, workflow_name, \
             schedule, status, context) VALUES ($1, $1, 'scheduled', '0 0 1 1 *', 'ACTIVE', $2)",
            &[&name, &text],
        )
        .await
        .unwrap();
    }
    for _ in 0..2 {
        let listed = srv
            .client
            .list_schedules(pb::ListSchedulesRequest::default())
            .await
            .expect("listing hostile rows")
            .into_inner()
            .schedules;
        assert_eq!(listed.len(), rows.len());
        for s in &listed {
            let (_, text, _) = rows.iter().find(|r| r.0 == s.schedule_name).unwrap();
            let ctx = s.context.as_ref().unwrap();
            assert_eq!(&ctx.text, text);
            assert_eq!(
                (ctx.json.as_ref(), ctx.typed.as_ref()),
                (None, None),
                "{}",
                s.schedule_name
            );
        }
    }
    for (name, _, needle) in rows {
        let get = srv
            .client
            .get_schedule(pb::GetScheduleRequest {
                schedule_name: name.into(),
            })
            .await
            .expect("reading a hostile row");
        assert_eq!(
            get.into_inner().schedule.unwrap().context.unwrap().typed,
            None
        );
        assert_status(
            srv.client
                .trigger_schedule(pb::TriggerScheduleRequest {
                    schedule_name: name.into(),
                })
                .await,
            Code::FailedPrecondition,
            needle,
        );
        assert_status(
            srv.client
                .backfill_schedule(pb::BackfillScheduleRequest {
                    schedule_name: name.into(),
                    start: Some(prost_types::Timestamp {
                        seconds: 1_577_836_800,
                        nanos: 0,
                    }),
                    end: Some(prost_types::Timestamp {
                        seconds: 1_640_995_200,
                        nanos: 0,
                    }),
                })
                .await,
            Code::FailedPrecondition,
            needle,
        );
    }
    assert_eq!(
        srv.db
            .count("SELECT count(*) FROM dbos.workflow_status")
            .await,
        0,
        "nothing was enqueued"
    );
    srv.stop().await;
}

#[tokio::test]
async fn the_real_binary_takes_the_flags_and_audits_every_raw_write() {
    let db = TestDb::new().await;
    let tokens = native_tokens();
    let args = [
        "--allow-native-payloads",
        "--native-allow-global",
        "collections.OrderedDict",
        "--log-format",
        "json",
    ];
    let dbosd = crate::auth::setup::spawn_with_tokens(&db, &tokens, &args, &[]).await;
    let mut permitted = client_as(&dbosd.channel, "tok-native");
    let req = |name: &str, text: &str| create(name, pb::WorkerLanguage::Python, native(text));
    permitted
        .create_schedule(req("audited", PY_DATETIME))
        .await
        .expect("stored");
    dbosd
        .logged_with(&[
            r#""target":"dbosd::audit""#,
            r#""principal":"native""#,
            r#""rpc":"CreateSchedule""#,
            r#""schedule":"audited""#,
            r#""native_globals":"datetime.datetime,datetime.timezone,datetime.timedelta""#,
            r#""outcome":"stored""#,
        ])
        .await;
    assert_status(
        permitted
            .apply_schedules(apply(req("evil", OS_SYSTEM)))
            .await,
        Code::InvalidArgument,
        "pickle global os.system is not allowed",
    );
    dbosd
        .logged_with(&[
            r#""rpc":"ApplySchedules""#,
            r#""schedule":"evil""#,
            "refused: context_native_text: pickle global os.system is not allowed",
        ])
        .await;
    // --native-allow-global reached the checker.
    permitted
        .create_schedule(req("ordered", ORDERED_DICT))
        .await
        .expect("allowed by the flag");
    dbosd
        .logged_with(&[
            r#""schedule":"ordered""#,
            r#""native_globals":"collections.OrderedDict""#,
        ])
        .await;
}
