//! Task edges: a panic in one unit of work (a source poll, an article page, a digest, an HTTP
//! request) becomes that unit's error, recorded where its other errors go, and the rest of the
//! daemon goes on. A panic is a bug; catching it keeps one bad feed from silently stopping a
//! source (a poll task that died used to leave its source marked running, never polled again).
//!
//! What is caught is only what unwinds: the release profile keeps `panic = "unwind"`.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};

use futures_util::FutureExt;

/// A panic caught at a task edge: a bug, recorded as its unit's error. Its text is what the
/// unit's row and log say: "internal error (a bug in bantin; please report it): …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("internal error (a bug in bantin; please report it): {message}")]
pub struct Panic {
    message: String,
}

impl Panic {
    /// The panic raised with `payload` (`panic!("…")`, `expect`, an index out of bounds).
    pub fn from_payload(payload: &(dyn Any + Send)) -> Panic {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        Panic { message }
    }

    /// What the panic said, as raised.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Runs `f`; a panic comes back as a [`Panic`].
///
/// Unwind safety: the callers' shared state is the store (a mutex whose poisoning the store
/// recovers from, rolling back any transaction left open) and atomics; nothing else outlives a
/// caught unit half-updated.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Panic> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| Panic::from_payload(p.as_ref()))
}

/// Awaits `f`; a panic while polling it comes back as a [`Panic`].
pub async fn catch_async<F: Future>(f: F) -> Result<F::Output, Panic> {
    AssertUnwindSafe(f)
        .catch_unwind()
        .await
        .map_err(|p| Panic::from_payload(p.as_ref()))
}

/// A test hook: panics at `point` for `key` (a source id, a subscriber's address) once a test
/// armed it with `fail_on` (test builds only), so the tests can prove that a panic at each edge is contained.
/// Without the `failpoints` feature (enabled only for this crate's own tests) it is empty.
#[inline]
pub fn failpoint(point: &str, key: &str) {
    #[cfg(feature = "failpoints")]
    if failpoints::armed(point, key) {
        panic!("failpoint {point} for {key:?}");
    }
    let _ = (point, key);
}

/// Arms [`failpoint`] `point` for `key`; [`disarm`] undoes it.
#[cfg(feature = "failpoints")]
pub fn fail_on(point: &str, key: &str) {
    failpoints::set(point, key, true);
}

#[cfg(feature = "failpoints")]
pub fn disarm(point: &str, key: &str) {
    failpoints::set(point, key, false);
}

#[cfg(feature = "failpoints")]
mod failpoints {
    use std::sync::Mutex;

    static ARMED: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

    pub fn armed(point: &str, key: &str) -> bool {
        let armed = ARMED.lock().unwrap_or_else(|p| p.into_inner());
        armed.iter().any(|(p, k)| p == point && k == key)
    }

    pub fn set(point: &str, key: &str, on: bool) {
        let mut armed = ARMED.lock().unwrap_or_else(|p| p.into_inner());
        armed.retain(|(p, k)| !(p == point && k == key));
        if on {
            armed.push((point.to_string(), key.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_messages() {
        assert_eq!(catch(|| 1), Ok(1));
        let e = catch(|| -> u8 { panic!("boom") }).unwrap_err();
        assert_eq!(e.message(), "boom");
        let text = e.to_string();
        assert_eq!(
            text,
            "internal error (a bug in bantin; please report it): boom"
        );
        let s = String::from("ký tự");
        let e = catch(|| s.as_str()[..2].to_string()).unwrap_err();
        assert!(
            e.to_string()
                .contains("byte index 2 is not a char boundary"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn async_panics_become_messages() {
        let e = catch_async(async { panic!("{} feeds", 2) }).await;
        let e: String = e.unwrap_err().to_string();
        assert!(e.ends_with(": 2 feeds"), "{e}");
    }
}
