//! Use cases: one module per thing a user or the host can make happen.

pub mod ack_click;
pub mod comments;
pub mod connection;
pub mod create_approval;
pub mod deadlines;
pub mod decide;
pub mod effects;
pub mod host_decisions;
pub mod inbox;
pub mod install;
pub mod notify;
pub mod people;
pub mod reminders;
pub mod set_channel;
pub mod slack_events;
pub mod tokens;
pub mod transition;
pub mod welcome;
