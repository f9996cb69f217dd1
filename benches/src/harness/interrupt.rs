//! Ctrl-C during `ufom bench`: the first SIGINT asks the running cell to stop at its next outer
//! step (finished cells are already on disk, so `--resume` continues from there); a second one
//! exits at once. Only the `ufom` binary installs the handler.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C was pressed (or [`request`] called) since start-up.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Asks the running cell to stop, as Ctrl-C does.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

#[cfg(unix)]
extern "C" fn on_sigint(_: libc::c_int) {
    // Only async-signal-safe work here: an atomic swap, and _exit on the second press.
    if REQUESTED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// Installs the SIGINT handler (Unix; elsewhere Ctrl-C keeps its default effect).
pub fn install() {
    #[cfg(unix)]
    // SAFETY: `on_sigint` only touches an atomic and calls the async-signal-safe `_exit`.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
}
