//! Local files laid out like the archive: walk folders, keep log-like files, order by the
//! time in their key (then by key) so findings do not depend on directory order.

use std::path::{Path, PathBuf};

use super::{ObjectRef, key_time};

/// A local file to replay.
#[derive(Debug, Clone)]
pub struct LocalObject {
    pub path: PathBuf,
    pub object: ObjectRef,
    pub time: Option<i64>,
    pub size: u64,
}

/// Lists the objects under each path (a file, or a folder walked recursively). Keys are paths
/// relative to the folder given (for a file: its name).
pub fn list(paths: &[PathBuf]) -> anyhow::Result<Vec<LocalObject>> {
    let mut out = Vec::new();
    for root in paths {
        let meta = std::fs::metadata(root).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e}; give a file or a folder of log objects",
                root.display()
            )
        })?;
        if meta.is_file() {
            let key = root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push(entry(root, key, meta.len()));
            continue;
        }
        for e in walkdir::WalkDir::new(root).follow_links(true) {
            let e = e.map_err(|e| anyhow::anyhow!("while walking {}: {e}", root.display()))?;
            if !e.file_type().is_file() || !super::log_like(&e.file_name().to_string_lossy()) {
                continue;
            }
            let rel = e.path().strip_prefix(root).unwrap_or(e.path());
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let size = e.metadata().map(|m| m.len()).unwrap_or(0);
            out.push(entry(e.path(), key, size));
        }
    }
    sort(&mut out);
    Ok(out)
}

fn entry(path: &Path, key: String, size: u64) -> LocalObject {
    LocalObject {
        path: path.to_path_buf(),
        time: key_time(&key),
        object: ObjectRef::local(key),
        size,
    }
}

/// Objects with a time in their key first, by that time; then the rest by key.
pub fn sort(objects: &mut [LocalObject]) {
    objects.sort_by(|a, b| {
        super::replay_order(a.time, &a.object.key).cmp(&super::replay_order(b.time, &b.object.key))
    });
}
