//! App Home: `views.publish`, the `app_home_opened` event, and clicks on a published Home view.
//!
//! Limits and errors follow Slack's method reference and Home tab view reference: at most 100
//! blocks, `private_metadata` up to 3000 characters, `callback_id` up to 255, `external_id`
//! unique in a team, `hash_conflict` for a stale `hash`, `view_too_large` past 250 kB, and
//! `not_enabled` when the app's Home tab is off.

use serde_json::{json, Value};

use super::web_api::{authorize, dm_in, workspaces_of, ApiError, DmError};
use super::{random_hex, SandboxError, SlackSandbox, State};

pub(super) const MAX_HOME_BLOCKS: usize = 100;
/// Slack: "greater than 250kb". The sandbox counts 250 000 bytes of the view's JSON, the low
/// reading, so a view it takes Slack takes too.
pub(super) const MAX_VIEW_BYTES: usize = 250_000;
const MAX_PRIVATE_METADATA: usize = 3_000;
const MAX_CALLBACK_ID: usize = 255;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::with_message("invalid_arguments", message)
}

/// Slack's `[ERROR] … [json-pointer:…]` line for a block the validator refused.
fn block_error(error: &str) -> String {
    match error
        .strip_prefix("blocks[")
        .and_then(|rest| rest.split_once("]: "))
    {
        Some((index, why)) => format!("[ERROR] {why} [json-pointer:/view/blocks/{index}]"),
        None => format!("[ERROR] {error} [json-pointer:/view/blocks]"),
    }
}

/// `views.publish`: checks the arguments and the view the way Slack does, then stores the view
/// as the user's Home tab with a fresh id and hash and answers it.
pub(super) fn publish(
    sandbox: &SlackSandbox,
    state: &mut State,
    token: Option<&str>,
    params: &Value,
) -> Result<Value, ApiError> {
    let grant = authorize(state, token)?.clone();
    let user_id = params["user_id"]
        .as_str()
        .map(str::trim)
        .unwrap_or_default();
    if !super::is_user_id(user_id) {
        // Slack's own example of this method's error answer.
        return Err(invalid("invalid `user_id`"));
    }
    let view = match &params["view"] {
        Value::String(text) => serde_json::from_str::<Value>(text).ok(),
        Value::Object(_) => Some(params["view"].clone()),
        _ => None,
    }
    .filter(Value::is_object)
    .ok_or(ApiError::from("invalid_arguments"))?;
    if view.to_string().len() > MAX_VIEW_BYTES {
        return Err("view_too_large".into());
    }
    if view["type"] != "home" {
        return Err("invalid_arguments".into());
    }
    let blocks = view["blocks"]
        .as_array()
        .ok_or(ApiError::from("invalid_arguments"))?;
    if blocks.len() > MAX_HOME_BLOCKS {
        return Err(invalid(format!(
            "[ERROR] no more than {MAX_HOME_BLOCKS} items allowed [json-pointer:/view/blocks]"
        )));
    }
    super::validate_blocks(&view["blocks"], MAX_HOME_BLOCKS)
        .map_err(|e| invalid(block_error(&e)))?;
    let text = |name: &str| view[name].as_str().unwrap_or_default().to_owned();
    let (private_metadata, callback_id, external_id) = (
        text("private_metadata"),
        text("callback_id"),
        text("external_id"),
    );
    if private_metadata.chars().count() > MAX_PRIVATE_METADATA {
        return Err(invalid(format!(
            "[ERROR] must be less than {} characters [json-pointer:/view/private_metadata]",
            MAX_PRIVATE_METADATA + 1
        )));
    }
    if callback_id.chars().count() > MAX_CALLBACK_ID {
        return Err(invalid(format!(
            "[ERROR] must be less than {} characters [json-pointer:/view/callback_id]",
            MAX_CALLBACK_ID + 1
        )));
    }
    let team_id = workspaces_of(state, &grant)
        .find(|w| w.users.iter().any(|u| u.id == user_id))
        .map(|w| w.team_id.clone())
        .ok_or(ApiError::from("user_not_found"))?;
    if !sandbox.config.home_tab_enabled {
        return Err("not_enabled".into());
    }
    let key = (team_id.clone(), user_id.to_owned());
    if !external_id.is_empty()
        && state.home_views.iter().any(|((team, user), other)| {
            *team == team_id && user != user_id && other["external_id"] == external_id
        })
    {
        return Err("duplicate_external_id".into());
    }
    if let Some(hash) = params["hash"].as_str().filter(|h| !h.is_empty()) {
        let current = state.home_views.get(&key).map(|v| &v["hash"]);
        if current.and_then(Value::as_str) != Some(hash) {
            return Err("hash_conflict".into());
        }
    }
    let id = format!("V{}", random_hex(5).to_uppercase());
    let stored = json!({
        "id": id,
        "team_id": team_id,
        "type": "home",
        "close": null,
        "submit": null,
        "blocks": with_block_ids(blocks),
        "private_metadata": private_metadata,
        "callback_id": callback_id,
        "state": {"values": {}},
        "hash": format!("{}.{}", crate::unix_now(), random_hex(6)),
        "clear_on_close": false,
        "notify_on_close": false,
        "root_view_id": id,
        "previous_view_id": null,
        "app_id": sandbox.config.app_id,
        "external_id": external_id,
        "app_installed_team_id": team_id,
        "bot_id": grant.bot_id(),
    });
    state.home_views.insert(key, stored.clone());
    Ok(json!({"view": stored}))
}

/// Slack gives every block without a `block_id` one of its own, and answers the view with it;
/// clicks then report that id.
fn with_block_ids(blocks: &[Value]) -> Value {
    blocks
        .iter()
        .map(|block| {
            let mut block = block.clone();
            if block["block_id"].as_str().is_none_or(str::is_empty) {
                block["block_id"] = json!(random_hex(3));
            }
            block
        })
        .collect()
}

impl SlackSandbox {
    /// The Home view `user_id` sees in `team_id`, as `views.publish` last answered it (`id`,
    /// `hash`, `blocks`, …); `None` before the first publish.
    pub fn home_view(&self, team_id: &str, user_id: &str) -> Option<Value> {
        self.state()
            .home_views
            .get(&(team_id.to_owned(), user_id.to_owned()))
            .cloned()
    }

    /// The Events API callback Slack sends when `user_id` opens the app's Home tab in
    /// `team_id` (not delivered: pass it to [`SlackSandbox::deliver`] with the events URL).
    /// The event names the app's DM with the person (opened if needed, as opening the App
    /// Home does) and carries `view` only once a Home view was published for them.
    pub fn app_home_opened_event(
        &self,
        team_id: &str,
        user_id: &str,
    ) -> Result<Value, SandboxError> {
        if !self.config.home_tab_enabled {
            return Err(SandboxError::HomeTabDisabled);
        }
        let mut state = self.state();
        let workspace = state
            .workspaces
            .iter_mut()
            .find(|w| w.team_id == team_id)
            .ok_or_else(|| SandboxError::NoWorkspace(team_id.into()))?;
        let (channel, already_open) = match dm_in(workspace, user_id) {
            Ok(found) => found,
            Err(DmError::NotFound) => return Err(SandboxError::NoUser(user_id.into())),
            Err(DmError::Disabled) => return Err(SandboxError::Deactivated(user_id.into())),
        };
        let view = state
            .home_views
            .get(&(team_id.to_owned(), user_id.to_owned()))
            .cloned();
        drop(state);
        if !already_open {
            self.changed();
        }
        let mut event = json!({
            "type": "app_home_opened",
            "user": user_id,
            "channel": channel,
            "tab": "home",
            "event_ts": super::event_ts(),
        });
        if let Some(view) = view {
            event["view"] = view;
        }
        Ok(self.event_callback(team_id, event))
    }

    /// The form body Slack sends when `user_id` clicks the button `action_id` in the block
    /// `block_id` of their Home view: a `block_actions` whose container is the view, with the
    /// view and a `trigger_id`, and no `response_url`, `channel` or `message` (a Home tab has
    /// none; the app answers by publishing again).
    pub fn home_click_payload(
        &self,
        team_id: &str,
        user_id: &str,
        block_id: &str,
        action_id: &str,
    ) -> Result<String, SandboxError> {
        let mut state = self.state();
        let workspace = state
            .workspaces
            .iter()
            .find(|w| w.team_id == team_id)
            .cloned()
            .ok_or_else(|| SandboxError::NoWorkspace(team_id.into()))?;
        let user = workspace
            .users
            .iter()
            .find(|u| u.id == user_id)
            .cloned()
            .ok_or_else(|| SandboxError::NoUser(user_id.into()))?;
        if user.deleted {
            return Err(SandboxError::Deactivated(user_id.into()));
        }
        let view = state
            .home_views
            .get(&(team_id.to_owned(), user_id.to_owned()))
            .cloned()
            .ok_or_else(|| SandboxError::NoHomeView {
                team_id: team_id.into(),
                user_id: user_id.into(),
            })?;
        let (block_id, element) = super::find_button(&view["blocks"], Some(block_id), action_id)
            .ok_or_else(|| SandboxError::NoHomeButton {
                block_id: block_id.into(),
                action_id: action_id.into(),
            })?;
        let (trigger_id, action_ts) = super::issue_trigger(&mut state, user_id);
        drop(state);
        let mut action = json!({
            "type": element["type"], "action_id": action_id, "block_id": block_id,
            "text": element["text"], "action_ts": action_ts,
        });
        // Slack leaves out what the button does not have.
        for key in ["value", "style"] {
            if let Some(value) = element.get(key).filter(|v| !v.is_null()) {
                action[key] = value.clone();
            }
        }
        let payload = json!({
            "type": "block_actions",
            "team": {"id": workspace.team_id, "domain": workspace.domain,
                     "enterprise_id": workspace.enterprise_id},
            "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": workspace.team_id},
            "api_app_id": self.config.app_id,
            "token": "deprecated-verification-token",
            "container": {"type": "view", "view_id": view["id"]},
            "trigger_id": trigger_id,
            "view": view,
            "actions": [action],
            "is_enterprise_install": false,
            "enterprise": workspace.enterprise_id.as_ref().map(|id| json!({"id": id})),
        });
        Ok(
            serde_urlencoded::to_string([("payload", payload.to_string())])
                .expect("strings encode"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_errors_point_at_the_block() {
        assert_eq!(
            block_error("blocks[3]: header text longer than 150"),
            "[ERROR] header text longer than 150 [json-pointer:/view/blocks/3]"
        );
        assert_eq!(
            block_error("blocks must be an array"),
            "[ERROR] blocks must be an array [json-pointer:/view/blocks]"
        );
    }

    #[test]
    fn blocks_without_an_id_get_one_and_ids_given_stay() {
        let blocks = with_block_ids(&[
            json!({"type": "divider"}),
            json!({"type": "divider", "block_id": "mine"}),
        ]);
        let first = blocks[0]["block_id"].as_str().unwrap();
        assert_eq!(first.len(), 6, "{blocks}");
        assert_eq!(blocks[1]["block_id"], "mine");
    }
}
