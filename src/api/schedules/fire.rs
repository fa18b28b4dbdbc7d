//! TriggerSchedule and BackfillSchedule: enqueue a schedule's workflow as the schedule's own
//! language fires it, so the worker reads the arguments and the live scheduler recognizes the ids.
//!
//! | | Python | TypeScript |
//! |---|---|---|
//! | id time | `datetime.isoformat()` in the schedule's zone (`2026-01-01T00:00:00+00:00`) | `toISOString()` (`2026-01-01T00:00:00.000Z`) |
//! | inputs | pickle of `{"args": (datetime, context), "kwargs": {}}`, serialization NULL | superjson of `[Date, context]`, `js_superjson` |
//!
//! The Python datetime is always UTC (`timezone.utc`); Python's own scheduler passes the same
//! instant in the schedule's `ZoneInfo` when it has a cron_timezone.

use chrono::{DateTime, TimeZone, Utc};

use crate::api::{
    convert::timestamp_ms,
    schedules::{parse_cron, time_zone},
    WorkflowApi,
};
use crate::{
    error::{Error, Result},
    model::{NewWorkflow, ScheduleRow, TxOp, INTERNAL_QUEUE},
    native::{self, pickle, superjson, Language},
    pb,
};

/// Most firings one BackfillSchedule enqueues.
const MAX_FIRINGS: usize = 10_000;

impl WorkflowApi {
    pub(in crate::api) async fn schedule_trigger(
        &self,
        req: &pb::TriggerScheduleRequest,
    ) -> Result<pb::TriggerScheduleResponse> {
        let schedule = self.existing_schedule(&req.schedule_name).await?;
        let language = language_of(&schedule)?;
        let now = Utc::now();
        let id = format!(
            "sched-{}-trigger-{}",
            schedule.schedule_name,
            id_time(language, &now)
        );
        let firing = self.firing(&schedule, language, now, id.clone()).await?;
        self.repo
            .transact(&[TxOp::Enqueue(Box::new(firing))], "firings")
            .await?;
        Ok(pb::TriggerScheduleResponse { workflow_id: id })
    }

    pub(in crate::api) async fn schedule_backfill(
        &self,
        req: &pb::BackfillScheduleRequest,
    ) -> Result<pb::BackfillScheduleResponse> {
        let time = |field: &str, t: &Option<prost_types::Timestamp>| -> Result<DateTime<Utc>> {
            let ms = timestamp_ms(
                field,
                t.as_ref()
                    .ok_or_else(|| Error::invalid(field, "is required"))?,
            )?;
            Utc.timestamp_millis_opt(ms)
                .single()
                .ok_or_else(|| Error::invalid(field, "is out of range"))
        };
        let (start, end) = (time("start", &req.start)?, time("end", &req.end)?);
        if end <= start {
            return Err(Error::invalid("end", "must be after start"));
        }
        let schedule = self.existing_schedule(&req.schedule_name).await?;
        let language = language_of(&schedule)?;
        let cron = parse_cron(&schedule.cron)?;
        let tz = time_zone(schedule.cron_timezone.as_deref().unwrap_or("UTC"))?;
        let mut times = Vec::new();
        let mut at = start.with_timezone(&tz);
        loop {
            let next = cron
                .find_next_occurrence(&at, false)
                .map_err(|e| Error::invalid("cron", format!("cannot be evaluated: {e}")))?;
            if next.with_timezone(&Utc) >= end {
                break;
            }
            if times.len() == MAX_FIRINGS {
                return Err(Error::invalid(
                    "end",
                    format!(
                        "the window holds more than {MAX_FIRINGS} firings; backfill it in parts"
                    ),
                ));
            }
            times.push(next);
            at = next;
        }
        let mut ops = Vec::with_capacity(times.len());
        let mut ids = Vec::with_capacity(times.len());
        for t in &times {
            let id = format!("sched-{}-{}", schedule.schedule_name, id_time(language, t));
            let firing = self
                .firing(&schedule, language, t.with_timezone(&Utc), id.clone())
                .await?;
            ops.push(TxOp::Enqueue(Box::new(firing)));
            ids.push(id);
        }
        // Firings enqueued before (by a worker or an earlier backfill) come back EXISTING, untouched.
        if !ops.is_empty() {
            self.repo.transact(&ops, "firings").await?;
        }
        Ok(pb::BackfillScheduleResponse { workflow_ids: ids })
    }

    /// The workflow a firing at `at` enqueues: the owner's latest version, the schedule's queue.
    async fn firing(
        &self,
        s: &ScheduleRow,
        language: Language,
        at: DateTime<Utc>,
        workflow_id: String,
    ) -> Result<NewWorkflow> {
        let unreadable = |why: native::Refusal| {
            Error::FailedPrecondition(format!(
                "schedule {}'s stored context cannot be embedded in {language:?} arguments: {why}",
                s.schedule_name
            ))
        };
        // The stored context passes the same checks as a written one (a worker or an older dbosd
        // may have written it) before it goes into a worker's arguments.
        let (inputs, serialization) = match language {
            Language::Python => (
                pickle::firing_inputs(at.timestamp_micros(), &s.context, &self.native.allowlist)
                    .map_err(unreadable)?,
                None,
            ),
            Language::TypeScript => (
                superjson::firing_args(&js_iso(&at), &s.context).map_err(unreadable)?,
                Some("js_superjson".to_owned()),
            ),
        };
        let owner = s
            .application_name
            .clone()
            .or_else(|| self.default_app.clone());
        let app_version = match self.repo.latest_version(owner.as_deref()).await {
            Ok(v) => v.map(|v| v.version_name),
            Err(Error::FailedPrecondition(_)) => None,
            Err(e) => return Err(e),
        };
        Ok(NewWorkflow {
            workflow_id,
            name: s.workflow_name.clone(),
            queue_name: s
                .queue_name
                .clone()
                .filter(|q| !q.is_empty())
                .unwrap_or_else(|| INTERNAL_QUEUE.to_owned()),
            inputs,
            serialization,
            schedule_name: Some(s.schedule_name.clone()),
            is_debounced: false,
            debounce_deadline_epoch_ms: None,
            class_name: s.workflow_class_name.clone().filter(|c| !c.is_empty()),
            app_version,
            application_name: owner,
            ..NewWorkflow::default()
        })
    }
}

/// The language a schedule belongs to, from its context's format.
fn language_of(s: &ScheduleRow) -> Result<Language> {
    native::detect(&s.context).ok_or_else(|| {
        Error::FailedPrecondition(format!(
            "schedule {}'s context is in neither Python's nor TypeScript's native format, so dbosd \
             cannot write the arguments its worker expects; fire it from its own application",
            s.schedule_name
        ))
    })
}

/// A firing time as the language writes it into workflow ids.
fn id_time<Tz: TimeZone>(language: Language, t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    match language {
        Language::TypeScript => js_iso(&t.with_timezone(&Utc)),
        // datetime.isoformat(): microseconds only when non-zero, offset as +HH:MM.
        Language::Python => {
            if t.timestamp_subsec_micros() == 0 {
                t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
            } else {
                t.format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string()
            }
        }
    }
}

/// JavaScript's `Date.toISOString()`.
fn js_iso(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_use_each_language_time_format() {
        let t = Utc.timestamp_micros(1_767_225_600_000_000).unwrap();
        assert_eq!(id_time(Language::Python, &t), "2026-01-01T00:00:00+00:00");
        assert_eq!(
            id_time(Language::TypeScript, &t),
            "2026-01-01T00:00:00.000Z"
        );
        let ny = t.with_timezone(&chrono_tz::America::New_York);
        assert_eq!(id_time(Language::Python, &ny), "2025-12-31T19:00:00-05:00");
        let t = Utc.timestamp_micros(1_767_225_600_123_456).unwrap();
        assert_eq!(
            id_time(Language::Python, &t),
            "2026-01-01T00:00:00.123456+00:00"
        );
        assert_eq!(
            id_time(Language::TypeScript, &t),
            "2026-01-01T00:00:00.123Z"
        );
    }
}
