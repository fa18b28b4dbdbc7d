//! The web console at `/ui` (`--ui`): served only when turned on, its files with their content
//! types and a restrictive Content-Security-Policy, and driven in real headless Chromium the way a
//! person uses it, against real DBOS workers.

mod assets;
mod browser;
mod start_dev;
