//! Worker discovery without running PHP: read Composer's metadata (the installed packages and
//! the project's own autoload), list the PHP files their autoload rules cover, read the class
//! declarations in them, and return the concrete classes that extend or implement one of the
//! given roots (directly or through other scanned classes). PHP then loads and validates only
//! these candidates — no unrelated class is ever autoloaded.

mod lexer;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;

pub use lexer::{Declaration, Kind, declarations};

use crate::error::{Error, Result};

/// What to look for, and where.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// The project directory holding `composer.json` and `vendor/` (Evolution CMS: `core/`).
    pub root: PathBuf,
    /// Fully qualified classes or interfaces a worker extends or implements.
    pub roots: Vec<String>,
    /// Namespace prefixes whose classes are never candidates (they may still be parents).
    pub exclude: Vec<String>,
    /// A file remembering what each PHP file declared (by size and modification time), so that
    /// the next scan reads only files that changed. Optional.
    pub cache: Option<PathBuf>,
}

/// A class that looks like a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub class: String,
    pub file: PathBuf,
    /// The Composer package it belongs to (`project` for the project's own code).
    pub package: String,
}

/// What a scan found and how much it read.
#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    pub candidates: Vec<Candidate>,
    pub packages: usize,
    pub files: usize,
    pub elapsed_ms: f64,
    /// Problems that did not stop the scan (an unreadable directory, a malformed manifest).
    pub warnings: Vec<String>,
    /// Files parsed in this scan (the others came from the cache).
    pub parsed: usize,
}

/// What one PHP file declared, and the size and modification time it had.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct CachedFile {
    size: u64,
    mtime_ns: i128,
    decls: Vec<Declaration>,
}

type Cache = HashMap<PathBuf, CachedFile>;

fn load_cache(path: &Path) -> Cache {
    std::fs::read(path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
}

/// Written atomically; a cache that cannot be written only costs the next scan some time.
fn save_cache(path: &Path, cache: &Cache) {
    if let Ok(json) = serde_json::to_vec(cache) {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, json).and_then(|_| std::fs::rename(&tmp, path)).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// A directory or file that one package's autoload rules cover.
#[derive(Debug, Clone)]
struct Source {
    package: String,
    path: PathBuf,
}

/// Scans the project. Fails only when the project directory itself is unusable.
pub fn scan(options: &ScanOptions) -> Result<ScanReport> {
    let started = Instant::now();
    if !options.root.is_dir() {
        return Err(Error::invalid(format!("project directory {} does not exist", options.root.display())));
    }
    let mut report = ScanReport::default();
    let sources = autoload_sources(&options.root, &mut report);
    let files = php_files(&sources, &mut report);
    report.files = files.len();

    let cache = options.cache.as_deref().map(load_cache).unwrap_or_default();
    let (parsed, fresh) = parse_all(&files, &cache);
    report.parsed = fresh.len();
    if let Some(path) = &options.cache {
        // Keep only files that still exist, with what they declare now.
        let mut next: Cache = HashMap::with_capacity(files.len());
        for ((file, _), (decls, stamp)) in files.iter().zip(parsed.iter()) {
            if let Some((size, mtime_ns)) = stamp {
                next.insert(file.clone(), CachedFile { size: *size, mtime_ns: *mtime_ns, decls: decls.clone() });
            }
        }
        if next.len() != cache.len() || !fresh.is_empty() {
            save_cache(path, &next);
        }
    }
    let parsed: Vec<Vec<Declaration>> = parsed.into_iter().map(|(d, _)| d).collect();
    let mut by_name: HashMap<String, (Declaration, usize)> = HashMap::new();
    for (index, decls) in parsed.into_iter().enumerate() {
        for d in decls {
            by_name.entry(d.name.to_ascii_lowercase()).or_insert((d, index));
        }
    }
    let roots: HashSet<String> =
        options.roots.iter().map(|r| r.trim_start_matches('\\').to_ascii_lowercase()).collect();
    let mut memo: HashMap<String, bool> = HashMap::new();
    let mut candidates = Vec::new();
    for (key, (decl, index)) in &by_name {
        if decl.kind != Kind::Class || decl.is_abstract || roots.contains(key) {
            continue;
        }
        if options.exclude.iter().any(|prefix| starts_with_namespace(&decl.name, prefix)) {
            continue;
        }
        if is_worker(key, &by_name, &roots, &mut memo, &mut HashSet::new()) {
            let (file, package) = &files[*index];
            candidates.push(Candidate { class: decl.name.clone(), file: file.clone(), package: package.clone() });
        }
    }
    candidates.sort_by(|a, b| a.class.cmp(&b.class));
    report.candidates = candidates;
    report.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(report)
}

fn starts_with_namespace(class: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_start_matches('\\').trim_end_matches('\\');
    !prefix.is_empty()
        && class.len() >= prefix.len()
        && class[..prefix.len()].eq_ignore_ascii_case(prefix)
        && (class.len() == prefix.len() || class.as_bytes()[prefix.len()] == b'\\')
}

fn is_worker(
    key: &str,
    by_name: &HashMap<String, (Declaration, usize)>,
    roots: &HashSet<String>,
    memo: &mut HashMap<String, bool>,
    visiting: &mut HashSet<String>,
) -> bool {
    if roots.contains(key) {
        return true;
    }
    if let Some(&known) = memo.get(key) {
        return known;
    }
    if !visiting.insert(key.to_owned()) {
        return false; // a cycle: broken code, not a worker
    }
    let result = by_name.get(key).is_some_and(|(decl, _)| {
        decl.extends
            .iter()
            .chain(&decl.implements)
            .any(|parent| is_worker(&parent.to_ascii_lowercase(), by_name, roots, memo, visiting))
    });
    visiting.remove(key);
    memo.insert(key.to_owned(), result);
    result
}

/// Every directory or file the project's and its packages' autoload rules cover.
fn autoload_sources(root: &Path, report: &mut ScanReport) -> Vec<Source> {
    let mut sources = Vec::new();
    // The project's own code: composer.json, and Evolution CMS's custom/composer.json (merged
    // into the root by the merge plugin).
    for manifest in [root.join("composer.json"), root.join("custom").join("composer.json")] {
        if let Some(json) = read_json(&manifest, report) {
            let base = manifest.parent().unwrap_or(root).to_path_buf();
            add_autoload(&json, &base, "project", &mut sources);
        }
    }
    let installed = root.join("vendor").join("composer").join("installed.json");
    if let Some(json) = read_json(&installed, report) {
        // Composer 2 wraps the list in {"packages": […]}; Composer 1 wrote the bare list.
        let packages = json.get("packages").and_then(Value::as_array).or_else(|| json.as_array());
        for package in packages.into_iter().flatten() {
            let name = package.get("name").and_then(Value::as_str).unwrap_or("unknown").to_owned();
            let path = match package.get("install-path").and_then(Value::as_str) {
                Some(rel) => root.join("vendor").join("composer").join(rel),
                None => root.join("vendor").join(&name),
            };
            report.packages += 1;
            add_autoload(package, &path, &name, &mut sources);
        }
    }
    sources
}

fn read_json(path: &Path, report: &mut ScanReport) -> Option<Value> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            report.warnings.push(format!("{} is not valid JSON: {e}", path.display()));
            None
        }
    }
}

fn add_autoload(manifest: &Value, base: &Path, package: &str, out: &mut Vec<Source>) {
    let Some(autoload) = manifest.get("autoload") else { return };
    for kind in ["psr-4", "psr-0"] {
        if let Some(map) = autoload.get(kind).and_then(Value::as_object) {
            for dirs in map.values() {
                let list: Vec<&str> = match dirs {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                for dir in list {
                    out.push(Source { package: package.to_owned(), path: base.join(dir) });
                }
            }
        }
    }
    if let Some(list) = autoload.get("classmap").and_then(Value::as_array) {
        for entry in list.iter().filter_map(Value::as_str) {
            out.push(Source { package: package.to_owned(), path: base.join(entry) });
        }
    }
}

/// The `.php` files under the sources, each once, following symlinks (Composer path
/// repositories are symlinks) without looping.
fn php_files(sources: &[Source], report: &mut ScanReport) -> Vec<(PathBuf, String)> {
    let mut seen_dirs: HashSet<(u64, u64)> = HashSet::new();
    let mut seen_files: HashSet<(u64, u64)> = HashSet::new();
    // Files listed in a directory are known by (directory, name): no stat each.
    let mut seen_entries: HashSet<((u64, u64), std::ffi::OsString)> = HashSet::new();
    let mut files = Vec::new();
    for source in sources {
        let mut stack = vec![source.path.clone()];
        while let Some(path) = stack.pop() {
            // metadata() follows symlinks; (device, inode) identifies a file or directory
            // however it was reached, without resolving every path component.
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            let id = file_id(&meta);
            if meta.is_file() {
                if path.extension().is_some_and(|e| e == "php") && seen_files.insert(id) {
                    files.push((path, source.package.clone()));
                }
                continue;
            }
            if !seen_dirs.insert(id) {
                continue;
            }
            match std::fs::read_dir(&path) {
                Ok(entries) => {
                    for entry in entries.flatten() {
                        let name = entry.file_name();
                        let name = name.to_string_lossy();
                        // Nested vendor trees and VCS/hidden directories hold no autoloaded code.
                        if name.starts_with('.') || name == "vendor" || name == "node_modules" {
                            continue;
                        }
                        match entry.file_type() {
                            // Plain files are taken from the listing, without another stat.
                            Ok(t) if t.is_file() => {
                                if name.ends_with(".php") && seen_entries.insert((id, entry.file_name())) {
                                    files.push((entry.path(), source.package.clone()));
                                }
                            }
                            Ok(t) if t.is_dir() || t.is_symlink() => stack.push(entry.path()),
                            _ => {}
                        }
                    }
                }
                Err(e) => report.warnings.push(format!("cannot read {}: {e}", path.display())),
            }
        }
    }
    files
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    (
        meta.len(),
        meta.modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64),
    )
}

/// Size and modification time, which say whether a cached parse is still good.
fn stamp(meta: &std::fs::Metadata) -> Option<(u64, i128)> {
    let mtime = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some((meta.len(), mtime.as_nanos() as i128))
}

/// Reads a file with as few system calls as possible: one read when it fits the buffer.
fn read_small(path: &Path, buf: &mut Vec<u8>) -> std::io::Result<std::fs::Metadata> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    buf.clear();
    buf.resize(meta.len() as usize + 1, 0);
    let mut filled = 0;
    loop {
        let n = file.read(&mut buf[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
    buf.truncate(filled);
    Ok(meta)
}

type Parsed = (Vec<Declaration>, Option<(u64, i128)>);

/// Parses files on all cores, reusing the cached parse of files whose size and modification
/// time did not change. A file that mentions neither `extends` nor `implements` declares no
/// subclass and is not tokenized. Returns each file's declarations and stamp, and which files
/// were read.
fn parse_all(files: &[(PathBuf, String)], cache: &Cache) -> (Vec<Parsed>, Vec<usize>) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let parse = |(path, _): &(PathBuf, String), buf: &mut Vec<u8>| -> (Parsed, bool) {
        if let Some(hit) = cache.get(path) {
            if let Some(now) = std::fs::metadata(path).ok().as_ref().and_then(stamp) {
                if now == (hit.size, hit.mtime_ns) {
                    return ((hit.decls.clone(), Some(now)), false);
                }
            }
        }
        let Ok(meta) = read_small(path, buf) else { return ((Vec::new(), None), true) };
        let text = String::from_utf8_lossy(buf);
        let decls =
            if text.contains("extends") || text.contains("implements") { declarations(&text) } else { Vec::new() };
        ((decls, stamp(&meta)), true)
    };
    let run = |part: &[(PathBuf, String)]| -> Vec<(Parsed, bool)> {
        let mut buf = Vec::with_capacity(64 * 1024);
        part.iter().map(|f| parse(f, &mut buf)).collect()
    };
    let results: Vec<(Parsed, bool)> = if files.len() < 64 || threads == 1 {
        run(files)
    } else {
        let chunk = files.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = files.chunks(chunk).map(|part| scope.spawn(move || run(part))).collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
        })
    };
    let fresh = results.iter().enumerate().filter(|(_, (_, read))| *read).map(|(i, _)| i).collect();
    (results.into_iter().map(|(p, _)| p).collect(), fresh)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    const ROOTS: [&str; 2] = ["Seiger\\sTask\\Workers\\BaseWorker", "Seiger\\sTask\\Contracts\\TaskInterface"];

    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "composer.json", r#"{"autoload": {"psr-4": {"App\\": "app/"}}}"#);
        write(
            root,
            "app/Workers/Report.php",
            "<?php namespace App\\Workers; use Seiger\\sTask\\Workers\\BaseWorker; class Report extends BaseWorker {}",
        );
        write(root, "app/Plain.php", "<?php namespace App; class Plain extends \\ArrayObject {}");
        write(
            root,
            "vendor/composer/installed.json",
            r#"{"packages": [
                {"name": "seiger/stask", "install-path": "../seiger/stask", "autoload": {"psr-4": {"Seiger\\sTask\\": "src/"}}},
                {"name": "shop/catalog", "install-path": "../shop/catalog", "autoload": {"psr-4": {"Shop\\": ["src/", "lib/"]}, "classmap": ["legacy/"]}},
                {"name": "noise/lib", "install-path": "../noise/lib", "autoload": {"psr-4": {"Noise\\": "src/"}}}
            ]}"#,
        );
        write(
            root,
            "vendor/seiger/stask/src/Workers/BaseWorker.php",
            "<?php namespace Seiger\\sTask\\Workers; use Seiger\\sTask\\Contracts\\TaskInterface; abstract class BaseWorker implements TaskInterface {}",
        );
        write(
            root,
            "vendor/seiger/stask/src/Contracts/TaskInterface.php",
            "<?php namespace Seiger\\sTask\\Contracts; interface TaskInterface {}",
        );
        write(
            root,
            "vendor/seiger/stask/src/Workers/ArtisanWorker.php",
            "<?php namespace Seiger\\sTask\\Workers; class ArtisanWorker extends BaseWorker {}",
        );
        write(
            root,
            "vendor/shop/catalog/src/ProductWorker.php",
            "<?php namespace Shop; use Seiger\\sTask\\Workers\\BaseWorker as Base; class ProductWorker extends Base {}",
        );
        write(
            root,
            "vendor/shop/catalog/src/SpecialProduct.php",
            "<?php namespace Shop; final class SpecialProduct extends ProductWorker {}",
        );
        write(
            root,
            "vendor/shop/catalog/lib/AbstractSync.php",
            "<?php namespace Shop; abstract class AbstractSync extends \\Seiger\\sTask\\Workers\\BaseWorker {}",
        );
        write(
            root,
            "vendor/shop/catalog/lib/Bare.php",
            "<?php namespace Shop; class Bare implements \\Seiger\\sTask\\Contracts\\TaskInterface {}",
        );
        write(
            root,
            "vendor/shop/catalog/legacy/old.php",
            "<?php class Legacy_Worker extends Seiger\\sTask\\Workers\\BaseWorker {}",
        );
        write(root, "vendor/noise/lib/src/Thing.php", "<?php namespace Noise; class Thing extends Other {}");
        write(
            root,
            "vendor/noise/lib/src/Excluded/Job.php",
            "<?php namespace Noise\\Excluded; class Job extends \\Shop\\ProductWorker {}",
        );
        dir
    }

    #[test]
    fn finds_workers_in_packages_and_the_project() {
        let dir = fixture();
        let report = scan(&ScanOptions {
            root: dir.path().to_path_buf(),
            roots: ROOTS.iter().map(|s| s.to_string()).collect(),
            exclude: vec!["Noise\\Excluded".into()],
            cache: None,
        })
        .unwrap();
        let found: Vec<(&str, &str)> =
            report.candidates.iter().map(|c| (c.class.as_str(), c.package.as_str())).collect();
        assert_eq!(
            found,
            [
                ("App\\Workers\\Report", "project"),
                ("Legacy_Worker", "shop/catalog"),
                ("Seiger\\sTask\\Workers\\ArtisanWorker", "seiger/stask"),
                ("Shop\\Bare", "shop/catalog"),
                ("Shop\\ProductWorker", "shop/catalog"),
                ("Shop\\SpecialProduct", "shop/catalog"),
            ]
        );
        assert_eq!(report.packages, 3);
        assert!(report.files >= 11, "{}", report.files);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }

    #[test]
    fn a_missing_project_is_an_error_and_broken_manifests_are_warnings() {
        assert!(scan(&ScanOptions { root: "/nonexistent/stask".into(), ..Default::default() }).is_err());
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "vendor/composer/installed.json", "{ not json");
        let report = scan(&ScanOptions { root: dir.path().to_path_buf(), ..Default::default() }).unwrap();
        assert_eq!(report.warnings.len(), 1);
        assert!(report.candidates.is_empty());
    }

    #[test]
    fn a_cache_skips_unchanged_files_and_notices_changes() {
        let dir = fixture();
        let cache = dir.path().join("discovery.cache");
        let options = ScanOptions {
            root: dir.path().to_path_buf(),
            roots: ROOTS.iter().map(|s| s.to_string()).collect(),
            exclude: vec![],
            cache: Some(cache.clone()),
        };
        let cold = scan(&options).unwrap();
        assert!(cold.parsed > 10);
        assert!(cache.exists());
        let warm = scan(&options).unwrap();
        assert_eq!(warm.parsed, 0, "nothing changed");
        assert_eq!(warm.candidates, cold.candidates);
        // A new worker, and a worker that stopped being one.
        std::thread::sleep(std::time::Duration::from_millis(20));
        write(dir.path(), "app/Workers/Fresh.php", "<?php namespace App\\Workers; class Fresh extends Report {}");
        write(dir.path(), "app/Workers/Report.php", "<?php namespace App\\Workers; class Report {}");
        let changed = scan(&options).unwrap();
        assert_eq!(changed.parsed, 2);
        let classes: Vec<&str> = changed.candidates.iter().map(|c| c.class.as_str()).collect();
        assert!(!classes.contains(&"App\\Workers\\Report") && !classes.contains(&"App\\Workers\\Fresh"), "{classes:?}");
        std::fs::write(&cache, "garbage").unwrap();
        assert_eq!(scan(&options).unwrap().candidates, changed.candidates, "a corrupt cache is ignored");
    }

    #[test]
    fn namespace_prefixes_match_whole_segments() {
        assert!(starts_with_namespace("Illuminate\\Support\\X", "Illuminate"));
        assert!(starts_with_namespace("Illuminate\\Support\\X", "\\Illuminate\\"));
        assert!(!starts_with_namespace("IlluminateExtra\\X", "Illuminate"));
        assert!(!starts_with_namespace("X", ""));
    }
}
