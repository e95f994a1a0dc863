//! The single writer: one thread owns the read-write connection and runs every write, in
//! arrival order.
//!
//! Writes that queue up while the thread is busy are committed together ("group commit"):
//! one `BEGIN IMMEDIATE … COMMIT` for the group, each write inside its own savepoint, so a
//! write that fails (a 409, a 400 found in the database) is rolled back alone and the
//! others keep their effects. A request is answered only after its group committed, so an
//! answered write is as durable as with one transaction each; if the commit fails, every
//! write of the group that had succeeded is answered with that error instead (one that had
//! failed keeps its own error; it saw its group's earlier writes, as it would have seen
//! them committed had they run one by one).
//!
//! Why: with one transaction per request and the connection behind a mutex, a create paid
//! for a hop to the blocking pool, for the mutex handoff between concurrent requests, and
//! for writing every page it touched to the WAL at its own commit. A thread that drains a
//! queue wakes once per group, and pages that a group's writes share (the tails of the
//! tables and of the organization indexes) go to the WAL once per group.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Duration;

use rusqlite::Connection;

use crate::emulator::error::ApiError;

/// Answers a write once the outcome of its group's commit is known.
pub(super) type Deliver = Box<dyn FnOnce(Result<(), &ApiError>) + Send>;

/// A type-erased write: given the connection inside its savepoint (or the error that kept
/// the transaction from starting), runs the request's closure and returns whether it
/// succeeded (its savepoint is released, or else rolled back) and how to answer it.
pub(super) type WriteJob =
    Box<dyn FnOnce(Result<&Connection, &ApiError>) -> (bool, Deliver) + Send>;

/// Work for the writer thread.
pub(super) enum Job {
    /// A write, run in a group transaction.
    Write(WriteJob),
    /// Work outside any transaction, after every write queued before it: reads of an
    /// in-memory database (which has no other connection) and start-up work.
    Direct(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// The most writes in one group, which bounds how long a write can wait behind others.
const MAX_GROUP: usize = 128;

/// Wraps a request's closure as a [`WriteJob`] whose answer goes to `answer`. A panic in
/// the closure is answered as an internal error (its savepoint is rolled back) and does not
/// stop the writer.
pub(super) fn write_job<T, F>(
    f: F,
    answer: impl FnOnce(Result<T, ApiError>) + Send + 'static,
) -> WriteJob
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
{
    Box::new(move |conn: Result<&Connection, &ApiError>| {
        let out = match conn {
            Ok(conn) => catch_unwind(AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(ApiError::internal("storage task failed: it panicked"))),
            Err(e) => Err(e.clone()),
        };
        let ok = out.is_ok();
        let deliver: Deliver = Box::new(move |commit: Result<(), &ApiError>| {
            answer(match (out, commit) {
                (Ok(value), Ok(())) => Ok(value),
                (Ok(_), Err(e)) => Err(e.clone()),
                (Err(e), _) => Err(e),
            });
        });
        (ok, deliver)
    })
}

/// How long the checkpointer lets commits accumulate before copying them into the
/// database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// The writer thread's loop: runs until every sender is gone (the store was dropped).
/// After each commit it nudges `checkpoints`, the [`checkpointer`] of a file database.
pub(super) fn run(
    mut conn: Connection,
    jobs: &Receiver<Job>,
    checkpoints: Option<&SyncSender<()>>,
) {
    let nudge = || {
        if let Some(c) = checkpoints {
            // Full means a nudge is already pending.
            let _ = c.try_send(());
        }
    };
    let mut writes: VecDeque<WriteJob> = VecDeque::new();
    while let Ok(first) = jobs.recv() {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write(w) => {
                    writes.push_back(w);
                    if writes.len() >= MAX_GROUP {
                        flush(&conn, &mut writes);
                    }
                }
                Job::Direct(d) => {
                    flush(&conn, &mut writes);
                    d(&mut conn);
                }
            }
            // Whatever arrived meanwhile joins the group; nothing is waited for.
            next = jobs.try_recv().ok();
        }
        flush(&conn, &mut writes);
        nudge();
    }
}

/// A WAL longer than this many frames (4 KiB pages) after a passive checkpoint is
/// restarted (see [`checkpointer`]).
const RESTART_FRAMES: i64 = 8_192;

/// Copies committed WAL frames into the database file, on its own connection and thread,
/// at most every [`CHECKPOINT_EVERY`] while writes come in (and not at all while none do).
/// SQLite would otherwise do this on the writer thread, inside the commit that crosses
/// the WAL size limit, and a checkpoint's writes and `fsync` were a fifth of the writer's
/// time under a stream of creates. Runs until the writer thread is gone.
///
/// A `PASSIVE` checkpoint never blocks the writer or the readers, but the WAL starts over
/// from its beginning only after a checkpoint that caught up with every commit, which a
/// steady stream of writes never lets happen: the file would grow for as long as the
/// stream lasts. So once the WAL is longer than [`RESTART_FRAMES`], a `RESTART` checkpoint
/// holds the writer for the few frames the passive one left and makes the next write start
/// the WAL over.
pub(super) fn checkpointer(conn: &Connection, nudges: &Receiver<()>) {
    while nudges.recv().is_ok() {
        std::thread::sleep(CHECKPOINT_EVERY);
        while nudges.try_recv().is_ok() {}
        // A failure (e.g. a busy lock) is retried at the next nudge; the writer's own
        // auto-checkpoint is the backstop.
        let log = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
        if log.is_ok_and(|frames| frames > RESTART_FRAMES) {
            let _ = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
        }
    }
}

fn exec(conn: &Connection, sql: &str) -> Result<(), ApiError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Commits every queued write, in as few groups as it can.
fn flush(conn: &Connection, writes: &mut VecDeque<WriteJob>) {
    while !writes.is_empty() {
        commit_group(conn, writes);
    }
}

/// Runs queued writes in one transaction, each in its own savepoint, until the queue is
/// empty or the transaction is lost; commits; answers them.
fn commit_group(conn: &Connection, writes: &mut VecDeque<WriteJob>) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        for job in writes.drain(..) {
            let (_, deliver) = job(Err(&e));
            deliver(Err(&e));
        }
        return;
    }
    let mut answers = Vec::with_capacity(writes.len());
    let mut lost: Option<ApiError> = None;
    while let Some(job) = writes.pop_front() {
        if let Err(e) = exec(conn, "SAVEPOINT request") {
            let (_, deliver) = job(Err(&e));
            answers.push(deliver);
            lost = Some(e);
            break;
        }
        let (ok, deliver) = job(Ok(conn));
        answers.push(deliver);
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (an I/O error, a full disk): nothing
            // of this group was written. Later writes go to the next group.
            lost = Some(ApiError::internal(
                "storage: the transaction was rolled back by SQLite",
            ));
            break;
        }
        let end = if ok {
            exec(conn, "RELEASE request")
        } else {
            exec(conn, "ROLLBACK TO request").and_then(|()| exec(conn, "RELEASE request"))
        };
        if let Err(e) = end {
            lost = Some(e);
            break;
        }
        if answers.len() >= MAX_GROUP {
            break;
        }
    }
    let outcome = match lost {
        Some(e) => Err(e),
        None => exec(conn, "COMMIT"),
    };
    if outcome.is_err() && !conn.is_autocommit() {
        let _ = exec(conn, "ROLLBACK");
    }
    for deliver in answers {
        deliver(outcome.as_ref().copied());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    fn answer_into<T: Send + 'static>(
        tx: mpsc::Sender<Result<T, ApiError>>,
    ) -> impl FnOnce(Result<T, ApiError>) + Send + 'static {
        move |r| {
            let _ = tx.send(r);
        }
    }

    /// In one group, a failing write and a panicking one are rolled back alone; the
    /// others are committed and answered.
    #[test]
    fn a_failed_write_rolls_back_alone() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER UNIQUE)")
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let mut writes: VecDeque<WriteJob> = VecDeque::new();
        for v in [1, 2, 1, 3] {
            writes.push_back(write_job(
                move |c| {
                    c.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
                    Ok(v)
                },
                answer_into(tx.clone()),
            ));
        }
        writes.push_back(write_job(
            |c: &Connection| -> Result<i64, ApiError> {
                c.execute("INSERT INTO t (v) VALUES (4)", [])?;
                panic!("a bug in a handler")
            },
            answer_into(tx.clone()),
        ));
        flush(&conn, &mut writes);
        let answers: Vec<_> = rx.try_iter().collect();
        assert_eq!(answers.len(), 5);
        assert_eq!(answers[0], Ok(1));
        assert_eq!(answers[1], Ok(2));
        assert!(answers[2].is_err(), "{:?}", answers[2]);
        assert_eq!(answers[3], Ok(3));
        assert!(
            matches!(&answers[4], Err(ApiError::Internal { .. })),
            "{:?}",
            answers[4]
        );
        let stored: Vec<i64> = conn
            .prepare("SELECT v FROM t ORDER BY v")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(stored, [1, 2, 3]);
        assert!(conn.is_autocommit());
    }

    /// A commit that fails is the answer of every write of the group, even those whose
    /// closure succeeded.
    #[test]
    fn a_failed_commit_fails_the_group() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE p (id INTEGER PRIMARY KEY);
             CREATE TABLE c (p INTEGER REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        let (tx, rx) = mpsc::channel();
        let mut writes: VecDeque<WriteJob> = VecDeque::new();
        writes.push_back(write_job(
            |c| Ok(c.execute("INSERT INTO p (id) VALUES (1)", [])?),
            answer_into(tx.clone()),
        ));
        // A deferred foreign-key violation surfaces only at COMMIT.
        writes.push_back(write_job(
            |c| Ok(c.execute("INSERT INTO c (p) VALUES (99)", [])?),
            answer_into(tx.clone()),
        ));
        flush(&conn, &mut writes);
        let answers: Vec<_> = rx.try_iter().collect();
        assert_eq!(answers.len(), 2);
        assert!(answers.iter().all(Result::is_err), "{answers:?}");
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM p", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        assert!(conn.is_autocommit());
    }
}
