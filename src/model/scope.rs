//! What a caller may touch: the applications and queues a token grants. The auth layer builds it
//! from the token file; handlers check new workflows against it and the repository binds it into
//! every scoped statement (`repo::db::scope`).

/// What a caller may touch. `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Applications whose workflows it may touch (unclaimed workflows, with no application, are
    /// outside every restricted scope).
    pub applications: Option<Vec<String>>,
    /// Queues whose workflows it may touch (workflows on no queue are outside a restricted scope).
    pub queues: Option<Vec<String>>,
}

impl Scope {
    /// Whether this scope restricts anything (an unrestricted one needs no checks).
    pub fn is_restricted(&self) -> bool {
        self.applications.is_some() || self.queues.is_some()
    }

    /// Whether the scope may put workflows on `queue`.
    pub fn allows_queue(&self, queue: &str) -> bool {
        self.queues
            .as_ref()
            .is_none_or(|list| list.iter().any(|q| q == queue))
    }

    /// The scope as the repository binds it: (applications, queues), `None` for "any". Every scoped
    /// statement takes these two arrays, so one fixed SQL text serves every caller.
    pub fn bind(&self) -> (Option<Vec<String>>, Option<Vec<String>>) {
        (self.applications.clone(), self.queues.clone())
    }

    /// Whether a workflow of `application` on `queue` is inside the scope.
    pub fn allows(&self, application: Option<&str>, queue: Option<&str>) -> bool {
        let inside = |allowed: &Option<Vec<String>>, value: Option<&str>| match allowed {
            None => true,
            Some(list) => value.is_some_and(|v| list.iter().any(|a| a == v)),
        };
        inside(&self.applications, application) && inside(&self.queues, queue)
    }
}
