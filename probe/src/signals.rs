//! Ending promptly on SIGTERM/SIGINT. The probe is PID 1 in its image, and a PID 1 gets no
//! default action for these signals: without a handler `docker stop` and pod deletion wait the
//! whole grace period. The handler only calls `_exit` (async-signal-safe); every JSON line is
//! written and flushed whole by `out::emit`, so a reader never sees a torn one from us. A
//! draining server (`serve --drain D`) instead answers SIGTERM like a well-behaved app: the
//! handler writes a byte to a pipe, and a thread waiting on it lets the server go on for D,
//! then exits 0.

use std::sync::atomic::{AtomicI32, Ordering};

/// The exit code on a termination signal; negative: 128 + the signal number.
static EXIT_CODE: AtomicI32 = AtomicI32::new(-1);
/// The write end of the drain pipe, when SIGTERM starts a drain; else negative.
static DRAIN_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let drain = DRAIN_FD.load(Ordering::Relaxed);
    if sig == libc::SIGTERM && drain >= 0 {
        let byte = 1u8;
        // SAFETY: `write` is async-signal-safe; the byte outlives the call. A second SIGTERM
        // writes again, which the drain thread no longer reads: the drain is not restarted.
        unsafe { libc::write(drain, (&raw const byte).cast(), 1) };
        return;
    }
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

/// Make SIGTERM start a drain of `drain`: serving goes on, a `draining` line is printed, and the
/// process exits 0 when the drain is over. SIGINT and SIGHUP still exit at once.
pub fn drain_on_sigterm(drain: std::time::Duration) {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe` writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return;
    }
    let read = fds[0];
    std::thread::spawn(move || {
        let mut byte = 0u8;
        loop {
            // SAFETY: reads at most one byte into `byte`.
            let n = unsafe { libc::read(read, (&raw mut byte).cast(), 1) };
            if n == 1 {
                break;
            }
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        crate::out::emit(
            "draining",
            serde_json::json!({"for_ms": crate::out::millis(drain)}),
        );
        std::thread::sleep(drain);
        crate::out::emit("drained", serde_json::json!({}));
        // SAFETY: every line was written and flushed whole; nothing else needs to run.
        unsafe { libc::_exit(0) }
    });
    DRAIN_FD.store(fds[1], Ordering::Relaxed);
}
