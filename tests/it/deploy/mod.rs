//! How dbosd is deployed: the kustomize manifests in `deploy/`, behind pgbouncer, and as several
//! replicas on one database.

mod kustomize;
mod pgbouncer;
mod replicas;
mod replicas_three;
