//! An ordered parallel map for readers: a producer thread cuts the input into jobs (blocks of
//! lines), a few worker threads turn each job into a result, and the calling thread receives
//! the results in job order.
//!
//! Readers hand every record to a sink that is not `Send` (it is the caller's closure, which
//! builds a plan), and they must hand records over in file order. So parsing moves to worker
//! threads while the sink stays on the calling thread, and each job gets its own one-shot
//! reply channel, queued in job order: the caller waits on the oldest job's reply, never on
//! whichever worker happens to finish first.
//!
//! Memory is bounded: the producer can be at most a few jobs ahead of the caller (the queue of
//! replies is bounded), whatever the size of the input.
//!
//! Everything runs inside a [`std::thread::scope`] that the caller owns, so threads may borrow
//! from the caller and are always joined. Stopping early is dropping the [`Ordered`] iterator:
//! the producer's next send fails and it stops, then the workers run out of jobs and stop.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::Scope;

/// How many worker threads a reader uses: the machine's parallelism, at most four (beyond
/// that the single producer and the caller's sink are the bound).
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// The results of [`spawn`], in job order.
pub struct Ordered<R> {
    replies: Receiver<Receiver<R>>,
}

impl<R> Iterator for Ordered<R> {
    type Item = R;

    fn next(&mut self) -> Option<R> {
        let reply = self.replies.recv().ok()?;
        // A job whose worker dropped the reply channel without answering panicked; the scope
        // re-raises that panic when it joins, and the result must not silently go missing.
        Some(
            reply
                .recv()
                .expect("a reader worker thread stopped without a result"),
        )
    }
}

/// Starts `workers` worker threads and one producer thread in `scope`. The producer calls
/// `produce` until it returns `None`; each job is given to a worker, which calls `work` with
/// its own per-thread state (`S::default()` once per thread, e.g. a read cache) and the job.
pub fn spawn<'scope, 'env, J, R, S, P, W>(
    scope: &'scope Scope<'scope, 'env>,
    workers: usize,
    mut produce: P,
    work: W,
) -> Ordered<R>
where
    J: Send + 'scope,
    R: Send + 'scope,
    S: Default,
    P: FnMut() -> Option<J> + Send + 'scope,
    W: Fn(&mut S, J) -> R + Send + Sync + 'scope,
{
    let workers = workers.max(1);
    let (job_tx, job_rx) = sync_channel::<(J, SyncSender<R>)>(workers);
    let (reply_tx, reply_rx) = sync_channel::<Receiver<R>>(workers * 2);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let work = Arc::new(work);
    for _ in 0..workers {
        let job_rx = Arc::clone(&job_rx);
        let work = Arc::clone(&work);
        scope.spawn(move || {
            let mut state = S::default();
            loop {
                // Holding the lock while waiting is fine: the others would wait for a job too.
                let next = match job_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return, // another worker panicked; the scope re-raises it
                };
                let Ok((job, reply)) = next else { return };
                // The caller may have stopped listening; then the result is not wanted.
                let _ = reply.send(work(&mut state, job));
            }
        });
    }
    scope.spawn(move || {
        while let Some(job) = produce() {
            let (tx, rx) = sync_channel(1);
            // Queue the reply before the job, so the caller always waits for the oldest job.
            if reply_tx.send(rx).is_err() || job_tx.send((job, tx)).is_err() {
                return;
            }
        }
    });
    Ordered { replies: reply_rx }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[derive(Default)]
    struct Calls(u32);

    #[test]
    fn results_come_in_job_order_whatever_the_worker_speed() {
        let out: Vec<(u64, u64)> = std::thread::scope(|scope| {
            let mut next = 0u64;
            let produce = move || {
                next += 1;
                (next <= 50).then_some(next)
            };
            let work = |calls: &mut Calls, n: u64| {
                calls.0 += 1;
                // Early jobs are slow, so later ones finish first.
                std::thread::sleep(Duration::from_millis(50u64.saturating_sub(n)));
                (n, n * n)
            };
            spawn(scope, 3, produce, work).collect()
        });
        let expected: Vec<(u64, u64)> = (1..=50).map(|n| (n, n * n)).collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn dropping_the_results_stops_the_threads() {
        std::thread::scope(|scope| {
            let mut next = 0u64;
            // An endless producer: only the dropped iterator can stop it.
            let produce = move || {
                next += 1;
                Some(next)
            };
            let mut results = spawn(scope, 2, produce, |_: &mut Calls, n: u64| n);
            assert_eq!(results.next(), Some(1));
            assert_eq!(results.next(), Some(2));
        });
        // Reaching here means the scope joined every thread.
    }

    #[test]
    #[should_panic(expected = "a reader worker thread stopped without a result")]
    fn a_panicking_worker_is_not_a_silently_missing_result() {
        std::thread::scope(|scope| {
            let mut next = 0u64;
            let produce = move || {
                next += 1;
                (next <= 5).then_some(next)
            };
            let work = |_: &mut Calls, n: u64| {
                assert_ne!(n, 3, "worker failure");
                n
            };
            let _ = spawn(scope, 2, produce, work).count();
        });
    }
}
