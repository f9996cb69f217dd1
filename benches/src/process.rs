//! Process-wide settings for speed, made once at start-up by the `ufom` binary and the benches
//! (never by the libraries, which do not touch the environment). Each yields to the user's own
//! environment: a variable that is already set is left alone.
//!
//! | setting | default here | why (measured on the project's 2-core Zen 5) |
//! |---|---|---|
//! | `RAYON_NUM_THREADS` | available parallelism | candle sizes its matmul and elementwise pools from it; unset, stock candle re-counts cores from /proc/cpuinfo on every matmul |
//! | glibc `M_MMAP_THRESHOLD` = 32 MiB, `M_TRIM_THRESHOLD` = 512 MiB | unless `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_` or `GLIBC_TUNABLES` is set | glibc's dynamic thresholds hand the multi-megabyte tensors of a backward pass back to the OS and fault them in again: thousands of page faults per HVP |
//!
//! Neither changes any result (allocation and thread counts do not change the order of
//! floating-point operations in candle's CPU kernels); `reports/perf.json` records them.

/// What [`configure`] did, for reports.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ProcessSettings {
    /// `RAYON_NUM_THREADS` in effect.
    pub rayon_num_threads: Option<String>,
    /// Whether the glibc allocator thresholds were set here (false: the user's or not glibc).
    pub malloc_thresholds_set: bool,
}

/// Applies the settings; call first thing in `main`, before any thread is started.
pub fn configure() -> ProcessSettings {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Sound: called at the start of `main`, before this process starts any thread.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    ProcessSettings {
        rayon_num_threads: std::env::var("RAYON_NUM_THREADS").ok(),
        malloc_thresholds_set: set_malloc_thresholds(),
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_malloc_thresholds() -> bool {
    const MMAP_THRESHOLD: libc::c_int = 32 << 20;
    const TRIM_THRESHOLD: libc::c_int = 512 << 20;
    let user_set = [
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
        "GLIBC_TUNABLES",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some());
    if user_set {
        return false;
    }
    // SAFETY: mallopt only adjusts allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_malloc_thresholds() -> bool {
    false
}
