//! Errors of the Kubernetes layer, and the retry policy. An API server's refusal is kept whole
//! (code, reason, message) because scenarios assert on it; only conflicts and transient
//! failures are retried, everything else fails at once.

use std::path::PathBuf;
use std::time::Duration;

/// What the API server said when it refused a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiStatus {
    pub code: u16,
    /// `Conflict`, `Invalid`, `NotFound`, `AlreadyExists`…
    pub reason: String,
    pub message: String,
}

impl std::fmt::Display for ApiStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

/// A Kubernetes operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("failed to read kubeconfig {path}: {detail}")]
    Kubeconfig { path: PathBuf, detail: String },
    #[error("failed to {operation} {target}: the API server answered {status}")]
    Api {
        operation: &'static str,
        target: String,
        status: ApiStatus,
    },
    #[error("failed to {operation} {target}: {detail}")]
    Request {
        operation: &'static str,
        target: String,
        detail: String,
    },
    #[error("failed to parse {file} (document {document}): {detail}")]
    Manifest {
        file: String,
        document: usize,
        detail: String,
    },
    #[error("failed to run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("timed out after {waited:?} waiting for {what}; last seen: {last}")]
    Timeout {
        what: String,
        waited: Duration,
        last: String,
    },
}

impl KubeError {
    /// Wrap a kube-rs error from `operation` on `target`, keeping an API refusal whole.
    pub fn from_kube(
        operation: &'static str,
        target: impl Into<String>,
    ) -> impl FnOnce(kube::Error) -> Self {
        let target = target.into();
        move |e| match e {
            kube::Error::Api(s) => Self::Api {
                operation,
                target,
                status: ApiStatus {
                    code: s.code,
                    reason: s.reason,
                    message: s.message,
                },
            },
            other => Self::Request {
                operation,
                target,
                detail: other.to_string(),
            },
        }
    }

    /// The API server's answer, when it gave one.
    pub fn status(&self) -> Option<&ApiStatus> {
        match self {
            Self::Api { status, .. } => Some(status),
            _ => None,
        }
    }
}

/// What to do after a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// 409 Conflict: someone changed the object; read it again and retry.
    Conflict,
    /// Throttled, briefly unavailable, or the connection broke: retry as it was.
    Transient,
    /// Anything else (invalid, forbidden, not found…): fail now; retrying cannot change it.
    Fatal,
}

/// The retry policy. Only 409 is a conflict; 429 and 5xx other than 501 are transient, and so
/// are transport errors; every other answer is final.
pub fn classify(e: &KubeError) -> Retry {
    match e {
        KubeError::Api { status, .. } => match status.code {
            409 => Retry::Conflict,
            429 | 500 | 502 | 503 | 504 => Retry::Transient,
            _ => Retry::Fatal,
        },
        KubeError::Request { .. } => Retry::Transient,
        _ => Retry::Fatal,
    }
}

/// Attempts and pauses of [`with_retries`].
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: usize,
    pub first_pause: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_pause: Duration::from_millis(200),
        }
    }
}

/// Run `op` until it succeeds, fails for good, or runs out of attempts (pauses double). `op` is
/// called afresh each time, so a conflict re-reads whatever it needs. Conflicts are retried
/// only when `conflicts` is set: a read-modify-write (replace) can redo its read, while a
/// server-side apply conflict is an answer to report, not a race to retry.
pub async fn with_retries<T, F, Fut>(
    policy: RetryPolicy,
    conflicts: bool,
    mut op: F,
) -> Result<T, KubeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, KubeError>>,
{
    let mut pause = policy.first_pause;
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e)
                if attempt < policy.attempts
                    && match classify(&e) {
                        Retry::Conflict => conflicts,
                        Retry::Transient => true,
                        Retry::Fatal => false,
                    } =>
            {
                tracing::debug!("retrying after {e}");
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, reason: &str) -> KubeError {
        KubeError::Api {
            operation: "replace",
            target: "service/dns".into(),
            status: ApiStatus {
                code,
                reason: reason.into(),
                message: "m".into(),
            },
        }
    }

    #[test]
    fn only_conflicts_and_transient_failures_are_retried() {
        assert_eq!(classify(&api(409, "Conflict")), Retry::Conflict);
        for code in [429, 500, 502, 503, 504] {
            assert_eq!(classify(&api(code, "x")), Retry::Transient, "{code}");
        }
        for code in [400, 401, 403, 404, 422, 501] {
            assert_eq!(classify(&api(code, "x")), Retry::Fatal, "{code}");
        }
        let broken = KubeError::Request {
            operation: "get",
            target: "x".into(),
            detail: "connection reset".into(),
        };
        assert_eq!(classify(&broken), Retry::Transient);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_at_a_fatal_answer_and_keep_it_whole() {
        let mut calls = 0;
        let result: Result<(), _> = with_retries(RetryPolicy::default(), true, || {
            calls += 1;
            let e = if calls == 1 {
                api(503, "ServiceUnavailable")
            } else {
                api(422, "Invalid")
            };
            async move { Err(e) }
        })
        .await;
        assert_eq!(calls, 2);
        let e = result.unwrap_err();
        assert_eq!(e.status().unwrap().reason, "Invalid");
        assert_eq!(
            e.to_string(),
            "failed to replace service/dns: the API server answered 422 Invalid: m"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn conflicts_are_retried_until_the_attempts_run_out() {
        let mut calls = 0;
        let result: Result<(), _> = with_retries(RetryPolicy::default(), true, || {
            calls += 1;
            async { Err(api(409, "Conflict")) }
        })
        .await;
        assert_eq!(calls, 5);
        assert_eq!(result.unwrap_err().status().unwrap().code, 409);
        // Without conflict retries, a 409 is the answer.
        let mut calls = 0;
        let result: Result<(), _> = with_retries(RetryPolicy::default(), false, || {
            calls += 1;
            async { Err(api(409, "Conflict")) }
        })
        .await;
        assert_eq!(calls, 1);
        assert_eq!(result.unwrap_err().status().unwrap().code, 409);
        let mut calls = 0;
        let ok = with_retries(RetryPolicy::default(), true, || {
            calls += 1;
            let r = if calls < 3 {
                Err(api(409, "Conflict"))
            } else {
                Ok(calls)
            };
            async move { r }
        })
        .await;
        assert_eq!(ok.unwrap(), 3);
    }
}
