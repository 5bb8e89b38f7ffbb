//! The Apps, Accounts and Users API calls (contract §4) as plain data: one builder per request,
//! one parser per answer, and one classification of failures, [`ApiError`], shared by all.
//!
//! Every URL is built with [`TalkdeskUrl::join_path`](super::hosts::TalkdeskUrl::join_path) from the installation's API root, so an id
//! that arrives in an event (`../x`, `a/b`, `?q=1`) stays one percent-encoded path segment and
//! the request stays on the allowlisted host; `.`, `..` and empty ids are refused with a
//! [`HostError`](super::hosts::HostError).
//!
//! The parsers accept what the simulator sends and are lenient about what Talkdesk may add or
//! leave out: unknown members are ignored, optional members may be missing, `null` or of an
//! unexpected type (they then read as absent). Only the members a caller decides on are
//! required; a 2xx answer without them is [`ApiError::Transient`], never a made-up default.

mod answers;
mod calls;
mod failure;
#[cfg(test)]
mod tests;

pub use answers::*;
pub use calls::InstallationApi;
pub use failure::ApiError;

/// `Ok` for a 2xx answer, otherwise its [`ApiError`] (for parsers outside this module).
pub fn check_status(resp: &crate::talkdesk::http::HttpResponse) -> Result<(), ApiError> {
    failure::classify(resp)
}

/// Users asked for per page when paging through an installation's users. 100 is the largest
/// page the simulator serves (a common cap for paged APIs); Talkdesk does not document one.
pub const USERS_PER_PAGE: u32 = 100;

/// The most user pages a caller fetches for one installation (50,000 users at
/// [`USERS_PER_PAGE`]). A `_links.next` that never ends, by bug or by malice, must not keep a
/// worker paging forever.
pub const MAX_USER_PAGES: u32 = 500;

/// Longest text taken from an answer into an error: enough to tell what went wrong in a log
/// line or on the operator's page, not enough to flood either.
pub const MAX_ERROR_TEXT: usize = 200;
