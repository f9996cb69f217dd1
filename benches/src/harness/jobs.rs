//! Parallel cells (`--jobs`): cells of one experiment are independent (each draws from its own
//! seeded generator and writes its own file), so several run at once, each on its own share of
//! the threads. Each worker runs its cells inside a rayon pool of that many threads, which is
//! where candle's kernels (gemm, convolutions, the engine's parallel meta-batch) find their
//! threads. Results are collected by cell index, so everything downstream sees them in plan
//! order whatever finished first; and no result depends on the thread count (candle's CPU
//! kernels split work across threads, never a sum), so a parallel run writes the same cells
//! as a serial one, bit for bit, apart from timing.

use anyhow::{Context as _, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// How many cells run at once, out of how many threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Jobs {
    /// Cells at once (≥ 1).
    pub jobs: usize,
    /// Threads shared among them (≥ 1).
    pub threads: usize,
}

impl Jobs {
    /// `jobs` cells at once on `threads` threads (both at least 1).
    pub fn new(jobs: usize, threads: usize) -> Self {
        Self {
            jobs: jobs.max(1),
            threads: threads.max(1),
        }
    }

    /// One cell at a time, on every thread: the serial run.
    pub fn serial(threads: usize) -> Self {
        Self::new(1, threads)
    }

    /// The default for a machine with `threads` threads: one cell per thread. The cells of the
    /// presets are small problems (a 256-unit MLP, a conv net on 20 images) that keep one core
    /// busy far better than they share many, so whole cells are the better unit of parallelism;
    /// an experiment with fewer cells than jobs gives each cell more threads ([`Self::split`]).
    pub fn for_threads(threads: usize) -> Self {
        Self::new(threads, threads)
    }

    /// (workers, threads per worker) for `cells` cells: at most one worker per cell, and the
    /// threads shared evenly among the workers (at least one each).
    pub fn split(&self, cells: usize) -> (usize, usize) {
        let workers = self.jobs.min(cells).max(1);
        (workers, (self.threads / workers).max(1))
    }

    /// "2 cells at once, 1 thread each (2 threads)", for `--list`, `--dry-run` and logs.
    pub fn describe(&self) -> String {
        let (workers, each) = self.split(usize::MAX);
        format!(
            "{workers} cell(s) at once, {each} thread(s) each ({} thread(s); --jobs changes it)",
            self.threads
        )
    }
}

/// Runs `work(i)` for every i in 0..n on the workers of `jobs` and returns the results by
/// index. Once a result satisfies `stop` (an error, an interruption), no further item starts;
/// items never started are `None`. One worker runs inline on the calling thread (no pool: the
/// serial run is unchanged).
pub fn map_ordered<T: Send>(
    jobs: Jobs,
    n: usize,
    work: impl Fn(usize) -> T + Sync,
    stop: impl Fn(&T) -> bool + Sync,
) -> Result<Vec<Option<T>>> {
    let (workers, threads) = jobs.split(n);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let stopped = AtomicBool::new(false);
    let worker = || loop {
        if stopped.load(Ordering::SeqCst) {
            break;
        }
        let i = next.fetch_add(1, Ordering::SeqCst);
        if i >= n {
            break;
        }
        let out = work(i);
        if stop(&out) {
            stopped.store(true, Ordering::SeqCst);
        }
        // A poisoned lock means another worker panicked; its panic is re-raised by the scope.
        if let Ok(mut r) = results.lock() {
            r[i] = Some(out);
        }
    };
    if workers == 1 {
        worker();
    } else {
        let pools = (0..workers)
            .map(|_| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .context("starting a worker's thread pool")
            })
            .collect::<Result<Vec<_>>>()?;
        std::thread::scope(|s| {
            for pool in &pools {
                s.spawn(|| pool.install(worker));
            }
        });
    }
    results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a worker panicked"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_and_threads_share_the_machine() {
        assert_eq!(Jobs::new(2, 2).split(10), (2, 1));
        assert_eq!(Jobs::new(16, 16).split(4), (4, 4));
        assert_eq!(Jobs::new(4, 16).split(100), (4, 4));
        assert_eq!(Jobs::new(8, 2).split(100), (8, 1));
        assert_eq!(Jobs::new(3, 2).split(0), (1, 2));
        assert_eq!(Jobs::new(0, 0), Jobs::new(1, 1));
    }

    #[test]
    fn results_come_back_in_index_order_and_stop_stops() -> Result<()> {
        for jobs in [Jobs::serial(2), Jobs::new(3, 3)] {
            let out = map_ordered(jobs, 20, |i| i * i, |_| false)?;
            let want: Vec<Option<usize>> = (0..20).map(|i| Some(i * i)).collect();
            assert_eq!(out, want);
        }
        // Serial: item 5 stops the run, nothing after it starts.
        let out = map_ordered(Jobs::serial(1), 20, |i| i, |&i| i == 5)?;
        assert_eq!(out.iter().flatten().count(), 6);
        assert!(out[6..].iter().all(Option::is_none));
        // Parallel: items already running finish, but not all 1000 start.
        let out = map_ordered(Jobs::new(2, 2), 1000, |i| i, |&i| i == 3)?;
        assert!(out[3].is_some());
        assert!(out.iter().flatten().count() < 1000);
        Ok(())
    }

    #[test]
    fn each_worker_runs_in_its_share_of_threads() -> Result<()> {
        let seen = map_ordered(
            Jobs::new(2, 4),
            6,
            |_| rayon::current_num_threads(),
            |_| false,
        )?;
        assert!(seen.iter().all(|t| *t == Some(2)), "{seen:?}");
        Ok(())
    }
}

#[cfg(test)]
mod concurrent_writes {
    use crate::harness::store::write_atomic;

    /// Parallel cells write their store's manifest at once: every atomic write of the same
    /// file succeeds and the file holds one whole write. (With one temporary name per process,
    /// the control this replaced, concurrent renames failed with "No such file".)
    #[test]
    fn concurrent_atomic_writes_of_one_file_all_succeed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.json");
        std::thread::scope(|s| {
            for t in 0..8u8 {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..50 {
                        write_atomic(path, &[t; 4096]).expect("atomic write");
                    }
                });
            }
        });
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(bytes.len(), 4096);
        assert!(bytes.iter().all(|&b| b == bytes[0]), "a torn write");
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
        assert_eq!(left.len(), 1, "temporary files left behind");
    }
}
