//! Performing an approval's due outbox entries: each on its own, each recorded when done.
//!
//! One failing effect never holds up another, except that a host event waits for the
//! events before it, so the host sees an approval's events in order. A failure that may
//! pass is retried with backoff until the horizon; one that never can (`message_not_found`,
//! a revoked token) is marked failed with its reason, which `GET /v1/approvals/{id}` shows.
//!
//! An effect that needs the workspace's token while the workspace is disconnected (the host
//! disconnected, the app was uninstalled, the refresh token was refused) is parked rather
//! than failed: the clicked message is replaced through the click's `response_url`, which
//! needs no token, and every parked effect is resumed when the app is installed again.

use serde_json::json;

use crate::blocks::{current_message, minimal_ended_message, SlackMessage};
use crate::domain::{Approval, CopyRole, Installation, MessageCopy};
use crate::files::{Attachment, FileUpload};
use crate::outbox::{Backoff, OutboxEntry, Outgoing};
use crate::ports::{
    ApprovalStore, BotTokens, FileError, FileUploads, HomeFor, HostFiles, SlackApi, SlackError,
    SlackFiles, StoreError, TenantStore, TokenError, WebhookError, WebhookSink,
};
use crate::usecases::inbox::{HomeError, HomeTab, Inbox};
use crate::usecases::reminders::render_digest;

/// How long one attempt may hold an entry. It must outlast the worker's budget for one
/// record (the function's 60 s timeout less its 2 s margin), so two attempts never overlap;
/// a cut-off attempt's entry is free again right after.
const LEASE_SECS: i64 = 60;

/// Slack codes that mean "this message, as rendered, is refused": a smaller one may pass.
const REFUSED_CONTENT: [&str; 3] = ["msg_too_long", "invalid_blocks", "msg_blocks_too_long"];

/// What is left of an approval's outbox after a pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Entries still open: the command is not finished until these are done or given up.
    pub open: usize,
    /// When the earliest open entry is next due.
    pub next_due: Option<i64>,
    /// Entries given up on in this pass because the retry horizon passed.
    pub gave_up: Vec<String>,
    /// Entries waiting for the workspace to be installed again: not open, since no timer
    /// brings them back; the next install resumes them.
    pub parked: usize,
}

impl Progress {
    pub fn is_finished(&self) -> bool {
        self.open == 0
    }
}

/// Why one attempt failed.
#[derive(Debug)]
enum Failure {
    /// May pass: retry after the backoff, or after Slack's `Retry-After` if longer.
    Retry {
        reason: String,
        not_before_secs: i64,
    },
    /// Never can: give up now.
    Permanent(String),
    /// Needs the workspace's token and the workspace is disconnected: park until it is back.
    Disconnected(String),
}

/// What a parked entry says while it waits.
const DISCONNECTED: &str =
    "the Slack workspace is disconnected; waiting for the app to be installed again";

impl From<SlackError> for Failure {
    fn from(error: SlackError) -> Self {
        match &error {
            SlackError::RateLimited {
                retry_after_secs, ..
            } => Failure::Retry {
                reason: error.to_string(),
                not_before_secs: *retry_after_secs as i64,
            },
            _ if error.is_retryable() => Failure::Retry {
                reason: error.to_string(),
                not_before_secs: 0,
            },
            _ => Failure::Permanent(error.to_string()),
        }
    }
}

impl From<WebhookError> for Failure {
    fn from(error: WebhookError) -> Self {
        // The host may be down for a day, or answer 4xx while it is being fixed: retry all.
        Failure::Retry {
            reason: error.to_string(),
            not_before_secs: 0,
        }
    }
}

impl From<FileError> for Failure {
    fn from(error: FileError) -> Self {
        match error {
            FileError::Refused(_) => Failure::Permanent(error.to_string()),
            FileError::Unavailable(_) => Failure::Retry {
                reason: error.to_string(),
                not_before_secs: 0,
            },
        }
    }
}

impl From<TokenError> for Failure {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Revoked => Failure::Disconnected(DISCONNECTED.into()),
            other => Failure::Retry {
                reason: other.to_string(),
                not_before_secs: 0,
            },
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Retry {
            reason: error.to_string(),
            not_before_secs: 0,
        }
    }
}

pub struct PerformEffects<'a> {
    pub approvals: &'a dyn ApprovalStore,
    pub tenants: &'a dyn TenantStore,
    pub slack: &'a dyn SlackApi,
    /// `None` where the host's webhook is not reachable (the host API): events stay open
    /// for the worker.
    pub webhooks: Option<&'a dyn WebhookSink>,
    pub tokens: &'a dyn BotTokens,
    pub backoff: Backoff,
    /// People's inboxes: filed when a request reaches them, emptied when it ends.
    pub people: Inbox<'a>,
    /// `None` where files are not moved (the host API answers within seconds): the
    /// worker uploads them.
    pub files: Option<FileWork<'a>>,
}

/// What moving a host document into a thread takes.
#[derive(Clone, Copy)]
pub struct FileWork<'a> {
    pub source: &'a dyn HostFiles,
    pub slack: &'a dyn SlackFiles,
    pub uploads: &'a dyn FileUploads,
}

/// How long to wait for the request's first message before a file has a thread to go to.
const NO_THREAD_YET_SECS: i64 = 5;

/// Where one file's upload progress is kept: the request, and the file in one thread.
struct UploadAt<'a> {
    approval_id: &'a str,
    key: String,
}

impl From<HomeError> for Failure {
    fn from(error: HomeError) -> Self {
        match error {
            HomeError::Store(error) => error.into(),
            HomeError::Token(error) => error.into(),
            HomeError::Slack(error) => error.into(),
            HomeError::Busy => Failure::Retry {
                reason: HomeError::Busy.to_string(),
                not_before_secs: 0,
            },
        }
    }
}

impl PerformEffects<'_> {
    /// Replies in the request's thread: on the channel message, else the first DM. A reply
    /// whose answer was lost may have landed: it is not posted again.
    async fn reply_in_thread(
        &self,
        approval: &Approval,
        text: &str,
        now: i64,
    ) -> Result<(), Failure> {
        let Some(root) = approval.thread_roots().into_iter().next() else {
            return Err(Failure::Permanent("no message to reply to".into()));
        };
        let token = self.token(approval, now).await?;
        match self.slack.post_reply(&token, &root, text, None).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_ambiguous() => {
                tracing::warn!(approval_id = %approval.id, %error, "a thread reply may have landed; not posted again");
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Uploads the document into the thread of the channel message, else of each DM:
    /// Files v2's three steps, each recorded, so a retry repeats none that finished. The
    /// completion is what shares the file, and Slack takes it once per file: asking again
    /// after a lost answer cannot share it twice, and its `file_not_found` then means the
    /// earlier ask landed. So an attempt cut off anywhere is finished by the next one.
    async fn attach_file(
        &self,
        approval: &Approval,
        attachment: &Attachment,
        now: i64,
    ) -> Result<(), Failure> {
        let Some(files) = self.files else {
            return Err(Failure::Retry {
                reason: "files are moved by the worker".into(),
                not_before_secs: 0,
            });
        };
        let threads = approval.thread_roots();
        if threads.is_empty() {
            return Err(Failure::Retry {
                reason: "the request has no message in Slack yet".into(),
                not_before_secs: NO_THREAD_YET_SECS,
            });
        }
        let token = self.token(approval, now).await?;
        for thread in threads {
            let at = UploadAt {
                approval_id: &approval.id,
                key: format!("{}@{}", attachment.file_id, thread.channel_id),
            };
            let mut upload = files
                .uploads
                .file_upload(at.approval_id, &at.key)
                .await?
                .unwrap_or_default();
            if upload.completed {
                continue;
            }
            if !upload.sent {
                self.send_bytes(files, &token, attachment, &mut upload, &at)
                    .await?;
            }
            let asked_before = upload.completing;
            if !asked_before {
                upload.completing = true;
                files
                    .uploads
                    .save_file_upload(at.approval_id, &at.key, &upload)
                    .await?;
            }
            let slack_file_id = upload.slack_file_id.clone().unwrap_or_default();
            match files
                .slack
                .complete_upload(&token, &slack_file_id, attachment.shown_title(), &thread)
                .await
            {
                Ok(()) => {}
                Err(error) if asked_before && error.code() == Some("file_not_found") => {
                    tracing::info!(approval_id = %approval.id, file_id = %attachment.file_id,
                        "the file was shared by an earlier attempt whose answer was lost");
                }
                Err(error) if error.is_retryable() || error.is_ambiguous() => {
                    return Err(error.into());
                }
                Err(error) => {
                    // Refused: nothing was shared, so a retry starts afresh.
                    files
                        .uploads
                        .save_file_upload(at.approval_id, &at.key, &FileUpload::default())
                        .await?;
                    return Err(error.into());
                }
            }
            upload.completed = true;
            files
                .uploads
                .save_file_upload(at.approval_id, &at.key, &upload)
                .await?;
        }
        Ok(())
    }

    /// Steps 1 and 2: a ticket (kept), then the bytes, streamed from the host to Slack.
    async fn send_bytes(
        &self,
        files: FileWork<'_>,
        token: &crate::secret::SecretToken,
        attachment: &Attachment,
        upload: &mut FileUpload,
        at: &UploadAt<'_>,
    ) -> Result<(), Failure> {
        let opened = files.source.open(&attachment.url).await?;
        let upload_url = match (&upload.slack_file_id, &upload.upload_url) {
            (Some(_), Some(url)) => url.clone(),
            _ => {
                let ticket = files
                    .slack
                    .upload_ticket(token, &attachment.filename, opened.length())
                    .await?;
                upload.slack_file_id = Some(ticket.slack_file_id);
                upload.upload_url = Some(ticket.upload_url.clone());
                files
                    .uploads
                    .save_file_upload(at.approval_id, &at.key, upload)
                    .await?;
                ticket.upload_url
            }
        };
        if let Err(error) = opened.send_to(&upload_url).await {
            // The ticket may be spent or expired: the next attempt asks for a new one.
            *upload = FileUpload::default();
            files
                .uploads
                .save_file_upload(at.approval_id, &at.key, upload)
                .await?;
            return Err(error.into());
        }
        upload.sent = true;
        files
            .uploads
            .save_file_upload(at.approval_id, &at.key, upload)
            .await?;
        Ok(())
    }

    /// Publishes the person's Home again; a workspace that is gone has no Home to refresh
    /// (the next open after a reinstall publishes it afresh).
    async fn refresh_home(
        &self,
        approval: &Approval,
        slack_user_id: &str,
        now: i64,
    ) -> Result<(), Failure> {
        if self.workspace(approval).await?.is_none() {
            return Ok(());
        }
        let home = HomeFor {
            installation_id: approval.installation_id.clone(),
            slack_user_id: slack_user_id.to_owned(),
        };
        HomeTab {
            inbox: self.people,
            tenants: self.tenants,
            slack: self.slack,
            tokens: self.tokens,
        }
        .publish(&home, now)
        .await?;
        Ok(())
    }
}

impl PerformEffects<'_> {
    /// Performs every open entry due at `now`, in `seq` order; parked entries wait.
    pub async fn run(&self, approval: &Approval, now: i64) -> Result<Progress, StoreError> {
        self.perform(approval, now, false).await
    }

    /// Performs every open entry due at `now` and every parked one: the workspace is back.
    pub async fn resume(&self, approval: &Approval, now: i64) -> Result<Progress, StoreError> {
        self.perform(approval, now, true).await
    }

    async fn perform(
        &self,
        approval: &Approval,
        now: i64,
        resuming: bool,
    ) -> Result<Progress, StoreError> {
        let mut entries: Vec<(&String, &OutboxEntry)> = approval
            .outbox
            .iter()
            .filter(|(_, entry)| entry.is_open())
            .collect();
        // Files go last: a slow transfer must not hold up a decision's updates and events.
        entries.sort_by_key(|(_, entry)| {
            (
                matches!(entry.effect, Outgoing::AttachFile { .. }),
                entry.seq,
            )
        });
        let mut progress = Progress::default();
        let mut an_event_waits = false;
        let mut noted_parked = false;
        // When the workspace was installed, read once and only if an entry is parked.
        let mut installed_at: Option<Option<i64>> = None;
        for (key, entry) in entries {
            let is_event = matches!(entry.effect, Outgoing::DeliverEvent { .. });
            if is_event && (an_event_waits || self.webhooks.is_none()) {
                // Due once the events before it are delivered.
                progress.open += 1;
                continue;
            }
            if matches!(entry.effect, Outgoing::AttachFile { .. }) && self.files.is_none() {
                progress.open += 1;
                continue;
            }
            if entry.parked && !resuming {
                // A parked entry's `next_attempt_at` is when it was parked: an install since
                // then (whose own resumption may have been lost) lets any pass resume it.
                if installed_at.is_none() {
                    installed_at = Some(
                        self.workspace(approval)
                            .await?
                            .map(|installation| installation.installed_at),
                    );
                }
                if installed_at
                    .flatten()
                    .is_none_or(|at| at < entry.next_attempt_at)
                {
                    progress.parked += 1;
                    continue;
                }
            }
            if !entry.parked && entry.next_attempt_at > now {
                an_event_waits |= is_event;
                progress.open += 1;
                progress.next_due = earliest(progress.next_due, entry.next_attempt_at);
                continue;
            }
            if !self
                .approvals
                .lease_effect(&approval.id, key, entry, now, now + LEASE_SECS)
                .await?
            {
                // Another attempt holds it (perhaps this very record's, cut off at the
                // deadline): still open, so this record stays until the lease runs out and
                // whoever comes next finishes it.
                an_event_waits |= is_event;
                progress.open += 1;
                let lease_ends = entry
                    .leased_until
                    .filter(|until| *until > now)
                    .unwrap_or(now + LEASE_SECS);
                progress.next_due = earliest(progress.next_due, lease_ends);
                continue;
            }
            let mut next = entry.clone();
            next.attempts += 1;
            next.leased_until = None;
            next.last_attempt_at = Some(now);
            if next.parked {
                // The retry horizon counts from when the workspace came back.
                next.created_at = now;
                next.parked = false;
            }
            let mut outcome = self.attempt(approval, &entry.effect, now).await;
            if let Err(Failure::Disconnected(reason)) = &outcome {
                // The note comes first: a parked entry is never without one. An install that
                // landed meanwhile may have read the notes already, so look again after it.
                if !noted_parked {
                    self.approvals
                        .park(&approval.installation_id, &approval.id, now)
                        .await?;
                    noted_parked = true;
                }
                if self.workspace(approval).await?.is_some() {
                    outcome = Err(Failure::Retry {
                        reason: format!("{reason}; installed again meanwhile"),
                        not_before_secs: 0,
                    });
                }
            }
            match outcome {
                Ok(()) => {
                    next.done = true;
                    next.last_error = None;
                }
                Err(Failure::Disconnected(reason)) => {
                    tracing::warn!(approval_id = %approval.id, effect = %key, %reason,
                        "effect parked until the workspace is installed again");
                    next.parked = true;
                    next.next_attempt_at = now;
                    next.last_error = Some(reason);
                    progress.parked += 1;
                }
                Err(Failure::Permanent(reason)) => {
                    tracing::error!(approval_id = %approval.id, effect = %key, %reason, "effect can never succeed; given up");
                    next.failed = Some(reason);
                }
                Err(Failure::Retry { reason, .. })
                    if self.backoff.gives_up(next.created_at, now) =>
                {
                    tracing::error!(approval_id = %approval.id, effect = %key, %reason,
                        horizon_secs = self.backoff.horizon_secs, "effect still failing after the retry horizon; given up");
                    next.failed = Some(format!(
                        "still failing after {} h: {reason}",
                        self.backoff.horizon_secs / 3600
                    ));
                    progress.gave_up.push(key.clone());
                }
                Err(Failure::Retry {
                    reason,
                    not_before_secs,
                }) => {
                    let wait = self
                        .backoff
                        .delay_secs(next.attempts, rand::random::<f64>())
                        .max(not_before_secs);
                    tracing::warn!(approval_id = %approval.id, effect = %key, %reason,
                        attempts = next.attempts, retry_in_secs = wait, "effect failed; will retry");
                    metrics::counter!(crate::counters::EFFECTS_RETRIED).increment(1);
                    next.next_attempt_at = now + wait;
                    next.last_error = Some(reason);
                    progress.open += 1;
                    progress.next_due = earliest(progress.next_due, next.next_attempt_at);
                    an_event_waits |= is_event;
                }
            }
            if !self.approvals.save_effect(&approval.id, key, &next).await? {
                // A newer transition re-armed this entry; the next pass performs that one.
                tracing::info!(approval_id = %approval.id, effect = %key, "effect re-armed meanwhile");
                progress.open += 1;
                progress.next_due = earliest(progress.next_due, now);
            }
        }
        Ok(progress)
    }

    async fn attempt(
        &self,
        approval: &Approval,
        effect: &Outgoing,
        now: i64,
    ) -> Result<(), Failure> {
        match effect {
            Outgoing::UpdateCopy { copy, response_url } => {
                match self.update_copy(approval, copy, now).await {
                    Err(Failure::Disconnected(reason)) => match response_url {
                        Some(response_url) => {
                            self.replace_clicked(approval, response_url, reason).await
                        }
                        None => Err(Failure::Disconnected(reason)),
                    },
                    other => other,
                }
            }
            Outgoing::DeliverEvent { event } => match self.webhooks {
                Some(webhooks) => Ok(webhooks.deliver(event).await?),
                None => Err(Failure::Retry {
                    reason: "no webhook sink here".into(),
                    not_before_secs: 0,
                }),
            },
            Outgoing::PostDirect { slack_user_id } => {
                self.post_direct(approval, slack_user_id, now).await
            }
            Outgoing::TellRequester {
                slack_user_id,
                text,
            } => {
                let token = self.token(approval, now).await?;
                let message = SlackMessage::plain(text);
                self.slack
                    .post_message(&token, slack_user_id, &message)
                    .await?;
                Ok(())
            }
            Outgoing::AddToInbox { user_id, asked } => {
                Ok(self.people.file(approval, user_id, *asked).await?)
            }
            Outgoing::RemoveFromInbox { user_id } => {
                Ok(self.people.unfile(approval, user_id).await?)
            }
            Outgoing::RefreshHome { slack_user_id } => {
                self.refresh_home(approval, slack_user_id, now).await
            }
            Outgoing::ThreadReply { text } => self.reply_in_thread(approval, text, now).await,
            Outgoing::AttachFile { attachment } => {
                self.attach_file(approval, attachment, now).await
            }
            Outgoing::TellClicker {
                response_url, text, ..
            } => {
                let body = json!({"response_type": "ephemeral", "replace_original": false,
                                  "text": text});
                match self.slack.respond(response_url, &body).await {
                    // A response_url works five times in 30 minutes; past that it never will.
                    Err(error) if !error.is_retryable() => {
                        Err(Failure::Permanent(error.to_string()))
                    }
                    other => Ok(other?),
                }
            }
        }
    }

    /// The installation that shows the approval, while its tenant is still linked to it: a
    /// tenant that disconnected has nothing done with tokens on its behalf, even when
    /// another tenant keeps the workspace installed.
    async fn workspace(&self, approval: &Approval) -> Result<Option<Installation>, StoreError> {
        Ok(self
            .tenants
            .installation_for_tenant(&approval.request.tenant_id)
            .await?
            .filter(|installation| installation.id() == approval.installation_id))
    }

    async fn token(
        &self,
        approval: &Approval,
        now: i64,
    ) -> Result<crate::secret::SecretToken, Failure> {
        let installation = self
            .workspace(approval)
            .await?
            .ok_or_else(|| Failure::Disconnected(DISCONNECTED.into()))?;
        Ok(self.tokens.usable_token(&installation, now).await?)
    }

    /// Replaces the clicked message through the click's `response_url`, which needs no
    /// token. If that fails too (it works five times in 30 minutes), the update stays
    /// parked and `chat.update` does it once the workspace is back.
    async fn replace_clicked(
        &self,
        approval: &Approval,
        response_url: &str,
        disconnected: String,
    ) -> Result<(), Failure> {
        let message = current_message(approval);
        let body = json!({"replace_original": true, "text": message.text,
                          "blocks": message.blocks});
        match self.slack.respond(response_url, &body).await {
            Ok(()) => {
                tracing::info!(approval_id = %approval.id,
                    "workspace disconnected; the clicked message was replaced through its response_url");
                Ok(())
            }
            Err(error) => {
                tracing::warn!(approval_id = %approval.id, %error,
                    "the clicked message could not be replaced through its response_url");
                Err(Failure::Disconnected(disconnected))
            }
        }
    }

    /// Asks one approver in a DM (`chat.postMessage` to the user id lands in the app's DM
    /// with them, and answers its `D…` id), then records it as a copy. Once the request is
    /// over there is nothing to ask.
    async fn post_direct(
        &self,
        approval: &Approval,
        slack_user_id: &str,
        now: i64,
    ) -> Result<(), Failure> {
        if approval.status().is_final() {
            return Ok(());
        }
        let token = self.token(approval, now).await?;
        let posted = self
            .slack
            .post_message(&token, slack_user_id, &current_message(approval))
            .await?;
        let copy = MessageCopy::sent_to(posted, CopyRole::Direct, slack_user_id);
        self.approvals.add_copy(&approval.id, &copy).await?;
        // Decided while the DM was on its way: the decision armed updates of the copies it
        // saw, not this one, so this one shows the outcome now.
        if let Some(current) = self.approvals.get(&approval.id).await? {
            if current.status().is_final() {
                if let Err(error) = self
                    .slack
                    .update_message(&token, &copy.at(), &current_message(&current))
                    .await
                {
                    tracing::warn!(approval_id = %approval.id, %error, "could not show the outcome on a new DM");
                }
            }
        }
        Ok(())
    }

    async fn update_copy(&self, approval: &Approval, copy: &str, now: i64) -> Result<(), Failure> {
        let Some(copy) = approval.copies.get(copy) else {
            return Err(Failure::Permanent(format!("no copy {copy}")));
        };
        let token = self.token(approval, now).await?;
        let at = copy.at();
        if copy.role == CopyRole::Digest {
            // The digest lists other requests too: it is re-rendered whole, as they stand.
            let Some(digest) = self
                .people
                .digests
                .digest(&at.channel_id, &at.message_ts)
                .await?
            else {
                return Err(Failure::Permanent(format!(
                    "no digest is recorded for {}",
                    copy.key()
                )));
            };
            let message = render_digest(self.approvals, &digest, now).await?;
            return Ok(self.slack.update_message(&token, &at, &message).await?);
        }
        match self
            .slack
            .update_message(&token, &at, &current_message(approval))
            .await
        {
            Err(SlackError::Api { code, .. }) if REFUSED_CONTENT.contains(&code.as_str()) => {
                let Some(ending) = &approval.state.ending else {
                    return Err(Failure::Permanent(format!(
                        "Slack refused the message: {code}"
                    )));
                };
                tracing::warn!(approval_id = %approval.id, %code, "Slack refused the ended message; sending the short one");
                Ok(self
                    .slack
                    .update_message(&token, &at, &minimal_ended_message(approval, ending))
                    .await?)
            }
            other => Ok(other?),
        }
    }
}

/// Approvals whose effects a reinstall resumed, and those left with open effects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resumed {
    pub approvals: usize,
    /// Approvals with open effects after the pass, and when the earliest is due: the
    /// worker schedules another pass for each.
    pub still_open: Vec<(String, i64)>,
}

/// The app is installed again: performs every effect parked on the installation, and
/// forgets the note of each approval with nothing parked left. Repeat-safe.
pub async fn resume_parked(
    perform: &PerformEffects<'_>,
    installation_id: &str,
    now: i64,
) -> Result<Resumed, StoreError> {
    let mut resumed = Resumed::default();
    for approval_id in perform.approvals.parked(installation_id).await? {
        let Some(approval) = perform.approvals.get(&approval_id).await? else {
            perform
                .approvals
                .unpark(installation_id, &approval_id, now)
                .await?;
            continue;
        };
        let progress = perform.resume(&approval, now).await?;
        resumed.approvals += 1;
        // An entry another worker holds may park again: the note stays until all are done.
        if progress.parked == 0 && progress.open == 0 {
            perform
                .approvals
                .unpark(installation_id, &approval_id, now)
                .await?;
        }
        if progress.open > 0 {
            resumed
                .still_open
                .push((approval_id, progress.next_due.unwrap_or(now)));
        }
    }
    Ok(resumed)
}

fn earliest(current: Option<i64>, candidate: i64) -> Option<i64> {
    Some(current.map_or(candidate, |c| c.min(candidate)))
}
