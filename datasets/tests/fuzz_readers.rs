//! Byte-level fuzzing of the file readers: each starts from a small valid input built here,
//! applies random mutations (flipped bytes, truncation, inserted or deleted runs, an overwritten
//! header, a length field set to a huge value), writes the result where the reader looks and
//! reads it through the public API. A damaged input never panics (proptest counts a panic as a
//! failure) and never allocates what its header claims: the reader returns `Ok` (then the data
//! are checked for consistency) or an error whose message names the damaged file.
//!
//! CI runs [`CASES`] cases per reader; `PROPTEST_CASES=N` runs `N` (proptest applies the
//! variable over the configured count). The number of cases tried per reader is printed on
//! stderr (`--nocapture`). Failures are not persisted to a regressions file: proptest prints
//! the minimal failing input, which a fixed test can then pin.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{cifar_bin, gzip, write_mnist, write_omniglot, zip_set};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ufom_datasets::cache::{self, CachedArray};
use ufom_datasets::omniglot::OmniglotOptions;
use ufom_datasets::{Cifar100, DataError, Mnist, Omniglot};

/// Cases per reader unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 32;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Counts the cases one reader's property ran (shrinking included) and prints the count when
/// the test ends, passed or failed.
struct Tried {
    reader: &'static str,
    n: AtomicUsize,
    read: AtomicUsize,
}

impl Tried {
    fn new(reader: &'static str) -> Self {
        Self {
            reader,
            n: AtomicUsize::new(0),
            read: AtomicUsize::new(0),
        }
    }

    fn hit(&self) {
        self.n.fetch_add(1, Ordering::Relaxed);
    }

    /// A case whose damaged input still read (`Ok`).
    fn read_ok(&self) {
        self.read.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Tried {
    fn drop(&mut self) {
        let n = self.n.load(Ordering::Relaxed);
        let read = self.read.load(Ordering::Relaxed);
        eprintln!(
            "fuzz_readers: {}: {n} cases tried ({read} still read, {} rejected cleanly)",
            self.reader,
            n - read
        );
    }
}

/// One mutation; positions are taken modulo the current length.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR one byte with a non-zero mask.
    Flip { pos: usize, mask: u8 },
    /// Keep the first `at % (len + 1)` bytes.
    Truncate { at: usize },
    /// Insert a run of bytes.
    Insert { pos: usize, bytes: Vec<u8> },
    /// Delete a run of up to `len` bytes.
    Delete { pos: usize, len: usize },
    /// Overwrite the first bytes.
    Header { bytes: Vec<u8> },
    /// Write `value` into one of the format's length fields (else a big-endian `u32` anywhere).
    Huge { field: usize, value: u64 },
}

/// A length (or count, or label) field of a format.
#[derive(Debug, Clone, Copy)]
struct Field {
    offset: usize,
    /// 1, 2, 4 or 8 bytes.
    width: usize,
    big_endian: bool,
}

const fn be32(offset: usize) -> Field {
    Field {
        offset,
        width: 4,
        big_endian: true,
    }
}

const fn le(offset: usize, width: usize) -> Field {
    Field {
        offset,
        width,
        big_endian: false,
    }
}

fn huge_value() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(u64::MAX),
        Just(u64::from(u32::MAX)),
        Just(0x8000_0000),
        Just(0x7fff_ffff),
        Just(0),
        Just(1),
        Just(1 << 20),
        Just(1 << 32),
        any::<u64>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 1u8..=255).prop_map(|(pos, mask)| Mutation::Flip { pos, mask }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(pos, bytes)| Mutation::Insert { pos, bytes }),
        1 => (any::<usize>(), 1usize..64).prop_map(|(pos, len)| Mutation::Delete { pos, len }),
        1 => proptest::collection::vec(any::<u8>(), 1..24)
            .prop_map(|bytes| Mutation::Header { bytes }),
        2 => (any::<usize>(), huge_value())
            .prop_map(|(field, value)| Mutation::Huge { field, value }),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    proptest::collection::vec(mutation(), 1..4)
}

fn write_field(b: &mut [u8], f: Field, value: u64) {
    let Some(dst) = b.get_mut(f.offset..f.offset + f.width) else {
        return;
    };
    let bytes = if f.big_endian {
        value.to_be_bytes()[8 - f.width..].to_vec()
    } else {
        value.to_le_bytes()[..f.width].to_vec()
    };
    dst.copy_from_slice(&bytes);
}

fn apply(seed: &[u8], muts: &[Mutation], fields: &[Field]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for m in muts {
        match m {
            Mutation::Flip { pos, mask } => {
                if !b.is_empty() {
                    let i = pos % b.len();
                    b[i] ^= mask;
                }
            }
            Mutation::Truncate { at } => b.truncate(at % (b.len() + 1)),
            Mutation::Insert { pos, bytes } => {
                let i = pos % (b.len() + 1);
                b.splice(i..i, bytes.iter().copied());
            }
            Mutation::Delete { pos, len } => {
                if !b.is_empty() {
                    let i = pos % b.len();
                    let j = (i + len).min(b.len());
                    b.drain(i..j);
                }
            }
            Mutation::Header { bytes } => {
                let n = bytes.len().min(b.len());
                b[..n].copy_from_slice(&bytes[..n]);
            }
            Mutation::Huge { field, value } => {
                let f = if fields.is_empty() {
                    if b.len() < 4 {
                        continue;
                    }
                    be32(field % (b.len() - 3))
                } else {
                    fields[field % fields.len()]
                };
                write_field(&mut b, f, *value);
            }
        }
    }
    b
}

/// `Ok(Some(v))` for a read, `Ok(None)` for a clean error (non-empty, naming `path`), a test
/// failure otherwise.
fn clean<T>(r: Result<T, DataError>, path: &Path) -> Result<Option<T>, TestCaseError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(
                !msg.trim().is_empty(),
                "empty error message for {}",
                path.display()
            );
            prop_assert!(
                msg.contains(&path.display().to_string()),
                "error `{msg}` does not name the damaged file {}",
                path.display()
            );
            Ok(None)
        }
    }
}

/// Writes `bytes` to `path`, runs `read`, then restores `original` (so the shared seed tree
/// stays valid for the next case whatever the outcome).
fn with_damaged<T>(path: &Path, bytes: &[u8], original: &[u8], read: impl FnOnce() -> T) -> T {
    std::fs::write(path, bytes).unwrap();
    let out = read();
    std::fs::write(path, original).unwrap();
    out
}

// ---------------------------------------------------------------------------------------------
// MNIST IDX, raw and gzip

const MNIST_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// The IDX length fields: the dimensions (three for images, one for labels).
fn idx_fields(name: &str) -> Vec<Field> {
    if name.contains("images") {
        vec![be32(4), be32(8), be32(12)]
    } else {
        vec![be32(4)]
    }
}

/// The gzip trailer (CRC-32 and ISIZE) and the header's modification time.
fn gzip_fields(len: usize) -> Vec<Field> {
    vec![le(4, 4), le(len - 8, 4), le(len - 4, 4)]
}

#[test]
fn mnist_idx_never_panics() {
    let tried = Tried::new("MNIST IDX, raw and gzip (Mnist::from_dir)");
    let (raw, gz) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_mnist(raw.path(), 3, 2, false);
    write_mnist(gz.path(), 3, 2, true);
    let raw_seeds: Vec<Vec<u8>> = MNIST_NAMES
        .iter()
        .map(|n| std::fs::read(raw.path().join(n)).unwrap())
        .collect();
    let gz_seeds: Vec<Vec<u8>> = MNIST_NAMES
        .iter()
        .map(|n| std::fs::read(gz.path().join(format!("{n}.gz"))).unwrap())
        .collect();
    proptest!(config(), |(
        compressed in any::<bool>(),
        inside in any::<bool>(),
        which in 0usize..4,
        muts in mutations(),
    )| {
        tried.hit();
        let name = MNIST_NAMES[which];
        let (dir, path, original) = if compressed {
            (gz.path(), gz.path().join(format!("{name}.gz")), &gz_seeds[which])
        } else {
            (raw.path(), raw.path().join(name), &raw_seeds[which])
        };
        let bytes = match (compressed, inside) {
            // The IDX bytes damaged, then compressed: the gzip layer is intact.
            (true, true) => gzip(&apply(&raw_seeds[which], &muts, &idx_fields(name))),
            (true, false) => apply(original, &muts, &gzip_fields(original.len())),
            (false, _) => apply(original, &muts, &idx_fields(name)),
        };
        let r = with_damaged(&path, &bytes, original, || Mnist::from_dir(dir));
        if let Some(m) = clean(r, &path)? {
            tried.read_ok();
            for split in [&m.train, &m.test] {
                prop_assert_eq!(split.images.len(), split.len() * 784);
                prop_assert!(split.labels.iter().all(|&l| l < 10));
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Omniglot PNG drawings, in folders and in zips

/// The PNG length fields: IHDR's width and height and every chunk's length.
fn png_fields(png: &[u8]) -> Vec<Field> {
    let mut fields = vec![be32(16), be32(20)];
    let mut at = 8;
    while at + 8 <= png.len() {
        fields.push(be32(at));
        let len = u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]) as usize;
        at += 12 + len;
    }
    fields
}

/// Recomputes every chunk's CRC-32, so the damage reaches the decoder instead of stopping at
/// the first checksum.
fn fix_png_crcs(png: &mut [u8]) {
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]) as usize;
        let Some(end) = (at + 8).checked_add(len) else {
            return;
        };
        if end + 4 > png.len() {
            return;
        }
        let mut crc = flate2::Crc::new();
        crc.update(&png[at + 4..end]);
        png[end..end + 4].copy_from_slice(&crc.sum().to_be_bytes());
        at = end + 4;
    }
}

fn pngs_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "png") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn no_cache() -> OmniglotOptions {
    OmniglotOptions {
        no_cache: true,
        ..Default::default()
    }
}

#[test]
fn omniglot_png_never_panics() {
    let tried = Tried::new("Omniglot PNG (Omniglot::from_dir, folders)");
    let dir = tempfile::tempdir().unwrap();
    // One character in each set: 40 drawings.
    write_omniglot(dir.path(), 1, 1, 1);
    let pngs = pngs_under(dir.path());
    assert_eq!(pngs.len(), 40);
    let seeds: Vec<Vec<u8>> = pngs.iter().map(|p| std::fs::read(p).unwrap()).collect();
    proptest!(config(), |(which in 0usize..40, fix_crcs in any::<bool>(), muts in mutations())| {
        tried.hit();
        let (path, original) = (&pngs[which], &seeds[which]);
        let mut bytes = apply(original, &muts, &png_fields(original));
        if fix_crcs {
            fix_png_crcs(&mut bytes);
        }
        let r = with_damaged(path, &bytes, original, || Omniglot::from_dir(dir.path(), &no_cache()));
        if let Some(o) = clean(r, path)? {
            tried.read_ok();
            prop_assert_eq!(o.characters.len(), 2);
            prop_assert_eq!(o.images.len(), 2 * 20 * 28 * 28);
        }
    });
}

/// The zip length fields: the end-of-central-directory record's entry counts, directory size
/// and offset, and the first local header's sizes and name length.
fn zip_fields(z: &[u8]) -> Vec<Field> {
    let eocd = z.len() - 22;
    vec![
        le(eocd + 8, 2),
        le(eocd + 10, 2),
        le(eocd + 12, 4),
        le(eocd + 16, 4),
        le(18, 4),
        le(22, 4),
        le(26, 2),
    ]
}

#[test]
fn omniglot_zip_never_panics() {
    let tried = Tried::new("Omniglot zip archives (Omniglot::from_dir, zips)");
    let tree = tempfile::tempdir().unwrap();
    write_omniglot(tree.path(), 1, 1, 1);
    let zips = tempfile::tempdir().unwrap();
    let sets = ["images_background", "images_evaluation"];
    for set in sets {
        zip_set(tree.path(), set, zips.path());
    }
    let paths: Vec<PathBuf> = sets
        .iter()
        .map(|s| zips.path().join(format!("{s}.zip")))
        .collect();
    let seeds: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    Omniglot::from_dir(zips.path(), &no_cache()).expect("the seed zips load");
    proptest!(config(), |(which in 0usize..2, muts in mutations())| {
        tried.hit();
        let (path, original) = (&paths[which], &seeds[which]);
        let bytes = apply(original, &muts, &zip_fields(original));
        let r = with_damaged(path, &bytes, original, || Omniglot::from_dir(zips.path(), &no_cache()));
        if let Some(o) = clean(r, path)? {
            tried.read_ok();
            prop_assert_eq!(o.images.len(), o.characters.len() * 20 * 28 * 28);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// The safetensors cache

/// The safetensors header length (u64, little-endian).
const SAFETENSORS_FIELDS: [Field; 1] = [le(0, 8)];

#[test]
fn cache_read_never_panics() {
    let tried = Tried::new("safetensors cache (cache::read)");
    let dir = tempfile::tempdir().unwrap();
    let path = cache::cache_path(dir.path(), "fuzz", "0123");
    let array = CachedArray {
        shape: vec![2, 3, 4],
        data: (0..24).collect(),
        metadata: [("characters".to_string(), "[\"a\",\"b\"]".to_string())]
            .into_iter()
            .collect(),
    };
    cache::write(&path, &array).unwrap();
    let seed = std::fs::read(&path).unwrap();
    assert_eq!(cache::read(&path).unwrap().unwrap().data, array.data);
    proptest!(config(), |(muts in mutations())| {
        tried.hit();
        let bytes = apply(&seed, &muts, &SAFETENSORS_FIELDS);
        let r = with_damaged(&path, &bytes, &seed, || cache::read(&path));
        match clean(r, &path)? {
            Some(Some(c)) => {
                tried.read_ok();
                let n: usize = c.shape.iter().product();
                prop_assert_eq!(c.data.len(), n);
            }
            Some(None) => return Err(TestCaseError::fail("an existing cache file read as absent")),
            None => {}
        }
    });
}

#[test]
fn damaged_omniglot_cache_is_rebuilt() {
    let tried = Tried::new("safetensors cache through Omniglot::from_dir");
    let dir = tempfile::tempdir().unwrap();
    write_omniglot(dir.path(), 1, 1, 1);
    let cache_dir = tempfile::tempdir().unwrap();
    let opts = OmniglotOptions {
        cache_dir: Some(cache_dir.path().to_path_buf()),
        ..Default::default()
    };
    let fresh = Omniglot::from_dir(dir.path(), &opts).unwrap();
    assert!(!fresh.from_cache);
    let file = std::fs::read_dir(cache_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .expect("cache file");
    let seed = std::fs::read(&file).unwrap();
    assert!(Omniglot::from_dir(dir.path(), &opts).unwrap().from_cache);
    proptest!(config(), |(muts in mutations())| {
        tried.hit();
        let bytes = apply(&seed, &muts, &SAFETENSORS_FIELDS);
        std::fs::write(&file, &bytes).unwrap();
        let r = Omniglot::from_dir(dir.path(), &opts);
        let loaded = match r {
            Ok(o) => o,
            Err(e) => {
                std::fs::write(&file, &seed).unwrap();
                return Err(TestCaseError::fail(format!(
                    "a damaged cache made the load fail instead of being rebuilt: {e}"
                )));
            }
        };
        if loaded.from_cache {
            // The damage left a valid cache file (e.g. inside its metadata): kept.
            tried.read_ok();
        }
        prop_assert_eq!(&loaded.images, &fresh.images);
        prop_assert_eq!(&loaded.characters, &fresh.characters);
        // Rebuilt (or, when the damage left it valid, kept): the file reads back whole.
        let back = cache::read(&file);
        std::fs::write(&file, &seed).unwrap();
        let back = back.map_err(|e| TestCaseError::fail(format!("cache not rebuilt: {e}")))?;
        prop_assert_eq!(back.map(|c| c.data), Some(fresh.images.clone()));
    });
}

// ---------------------------------------------------------------------------------------------
// CIFAR-100 binary

/// The label bytes of the first two records (one-byte fields: a huge value becomes 0xff).
const CIFAR_FIELDS: [Field; 4] = [
    Field {
        offset: 0,
        width: 1,
        big_endian: true,
    },
    Field {
        offset: 1,
        width: 1,
        big_endian: true,
    },
    Field {
        offset: 3074,
        width: 1,
        big_endian: true,
    },
    Field {
        offset: 3075,
        width: 1,
        big_endian: true,
    },
];

#[test]
fn cifar_binary_never_panics() {
    let tried = Tried::new("CIFAR-100 binary (Cifar100::from_dir)");
    let dir = tempfile::tempdir().unwrap();
    let files = [dir.path().join("train.bin"), dir.path().join("test.bin")];
    let seeds = [cifar_bin(2, |i| (i * 37 % 100) as u8), cifar_bin(1, |_| 42)];
    for (p, s) in files.iter().zip(&seeds) {
        std::fs::write(p, s).unwrap();
    }
    Cifar100::from_dir(dir.path()).expect("the seed files load");
    proptest!(config(), |(which in 0usize..2, muts in mutations())| {
        tried.hit();
        let (path, original) = (&files[which], &seeds[which]);
        let bytes = apply(original, &muts, &CIFAR_FIELDS);
        let r = with_damaged(path, &bytes, original, || Cifar100::from_dir(dir.path()));
        if let Some(c) = clean(r, path)? {
            tried.read_ok();
            for s in [&c.train, &c.test] {
                prop_assert_eq!(s.images.len(), s.len() * 3072);
                prop_assert!(s.fine.iter().all(|&l| l < 100));
                prop_assert!(s.coarse.iter().all(|&l| l < 20));
            }
        }
    });
}
