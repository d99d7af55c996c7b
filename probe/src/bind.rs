//! `bind`: reproduce how the Flower server (flwr ≥ 1.11, `is_port_in_use`) reacts to a bind
//! failure: a socket with SO_REUSEADDR, bind, and *any* OS error taken as "in use" — message on
//! stderr, exit 1. kindproof's own JSON line records the real errno, which is why the message
//! misleads (a node IP inside a pod gives EADDRNOTAVAIL, not EADDRINUSE).

use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd};

use kindproof_probe::protocol::{BIND, BindRecord};

use crate::out::emit_record;

/// The outcome of the bind attempt.
pub enum Bound {
    Listening(std::net::TcpListener),
    Failed { errno: i32 },
}

/// Bind `addr` exactly as Flower does (socket, SO_REUSEADDR, bind), then listen.
pub fn flower_bind(addr: SocketAddr) -> Bound {
    let family = if addr.is_ipv6() {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    // SAFETY: plain socket(2); the descriptor is owned right away.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Bound::Failed { errno: errno() };
    }
    // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    // SAFETY: valid fd, option value points to a c_int of the given size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    let rc = match addr {
        SocketAddr::V4(a) => {
            let sa = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sa is a valid sockaddr_in for the given length.
            unsafe {
                libc::bind(
                    fd,
                    (&sa as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
        }
        SocketAddr::V6(a) => {
            let sa = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sa is a valid sockaddr_in6 for the given length.
            unsafe {
                libc::bind(
                    fd,
                    (&sa as *const libc::sockaddr_in6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    };
    if rc != 0 {
        return Bound::Failed { errno: errno() };
    }
    // SAFETY: valid, bound fd.
    if unsafe { libc::listen(fd, 1024) } != 0 {
        return Bound::Failed { errno: errno() };
    }
    Bound::Listening(std::net::TcpListener::from(owned))
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The symbolic name of the errnos a bind can give.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::EACCES => "EACCES",
        libc::EINVAL => "EINVAL",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EPERM => "EPERM",
        _ => "OTHER",
    }
}

/// Record a bind that succeeded.
pub fn report_listening(addr: &str) {
    let record = BindRecord {
        address: addr.to_string(),
        ok: true,
        ..BindRecord::default()
    };
    emit_record(BIND, &record, serde_json::Value::Null);
}

/// Record the failure the way kindproof reads it, and print Flower's message.
pub fn report_failure(addr: &str, errno: i32) {
    let message = std::io::Error::from_raw_os_error(errno).to_string();
    let record = BindRecord {
        address: addr.to_string(),
        ok: false,
        errno: Some(i64::from(errno)),
        error: Some(errno_name(errno).to_string()),
        message: Some(message),
        flower_message: Some(format!("Port in server address {addr} is already in use.")),
    };
    emit_record(BIND, &record, serde_json::Value::Null);
    eprintln!("Port in server address {addr} is already in use.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_this_host_does_not_have_gives_eaddrnotavail() {
        // TEST-NET-1 is on no interface here: bind fails locally, nothing is sent.
        match flower_bind("192.0.2.1:30457".parse().unwrap()) {
            Bound::Failed { errno } => assert_eq!(errno_name(errno), "EADDRNOTAVAIL"),
            Bound::Listening(_) => panic!("bound an address this host does not have"),
        }
    }

    #[test]
    fn a_port_in_use_gives_eaddrinuse_despite_so_reuseaddr() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        match flower_bind(addr) {
            Bound::Failed { errno } => assert_eq!(errno_name(errno), "EADDRINUSE"),
            Bound::Listening(_) => panic!("bound a port someone listens on"),
        }
    }

    #[test]
    fn a_free_address_binds_and_listens() {
        match flower_bind("127.0.0.1:0".parse().unwrap()) {
            Bound::Listening(l) => assert!(l.local_addr().unwrap().port() > 0),
            Bound::Failed { errno } => panic!("errno {errno}"),
        }
    }
}
