//! A schedule context from a request (JSON, typed values, or raw native text when the operator and
//! the caller's token allow it) written in the schedule language's native format, and a stored
//! context rendered back. Raw native text is checked (`native::check`) and every raw write is
//! audited (`native::policy::NativeWrite::audit`, target `dbosd::audit`): refusals at once, stored
//! ones by the handler once the row is written.

use std::sync::Arc;

use crate::api::{convert::json::to_json, WorkflowApi};
use crate::{
    error::{Error, Result},
    native::{
        self, pickle,
        policy::{NativeWrite, HOW_TO_ENABLE},
        superjson, Language, NativePolicy, Typed,
    },
    pb,
};

/// A request's context, whichever field gave it.
pub(in crate::api) enum ContextInput<'a> {
    /// None given: the language's null.
    Absent,
    Json(&'a prost_types::Value),
    Typed(&'a pb::TypedValue),
    Native(&'a str),
}

impl<'a> From<Option<&'a pb::create_schedule_request::Context>> for ContextInput<'a> {
    fn from(c: Option<&'a pb::create_schedule_request::Context>) -> Self {
        use pb::create_schedule_request::Context;
        match c {
            None => ContextInput::Absent,
            Some(Context::ContextJson(v)) => ContextInput::Json(v),
            Some(Context::ContextTyped(v)) => ContextInput::Typed(v),
            Some(Context::ContextNativeText(t)) => ContextInput::Native(t),
        }
    }
}

impl<'a> From<&'a pb::update_schedule_request::Context> for ContextInput<'a> {
    fn from(c: &'a pb::update_schedule_request::Context) -> Self {
        use pb::update_schedule_request::Context;
        match c {
            Context::ContextJson(v) => ContextInput::Json(v),
            Context::ContextTyped(v) => ContextInput::Typed(v),
            Context::ContextNativeText(t) => ContextInput::Native(t),
        }
    }
}

impl WorkflowApi {
    /// This service with the operator's native-payload settings.
    pub fn with_native_policy(mut self, policy: NativePolicy) -> Self {
        self.native = Arc::new(policy);
        self
    }

    /// The stored text of a request's context in `language`'s format, and for raw native text the
    /// write to audit once the row is stored (`rpc` and `schedule` go into its record).
    pub(in crate::api) fn context_text(
        &self,
        language: Language,
        input: ContextInput<'_>,
        rpc: &str,
        schedule: &str,
    ) -> Result<(String, Option<NativeWrite>)> {
        let text = match input {
            ContextInput::Absent => json_context(language, &serde_json::Value::Null)?,
            ContextInput::Json(v) => json_context(language, &to_json(v, "context_json")?)?,
            ContextInput::Typed(v) => {
                let value = Typed::from_pb(v, "context_typed")?;
                match language {
                    Language::Python => pickle::encode_typed(&value),
                    Language::TypeScript => superjson::encode_typed(&value, "context_typed")?,
                }
            }
            ContextInput::Native(text) => {
                let mut write = NativeWrite {
                    principal: self.caller.as_deref().map(|c| c.name.clone()),
                    rpc: rpc.to_owned(),
                    schedule: schedule.to_owned(),
                    language: match language {
                        Language::Python => "python",
                        Language::TypeScript => "typescript",
                    },
                    globals: Vec::new(),
                };
                return match self.native_context(language, text) {
                    Ok(globals) => {
                        write.globals = globals;
                        Ok((text.to_owned(), Some(write)))
                    }
                    Err(e) => {
                        write.audit(&format!("refused: {e}"));
                        Err(e)
                    }
                };
            }
        };
        Ok((text, None))
    }

    /// Raw native text: only with the operator switch and (tokens on) a permitted token; checked
    /// opcode by opcode. The globals a pickle names.
    fn native_context(&self, language: Language, text: &str) -> Result<Vec<String>> {
        const FIELD: &str = "context_native_text";
        if !self.native.allow_raw {
            return Err(Error::FailedPrecondition(format!(
                "{FIELD} is refused: raw native payloads are off on this dbosd. {HOW_TO_ENABLE}"
            )));
        }
        if let Some(caller) = self.caller.as_deref() {
            if !caller.native_payloads {
                return Err(Error::PermissionDenied(format!(
                    "token {:?} may not store raw native payloads ({FIELD}): its tokens-file entry \
                     lacks \"native_payloads\": true. {HOW_TO_ENABLE}",
                    caller.name
                )));
            }
        }
        if native::detect(text) != Some(language) {
            return Err(Error::invalid(
                FIELD,
                format!(
                    "is not in {language:?}'s native format, the schedule's language (base64 \
                     pickle for Python, marked superjson for TypeScript)"
                ),
            ));
        }
        let checked = native::check(language, text, &self.native.allowlist)
            .map_err(|refusal| Error::invalid(FIELD, refusal.0))?;
        Ok(checked.globals)
    }

    /// A stored context as the API shows it: the text, its language, and the decoded JSON and
    /// typed values when the checks pass and it has them.
    pub(in crate::api) fn render_context(&self, text: &str) -> pb::ScheduleContext {
        let language = native::detect(text);
        let typed = language.and_then(|l| native::decode_typed(l, text, &self.native.allowlist));
        let json = match language {
            Some(Language::TypeScript) => superjson::decode_plain(text),
            Some(Language::Python) => typed.as_ref().and_then(Typed::to_json),
            None => None,
        };
        pb::ScheduleContext {
            text: text.to_owned(),
            language: match language {
                Some(Language::Python) => pb::WorkerLanguage::Python,
                Some(Language::TypeScript) => pb::WorkerLanguage::Typescript,
                None => pb::WorkerLanguage::Unspecified,
            } as i32,
            json: json.as_ref().map(crate::api::convert::json::from_json),
            typed: typed.as_ref().and_then(Typed::to_pb),
        }
    }
}

/// A JSON context in `language`'s native format.
fn json_context(language: Language, value: &serde_json::Value) -> Result<String> {
    match language {
        Language::TypeScript => Ok(superjson::encode(value)),
        Language::Python => pickle::encode_json(value).ok_or_else(|| {
            Error::invalid(
                "context_json",
                "holds an integer beyond 64 bits, which dbosd does not pickle",
            )
        }),
    }
}
