//! The integration tests, one binary: the real AWS SDK against the moto server `make test`
//! starts, the Slack sandbox and the host stand-in on loopback, and the functions' own
//! routers invoked with Lambda events as `lambda_http` would invoke them.

mod comments;
mod common;
mod cost;

mod ambiguous_posts;
mod approval_spine;
mod bad_input;
mod event_source_mapping;
mod event_sources;
mod files;
mod host_api;
mod host_decisions;
mod install_flow;
mod outage;
mod people;
mod policies;
mod reconnect;
mod reminders;
mod reseal;
mod sample_events;
mod scopes;
mod secret_rotation;
mod slack_events;
mod slack_interactions;
mod template_matches_provisioning;
