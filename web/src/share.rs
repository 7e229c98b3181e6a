//! Shared links: the URL fragment names the lesson, the Go release, the step (and which
//! thread ran each step, when more than one did) and the learner's edits of the sources,
//! so that opening the link restores that exact state.
//!
//! Format, version 1 (`v=1`), `&`-separated `key=value` pairs after `#`:
//! `v=1&lesson=asmcgocall&go=1.14&step=42[&sched=a.40,1.2][&src=…]`. `sched` lists
//! runs of steps: `thread.steps` when one thread was stepped, `a.steps` when the schedule
//! chose (the first version of the page wrote only the former; both mean what they
//! meant). `src` is the edits, each as `<name length>:<name><text length>:<text>`
//! (lengths in bytes, decimal), deflated (raw DEFLATE, miniz_oxide) and base64url without
//! padding. Unknown keys are ignored, so a later version may add some; a later version that
//! changes a key's meaning bumps `v`, and this decoder keeps reading every older version.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use session::GoRelease;

/// The current version of the format.
pub const VERSION: u32 = 1;
/// The largest source a link may inflate to: a bad link must not exhaust memory.
const MAX_SOURCE_BYTES: usize = 4 << 20;

/// What a link restores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The lesson's id.
    pub lesson: String,
    /// The Go release.
    pub release: GoRelease,
    /// The step.
    pub step: u64,
    /// How each step was taken: (thread, steps) runs, the thread `None` when the
    /// schedule chose; None when the schedule chose them all.
    pub schedule: Option<Vec<(Option<usize>, u64)>>,
    /// Edited sources: (file, text).
    pub edits: Vec<(String, String)>,
}

/// `1.14` for a release.
pub fn release_name(r: GoRelease) -> String {
    r.to_string()
}

/// The release a name such as `1.24` names.
pub fn parse_release(s: &str) -> Option<GoRelease> {
    GoRelease::named(s)
}

/// The fragment for a link, without the `#`.
pub fn encode(link: &Link) -> String {
    let mut out = format!(
        "v={VERSION}&lesson={}&go={}&step={}",
        escape(&link.lesson),
        release_name(link.release),
        link.step
    );
    if let Some(s) = &link.schedule {
        let runs: Vec<String> = s
            .iter()
            .map(|(t, n)| match t {
                Some(t) => format!("{t}.{n}"),
                None => format!("a.{n}"),
            })
            .collect();
        out.push_str("&sched=");
        out.push_str(&runs.join(","));
    }
    if !link.edits.is_empty() {
        let mut raw = Vec::new();
        for (name, text) in &link.edits {
            for part in [name, text] {
                raw.extend_from_slice(format!("{}:", part.len()).as_bytes());
                raw.extend_from_slice(part.as_bytes());
            }
        }
        let packed = miniz_oxide::deflate::compress_to_vec(&raw, 9);
        out.push_str("&src=");
        out.push_str(&URL_SAFE_NO_PAD.encode(packed));
    }
    out
}

/// Reads a fragment (with or without its `#`). An empty fragment is not a link (None).
pub fn decode(fragment: &str) -> Result<Option<Link>, String> {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    if fragment.is_empty() {
        return Ok(None);
    }
    let pairs: Vec<(&str, &str)> = fragment
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    match get(&pairs, "v") {
        Some("1") => decode_v1(&pairs).map(Some),
        Some(v) => Err(format!(
            "this link is of format version {v}; this page reads up to version {VERSION}"
        )),
        None => Err("this link has no format version (v=…)".to_string()),
    }
}

/// The value of `key` among the pairs.
fn get<'a>(pairs: &[(&str, &'a str)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn decode_v1(pairs: &[(&str, &str)]) -> Result<Link, String> {
    let get = |key: &str| get(pairs, key);
    let lesson = unescape(get("lesson").unwrap_or("demo"))?;
    let release = match get("go") {
        // Links made before the page had a release picker ran go1.14 (then the only
        // release): they keep meaning it, whatever the page now opens with.
        None => GoRelease::named("1.14").unwrap_or_else(GoRelease::oldest),
        Some(r) => parse_release(r).ok_or_else(|| format!("unknown Go release {r:?}"))?,
    };
    let step = match get("step") {
        None => 0,
        Some(s) => s.parse().map_err(|_| format!("bad step {s:?}"))?,
    };
    let schedule = match get("sched") {
        None | Some("") => None,
        Some(s) => Some(
            s.split(',')
                .map(|run| {
                    let (t, n) = run.split_once('.')?;
                    let t = match t {
                        "a" => None,
                        t => Some(t.parse().ok()?),
                    };
                    Some((t, n.parse().ok()?))
                })
                .collect::<Option<Vec<(Option<usize>, u64)>>>()
                .ok_or_else(|| format!("bad schedule {s:?}"))?,
        ),
    };
    let edits = match get("src") {
        None | Some("") => Vec::new(),
        Some(s) => {
            let packed = URL_SAFE_NO_PAD
                .decode(s)
                .map_err(|e| format!("the edited source is damaged ({e})"))?;
            let raw = miniz_oxide::inflate::decompress_to_vec_with_limit(&packed, MAX_SOURCE_BYTES)
                .map_err(|e| format!("the edited source is damaged ({e:?})"))?;
            unpack(&raw)?
        }
    };
    Ok(Link {
        lesson,
        release,
        step,
        schedule,
        edits,
    })
}

/// Splits `<len>:<bytes>` pieces into (name, text) pairs.
fn unpack(mut raw: &[u8]) -> Result<Vec<(String, String)>, String> {
    let damaged = || "the edited source is damaged".to_string();
    let mut parts = Vec::new();
    while !raw.is_empty() {
        let colon = raw.iter().position(|&b| b == b':').ok_or_else(damaged)?;
        let len: usize = std::str::from_utf8(&raw[..colon])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(damaged)?;
        let rest = &raw[colon + 1..];
        if rest.len() < len {
            return Err(damaged());
        }
        parts.push(String::from_utf8(rest[..len].to_vec()).map_err(|_| damaged())?);
        raw = &rest[len..];
    }
    if parts.len() % 2 != 0 {
        return Err(damaged());
    }
    Ok(parts
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect())
}

/// Lesson ids are plain words; anything else is %-escaped.
fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn unescape(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad escape in {s:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("bad text {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> Link {
        Link {
            lesson: "demo".to_string(),
            release: GoRelease::named("1.24").unwrap(),
            step: 42,
            schedule: Some(vec![(None, 40), (Some(1), 2)]),
            edits: vec![(
                "harness.s".to_string(),
                "TEXT ·main(SB), 4, $0\n\tMOVQ\t$1, AX // é, : and &=#\n\tINT\t$3\n".to_string(),
            )],
        }
    }

    #[test]
    fn links_round_trip() {
        let l = link();
        let fragment = encode(&l);
        assert!(fragment.starts_with("v=1&lesson=demo&go=1.24&step=42&sched=a.40,1.2&src="));
        assert_eq!(decode(&format!("#{fragment}")), Ok(Some(l)));
        let plain = Link {
            schedule: None,
            edits: Vec::new(),
            ..link()
        };
        assert_eq!(encode(&plain), "v=1&lesson=demo&go=1.24&step=42");
        assert_eq!(decode(&encode(&plain)), Ok(Some(plain)));
    }

    #[test]
    fn a_link_without_a_release_is_go1_14() {
        let l = decode("#v=1&lesson=asmcgocall&step=2").unwrap().unwrap();
        assert_eq!(l.release, GoRelease::named("1.14").unwrap());
        assert_ne!(l.release, GoRelease::latest(), "not the page's default");
        let l = decode("#v=1&lesson=asmcgocall&go=1.27&step=2")
            .unwrap()
            .unwrap();
        assert_eq!(l.release.key, "go1_27");
    }

    #[test]
    fn version_1_links_keep_decoding() {
        // Written by the first version of the page: it must always open the same way.
        let old = "v=1&lesson=demo&go=1.14&step=7&src=AToAxf85Omhhcm5lc3MuczQ0OlRFWFQgwrdtYWluKFNCKSwgNCwgJDAKCU1PVlEJJDcsIEFYCglJTlQJJDMK";
        let l = decode(old).unwrap().unwrap();
        assert_eq!(l.step, 7);
        assert_eq!(l.release, GoRelease::named("1.14").unwrap());
        assert_eq!(l.schedule, None);
        assert_eq!(l.edits.len(), 1);
        assert_eq!(l.edits[0].0, "harness.s");
        assert!(
            l.edits[0].1.starts_with("TEXT ·main(SB)"),
            "{:?}",
            l.edits[0].1
        );
    }

    #[test]
    fn bad_links_are_errors() {
        assert_eq!(decode(""), Ok(None));
        assert_eq!(decode("#"), Ok(None));
        assert!(decode("v=2&step=1").unwrap_err().contains("version 2"));
        assert!(decode("step=1").is_err());
        assert!(decode("v=1&step=x").is_err());
        assert!(decode("v=1&go=1.99").is_err());
        assert!(decode("v=1&src=!!!").is_err());
        assert!(decode("v=1&src=AAAA").is_err());
        assert!(decode("v=1&sched=0.1,x").is_err());
        assert!(decode("v=1&sched=b.1").is_err());
        assert_eq!(
            decode("v=1&sched=0.3,a.2").unwrap().unwrap().schedule,
            Some(vec![(Some(0), 3), (None, 2)])
        );
        // Unknown keys are left for later versions.
        assert_eq!(decode("v=1&step=3&future=1").unwrap().unwrap().step, 3);
    }
}
