//! RegisterQueue, GetQueue, ListQueues, UpdateQueue, DeleteQueue: the DBOS queue registry.
//!
//! Limits are validated as DBOS's `Queue._validate_queue` does, on the whole configuration (for
//! UpdateQueue, on the configuration the update produces).

use prost_types::Duration;

use crate::api::{
    convert::{ms_to_timestamp, required, text},
    WorkflowApi,
};
use crate::{
    error::{Error, Result},
    model::{OnConflict, QueueRow, QueueSpec, RateLimit, INTERNAL_QUEUE},
    pb,
};

/// DBOS's default polling interval.
const DEFAULT_POLLING_SEC: f64 = 1.0;
/// The update_mask paths UpdateQueue accepts.
const MASK_PATHS: &[&str] = &[
    "concurrency",
    "worker_concurrency",
    "rate_limit",
    "partition_concurrency",
    "partition_worker_concurrency",
    "partition_rate_limit",
    "polling_interval",
];

impl WorkflowApi {
    pub(super) async fn queue_register(
        &self,
        req: &pb::RegisterQueueRequest,
    ) -> Result<pb::RegisterQueueResponse> {
        let queue = req
            .queue
            .as_ref()
            .ok_or_else(|| Error::invalid("queue", "is required"))?;
        let spec = queue_spec(queue)?;
        check_limits(&spec)?;
        let owner = match queue.application_name.as_str() {
            "" => self.default_app.clone(),
            app => Some(text("queue.application_name", app)?),
        };
        let on_conflict = match crate::api::convert::enum_field("on_conflict", req.on_conflict)? {
            pb::QueueConflictPolicy::NeverUpdate => OnConflict::Keep,
            pb::QueueConflictPolicy::Unspecified | pb::QueueConflictPolicy::AlwaysUpdate => {
                OnConflict::Update
            }
        };
        let (row, created) = self
            .repo
            .register_queue(&spec, owner.as_deref(), on_conflict)
            .await?;
        Ok(pb::RegisterQueueResponse {
            queue: Some(render(&row)),
            created,
        })
    }

    pub(super) async fn queue_get(
        &self,
        req: &pb::GetQueueRequest,
    ) -> Result<pb::GetQueueResponse> {
        let name = required("name", &req.name)?;
        let row = self
            .repo
            .get_queue(&name)
            .await?
            .ok_or_else(|| crate::repo::queues::not_found(&name))?;
        Ok(pb::GetQueueResponse {
            queue: Some(render(&row)),
        })
    }

    pub(super) async fn queue_list(
        &self,
        req: &pb::ListQueuesRequest,
    ) -> Result<pb::ListQueuesResponse> {
        let owners = self.owner_filter(&req.application_names)?;
        let rows = self.repo.list_queues(&owners).await?;
        Ok(pb::ListQueuesResponse {
            queues: rows.iter().map(render).collect(),
        })
    }

    pub(super) async fn queue_update(
        &self,
        req: &pb::UpdateQueueRequest,
    ) -> Result<pb::UpdateQueueResponse> {
        let queue = req
            .queue
            .as_ref()
            .ok_or_else(|| Error::invalid("queue", "is required"))?;
        let name = required("queue.name", &queue.name)?;
        let paths = &req
            .update_mask
            .as_ref()
            .map(|m| m.paths.clone())
            .unwrap_or_default();
        if paths.is_empty() {
            return Err(Error::invalid(
                "update_mask",
                "must name at least one field",
            ));
        }
        if let Some(bad) = paths.iter().find(|p| !MASK_PATHS.contains(&p.as_str())) {
            return Err(Error::invalid(
                "update_mask",
                format!(
                    "{bad:?} is not an updatable field; use {}",
                    MASK_PATHS.join(", ")
                ),
            ));
        }
        let given = queue_spec(&pb::Queue {
            name: name.clone(),
            ..queue.clone()
        })?;
        let row = self
            .repo
            .update_queue(&name, |mut spec| {
                for path in paths {
                    match path.as_str() {
                        "concurrency" => spec.concurrency = given.concurrency,
                        "worker_concurrency" => spec.worker_concurrency = given.worker_concurrency,
                        "rate_limit" => spec.rate_limit = given.rate_limit,
                        "partition_concurrency" => {
                            spec.partition_concurrency = given.partition_concurrency
                        }
                        "partition_worker_concurrency" => {
                            spec.partition_worker_concurrency = given.partition_worker_concurrency
                        }
                        "partition_rate_limit" => {
                            spec.partition_rate_limit = given.partition_rate_limit
                        }
                        "polling_interval" => {
                            spec.polling_interval_sec = given.polling_interval_sec
                        }
                        other => unreachable!("update_mask path {other} was validated above"),
                    }
                }
                check_limits(&spec)?;
                Ok(spec)
            })
            .await?;
        Ok(pb::UpdateQueueResponse {
            queue: Some(render(&row)),
        })
    }

    pub(super) async fn queue_delete(
        &self,
        req: &pb::DeleteQueueRequest,
    ) -> Result<pb::DeleteQueueResponse> {
        let name = required("name", &req.name)?;
        let deleted = self.repo.delete_queue(&name).await?;
        if !deleted && !req.allow_missing {
            return Err(crate::repo::queues::not_found(&name));
        }
        Ok(pb::DeleteQueueResponse { deleted })
    }

    /// An application filter: the request's names, else dbosd's configured application (if any).
    pub(super) fn owner_filter(&self, names: &[String]) -> Result<Vec<String>> {
        let mut owners = names
            .iter()
            .map(|n| text("application_names", n))
            .collect::<Result<Vec<_>>>()?;
        if owners.is_empty() {
            owners.extend(self.default_app.clone());
        }
        Ok(owners)
    }
}

/// The configuration a Queue message asks for (its owner and output-only fields aside).
fn queue_spec(q: &pb::Queue) -> Result<QueueSpec> {
    let name = required("queue.name", &q.name)?;
    if name.starts_with("_dbos_") {
        return Err(Error::invalid(
            "queue.name",
            format!("names starting with _dbos_ are reserved for DBOS ({INTERNAL_QUEUE})"),
        ));
    }
    let count = |field: &str, v: Option<i32>, min: i32| match v {
        Some(n) if n < min => Err(Error::invalid(
            format!("queue.{field}"),
            format!("must be at least {min}"),
        )),
        v => Ok(v),
    };
    let polling_interval_sec = match &q.polling_interval {
        None => DEFAULT_POLLING_SEC,
        Some(d) => match seconds("queue.polling_interval", d)? {
            s if s > 0.0 => s,
            _ => return Err(Error::invalid("queue.polling_interval", "must be positive")),
        },
    };
    Ok(QueueSpec {
        name,
        concurrency: count("concurrency", q.concurrency, 0)?,
        worker_concurrency: count("worker_concurrency", q.worker_concurrency, 0)?,
        rate_limit: rate_limit("queue.rate_limit", &q.rate_limit)?,
        partition_concurrency: count("partition_concurrency", q.partition_concurrency, 1)?,
        partition_worker_concurrency: count(
            "partition_worker_concurrency",
            q.partition_worker_concurrency,
            1,
        )?,
        partition_rate_limit: rate_limit("queue.partition_rate_limit", &q.partition_rate_limit)?,
        polling_interval_sec,
    })
}

fn rate_limit(field: &str, r: &Option<pb::RateLimit>) -> Result<Option<RateLimit>> {
    let Some(r) = r else { return Ok(None) };
    if r.limit < 1 {
        return Err(Error::invalid(
            format!("{field}.limit"),
            "must be at least 1",
        ));
    }
    let period = r
        .period
        .as_ref()
        .ok_or_else(|| Error::invalid(format!("{field}.period"), "is required"))?;
    let period_sec = seconds(&format!("{field}.period"), period)?;
    if period_sec <= 0.0 {
        return Err(Error::invalid(
            format!("{field}.period"),
            "must be positive",
        ));
    }
    Ok(Some(RateLimit {
        limit: r.limit,
        period_sec,
    }))
}

fn seconds(field: &str, d: &Duration) -> Result<f64> {
    if d.seconds < 0 || d.nanos < 0 || d.nanos >= 1_000_000_000 {
        return Err(Error::invalid(field, "must be a non-negative duration"));
    }
    Ok(d.seconds as f64 + f64::from(d.nanos) / 1e9)
}

/// DBOS's cross-field rules: a narrower limit never exceeds a wider one.
fn check_limits(s: &QueueSpec) -> Result<()> {
    let pairs = [
        (
            "worker_concurrency",
            s.worker_concurrency,
            "concurrency",
            s.concurrency,
        ),
        (
            "partition_concurrency",
            s.partition_concurrency,
            "concurrency",
            s.concurrency,
        ),
        (
            "partition_worker_concurrency",
            s.partition_worker_concurrency,
            "concurrency",
            s.concurrency,
        ),
        (
            "partition_worker_concurrency",
            s.partition_worker_concurrency,
            "partition_concurrency",
            s.partition_concurrency,
        ),
        (
            "partition_worker_concurrency",
            s.partition_worker_concurrency,
            "worker_concurrency",
            s.worker_concurrency,
        ),
    ];
    for (narrow, n, wide, w) in pairs {
        if let (Some(n), Some(w)) = (n, w) {
            if n > w {
                return Err(Error::invalid(
                    format!("queue.{narrow}"),
                    format!("must not exceed {wide} ({n} > {w})"),
                ));
            }
        }
    }
    Ok(())
}

fn render(row: &QueueRow) -> pb::Queue {
    let rate = |r: &Option<RateLimit>| {
        r.map(|r| pb::RateLimit {
            limit: r.limit,
            period: Some(duration(r.period_sec)),
        })
    };
    let s = &row.spec;
    pb::Queue {
        name: s.name.clone(),
        concurrency: s.concurrency,
        worker_concurrency: s.worker_concurrency,
        rate_limit: rate(&s.rate_limit),
        partition_concurrency: s.partition_concurrency,
        partition_worker_concurrency: s.partition_worker_concurrency,
        partition_rate_limit: rate(&s.partition_rate_limit),
        polling_interval: Some(duration(s.polling_interval_sec)),
        application_name: row.application_name.clone().unwrap_or_default(),
        partitioned: s.partitioned(),
        queue_id: row.queue_id.clone(),
        created_at: Some(ms_to_timestamp(row.created_at)),
        updated_at: Some(ms_to_timestamp(row.updated_at)),
    }
}

/// Seconds (as stored) as a protobuf Duration.
fn duration(sec: f64) -> Duration {
    let whole = sec.floor();
    Duration {
        seconds: whole as i64,
        nanos: ((sec - whole) * 1e9).round().min(999_999_999.0) as i32,
    }
}
