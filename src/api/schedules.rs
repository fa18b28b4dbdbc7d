//! Schedules (being built).

use super::WorkflowApi;
use crate::{
    error::{Error, Result},
    pb,
};

impl WorkflowApi {
    pub(super) async fn schedule_create(
        &self,
        _req: &pb::CreateScheduleRequest,
    ) -> Result<pb::CreateScheduleResponse> {
        Err(Error::FailedPrecondition("not yet".into()))
    }
    pub(super) async fn schedule_list(
        &self,
        _req: &pb::ListSchedulesRequest,
    ) -> Result<pb::ListSchedulesResponse> {
        Err(Error::FailedPrecondition("not yet".into()))
    }
    pub(super) async fn schedule_get(
        &self,
        _req: &pb::GetScheduleRequest,
    ) -> Result<pb::GetScheduleResponse> {
        Err(Error::FailedPrecondition("not yet".into()))
    }
    pub(super) async fn schedule_pause(
        &self,
        _req: &pb::PauseScheduleRequest,
    ) -> Result<pb::PauseScheduleResponse> {
        Err(Error::FailedPrecondition("not yet".into()))
    }
    pub(super) async fn schedule_resume(
        &self,
        _req: &pb::ResumeScheduleRequest,
    ) -> Result<pb::ResumeScheduleResponse> {
        Err(Error::FailedPrecondition("not yet".into()))
    }
    pub(super) async fn schedule_delete(
        &self,
        _req: &pb::DeleteScheduleRequest,
    ) -> Result<pb::DeleteScheduleResponse> {
        Err(Error::FailedPrecondition("not yet".into()))
    }
    pub(super) async fn schedule_trigger(
        &self,
        _req: &pb::TriggerScheduleRequest,
    ) -> Result<pb::TriggerScheduleResponse> {
        Err(Error::FailedPrecondition("not yet".into()))
    }
    pub(super) async fn schedule_backfill(
        &self,
        _req: &pb::BackfillScheduleRequest,
    ) -> Result<pb::BackfillScheduleResponse> {
        Err(Error::FailedPrecondition("not yet".into()))
    }
}
