//! CreateSchedule, ApplySchedules, UpdateSchedule, ListSchedules, GetSchedule, PauseSchedule,
//! ResumeSchedule, DeleteSchedule.
//!
//! A schedule's context is stored in its creator's native format; the request names the worker
//! language and dbosd writes the context as that language's client would (see `context` and
//! `crate::native`).

mod context;
mod fire;

use std::str::FromStr;

use self::context::ContextInput;
use crate::api::{
    convert::{required, text},
    WorkflowApi,
};
use crate::{
    error::{Error, Result},
    model::{ScheduleFilter, ScheduleRow},
    native::{self, policy::NativeWrite, Language},
    pb,
};

const ACTIVE: &str = "ACTIVE";
const PAUSED: &str = "PAUSED";

impl WorkflowApi {
    pub(in crate::api) async fn schedule_create(
        &self,
        req: &pb::CreateScheduleRequest,
    ) -> Result<pb::CreateScheduleResponse> {
        let (row, pending) = self.schedule_row(req, "CreateSchedule")?;
        let row = self.repo.create_schedule(&row).await?;
        if let Some(write) = pending {
            write.audit("stored");
        }
        Ok(pb::CreateScheduleResponse {
            schedule: Some(self.render(&row)),
        })
    }

    pub(in crate::api) async fn schedule_apply(
        &self,
        req: &pb::ApplySchedulesRequest,
    ) -> Result<pb::ApplySchedulesResponse> {
        const MAX_APPLY: usize = 1000;
        if req.schedules.is_empty() || req.schedules.len() > MAX_APPLY {
            return Err(Error::invalid(
                "schedules",
                format!("give between 1 and {MAX_APPLY} schedules"),
            ));
        }
        let mut names = std::collections::HashSet::new();
        let mut rows = Vec::with_capacity(req.schedules.len());
        let mut writes = Vec::new();
        for (i, item) in req.schedules.iter().enumerate() {
            let at = |e: Error| match e {
                Error::InvalidArgument { field, reason } => {
                    Error::invalid(format!("schedules[{i}].{field}"), reason)
                }
                other => other,
            };
            let (row, pending) = self.schedule_row(item, "ApplySchedules").map_err(at)?;
            writes.extend(pending);
            if !names.insert(row.schedule_name.clone()) {
                return Err(at(Error::invalid(
                    "schedule_name",
                    "repeats another schedule of the call",
                )));
            }
            rows.push(row);
        }
        let applied = self.repo.apply_schedules(&rows).await?;
        for write in writes {
            write.audit("stored");
        }
        Ok(pb::ApplySchedulesResponse {
            schedules: applied.iter().map(|r| self.render(r)).collect(),
        })
    }

    /// The row a CreateSchedule request describes (validated; context in the language's format).
    /// With the raw native write to audit once the row is stored, if the context was one.
    fn schedule_row(
        &self,
        req: &pb::CreateScheduleRequest,
        rpc: &str,
    ) -> Result<(ScheduleRow, Option<NativeWrite>)> {
        let language =
            match crate::api::convert::enum_field("language", req.language)? {
                pb::WorkerLanguage::Python => Language::Python,
                pb::WorkerLanguage::Typescript => Language::TypeScript,
                pb::WorkerLanguage::Unspecified => return Err(Error::invalid(
                    "language",
                    "is required: the context is written in that worker language's native format",
                )),
            };
        let cron = required("cron", &req.cron)?;
        parse_cron(&cron)?;
        let cron_timezone = req
            .cron_timezone
            .as_deref()
            .filter(|tz| !tz.is_empty())
            .map(|tz| time_zone(tz).map(|_| tz.to_owned()))
            .transpose()?;
        let schedule_name = required("schedule_name", &req.schedule_name)?;
        let (context, pending) = self.context_text(
            language,
            ContextInput::from(req.context.as_ref()),
            rpc,
            &schedule_name,
        )?;
        let optional = |field: &str, v: &Option<String>| {
            v.as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| text(field, v))
                .transpose()
        };
        let row = ScheduleRow {
            schedule_id: uuid::Uuid::new_v4().to_string(),
            schedule_name,
            workflow_name: required("workflow_name", &req.workflow_name)?,
            workflow_class_name: optional("workflow_class_name", &req.workflow_class_name)?,
            cron,
            status: ACTIVE.to_owned(),
            context,
            last_fired_at: None,
            automatic_backfill: req.automatic_backfill,
            cron_timezone,
            queue_name: optional("queue_name", &req.queue_name)?,
            application_name: self.acting_app(req.application_name.as_ref())?,
        };
        Ok((row, pending))
    }

    pub(in crate::api) async fn schedule_list(
        &self,
        req: &pb::ListSchedulesRequest,
    ) -> Result<pb::ListSchedulesResponse> {
        let statuses = req
            .statuses
            .iter()
            .map(|s| match crate::api::convert::enum_field("statuses", *s)? {
                pb::ScheduleStatus::Active => Ok(ACTIVE.to_owned()),
                pb::ScheduleStatus::Paused => Ok(PAUSED.to_owned()),
                pb::ScheduleStatus::Unspecified => Err(Error::invalid(
                    "statuses",
                    format!("{s} is not a schedule status"),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        let texts = |field: &str, values: &[String]| -> Result<Vec<String>> {
            values.iter().map(|v| text(field, v)).collect()
        };
        let filter = ScheduleFilter {
            statuses,
            workflow_names: texts("workflow_names", &req.workflow_names)?,
            name_prefixes: texts("schedule_name_prefixes", &req.schedule_name_prefixes)?,
            application_names: self.owner_filter(&req.application_names)?,
        };
        let rows = self.repo.list_schedules(&filter).await?;
        Ok(pb::ListSchedulesResponse {
            schedules: rows.iter().map(|r| self.render(r)).collect(),
        })
    }

    pub(in crate::api) async fn schedule_get(
        &self,
        req: &pb::GetScheduleRequest,
    ) -> Result<pb::GetScheduleResponse> {
        let row = self.existing_schedule(&req.schedule_name).await?;
        Ok(pb::GetScheduleResponse {
            schedule: Some(self.render(&row)),
        })
    }

    pub(in crate::api) async fn schedule_pause(
        &self,
        req: &pb::PauseScheduleRequest,
    ) -> Result<pb::PauseScheduleResponse> {
        let row = self.set_status(&req.schedule_name, PAUSED).await?;
        Ok(pb::PauseScheduleResponse {
            schedule: Some(self.render(&row)),
        })
    }

    pub(in crate::api) async fn schedule_resume(
        &self,
        req: &pb::ResumeScheduleRequest,
    ) -> Result<pb::ResumeScheduleResponse> {
        let row = self.set_status(&req.schedule_name, ACTIVE).await?;
        Ok(pb::ResumeScheduleResponse {
            schedule: Some(self.render(&row)),
        })
    }

    pub(in crate::api) async fn schedule_delete(
        &self,
        req: &pb::DeleteScheduleRequest,
    ) -> Result<pb::DeleteScheduleResponse> {
        let name = required("schedule_name", &req.schedule_name)?;
        let deleted = self.repo.delete_schedule(&name).await?;
        if !deleted && !req.allow_missing {
            return Err(not_found(&name));
        }
        Ok(pb::DeleteScheduleResponse { deleted })
    }

    pub(in crate::api) async fn schedule_update(
        &self,
        req: &pb::UpdateScheduleRequest,
    ) -> Result<pb::UpdateScheduleResponse> {
        let mut row = self.existing_schedule(&req.schedule_name).await?;
        if let Some(cron) = &req.cron {
            parse_cron(cron)?;
            row.cron = cron.clone();
        }
        if let Some(tz) = &req.cron_timezone {
            row.cron_timezone = match tz.as_str() {
                "" => None,
                tz => Some(time_zone(tz).map(|_| tz.to_owned())?),
            };
        }
        if let Some(queue) = &req.queue_name {
            row.queue_name = (!queue.is_empty())
                .then(|| text("queue_name", queue))
                .transpose()?;
        }
        if let Some(backfill) = req.automatic_backfill {
            row.automatic_backfill = backfill;
        }
        let mut pending = None;
        if let Some(context) = &req.context {
            let language = native::detect(&row.context).ok_or_else(|| {
                Error::FailedPrecondition(format!(
                    "schedule {}'s stored context is in no language format dbosd writes; recreate the schedule",
                    row.schedule_name
                ))
            })?;
            let (text, write) = self.context_text(
                language,
                ContextInput::from(context),
                "UpdateSchedule",
                &row.schedule_name,
            )?;
            row.context = text;
            pending = write;
        }
        let row = self
            .repo
            .update_schedule(&row)
            .await?
            .ok_or_else(|| not_found(&row.schedule_name))?;
        if let Some(write) = pending {
            write.audit("stored");
        }
        Ok(pb::UpdateScheduleResponse {
            schedule: Some(self.render(&row)),
        })
    }

    /// The named schedule, or NOT_FOUND.
    pub(in crate::api) async fn existing_schedule(&self, name: &str) -> Result<ScheduleRow> {
        let name = required("schedule_name", name)?;
        self.repo
            .get_schedule(&name)
            .await?
            .ok_or_else(|| not_found(&name))
    }

    async fn set_status(&self, name: &str, status: &str) -> Result<ScheduleRow> {
        let name = required("schedule_name", name)?;
        self.repo
            .set_schedule_status(&name, status)
            .await?
            .ok_or_else(|| not_found(&name))
    }
}

fn not_found(name: &str) -> Error {
    Error::NotFound(format!("schedule {name} does not exist"))
}

/// A cron expression as DBOS reads it: 5 fields, or 6 with seconds first.
pub(in crate::api) fn parse_cron(cron: &str) -> Result<croner::Cron> {
    // Length, characters and a firing time before croner searches it (see api::convert::cron_check).
    crate::api::convert::cron_check::validate_cron("cron", cron)?;
    let fields = cron.split_whitespace().count();
    if !(5..=6).contains(&fields) {
        return Err(Error::invalid(
            "cron",
            format!("needs 5 fields, or 6 with seconds first (got {fields})"),
        ));
    }
    croner::Cron::new(cron)
        .with_seconds_optional()
        .parse()
        .map_err(|e| Error::invalid("cron", format!("is not a valid cron expression: {e}")))
}

/// An IANA time zone.
pub(in crate::api) fn time_zone(name: &str) -> Result<chrono_tz::Tz> {
    crate::api::convert::cron_check::validate_timezone("cron_timezone", name)?;
    chrono_tz::Tz::from_str(name).map_err(|_| {
        Error::invalid(
            "cron_timezone",
            format!("{name:?} is not an IANA time zone"),
        )
    })
}

impl WorkflowApi {
    fn render(&self, row: &ScheduleRow) -> pb::Schedule {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        pb::Schedule {
            schedule_id: row.schedule_id.clone(),
            schedule_name: row.schedule_name.clone(),
            workflow_name: row.workflow_name.clone(),
            workflow_class_name: s(&row.workflow_class_name),
            cron: row.cron.clone(),
            status: match row.status.as_str() {
                ACTIVE => pb::ScheduleStatus::Active,
                PAUSED => pb::ScheduleStatus::Paused,
                _ => pb::ScheduleStatus::Unspecified,
            } as i32,
            context: Some(self.render_context(&row.context)),
            last_fired_at: s(&row.last_fired_at),
            automatic_backfill: row.automatic_backfill,
            cron_timezone: s(&row.cron_timezone),
            queue_name: s(&row.queue_name),
            application_name: s(&row.application_name),
        }
    }
}
