//! Jobs run on a thread pool whose results are taken in the order they were submitted,
//! with a bounded number in flight: the shape of every parallel stage that must write its
//! output in input order (Arrow batches, Parquet row groups, rendered text).
//!
//! There is no barrier between jobs: a worker that finishes takes the next job while the
//! others are still busy, so the cores stay loaded, and the consumer waits only for the
//! oldest job. Memory stays bounded by `depth` results.

use std::collections::VecDeque;
use std::sync::mpsc;

/// Where jobs run.
pub enum Pool {
    /// On the submitting thread, at once (one thread asked for, one core, or the submitter
    /// is itself a worker of the global pool, which must not block waiting for its pool).
    Single,
    /// rayon's global pool (all cores).
    Global,
    /// A pool of its own, for an explicit thread count.
    Own(rayon::ThreadPool),
}

impl Pool {
    /// The pool for `threads` workers (0: every core) and the number of jobs to keep in
    /// flight for it (two per worker: one running, one waiting).
    pub fn new(threads: usize, name: &'static str) -> std::io::Result<(Pool, usize)> {
        let on_global_worker = rayon::current_thread_index().is_some();
        Ok(match threads {
            1 => (Pool::Single, 1),
            0 if on_global_worker || rayon::current_num_threads() <= 1 => (Pool::Single, 1),
            0 => (Pool::Global, 2 * rayon::current_num_threads()),
            n => (
                Pool::Own(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(n)
                        .thread_name(move |i| format!("bsmtrail-{name}-{i}"))
                        .build()
                        .map_err(std::io::Error::other)?,
                ),
                2 * n,
            ),
        })
    }

    /// Run `job` on the pool (on this thread for `Single`).
    pub fn spawn(&self, job: impl FnOnce() + Send + 'static) {
        match self {
            Pool::Single => job(),
            Pool::Global => rayon::spawn(job),
            Pool::Own(p) => p.spawn(job),
        }
    }
}

/// The depth [`Pool::new`] gives (two jobs per worker) cut to one per worker and one more:
/// for stages whose results are large (a decoded batch and the input it points into, an
/// encoded row group), where a second waiting job per worker only holds memory. The one
/// more is what keeps the workers fed while the consumer takes the oldest.
pub fn lean_depth(depth: usize) -> usize {
    if depth > 1 {
        depth / 2 + 1
    } else {
        depth
    }
}

/// Input bytes per job where one thread frames a trail and workers do the per-record work
/// (render, judge, walk): large enough that a job outweighs its hand-over, small enough
/// that the workers stay fed and the jobs in flight hold little.
pub const JOB_BYTES: usize = 1 << 20;

/// The next job: items from `items` until they weigh about [`JOB_BYTES`] (`bytes` of
/// each) or `last` says an item ends the input; empty when nothing is left.
pub fn next_job<T>(
    items: &mut impl Iterator<Item = T>,
    bytes: impl Fn(&T) -> usize,
    last: impl Fn(&T) -> bool,
) -> Vec<T> {
    next_job_into(Vec::new(), items, bytes, last)
}

/// [`next_job`] into `job` (emptied first), so that a caller can hand the vector of a
/// finished job back: a fresh vector per job is grown by copying and, past a few hundred
/// kilobytes, faulted in page by page.
pub fn next_job_into<T>(
    mut job: Vec<T>,
    items: &mut impl Iterator<Item = T>,
    bytes: impl Fn(&T) -> usize,
    last: impl Fn(&T) -> bool,
) -> Vec<T> {
    job.clear();
    let mut weight = 0;
    while weight < JOB_BYTES {
        let Some(item) = items.next() else { break };
        weight += bytes(&item);
        let end = last(&item);
        job.push(item);
        if end {
            break;
        }
    }
    job
}

/// A job that panicked (a bug): its result is this instead of aborting the process from
/// inside the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panicked;

enum Slot<T> {
    Ready(Result<T, Panicked>),
    Running(mpsc::Receiver<Result<T, Panicked>>),
}

/// Results of submitted jobs, oldest first.
pub struct Ordered<T> {
    pool: Pool,
    depth: usize,
    slots: VecDeque<Slot<T>>,
}

impl<T: Send + 'static> Ordered<T> {
    pub fn new(threads: usize, name: &'static str) -> std::io::Result<Self> {
        let (pool, depth) = Pool::new(threads, name)?;
        Ok(Ordered {
            pool,
            depth,
            slots: VecDeque::new(),
        })
    }

    /// Like [`Ordered::new`], with [`lean_depth`] jobs in flight: for stages whose results
    /// are large (encoded output), where the stage feeding them already keeps the workers
    /// busy.
    pub fn lean(threads: usize, name: &'static str) -> std::io::Result<Self> {
        let mut o = Ordered::new(threads, name)?;
        o.depth = lean_depth(o.depth);
        Ok(o)
    }

    /// How many jobs may be in flight at once.
    pub fn capacity(&self) -> usize {
        self.depth
    }

    /// Whether jobs run on the caller's thread, at submission (one thread).
    pub fn on_caller(&self) -> bool {
        matches!(self.pool, Pool::Single)
    }

    /// Whether as many jobs are in flight as the pool should have: take one first.
    pub fn full(&self) -> bool {
        self.slots.len() >= self.depth
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Start `job`; its result comes after every job submitted before it.
    pub fn submit(&mut self, job: impl FnOnce() -> T + Send + 'static) {
        let caught = move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).map_err(|_| Panicked)
        };
        if let Pool::Single = self.pool {
            self.slots.push_back(Slot::Ready(caught()));
            return;
        }
        let (tx, rx) = mpsc::sync_channel(1);
        self.pool.spawn(move || {
            // The consumer may have gone (dropped): nothing to do with the result.
            let _ = tx.send(caught());
        });
        self.slots.push_back(Slot::Running(rx));
    }

    /// The oldest job's result, waiting for it; None when nothing is in flight.
    pub fn take(&mut self) -> Option<Result<T, Panicked>> {
        Some(match self.slots.pop_front()? {
            Slot::Ready(r) => r,
            Slot::Running(rx) => rx.recv().unwrap_or(Err(Panicked)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_submission_order_whatever_the_threads() {
        for threads in [1, 2, 4] {
            let mut o = Ordered::new(threads, "test").unwrap();
            let mut got = Vec::new();
            for i in 0..100u64 {
                if o.full() {
                    got.push(o.take().unwrap().unwrap());
                }
                // Later jobs finish first: order must still hold.
                o.submit(move || {
                    std::thread::sleep(std::time::Duration::from_micros((100 - i) * 10));
                    i
                });
            }
            while let Some(r) = o.take() {
                got.push(r.unwrap());
            }
            assert_eq!(got, (0..100).collect::<Vec<_>>(), "threads={threads}");
        }
    }

    #[test]
    fn a_panicking_job_is_a_result_not_an_abort() {
        for threads in [1, 2] {
            let mut o = Ordered::new(threads, "test").unwrap();
            o.submit(|| 1);
            o.submit(|| panic!("a bug"));
            o.submit(|| 3);
            assert_eq!(o.take(), Some(Ok(1)));
            assert_eq!(o.take(), Some(Err(Panicked)));
            assert_eq!(o.take(), Some(Ok(3)));
            assert_eq!(o.take(), None);
        }
    }
}
