//! Single-use links sent by email: `uid` (Django's uidb64 of the user id) plus a random token
//! of which only the SHA-256 is stored. Issuing a link retires the user's earlier links of the
//! same purpose; checking compares in constant time.

use std::time::Duration;

use crate::domain::UserId;
use crate::error::CoreError;
use crate::store::email_tokens::{self, Purpose, StoredToken};
use crate::store::transaction::Transaction;
use crate::store::users::User;
use crate::tokens::{constant_time_eq, random_token, token_hash};
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Database;

pub struct IssuedLink {
    pub uid: String,
    pub token: String,
}

/// The page an emailed link opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkPage {
    /// Gatehouse's own page (`/verify-email`, `/reset-password`), `?uid=&token=`.
    Own,
    /// A client's page that a request asked for (`verification_base_url`) and the operator
    /// allowed (`GATEHOUSE_VERIFICATION_BASE_URL_ALLOWLIST`): `{base}/{uid}/{token}/`, the
    /// shape of Django's `.../<uidb64>/<token>/` activation and reset URLs. Only the parsed
    /// URL is kept: what reaches a mail is its own serialization, never the client's text.
    Client(url::Url),
    /// A client's page that takes the link as one query parameter, `token=<uid>.<token>`
    /// (django_rest_jwt_auth's `PATH_TO_RESTORE`), parsed like [`LinkPage::Client`].
    ClientQuery(url::Url),
}

impl LinkPage {
    /// The link to `own_path` (on `public_url`) or to the client's page.
    pub fn url(&self, public_url: &str, own_path: &str, link: &IssuedLink) -> String {
        match self {
            LinkPage::Own => format!("{public_url}{own_path}?uid={}&token={}", link.uid, link.token),
            LinkPage::Client(base) => {
                let mut url = base.clone();
                // An http(s) URL always has path segments; the fallback is never taken.
                if let Ok(mut segments) = url.path_segments_mut() {
                    segments.pop_if_empty().push(&link.uid).push(&link.token).push("");
                }
                url.into()
            }
            LinkPage::ClientQuery(page) => {
                let mut url = page.clone();
                url.query_pairs_mut().append_pair("token", &format!("{}.{}", link.uid, link.token));
                url.into()
            }
        }
    }
}

/// A URL a client gave, parsed: refused (with a field error under `field`) when it carries
/// whitespace or control characters anywhere, since those are how a second line or free text
/// is smuggled into a mail; `url` would silently drop some of them, so the text is checked
/// before it is parsed.
pub fn parse_client_url(field: &str, raw: &str) -> Result<url::Url, CoreError> {
    let refused = || CoreError::field(field, "Enter a valid URL.");
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refused());
    }
    let url = url::Url::parse(raw).map_err(|_| refused())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(refused());
    }
    Ok(url)
}

/// Whether `requested` is one of the `allowed` bases, or below one of them (a path under it).
/// Compared as parsed URLs, so `https://app.example.com.evil.test` is not under
/// `https://app.example.com`, and neither is `https://app.example.com/activate-evil` under
/// `https://app.example.com/activate`.
pub fn is_allowed_link_base(requested: &url::Url, allowed: &[String]) -> bool {
    if requested.query().is_some() || requested.fragment().is_some() {
        return false;
    }
    allowed.iter().filter_map(|base| url::Url::parse(base).ok()).any(|base| {
        let under = |path: &str, base: &str| {
            let base = base.trim_end_matches('/');
            path.trim_end_matches('/') == base || path.starts_with(&format!("{base}/"))
        };
        base.origin() == requested.origin() && under(requested.path(), base.path())
    })
}

/// Issuing, finding and using up the links mailed for an account.
#[derive(Clone)]
pub struct Links {
    db: Database,
    clock: Clock,
    settings: Arc<Settings>,
}

impl Links {
    pub(crate) fn new(db: Database, clock: Clock, settings: Arc<Settings>) -> Self {
        Self { db, clock, settings }
    }

    /// The page a client asked emailed links to open (`verification_base_url`): its own when
    /// the operator allowed that base, else Gatehouse's (a base not on the allow-list is never
    /// used, so a request cannot make Gatehouse mail someone a link to a stranger's site). A
    /// base with whitespace or control characters is refused as a field error.
    pub fn page(&self, requested: Option<&str>) -> Result<LinkPage, CoreError> {
        let Some(raw) = requested.filter(|r| !r.is_empty()) else { return Ok(LinkPage::Own) };
        let base = parse_client_url("verification_base_url", raw)?;
        if is_allowed_link_base(&base, &self.settings.verification_base_url_allowlist) {
            return Ok(LinkPage::Client(base));
        }
        // Only the origin: the text is the client's, and the log is not the place for it.
        let origin = base.origin().ascii_serialization();
        tracing::warn!(%origin, "a link base not on GATEHOUSE_VERIFICATION_BASE_URL_ALLOWLIST was ignored");
        Ok(LinkPage::Own)
    }

    pub(crate) async fn issue(&self, user: &User, purpose: Purpose, ttl: Duration) -> Result<IssuedLink, CoreError> {
        self.issue_for(user, &user.email, purpose, ttl).await
    }

    /// A link about `email`, which need not be the account's address yet (an email change).
    pub(crate) async fn issue_for(
        &self,
        user: &User,
        email: &str,
        purpose: Purpose,
        ttl: Duration,
    ) -> Result<IssuedLink, CoreError> {
        let token = random_token();
        let now = self.clock.now_secs();
        email_tokens::replace(&self.db, user.id, purpose, &token_hash(&token), email, ttl.as_secs() as i64, now)
            .await?;
        Ok(IssuedLink { uid: user.id.to_uidb64(), token })
    }

    /// The live stored token matching `uid` + `token` (not yet consumed).
    pub(crate) async fn find(
        &self,
        uid: &str,
        token: &str,
        purpose: Purpose,
    ) -> Result<(UserId, StoredToken), CoreError> {
        let user_id = UserId::from_uidb64(uid).ok_or(CoreError::InvalidLink)?;
        let presented = token_hash(token.trim());
        let live = email_tokens::live_tokens(&self.db.pool, user_id, purpose, self.clock.now_secs()).await?;
        let found =
            live.into_iter().find(|t| constant_time_eq(&t.token_hash, &presented)).ok_or(CoreError::InvalidLink)?;
        Ok((user_id, found))
    }

    /// Uses the link up; fails if a concurrent request used it first.
    pub(crate) async fn consume(&self, tx: &mut Transaction, stored: &StoredToken) -> Result<(), CoreError> {
        if email_tokens::consume(tx, stored.id).await? {
            Ok(())
        } else {
            Err(CoreError::InvalidLink)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{is_allowed_link_base, parse_client_url, IssuedLink, LinkPage};

    fn allowed_base(raw: &str, allowed: &[String]) -> bool {
        parse_client_url("base", raw).is_ok_and(|url| is_allowed_link_base(&url, allowed))
    }

    #[test]
    fn client_urls_with_whitespace_or_control_characters_are_refused() {
        for bad in [
            "http://allowed/activate/\nhttps://evil.test/steal",
            "http://allowed/activate/\r\nX-Header: 1",
            "http://allowed/activate text here",
            " http://allowed/activate",
            "http://allowed/activate\t",
            "http://allowed/\u{0}x",
            "http://allowed/\u{85}x",
            "http://allowed/\u{2028}x",
            "ftp://allowed/x",
            "mailto:a@b.c",
        ] {
            let error = parse_client_url("verification_base_url", bad).unwrap_err();
            assert!(error.fields().is_some_and(|f| f.contains_key("verification_base_url")), "{bad}");
        }
        assert!(parse_client_url("f", "https://app.example.com/activate").is_ok());
    }

    #[test]
    fn only_allowed_bases_and_paths_below_them() {
        let allowed = vec!["https://app.example.com/activate".to_string(), "http://localhost:5173".to_string()];
        for ok in [
            "https://app.example.com/activate",
            "https://app.example.com/activate/",
            "https://app.example.com/activate/account",
            "http://localhost:5173",
            "http://localhost:5173/verify/",
        ] {
            assert!(allowed_base(ok, &allowed), "{ok}");
        }
        for refused in [
            "https://app.example.com",
            "https://app.example.com/activate-evil",
            "https://app.example.com.evil.test/activate",
            "http://app.example.com/activate",
            "https://app.example.com:8443/activate",
            "https://evil.test/?https://app.example.com/activate",
            "https://app.example.com/activate?next=https://evil.test",
            "https://app.example.com/activate#x",
            "javascript:alert(1)",
            "http://localhost:5174/",
            "not a url",
            "",
        ] {
            assert!(!allowed_base(refused, &allowed), "{refused}");
        }
        assert!(!allowed_base("https://app.example.com/activate", &[]));
    }

    #[test]
    fn links_open_gatehouse_or_the_client_page() {
        let link = IssuedLink { uid: "MQ".into(), token: "t0k".into() };
        assert_eq!(
            LinkPage::Own.url("https://id.example", "/verify-email", &link),
            "https://id.example/verify-email?uid=MQ&token=t0k"
        );
        let client = LinkPage::Client("https://app.example.com/activate/".parse().unwrap());
        assert_eq!(
            client.url("https://id.example", "/verify-email", &link),
            "https://app.example.com/activate/MQ/t0k/"
        );
        let without_slash = LinkPage::Client("https://app.example.com/activate".parse().unwrap());
        assert_eq!(
            without_slash.url("https://id.example", "/verify-email", &link),
            "https://app.example.com/activate/MQ/t0k/"
        );
    }
}
