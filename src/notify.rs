//! The systemd notification protocol ([sd_notify(3)]): readiness, status, reload, stop and
//! watchdog messages, each one datagram on the socket named by `NOTIFY_SOCKET`.
//!
//! Without `NOTIFY_SOCKET` every call does nothing, so the same binary runs unchanged in a
//! terminal, a container or under another supervisor. Sending never blocks the runtime (the
//! socket is non-blocking) and never fails the caller: a message that cannot be sent is logged
//! and dropped. The next status or watchdog message follows soon, and readiness lost for good
//! shows as a start timeout in `systemctl status`, which is where the admin looks.
//!
//! The messages themselves are `sd-notify`'s [`NotifyState`]s; the sending is ours, so that a
//! `Notifier` can be pointed at a socket without touching the process environment (tests), and
//! so that abstract socket addresses (`@name`) work too.
//!
//! [sd_notify(3)]: https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html

use std::ffi::OsStr;
use std::fmt::Write;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;

/// How often [`Notifier::keep_starting`] asks for more time, and how much.
pub const EXTEND_EVERY: Duration = Duration::from_secs(20);
pub const EXTEND_BY: Duration = Duration::from_secs(60);

/// Asks for more time to start while it lives ([`Notifier::keep_starting`]).
#[derive(Debug, Default)]
pub struct Starting {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Starting {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Talks to the service manager, or (without `NOTIFY_SOCKET`) to no one. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    socket: Option<Arc<Socket>>,
    /// The watchdog timeout the manager set for this process (`WATCHDOG_USEC`), if any.
    watchdog: Option<Duration>,
}

#[derive(Debug)]
struct Socket {
    sock: UnixDatagram,
    addr: SocketAddr,
}

impl Notifier {
    /// A notifier that sends nothing.
    pub fn disabled() -> Notifier {
        Notifier::default()
    }

    /// The notifier systemd asks for through the environment: `NOTIFY_SOCKET`, and
    /// `WATCHDOG_USEC` when `WATCHDOG_PID` is unset or is this process.
    pub fn from_env() -> Notifier {
        let watchdog = watchdog_timeout(
            std::env::var("WATCHDOG_USEC").ok().as_deref(),
            std::env::var("WATCHDOG_PID").ok().as_deref(),
            std::process::id(),
        );
        let Some(target) = std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty()) else {
            return Notifier {
                socket: None,
                watchdog: None,
            };
        };
        match Socket::open(&target) {
            Ok(socket) => Notifier {
                socket: Some(Arc::new(socket)),
                watchdog,
            },
            Err(e) => {
                tracing::warn!(socket = ?target, error = %e, "cannot use NOTIFY_SOCKET; the service manager will not hear from bantin");
                Notifier::disabled()
            }
        }
    }

    /// A notifier sending to the datagram socket at `path` (`@name` for an abstract address),
    /// with no watchdog.
    pub fn to_socket(path: impl AsRef<OsStr>) -> io::Result<Notifier> {
        Ok(Notifier {
            socket: Some(Arc::new(Socket::open(path.as_ref())?)),
            watchdog: None,
        })
    }

    /// The same notifier with the manager's watchdog timeout set to `timeout`.
    pub fn with_watchdog(self, timeout: Duration) -> Notifier {
        Notifier {
            watchdog: Some(timeout).filter(|t| !t.is_zero()),
            ..self
        }
    }

    /// Whether anyone is listening (else every call is a no-op).
    pub fn is_enabled(&self) -> bool {
        self.socket.is_some()
    }

    /// How often to send [`Notifier::watchdog`]: half the manager's timeout, as sd_watchdog_enabled(3)
    /// recommends. None when there is no watchdog (or no one to send to).
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.socket.as_ref()?;
        self.watchdog.map(|t| t / 2)
    }

    /// Startup is complete: `READY=1` with a first status line.
    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(&one_line(status))]);
    }

    /// A free-form one-line status, shown by `systemctl status`.
    pub fn status(&self, text: &str) {
        self.send(&[NotifyState::Status(&one_line(text))]);
    }

    /// A reload begins. `RELOADING=1` goes with `MONOTONIC_USEC`, which `Type=notify-reload`
    /// requires (systemd 253 and later fail the reload without it); under `Type=notify` the
    /// unit shows "reloading" until [`Notifier::reloaded`].
    pub fn reloading(&self) {
        if !self.is_enabled() {
            return;
        }
        let status = NotifyState::Status("reloading the configuration");
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(&[NotifyState::Reloading, now, status]),
            // Without the timestamp a notify-reload manager would fail the reload: say only
            // what is happening.
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the monotonic clock; reload not announced");
                self.send(&[status]);
            }
        }
    }

    /// A reload finished (well or not; `status` says which): `READY=1` again.
    pub fn reloaded(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(&one_line(status))]);
    }

    /// Shutdown begins: `STOPPING=1`.
    pub fn stopping(&self) {
        self.send(&[
            NotifyState::Stopping,
            NotifyState::Status("stopping: finishing the work in flight"),
        ]);
    }

    /// The service is alive: `WATCHDOG=1`. Send it only after checking that it is.
    pub fn watchdog(&self) {
        self.send(&[NotifyState::Watchdog]);
    }

    /// Until the returned guard is dropped, tells the service manager every [`EXTEND_EVERY`]
    /// that starting goes on (`EXTEND_TIMEOUT_USEC`, [`EXTEND_BY`] from then), with `status`:
    /// opening a database whose migration builds an index over every article takes minutes on
    /// a large one, longer than the unit's `TimeoutStartSec`, and a start killed for it would
    /// roll the migration back and begin again, forever.
    pub fn keep_starting(&self, status: &str) -> Starting {
        if self.socket.is_none() {
            return Starting::default();
        }
        let (me, status) = (self.clone(), one_line(status));
        let extend = u32::try_from(EXTEND_BY.as_micros()).unwrap_or(u32::MAX);
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || loop {
            me.send(&[
                NotifyState::ExtendTimeoutUsec(extend),
                NotifyState::Status(&status),
            ]);
            if stopped.recv_timeout(EXTEND_EVERY) != Err(std::sync::mpsc::RecvTimeoutError::Timeout)
            {
                break;
            }
        });
        Starting {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn send(&self, states: &[NotifyState]) {
        let Some(socket) = &self.socket else {
            return;
        };
        let mut msg = String::new();
        for s in states {
            // Writing to a String cannot fail.
            let _ = writeln!(msg, "{s}");
        }
        let sent = socket.sock.send_to_addr(msg.as_bytes(), &socket.addr);
        match sent {
            Ok(n) if n == msg.len() => {}
            Ok(n) => tracing::warn!(
                sent = n,
                len = msg.len(),
                "service manager notification cut short"
            ),
            Err(e) => {
                tracing::warn!(error = %e, message = %msg.trim_end(), "cannot notify the service manager")
            }
        }
    }
}

impl Socket {
    fn open(target: &OsStr) -> io::Result<Socket> {
        let addr = address(target)?;
        let sock = UnixDatagram::unbound()?;
        sock.set_nonblocking(true)?;
        Ok(Socket { sock, addr })
    }
}

/// `NOTIFY_SOCKET` as an address: a path, or `@name` in Linux's abstract namespace.
fn address(target: &OsStr) -> io::Result<SocketAddr> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = target.as_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            #[cfg(target_os = "android")]
            use std::os::android::net::SocketAddrExt;
            #[cfg(target_os = "linux")]
            use std::os::linux::net::SocketAddrExt;
            return SocketAddr::from_abstract_name(name);
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = name;
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "abstract socket addresses exist only on Linux",
            ));
        }
    }
    if !bytes.starts_with(b"/") {
        // systemd also knows `vsock:` addresses (for VMs); bantin does not run there.
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{target:?} is neither an absolute path nor an @abstract name"),
        ));
    }
    SocketAddr::from_pathname(Path::new(target))
}

/// The watchdog timeout for process `pid`, from `WATCHDOG_USEC` and `WATCHDOG_PID` as
/// sd_watchdog_enabled(3) reads them: a positive number of microseconds, meant for us when
/// `WATCHDOG_PID` is unset or names us (a child that inherited the variables must not answer
/// for its parent).
fn watchdog_timeout(usec: Option<&str>, for_pid: Option<&str>, pid: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|u| *u > 0)?;
    match for_pid {
        Some(p) if p.trim().parse::<u32>().ok() != Some(pid) => None,
        _ => Some(Duration::from_micros(usec)),
    }
}

/// Status lines are one line: the protocol separates fields with newlines.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_timeout_follows_sd_watchdog_enabled() {
        let check = |usec: Option<&str>, for_pid: Option<&str>, expected: Option<u64>| {
            assert_eq!(
                watchdog_timeout(usec, for_pid, 4242),
                expected.map(Duration::from_micros),
                "WATCHDOG_USEC={usec:?} WATCHDOG_PID={for_pid:?}"
            );
        };
        check(None, None, None);
        check(Some("2000000"), None, Some(2_000_000));
        check(Some("2000000"), Some("4242"), Some(2_000_000));
        check(Some("2000000"), Some("1"), None);
        check(Some("2000000"), Some("not a pid"), None);
        check(Some("0"), None, None);
        check(Some("-5"), None, None);
        check(Some("soon"), None, None);
        check(None, Some("4242"), None);
    }

    #[test]
    fn addresses() {
        assert!(address(OsStr::new("/run/systemd/notify")).is_ok());
        assert!(address(OsStr::new("relative/notify")).is_err());
        assert!(address(OsStr::new("vsock:2:1234")).is_err());
        #[cfg(target_os = "linux")]
        assert!(address(OsStr::new("@bantin/notify")).is_ok());
    }

    /// A datagram socket bound in a temp dir, standing in for systemd.
    struct Manager {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        sock: UnixDatagram,
    }

    impl Manager {
        fn new() -> Manager {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("notify");
            let sock = UnixDatagram::bind(&path).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            Manager {
                _dir: dir,
                path,
                sock,
            }
        }

        fn notifier(&self) -> Notifier {
            Notifier::to_socket(&self.path).unwrap()
        }

        /// The next datagram's lines.
        fn next(&self) -> Vec<String> {
            let mut buf = [0u8; 4096];
            let n = self.sock.recv(&mut buf).unwrap();
            let text = std::str::from_utf8(&buf[..n]).unwrap();
            assert!(text.ends_with('\n'), "{text:?}");
            text.lines().map(str::to_string).collect()
        }
    }

    #[test]
    fn messages_arrive_as_datagrams() {
        let m = Manager::new();
        let n = m.notifier();
        assert!(n.is_enabled());

        n.ready("3 sources, none failing");
        assert_eq!(m.next(), ["READY=1", "STATUS=3 sources, none failing"]);
        n.status("two\nlines");
        assert_eq!(m.next(), ["STATUS=two lines"]);
        n.watchdog();
        assert_eq!(m.next(), ["WATCHDOG=1"]);
        let starting = n.keep_starting("opening the database");
        assert_eq!(
            m.next(),
            [
                "EXTEND_TIMEOUT_USEC=60000000",
                "STATUS=opening the database"
            ]
        );
        drop(starting);

        n.reloading();
        let lines = m.next();
        assert_eq!(lines[0], "RELOADING=1");
        let usec: u64 = lines[1]
            .strip_prefix("MONOTONIC_USEC=")
            .unwrap()
            .parse()
            .unwrap();
        assert!(usec > 0);
        assert_eq!(lines[2], "STATUS=reloading the configuration");
        n.reloaded("configuration reloaded");
        assert_eq!(m.next(), ["READY=1", "STATUS=configuration reloaded"]);

        n.stopping();
        assert_eq!(
            m.next(),
            [
                "STOPPING=1",
                "STATUS=stopping: finishing the work in flight"
            ]
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_addresses_work() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("bantin-test-{}", std::process::id());
        let sock =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Notifier::to_socket(format!("@{name}")).unwrap().watchdog();
        let mut buf = [0u8; 64];
        let n = sock.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1\n");
    }

    #[test]
    fn watchdog_interval_is_half_the_timeout() {
        let m = Manager::new();
        assert_eq!(m.notifier().watchdog_interval(), None);
        let n = m.notifier().with_watchdog(Duration::from_secs(60));
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(30)));
        assert_eq!(
            m.notifier()
                .with_watchdog(Duration::ZERO)
                .watchdog_interval(),
            None
        );
        // No one to tell: no watchdog either.
        assert_eq!(
            Notifier::disabled()
                .with_watchdog(Duration::from_secs(60))
                .watchdog_interval(),
            None
        );
    }

    #[test]
    fn a_disabled_notifier_sends_nothing() {
        let n = Notifier::disabled();
        assert!(!n.is_enabled());
        n.ready("x");
        n.status("x");
        n.reloading();
        n.reloaded("x");
        n.stopping();
        n.watchdog();
    }

    #[test]
    fn a_gone_manager_is_logged_not_fatal() {
        let m = Manager::new();
        let n = m.notifier();
        drop(m);
        n.ready("nobody listens");
        n.watchdog();
    }
}
