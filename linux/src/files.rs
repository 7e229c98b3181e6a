//! The files a process can read: a [`FileView`] answers by path. The CLI gives host files
//! read-only (`HostFiles`, with the `host` feature: the library itself never touches the
//! file system, so it builds for the page too); the page
//! gives an in-memory set ([`MemFiles`]). Nothing is ever written through a view.

use std::collections::BTreeMap;
use std::sync::Arc;

/// What a path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A regular file and its bytes.
    File(Arc<Vec<u8>>),
    /// A directory.
    Dir,
    /// A symbolic link and its target.
    Link(String),
}

/// Read-only access to files by absolute path.
pub trait FileView {
    /// What `path` (absolute, already normalised) names, or `None` if nothing does.
    fn get(&self, path: &str) -> Option<Entry>;
}

/// An in-memory set of files.
#[derive(Clone, Debug, Default)]
pub struct MemFiles {
    entries: BTreeMap<String, Entry>,
}

impl MemFiles {
    /// No files at all.
    pub fn new() -> MemFiles {
        MemFiles::default()
    }

    /// Adds a file (and makes its parent directories exist).
    pub fn add(&mut self, path: &str, bytes: Vec<u8>) {
        let path = normalise("/", path);
        let mut dir = path.as_str();
        while let Some(i) = dir.rfind('/') {
            dir = &dir[..i];
            self.entries
                .entry(if dir.is_empty() { "/" } else { dir }.to_string())
                .or_insert(Entry::Dir);
        }
        self.entries.insert(path, Entry::File(Arc::new(bytes)));
    }
}

impl FileView for MemFiles {
    fn get(&self, path: &str) -> Option<Entry> {
        self.entries.get(path).cloned()
    }
}

/// No files: every open fails with `ENOENT`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFiles;

impl FileView for NoFiles {
    fn get(&self, _: &str) -> Option<Entry> {
        None
    }
}

/// What `path` names after following symbolic links (at most 40, as `fs/namei.c` allows
/// before ELOOP), a link's target taken relative to the link's directory. Links in the
/// middle of a path are the view's to resolve (the host's file system does).
pub fn follow(view: &dyn FileView, path: &str) -> Option<Entry> {
    let mut path = path.to_string();
    for _ in 0..40 {
        match view.get(&path)? {
            Entry::Link(target) => {
                let dir = match path.rsplit_once('/') {
                    Some((d, _)) if !d.is_empty() => d.to_string(),
                    _ => "/".to_string(),
                };
                path = normalise(&dir, &target);
            }
            e => return Some(e),
        }
    }
    None
}

/// Joins `path` to `cwd` when it is relative and removes `.`, `..` and repeated slashes,
/// as path lookup does (`fs/namei.c`), without following links.
pub fn normalise(cwd: &str, path: &str) -> String {
    let full = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{cwd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in full.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The host's files, read-only: what the process opens, `stat`s and maps (the dynamic
/// loader and shared libraries of a cgo program among them).
#[cfg(feature = "host")]
#[derive(Clone, Copy, Debug, Default)]
pub struct HostFiles;

#[cfg(feature = "host")]
impl FileView for HostFiles {
    fn get(&self, path: &str) -> Option<Entry> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(path).ok()?;
            return Some(Entry::Link(target.to_string_lossy().into_owned()));
        }
        if meta.is_dir() {
            return Some(Entry::Dir);
        }
        if !meta.is_file() {
            return None;
        }
        std::fs::read(path).ok().map(|b| Entry::File(Arc::new(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_as_lookup_does() {
        assert_eq!(normalise("/home/u", "a/../b/./c"), "/home/u/b/c");
        assert_eq!(normalise("/x", "/etc//passwd"), "/etc/passwd");
        assert_eq!(normalise("/", ".."), "/");
    }

    #[test]
    fn a_file_makes_its_directories() {
        let mut f = MemFiles::new();
        f.add("/usr/lib/x.so", vec![1]);
        assert_eq!(f.get("/usr/lib"), Some(Entry::Dir));
        assert_eq!(f.get("/usr"), Some(Entry::Dir));
        assert!(matches!(f.get("/usr/lib/x.so"), Some(Entry::File(_))));
        assert_eq!(f.get("/nope"), None);
    }
}
