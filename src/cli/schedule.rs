//! `dbosd schedule list|describe|create|pause|resume|trigger|backfill|delete`.

use std::process::ExitCode;

use serde_json::{json, Value as Json};

use super::{
    args_more::{Language, ScheduleCommand, ScheduleCreateArgs, ScheduleListArgs},
    client::{rpc_error, Client},
    filter,
    output::Printer,
    render, CliError, CliResult,
};
use crate::pb;

const COLUMNS: &[(&str, &str)] = &[
    ("NAME", "scheduleName"),
    ("STATUS", "status"),
    ("WORKFLOW", "workflowName"),
    ("CRON", "cron"),
    ("TIMEZONE", "cronTimezone"),
    ("LAST FIRED", "lastFiredAt"),
];

fn one(p: Printer, s: &Option<pb::Schedule>) {
    p.fields(&s.as_ref().map_or(Json::Null, render::schedule));
}

pub async fn run(client: &mut Client, p: Printer, command: ScheduleCommand) -> CliResult {
    match command {
        ScheduleCommand::List(a) => list(client, p, a).await?,
        ScheduleCommand::Create(a) => create(client, p, a).await?,
        ScheduleCommand::Describe(n) => {
            let r = client
                .get_schedule(pb::GetScheduleRequest {
                    schedule_name: n.name,
                })
                .await
                .map_err(|e| rpc_error("GetSchedule", e))?;
            one(p, &r.into_inner().schedule);
        }
        ScheduleCommand::Pause(n) => {
            let r = client
                .pause_schedule(pb::PauseScheduleRequest {
                    schedule_name: n.name,
                })
                .await
                .map_err(|e| rpc_error("PauseSchedule", e))?;
            one(p, &r.into_inner().schedule);
        }
        ScheduleCommand::Resume(n) => {
            let r = client
                .resume_schedule(pb::ResumeScheduleRequest {
                    schedule_name: n.name,
                })
                .await
                .map_err(|e| rpc_error("ResumeSchedule", e))?;
            one(p, &r.into_inner().schedule);
        }
        ScheduleCommand::Trigger(n) => {
            let r = client
                .trigger_schedule(pb::TriggerScheduleRequest {
                    schedule_name: n.name,
                })
                .await
                .map_err(|e| rpc_error("TriggerSchedule", e))?;
            p.fields(&json!({"workflowId": r.into_inner().workflow_id}));
        }
        ScheduleCommand::Backfill(b) => {
            let start = filter::parse_time("--start", &b.start)?;
            let end = b
                .end
                .as_deref()
                .map(|e| filter::parse_time("--end", e))
                .transpose()?;
            let end = match end {
                Some(e) => e,
                None => filter::parse_time("--end", "0s")?,
            };
            let r = client
                .backfill_schedule(pb::BackfillScheduleRequest {
                    schedule_name: b.name,
                    start: Some(start),
                    end: Some(end),
                })
                .await
                .map_err(|e| rpc_error("BackfillSchedule", e))?;
            let rows: Vec<Json> = r
                .into_inner()
                .workflow_ids
                .into_iter()
                .map(|id| json!({"workflowId": id}))
                .collect();
            let mut out = p.list(&[("WORKFLOW ID", "workflowId")]);
            out.page(&rows);
            out.finish();
        }
        ScheduleCommand::Delete(n) => {
            let r = client
                .delete_schedule(pb::DeleteScheduleRequest {
                    schedule_name: n.name.clone(),
                    allow_missing: false,
                })
                .await
                .map_err(|e| rpc_error("DeleteSchedule", e))?;
            p.fields(&json!({"scheduleName": n.name, "deleted": r.into_inner().deleted}));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_schedule_status(text: &str) -> Result<i32, CliError> {
    let upper = text.trim().to_ascii_uppercase();
    let full = format!(
        "SCHEDULE_STATUS_{}",
        upper.trim_start_matches("SCHEDULE_STATUS_")
    );
    pb::ScheduleStatus::from_str_name(&full)
        .filter(|s| *s != pb::ScheduleStatus::Unspecified)
        .map(|s| s as i32)
        .ok_or_else(|| CliError::usage(format!("--status {text:?}: expected ACTIVE or PAUSED")))
}

async fn list(client: &mut Client, p: Printer, a: ScheduleListArgs) -> Result<(), CliError> {
    let statuses = a
        .statuses
        .iter()
        .map(|s| parse_schedule_status(s))
        .collect::<Result<Vec<_>, _>>()?;
    let resp = client
        .list_schedules(pb::ListSchedulesRequest {
            statuses,
            workflow_names: a.workflows,
            schedule_name_prefixes: a.prefixes,
            application_names: a.applications,
        })
        .await
        .map_err(|e| rpc_error("ListSchedules", e))?
        .into_inner();
    let mut out = p.list(COLUMNS);
    out.page(
        &resp
            .schedules
            .iter()
            .map(render::schedule)
            .collect::<Vec<_>>(),
    );
    out.finish();
    Ok(())
}

async fn create(client: &mut Client, p: Printer, a: ScheduleCreateArgs) -> Result<(), CliError> {
    let context = a.context.as_deref().map(|c| {
        pb::create_schedule_request::Context::ContextJson(crate::api::json::from_json(
            &filter::value(c),
        ))
    });
    let resp = client
        .create_schedule(pb::CreateScheduleRequest {
            schedule_name: a.name,
            workflow_name: a.workflow,
            workflow_class_name: a.class_name,
            cron: a.cron,
            cron_timezone: a.timezone,
            queue_name: a.queue,
            automatic_backfill: a.automatic_backfill,
            application_name: a.application,
            context,
            language: match a.language {
                Language::Python => pb::WorkerLanguage::Python,
                Language::Typescript => pb::WorkerLanguage::Typescript,
            } as i32,
        })
        .await
        .map_err(|e| rpc_error("CreateSchedule", e))?
        .into_inner();
    one(p, &resp.schedule);
    Ok(())
}
