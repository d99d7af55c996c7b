//! Ending promptly on SIGTERM/SIGINT. The probe is PID 1 in its image, and a PID 1 gets no
//! default action for these signals: without a handler `docker stop` and pod deletion wait the
//! whole grace period. The handler only calls `_exit` (async-signal-safe); every JSON line is
//! written and flushed whole by `out::emit`, so a reader never sees a torn one from us.

use std::sync::atomic::{AtomicI32, Ordering};

/// The exit code on a termination signal; negative: 128 + the signal number.
static EXIT_CODE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let code = EXIT_CODE.load(Ordering::Relaxed);
    let code = if code < 0 { 128 + sig } else { code };
    // SAFETY: `_exit` is async-signal-safe; nothing else runs here.
    unsafe { libc::_exit(code) }
}

/// Exit at once on SIGTERM, SIGINT or SIGHUP: with `code` when given (a server that was told
/// to stop has done its job: 0), else 128 + the signal, as a shell reports it.
pub fn exit_on_termination(code: Option<i32>) {
    EXIT_CODE.store(code.unwrap_or(-1), Ordering::Relaxed);
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with a plain handler and an empty mask is valid; the
        // handler is an `extern "C" fn(c_int)`, as `sa_sigaction` expects without SA_SIGINFO.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}
