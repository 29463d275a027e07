//! Stored names brought to today's normalisation rules at start.

use super::*;

/// The rule `names_rule` records for a row whose email and username are stored as
/// [`Email::parse`] and [`Username::parse`] give them today, with `username_key` and
/// `username_skeleton` computed from that. Raise it when those rules change: the next start
/// then renormalises every row (see [`renormalise_names`]).
pub const NAMES_RULE: i64 = 1;

/// Rows renormalised per transaction at start.
const RENORMALISE_CHUNK: usize = 500;

/// Brings the names of rows stored under an earlier rule (`names_rule` below [`NAMES_RULE`])
/// to today's: the email and the username in NFKC form (the email's domain IDNA-mapped), and
/// the username's log-in key and look-alike skeleton. Each row's email and username change in
/// their own savepoint: one whose new form another account already holds (two accounts that
/// were distinct before, such as `admin` and `ａｄｍｉｎ`) is left as it was, with no skeleton,
/// and a warning; whichever claimed the name first keeps it. Such rows, and those whose email
/// today's rules refuse (a quoted local part), keep `names_rule` 0 and are tried again at the
/// next start (after one of the pair is renamed or deleted, say). Idempotent; several
/// processes starting at once only repeat one another's work.
pub(crate) async fn renormalise_names(db: &Database) -> Result<(), sqlx::Error> {
    let rows: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT id, email, username FROM users WHERE names_rule < $1 ORDER BY id")
            .bind(NAMES_RULE)
            .fetch_all(&db.pool)
            .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let (mut done, mut left) = (0usize, 0usize);
    for chunk in rows.chunks(RENORMALISE_CHUNK) {
        // A migration step, before any principal is cached: a plain transaction, no count.
        let mut tx = db.writer.begin().await?;
        for (id, email, username) in chunk {
            let email_done = match Email::parse(email) {
                Ok(parsed) if parsed.as_str() == email => true,
                Ok(parsed) => {
                    let set = sqlx::query("UPDATE users SET email = $1 WHERE id = $2").bind(parsed.as_str()).bind(id);
                    claim(&mut tx, set, *id, "email").await?
                }
                Err(_) => {
                    tracing::warn!(user_id = id, "the stored email is not one today's rules accept; left as it is");
                    false
                }
            };
            let username_done = match username {
                None => true,
                Some(name) => {
                    let display: String = name.nfkc().collect();
                    let set = sqlx::query(
                        "UPDATE users SET username = $1, username_key = $2, username_skeleton = $3 WHERE id = $4",
                    )
                    .bind(display)
                    .bind(username::case_key(name))
                    .bind(username::look_alike_key(name))
                    .bind(id);
                    claim(&mut tx, set, *id, "username").await?
                }
            };
            if email_done && username_done {
                sqlx::query("UPDATE users SET names_rule = $1 WHERE id = $2")
                    .bind(NAMES_RULE)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                done += 1;
            } else {
                left += 1;
            }
        }
        tx.commit().await?;
    }
    tracing::info!(done, left, "usernames and emails renormalised (look-alike names)");
    Ok(())
}

/// Runs `update` in a savepoint: `false` (and a warning) if it would give the row a name
/// another account holds, the row then as it was.
async fn claim<'q>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    update: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    id: i64,
    field: &'static str,
) -> Result<bool, sqlx::Error> {
    let mut savepoint = sqlx::Acquire::begin(&mut **tx).await?;
    match update.execute(&mut *savepoint).await {
        Ok(_) => {
            savepoint.commit().await?;
            Ok(true)
        }
        Err(e) if unique_violation(&e).is_some() => {
            savepoint.rollback().await?;
            tracing::warn!(
                user_id = id,
                field,
                "normalised, this account's {field} is another account's (a look-alike); left as it was"
            );
            Ok(false)
        }
        Err(e) => Err(e),
    }
}
