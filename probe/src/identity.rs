//! Who this probe is: pod name, namespace, node name and pod IP from downward-API environment
//! variables, and the hostname.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Identity {
    pub pod: Option<String>,
    pub namespace: Option<String>,
    pub node: Option<String>,
    pub pod_ip: Option<String>,
    pub hostname: String,
}

impl Identity {
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            pod: var("POD_NAME"),
            namespace: var("POD_NAMESPACE"),
            node: var("NODE_NAME"),
            pod_ip: var("POD_IP"),
            hostname: hostname(),
        }
    }

    pub fn json_line(&self) -> String {
        serde_json::to_string(self).expect("identity serializes") + "\n"
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
