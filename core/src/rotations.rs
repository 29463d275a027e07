//! Refresh-token rotations committed in groups.
//!
//! Each rotation is a compare-and-set on one session row. Run one statement per rotation and
//! the database's per-statement cost (on SQLite a hand-off to the driver's worker thread and a
//! WAL commit; on PostgreSQL a round trip, planning and a commit) dominates a refresh. So
//! rotations queue for one task that commits whatever has queued in a single statement
//! ([`sessions::rotate_many`]): while a group is being written the next one gathers. Nothing
//! waits for a timer, so a lone refresh is written at once.
//!
//! SQLite has one writer, so one group is written at a time. PostgreSQL takes a few at once
//! ([`IN_FLIGHT_ON_POSTGRES`]): with one, its backend and this process would take turns
//! while the other core idled.
//!
//! The result is the same as running the rotations one by one: a group never holds two
//! rotations of one session (a later one waits for the next group, where its compare-and-set
//! sees the first one's result); two groups in flight at once are ordered by the row lock, and
//! the second compare-and-set re-reads the row the first one wrote. Each caller learns only
//! whether its own compare-and-set matched.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::db::{Backend, Database};
use crate::error::CoreError;
use crate::store::sessions::{self, Session};

/// At most this many rotations per statement (well below both databases' parameter limits).
const MAX_GROUP: usize = 64;

/// Groups written at once on PostgreSQL (each holds a pooled connection while it runs).
const IN_FLIGHT_ON_POSTGRES: usize = 2;

type Reply = Result<Option<Session>, String>;

struct Rotation {
    session_id: String,
    generation: i64,
    now: i64,
    reply: oneshot::Sender<Reply>,
}

/// The queue in front of the rotating task; the task starts with the first rotation and ends
/// when this handle is dropped.
pub(crate) struct Rotations {
    db: Database,
    queue: OnceLock<mpsc::UnboundedSender<Rotation>>,
}

impl Rotations {
    pub(crate) fn new(db: Database) -> Self {
        Self { db, queue: OnceLock::new() }
    }

    /// Moves the live API session `session_id` from refresh generation `generation` to the
    /// next one; `None` if it is not at that generation, not live, or not an API session.
    pub(crate) async fn rotate(
        &self,
        session_id: &str,
        generation: i64,
        now: i64,
    ) -> Result<Option<Session>, CoreError> {
        let (reply, answer) = oneshot::channel();
        let rotation = Rotation { session_id: session_id.to_string(), generation, now, reply };
        self.queue
            .get_or_init(|| {
                let (sender, receiver) = mpsc::unbounded_channel();
                tokio::spawn(commit_groups(self.db.clone(), receiver));
                sender
            })
            .send(rotation)
            .map_err(|e| CoreError::internal("the rotation task has stopped", e))?;
        match answer.await {
            Ok(reply) => reply.map_err(|e| CoreError::internal("rotating refresh tokens", e)),
            Err(e) => Err(CoreError::internal("the rotation task dropped a rotation", e)),
        }
    }
}

async fn commit_groups(db: Database, mut receiver: mpsc::UnboundedReceiver<Rotation>) {
    let in_flight = Arc::new(Semaphore::new(match db.backend {
        Backend::Sqlite => 1,
        Backend::Postgres => IN_FLIGHT_ON_POSTGRES,
    }));
    let mut waiting = VecDeque::new();
    loop {
        if waiting.is_empty() {
            match receiver.recv().await {
                Some(rotation) => waiting.push_back(rotation),
                None => return,
            }
        }
        // Rotations keep queueing while every slot is busy: the next group is what arrived
        // meanwhile.
        let Ok(slot) = in_flight.clone().acquire_owned().await else { return };
        while let Ok(rotation) = receiver.try_recv() {
            waiting.push_back(rotation);
        }
        let group = next_group(&mut waiting);
        let db = db.clone();
        tokio::spawn(async move {
            commit(&db, group).await;
            drop(slot);
        });
    }
}

/// Takes up to [`MAX_GROUP`] rotations of distinct sessions, oldest first, leaving the rest in
/// order. A rotation whose caller has gone away is dropped unwritten, as it would have been
/// had its request been cancelled before its statement ran.
fn next_group(waiting: &mut VecDeque<Rotation>) -> Vec<Rotation> {
    let mut group: Vec<Rotation> = Vec::new();
    let mut deferred = VecDeque::new();
    while let Some(rotation) = waiting.pop_front() {
        if rotation.reply.is_closed() {
            continue;
        }
        if group.len() == MAX_GROUP {
            deferred.push_back(rotation);
            break;
        }
        if group.iter().any(|r| r.session_id == rotation.session_id) {
            deferred.push_back(rotation);
        } else {
            group.push(rotation);
        }
    }
    deferred.append(waiting);
    *waiting = deferred;
    group
}

async fn commit(db: &Database, group: Vec<Rotation>) {
    if group.is_empty() {
        return;
    }
    // Every rotation of the group happens now: no earlier than any caller asked.
    let now = group.iter().map(|r| r.now).max().unwrap_or_default();
    let presented: Vec<(&str, i64)> = group.iter().map(|r| (r.session_id.as_str(), r.generation)).collect();
    match sessions::rotate_many(db, &presented, now).await {
        Ok(rotated) => {
            let mut rotated: HashMap<String, Session> = rotated.into_iter().map(|s| (s.id.clone(), s)).collect();
            for rotation in group {
                let _ = rotation.reply.send(Ok(rotated.remove(&rotation.session_id)));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for rotation in group {
                let _ = rotation.reply.send(Err(message.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotation(session_id: &str) -> (Rotation, oneshot::Receiver<Reply>) {
        let (reply, answer) = oneshot::channel();
        (Rotation { session_id: session_id.into(), generation: 0, now: 0, reply }, answer)
    }

    fn ids(rotations: &[Rotation]) -> Vec<&str> {
        rotations.iter().map(|r| r.session_id.as_str()).collect()
    }

    #[test]
    fn a_group_holds_one_rotation_per_session_and_the_rest_keep_their_order() {
        let (rotations, _answers): (Vec<_>, Vec<_>) = ["a", "b", "a", "c", "b", "a"].map(rotation).into_iter().unzip();
        let mut waiting: VecDeque<_> = rotations.into();
        let first = next_group(&mut waiting);
        assert_eq!(ids(&first), ["a", "b", "c"]);
        let second = next_group(&mut waiting);
        assert_eq!(ids(&second), ["a", "b"]);
        let third = next_group(&mut waiting);
        assert_eq!(ids(&third), ["a"]);
        assert!(waiting.is_empty());
    }

    #[test]
    fn a_group_is_bounded_and_skips_callers_that_went_away() {
        let (rotations, mut answers): (Vec<_>, Vec<_>) = (0..MAX_GROUP + 10).map(|n| rotation(&n.to_string())).unzip();
        answers.truncate(MAX_GROUP + 5); // the last five callers are gone
        let mut waiting: VecDeque<_> = rotations.into();
        assert_eq!(next_group(&mut waiting).len(), MAX_GROUP);
        let rest = next_group(&mut waiting);
        assert_eq!(ids(&rest), (MAX_GROUP..MAX_GROUP + 5).map(|n| n.to_string()).collect::<Vec<_>>());
        assert!(waiting.is_empty());
    }
}
