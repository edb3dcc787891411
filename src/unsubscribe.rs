//! Unsubscribe tokens: what a subscriber may do, signed so nobody else can. Pure (no I/O).
//!
//! A token goes into `List-Unsubscribe` links and the footer links of a digest
//! (`/unsubscribe?token=…`). It carries a [`Request`] and an HMAC-SHA256 over it under the
//! installation's [`Secret`]; the HTTP handler acts only on what [`verify`] returns.
//!
//! ```text
//! message = 0x01                                  format version
//!           LEB128 len(email) ‖ email             UTF-8, lower-cased
//!           0x00                                  every topic
//!         | 0x01 ‖ topic                          one topic (UTF-8, to the end)
//! token   = base64url-no-pad(message ‖ HMAC-SHA256(key, message))     RFC 4648 §5
//! ```
//!
//! Invariants:
//! - The signed bytes are unambiguous: the email is length-prefixed and "every topic" is a
//!   different byte from "the topic named ''", so two different requests never sign the same
//!   bytes. The version is signed too, so a later format cannot be confused with this one.
//! - A token uses only `[A-Za-z0-9_-]`: nothing to escape in a query string or a mail header.
//! - [`verify`] compares the tag in constant time before reading anything else from the
//!   message, and answers [`Invalid`] (never a panic) to any input.
//! - A secret's bytes never appear in `Debug` output or error messages.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::Rng as _;
use sha2::{Digest as _, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// What a token allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub email: String,
    /// None: every topic.
    pub topic: Option<String>,
}

/// The signing key (at least 32 bytes).
#[derive(Clone)]
pub struct Secret(Vec<u8>);

/// Bytes of a generated key, and the least [`Secret::from_hex`] accepts.
const KEY_LEN: usize = 32;
/// Shortest secret text accepted from a secret file or `BANTIN_SECRET`, in characters.
const MIN_TEXT_CHARS: usize = 16;

const VERSION: u8 = 1;
const ALL_TOPICS: u8 = 0;
const ONE_TOPIC: u8 = 1;
/// The whole HMAC-SHA256 output: a typical token is still well under 200 characters, so
/// nothing is gained by truncating it.
const TAG_LEN: usize = 32;
/// Longest token [`verify`] decodes. A token for a 254-octet address (the most RFC 5321
/// allows) and a 64-byte topic is under 500 characters; anything longer is not ours, and is
/// refused before any work proportional to its size.
const MAX_TOKEN_LEN: usize = 1024;

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

// Errors (`SecretError`) deliberately do not quote the offending value: it is a secret.
impl Secret {
    /// From text (a secret file's content or BANTIN_SECRET): trimmed; at least 16 characters,
    /// else Err with a clear message.
    ///
    /// The key is the SHA-256 of the trimmed text, so every secret is 32 bytes whatever its
    /// text, and a trailing newline in the file does not change it.
    pub fn from_text(s: &str) -> Result<Secret, SecretError> {
        let text = s.trim();
        let chars = text.chars().count();
        if chars < MIN_TEXT_CHARS {
            return Err(SecretError::TooShort { chars });
        }
        Ok(Secret(Sha256::digest(text.as_bytes()).to_vec()))
    }

    /// 32 random bytes (stored by the caller in its database as hex).
    pub fn generate() -> Secret {
        // `rand::rng()` is a CSPRNG (ChaCha12) seeded from the operating system.
        let mut key = vec![0u8; KEY_LEN];
        rand::rng().fill(&mut key[..]);
        Secret(key)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// A key [`Secret::to_hex`] wrote (surrounding whitespace ignored).
    pub fn from_hex(s: &str) -> Result<Secret, SecretError> {
        let key = hex::decode(s.trim()).map_err(|_| SecretError::NotHex)?;
        if key.len() < KEY_LEN {
            return Err(SecretError::TooFewBytes { bytes: key.len() });
        }
        Ok(Secret(key))
    }
}

/// Why a text or a stored key is not a usable secret. Never quotes the value: it is a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "secret is too short: {chars} characters (after trimming whitespace), \
         at least {MIN_TEXT_CHARS} needed"
    )]
    TooShort { chars: usize },
    #[error("stored secret is not a hexadecimal string")]
    NotHex,
    #[error("stored secret is {bytes} bytes, at least {KEY_LEN} needed")]
    TooFewBytes { bytes: usize },
}

/// A token is not one we signed: altered, truncated, made with another secret, or garbage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid or altered unsubscribe link")]
pub struct Invalid;

/// A URL-safe token (only `[A-Za-z0-9_-]`) carrying the request, with its email lower-cased,
/// and an HMAC-SHA256 over it.
pub fn token(secret: &Secret, req: &Request) -> String {
    let mut bytes = encode(req);
    let tag = mac(secret, &bytes).finalize().into_bytes();
    bytes.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The request a token carries, if its signature is valid under `secret` (constant-time
/// comparison). Altered, truncated, forged (other secret) or garbage tokens → `Err(Invalid)`.
pub fn verify(secret: &Secret, token: &str) -> Result<Request, Invalid> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Invalid);
    }
    // The decoder rejects padding and non-zero trailing bits, so every character of a token
    // matters: changing one changes the bytes or fails here.
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| Invalid)?;
    let message_len = bytes.len().checked_sub(TAG_LEN).ok_or(Invalid)?;
    let (message, tag) = bytes.split_at(message_len);
    mac(secret, message)
        .verify_slice(tag)
        .map_err(|_| Invalid)?;
    decode(message).ok_or(Invalid)
}

fn mac(secret: &Secret, message: &[u8]) -> HmacSha256 {
    // HMAC accepts a key of any length (RFC 2104 §2); `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(&secret.0).expect("HMAC takes keys of any length");
    mac.update(message);
    mac
}

/// The signed message for `req` (see the module docs for the layout).
fn encode(req: &Request) -> Vec<u8> {
    let email = req.email.to_lowercase();
    let topic = req.topic.as_deref().unwrap_or_default();
    let mut message = Vec::with_capacity(email.len() + topic.len() + 8);
    message.push(VERSION);
    push_len(&mut message, email.len());
    message.extend_from_slice(email.as_bytes());
    match &req.topic {
        None => message.push(ALL_TOPICS),
        Some(topic) => {
            message.push(ONE_TOPIC);
            message.extend_from_slice(topic.as_bytes());
        }
    }
    message
}

/// The request in a signed message; None for anything [`encode`] does not produce.
fn decode(message: &[u8]) -> Option<Request> {
    let (&version, rest) = message.split_first()?;
    if version != VERSION {
        return None;
    }
    let (email_len, rest) = read_len(rest)?;
    let (email, rest) = rest.split_at_checked(email_len)?;
    let topic = match rest.split_first()? {
        (&ALL_TOPICS, []) => None,
        (&ONE_TOPIC, topic) => Some(std::str::from_utf8(topic).ok()?.to_owned()),
        _ => return None,
    };
    let req = Request {
        email: std::str::from_utf8(email).ok()?.to_owned(),
        topic,
    };
    // Only the one encoding `encode` gives: an upper-case email or a padded length is not ours.
    (encode(&req) == message).then_some(req)
}

/// Unsigned LEB128: one byte for lengths under 128, and no upper limit, so [`token`] never
/// has to refuse a request.
fn push_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n & 0x7f) as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads what [`push_len`] wrote. Four groups (2^28) is far beyond [`MAX_TOKEN_LEN`], and the
/// bound keeps the shift from overflowing.
fn read_len(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let mut n = 0usize;
    for (i, &byte) in bytes.iter().enumerate().take(4) {
        n |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((n, &bytes[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng as _;

    /// The characters a token may contain.
    const URL_SAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    fn secret() -> Secret {
        Secret::from_text("correct horse battery staple, nhưng dài hơn").unwrap()
    }

    fn request(email: &str, topic: Option<&str>) -> Request {
        Request {
            email: email.to_string(),
            topic: topic.map(str::to_string),
        }
    }

    fn typical_token() -> String {
        token(
            &secret(),
            &request(
                "nguyen.van.an+tin-tuc@example.com.vn",
                Some("cai-cach-hanh-chinh"),
            ),
        )
    }

    #[test]
    fn round_trip() {
        #[track_caller]
        fn check(email: &str, topic: Option<&str>, expected_email: &str) {
            let secret = secret();
            let got = verify(&secret, &token(&secret, &request(email, topic)));
            assert_eq!(got, Ok(request(expected_email, topic)), "{email} {topic:?}");
        }
        check("an@example.vn", None, "an@example.vn");
        check("an@example.vn", Some("dan-van"), "an@example.vn");
        check("An.Nguyen+Tin@Example.VN", None, "an.nguyen+tin@example.vn");
        check(
            "An.Nguyen+Tin@Example.VN",
            Some("chuyen-doi-so"),
            "an.nguyen+tin@example.vn",
        );
        // Edge cases of the encoding: an empty topic is not "every topic", a NUL is just a byte,
        // an address of 128+ bytes needs a two-byte length.
        check("an@example.vn", Some(""), "an@example.vn");
        check("a\0b@example.vn", None, "a\0b@example.vn");
        check("a@example.vn", Some("b\0c"), "a@example.vn");
        let long = format!("{}@example.vn", "x".repeat(200));
        check(&long, Some("xay-dung-dang"), &long);
        check("", None, "");
    }

    #[test]
    fn different_requests_sign_different_bytes() {
        let requests = [
            request("a@example.vn", None),
            request("a@example.vn", Some("")),
            request("a@example.vn", Some("b")),
            request("a@example.vnb", None),
            request("a@example.vn\0b", None),
            request("a@example.vn\u{1}b", None),
        ];
        for (i, a) in requests.iter().enumerate() {
            for b in &requests[i + 1..] {
                assert_ne!(encode(a), encode(b), "{a:?} and {b:?}");
            }
            assert_eq!(decode(&encode(a)).as_ref(), Some(a));
        }
    }

    #[test]
    fn token_is_url_safe_and_short() {
        let token = typical_token();
        assert!(token.chars().all(|c| URL_SAFE.contains(c)), "{token}");
        assert!(token.len() < 200, "{} characters: {token}", token.len());
        let all = super::token(
            &secret(),
            &request("Nguyen.Van.An+Tin@Example.com.vn", None),
        );
        assert!(all.chars().all(|c| URL_SAFE.contains(c)), "{all}");
        assert!(all.len() < 200, "{} characters: {all}", all.len());
    }

    #[test]
    fn any_changed_character_is_invalid() {
        let secret = secret();
        for token in [
            typical_token(),
            // Lengths 1 and 2 modulo 3 end in a character with unused bits.
            super::token(&secret, &request("a@b.vn", None)),
            super::token(&secret, &request("ab@b.vn", None)),
            super::token(&secret, &request("abc@b.vn", None)),
        ] {
            assert!(verify(&secret, &token).is_ok());
            let chars: Vec<char> = token.chars().collect();
            for i in 0..chars.len() {
                for replacement in URL_SAFE.chars().chain(['.', '=', '+', '/', ' ', 'đ']) {
                    if replacement == chars[i] {
                        continue;
                    }
                    let mut altered = chars.clone();
                    altered[i] = replacement;
                    let altered: String = altered.into_iter().collect();
                    assert_eq!(verify(&secret, &altered), Err(Invalid), "{altered}");
                }
            }
        }
    }

    #[test]
    fn another_secret_is_invalid() {
        let token = typical_token();
        let others = [
            Secret::from_text("correct horse battery staple, nhưng dài hơn!").unwrap(),
            Secret::generate(),
        ];
        for other in &others {
            assert_eq!(verify(other, &token), Err(Invalid));
        }
    }

    #[test]
    fn truncated_extended_and_garbage_are_invalid() {
        let secret = secret();
        let token = typical_token();
        for end in 0..token.len() {
            assert_eq!(verify(&secret, &token[..end]), Err(Invalid), "{end}");
            assert_eq!(verify(&secret, &token[end + 1..]), Err(Invalid), "{end}");
        }
        let garbage = [
            String::new(),
            "=".to_string(),
            ".".to_string(),
            format!("{token}="),
            format!("{token}A"),
            format!("{token}AAAA"),
            format!("{token}.{token}"),
            format!(" {token}"),
            format!("{token}\n"),
            "%00".to_string(),
            "tất cả".to_string(),
            "A".repeat(43),
            "A".repeat(MAX_TOKEN_LEN),
            "A".repeat(1 << 20),
            token.repeat(1000),
        ];
        for input in &garbage {
            assert_eq!(verify(&secret, input), Err(Invalid), "{input:.80}");
        }
    }

    #[test]
    fn a_signed_message_of_another_version_is_invalid() {
        let secret = secret();
        let mut message = encode(&request("an@example.vn", None));
        message[0] = VERSION + 1;
        let tag = mac(&secret, &message).finalize().into_bytes();
        message.extend_from_slice(&tag);
        assert_eq!(
            verify(&secret, &URL_SAFE_NO_PAD.encode(message)),
            Err(Invalid)
        );
    }

    #[test]
    fn random_input_never_panics() {
        let secret = secret();
        let mut rng = StdRng::seed_from_u64(0x6261_6e74_696e);
        let alphabet: Vec<char> = URL_SAFE.chars().chain(['.', '=', '%', 'ệ', '\0']).collect();
        for _ in 0..3000 {
            // Strings of token characters (and a few others).
            let len = rng.random_range(0..300);
            let text: String = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            assert_eq!(verify(&secret, &text), Err(Invalid));

            // Well-formed base64 of random bytes: reaches the tag check.
            let mut bytes = vec![0u8; rng.random_range(0..200)];
            rng.fill(&mut bytes[..]);
            assert_eq!(
                verify(&secret, &URL_SAFE_NO_PAD.encode(&bytes)),
                Err(Invalid)
            );

            // The parser behind the tag check: total on any bytes, and the same answer after
            // a round through `encode`.
            if let Some(req) = decode(&bytes) {
                assert_eq!(decode(&encode(&req)), Some(req));
            }
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let secret = Secret::generate();
        let debug = format!("{secret:?}");
        assert_eq!(debug, "Secret(…)");
        assert!(!debug.contains(&secret.to_hex()[..8]));
    }

    #[test]
    fn from_text() {
        #[track_caller]
        fn check(text: &str, ok: bool) {
            let got = Secret::from_text(text);
            assert_eq!(got.is_ok(), ok, "{text:?}: {got:?}");
            if let Err(error) = got {
                let message = error.to_string();
                assert!(message.contains("at least 16"), "{message}");
                // Never echo the secret.
                if !text.trim().is_empty() {
                    assert!(!message.contains(text.trim()), "{message}");
                }
            }
        }
        check("0123456789abcdef", true);
        check("  0123456789abcdef\n", true);
        check("ủy ban nhân dân tỉnh", true);
        check("0123456789abcde", false);
        check("  0123456789abcde \n", false);
        check("mật khẩu ngắn", false);
        check(" \n", false);
        check("", false);

        // Surrounding whitespace (a file's final newline) does not change the key.
        let a = Secret::from_text("0123456789abcdef").unwrap();
        let b = Secret::from_text("\t0123456789abcdef\r\n").unwrap();
        assert_eq!(a.to_hex(), b.to_hex());
        assert_eq!(a.to_hex().len(), 2 * KEY_LEN);
    }

    #[test]
    fn hex_round_trip() {
        let secret = Secret::generate();
        let hex = secret.to_hex();
        assert_eq!(hex.len(), 2 * KEY_LEN);
        let back = Secret::from_hex(&hex).unwrap();
        assert_eq!(back.to_hex(), hex);
        assert_eq!(Secret::from_hex(&format!("{hex}\n")).unwrap().to_hex(), hex);
        let request = request("an@example.vn", Some("dan-van"));
        assert_eq!(verify(&back, &token(&secret, &request)), Ok(request));

        assert_ne!(Secret::generate().to_hex(), hex);
        for bad in ["", "zz", &hex[..62], &hex[1..], &format!("{}g", &hex[1..])] {
            assert!(Secret::from_hex(bad).is_err(), "{bad:?}");
        }
    }
}
