use sqlx::FromRow;

use crate::context::RequestContext;
use crate::db::{Database, Flag};
use crate::domain::UserId;
use crate::error::CoreError;
use crate::store::totp_devices;
use crate::store::transaction::Transaction;

pub use crate::domain::{Session, SessionKind};

/// How a [`SessionKind`] is stored.
fn kind_to_db(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::Api => "api",
        SessionKind::Browser => "browser",
    }
}

fn kind_from_db(value: &str) -> SessionKind {
    if value == "browser" {
        SessionKind::Browser
    } else {
        SessionKind::Api
    }
}

/// A `sessions` row as read; [`Session`] is made from it.
#[derive(FromRow)]
struct SessionRow {
    id: String,
    user_id: i64,
    kind: String,
    aal: String,
    amr: String,
    otp_device_id: Option<i64>,
    second_factor_pending: Flag,
    ip: String,
    user_agent: String,
    created_at: i64,
    last_used_at: i64,
    expires_at: i64,
    refresh_generation: i64,
    rotated_at: Option<i64>,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Session {
            id: r.id,
            user_id: UserId(r.user_id),
            kind: kind_from_db(&r.kind),
            aal: r.aal,
            amr: r.amr.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            otp_device_id: r.otp_device_id,
            second_factor_pending: r.second_factor_pending.0,
            ip: r.ip,
            user_agent: r.user_agent,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
            refresh_generation: r.refresh_generation,
            rotated_at: r.rotated_at,
        }
    }
}

const COLUMNS: &str =
    "id, user_id, kind, aal, amr, otp_device_id, second_factor_pending, ip, user_agent, created_at, last_used_at, \
     expires_at, refresh_generation, rotated_at";

pub struct NewSession<'a> {
    pub user_id: UserId,
    pub kind: SessionKind,
    pub aal: &'a str,
    pub amr: &'a [&'a str],
    pub lifetime_secs: i64,
    pub context: &'a RequestContext,
}

/// How long a session may wait for its second factor after the password step. A password
/// alone must not hold a session open for the full lifetime: it either completes the second
/// step within this window (and gets the full lifetime, see [`upgrade_to_aal2`]) or ends.
pub const SECOND_STEP_WINDOW_SECS: i64 = 600;

/// Opens a session. Whether it must still prove a second factor is read in the same
/// statement: a device confirmed before the insert makes it pending, and one confirmed after
/// finds the session there to mark (`require_second_factor_elsewhere`); a pending session
/// gets only [`SECOND_STEP_WINDOW_SECS`] to complete.
pub async fn insert(db: &Database, new: NewSession<'_>) -> Result<Session, CoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = db.now();
    let sql = format!(
        "INSERT INTO sessions (id, user_id, kind, aal, amr, ip, user_agent, created_at, last_used_at, expires_at, \
           second_factor_pending) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $8, CASE WHEN second_factor.pending THEN $9 ELSE $10 END, \
           second_factor.pending \
         FROM (SELECT {} AS pending) AS second_factor \
         RETURNING {COLUMNS}",
        totp_devices::confirmed_exists("$2")
    );
    let row = sqlx::query_as::<_, SessionRow>(&sql)
        .bind(&id)
        .bind(new.user_id.0)
        .bind(kind_to_db(new.kind))
        .bind(new.aal)
        .bind(new.amr.join(","))
        .bind(&new.context.ip)
        .bind(&new.context.user_agent)
        .bind(now)
        .bind(now + new.lifetime_secs.min(SECOND_STEP_WINDOW_SECS))
        .bind(now + new.lifetime_secs)
        .fetch_one(&db.writer)
        .await?;
    // Not a change for the principal cache: nothing cached can name a session that did not exist.
    Ok(row.into())
}

/// The session if it exists, belongs to nobody else's revocation and has not expired.
pub async fn find_active(db: &Database, id: &str) -> Result<Option<Session>, CoreError> {
    let sql = format!("SELECT {COLUMNS} FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2");
    let row = sqlx::query_as::<_, SessionRow>(&sql).bind(id).bind(db.now()).fetch_optional(&db.pool).await?;
    Ok(row.map(Session::from))
}

pub async fn list_active_for_user(db: &Database, user_id: UserId) -> Result<Vec<Session>, CoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY last_used_at DESC"
    );
    let rows = sqlx::query_as::<_, SessionRow>(&sql).bind(user_id.0).bind(db.now()).fetch_all(&db.pool).await?;
    Ok(rows.into_iter().map(Session::from).collect())
}

/// Ends one session; returns whether it was still active.
pub async fn revoke(db: &Database, id: &str, reason: &str) -> Result<bool, CoreError> {
    let mut tx = db.begin().await?;
    let result =
        sqlx::query("UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
            .bind(db.now())
            .bind(reason)
            .bind(id)
            .execute(tx.connection())
            .await?;
    tx.commit().await?;
    Ok(result.rows_affected() > 0)
}

/// Records activity, at most once a minute per session to keep authenticated reads cheap;
/// the time written, if it wrote. The one write that does not count as a change
/// (`Database::changed`): only "last used" moves, which no decision depends on.
pub async fn touch(db: &Database, session: &Session) -> Result<Option<i64>, CoreError> {
    let now = db.now();
    if now - session.last_used_at < 60 {
        return Ok(None);
    }
    sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&session.id)
        .execute(&db.writer)
        .await?;
    Ok(Some(now))
}

/// Ends every live session of a user except `keep`; returns how many ended.
pub async fn revoke_all_for_user(
    tx: &mut Transaction,
    user_id: UserId,
    keep: Option<&str>,
    reason: &str,
) -> Result<u64, CoreError> {
    let result = sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL AND id <> $4",
    )
    .bind(tx.now())
    .bind(reason)
    .bind(user_id.0)
    .bind(keep.unwrap_or(""))
    .execute(tx.connection())
    .await?;
    Ok(result.rows_affected())
}

/// Rotates several API sessions' refresh tokens in one statement: each `(id, generation)` is a
/// compare-and-set that moves a live API session at exactly that generation to the next one.
/// The sessions that moved come back as they are now; a pair that did not match (someone
/// rotated first, the session ended, or it is a browser session) is simply absent. The ids
/// must be distinct (a row is updated at most once per statement).
///
/// Not a change for the principal cache (`Database::changed`): the refresh generation and
/// the rotation time are read from the database wherever a decision depends on them.
pub async fn rotate_many(db: &Database, presented: &[(&str, i64)], now: i64) -> Result<Vec<Session>, CoreError> {
    if presented.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = (0..presented.len()).map(|n| format!("${}", 2 * n + 2)).collect();
    let generations: Vec<String> =
        (0..presented.len()).map(|n| format!("WHEN ${} THEN ${}", 2 * n + 2, 2 * n + 3)).collect();
    // The ids in an IN list, so that both databases look the rows up by primary key, and each
    // row's expected generation picked by its id.
    let sql = format!(
        "UPDATE sessions SET refresh_generation = refresh_generation + 1, rotated_at = $1, last_used_at = $1 \
         WHERE id IN ({}) AND refresh_generation = CASE id {} END \
         AND kind = 'api' AND revoked_at IS NULL AND expires_at > $1 \
         RETURNING {COLUMNS}",
        ids.join(", "),
        generations.join(" ")
    );
    let mut query = sqlx::query_as::<_, SessionRow>(&sql).bind(now);
    for (id, generation) in presented {
        query = query.bind(*id).bind(*generation);
    }
    let rows = query.fetch_all(&db.writer).await?;
    Ok(rows.into_iter().map(Session::from).collect())
}

/// Sessions, browser and API, that are neither revoked nor expired.
pub async fn count_alive(db: &Database) -> Result<i64, CoreError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > $1")
        .bind(db.now())
        .fetch_one(&db.pool)
        .await?;
    Ok(count)
}

/// The session proved a second factor: it becomes aal2 (the same session, so "your sessions"
/// shows it), with `method` added to its `amr` and the device that was used, and it gets the
/// full `lifetime_secs` from its start (a session that waited for its second step had only
/// [`SECOND_STEP_WINDOW_SECS`]).
pub async fn upgrade_to_aal2(
    db: &Database,
    session: &Session,
    method: &str,
    device: i64,
    lifetime_secs: i64,
) -> Result<(), CoreError> {
    let mut tx = db.begin().await?;
    let mut amr = session.amr.clone();
    if !amr.iter().any(|m| m == method) {
        amr.push(method.to_string());
    }
    // The refresh token of the password step is retired too (without grace): only the tokens
    // handed out now carry the session on.
    sqlx::query(
        "UPDATE sessions SET aal = 'aal2', amr = $1, otp_device_id = $2, second_factor_pending = $3, \
           refresh_generation = refresh_generation + 1, rotated_at = NULL, expires_at = created_at + $4 \
         WHERE id = $5",
    )
    .bind(amr.join(","))
    .bind(device)
    .bind(false)
    .bind(lifetime_secs)
    .bind(&session.id)
    .execute(tx.connection())
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The second factor was removed: the session is a password-only one again (aal1, no device),
/// and its earlier tokens are retired.
pub async fn reset_to_password_only(db: &Database, id: &str) -> Result<(), CoreError> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE sessions SET aal = 'aal1', amr = 'pwd', otp_device_id = NULL, second_factor_pending = $1, \
           refresh_generation = refresh_generation + 1, rotated_at = NULL WHERE id = $2",
    )
    .bind(false)
    .bind(id)
    .execute(tx.connection())
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Second factor just turned on: the user's other sessions that did not prove it now owe it,
/// within [`SECOND_STEP_WINDOW_SECS`].
pub async fn require_second_factor_elsewhere(db: &Database, user_id: UserId, keep: &str) -> Result<(), CoreError> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE sessions SET second_factor_pending = $1, \
           expires_at = CASE WHEN expires_at > $4 THEN $4 ELSE expires_at END \
         WHERE user_id = $2 AND id <> $3 AND aal = 'aal1' AND revoked_at IS NULL",
    )
    .bind(true)
    .bind(user_id.0)
    .bind(keep)
    .bind(db.now() + SECOND_STEP_WINDOW_SECS)
    .execute(tx.connection())
    .await?;
    tx.commit().await?;
    Ok(())
}
