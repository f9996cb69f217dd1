//! Omniglot from the official layout `images_background/<Alphabet>/characterNN/*.png` and
//! `images_evaluation/...`, as directories or as the two official zip files.
//!
//! Every drawing is decoded to grey levels, resized from 105×105 to 28×28 with
//! [`FilterType::Lanczos3`] (the filter of PIL's `LANCZOS`/`ANTIALIAS`, which the original
//! Reptile code uses; image-rs widens the kernel when down-sampling, as PIL does), then
//! **inverted** so that strokes are bright (1.0) on a black (0.0) background, like MNIST.
//!
//! Decoding 32460 PNGs takes seconds, so the decoded bytes are cached (see [`crate::cache`])
//! under a key that hashes the decoding parameters and, for every source file, its path
//! relative to the set's root, size and modification time (for zips: the archive's size and
//! modification time). Touching or replacing any file invalidates the cache.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use image::imageops::FilterType;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cache::{self, CachedArray};
use crate::config::DataConfig;
use crate::error::{DataError, Result};
use crate::source::{self, Dataset, DatasetFiles, Located, Origin};

/// Side of the resized images.
pub const SIDE: usize = 28;

/// Side of the published drawings (every PNG of the official release is 105×105).
pub const ORIGINAL_SIDE: u32 = 105;
/// Pixels per resized image.
pub const PIXELS: usize = SIDE * SIDE;
/// Drawings per character.
pub const DRAWINGS: usize = 20;
/// The resize filter.
pub const FILTER: FilterType = FilterType::Lanczos3;
const CACHE_VERSION: &str = "ufom-omniglot-v1;lanczos3;28x28;inverted";

/// One character (class).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OmniglotCharacter {
    /// Alphabet folder name.
    pub alphabet: String,
    /// Character folder name (`characterNN`).
    pub name: String,
    /// Whether it belongs to `images_background` (else `images_evaluation`).
    pub background: bool,
}

/// Loading options.
#[derive(Debug, Clone, Default)]
pub struct OmniglotOptions {
    /// Cache directory; `None`: nothing is cached ([`crate::DataConfig::omniglot_options`]
    /// fills in the configured one).
    pub cache_dir: Option<PathBuf>,
    /// Disable the cache entirely (always decode, never write).
    pub no_cache: bool,
    /// Keep only these alphabets (for quick tests); `None` keeps all.
    pub alphabets: Option<Vec<String>>,
}

impl DataConfig {
    /// Omniglot loading options that use this configuration's cache directory.
    pub fn omniglot_options(&self) -> OmniglotOptions {
        OmniglotOptions {
            cache_dir: self.cache_dir.clone(),
            ..OmniglotOptions::default()
        }
    }
}

/// The decoded Omniglot set.
#[derive(Debug, Clone)]
pub struct Omniglot {
    /// The characters, background set first, each set sorted by alphabet then character.
    pub characters: Vec<OmniglotCharacter>,
    /// `characters.len() * 20 * 784` bytes: 20 drawings of 28×28 per character.
    pub images: Vec<u8>,
    /// Where it came from.
    pub origin: Origin,
    /// Its files.
    pub files: DatasetFiles,
    /// Whether the images came from the decoded-tensor cache.
    pub from_cache: bool,
}

impl Omniglot {
    /// Locates Omniglot as `config` says and loads it with `config`'s cache.
    pub fn load(config: &DataConfig) -> Result<Self> {
        Self::from_located(
            crate::resolve::locate(Dataset::Omniglot, config)?,
            &config.omniglot_options(),
        )
    }

    /// Loads Omniglot from a directory holding the two sets (folders or zips).
    pub fn from_dir(dir: &Path, opts: &OmniglotOptions) -> Result<Self> {
        let files = source::detect_in(Dataset::Omniglot, dir)?.ok_or_else(|| {
            DataError::MissingDataset {
                name: "omniglot".into(),
                looked_in: vec![dir.to_path_buf()],
                fetch_command: Dataset::Omniglot.fetch_command(),
            }
        })?;
        let loc = Located {
            dataset: Dataset::Omniglot,
            origin: Origin::DataDir(dir.to_path_buf()),
            files,
        };
        Self::from_located(loc, opts)
    }

    /// Loads Omniglot from located files.
    pub fn from_located(loc: Located, opts: &OmniglotOptions) -> Result<Self> {
        let (bg, ev, zipped) = match &loc.files {
            DatasetFiles::OmniglotDirs {
                background,
                evaluation,
            } => (background, evaluation, false),
            DatasetFiles::OmniglotZips {
                background,
                evaluation,
            } => (background, evaluation, true),
            other => {
                return Err(DataError::Config(format!(
                    "files {other:?} are not an Omniglot layout"
                )))
            }
        };
        let mut entries = Vec::new();
        let mut hasher = Sha256::new();
        hasher.update(CACHE_VERSION);
        for (root, background) in [(bg, true), (ev, false)] {
            let set = if zipped {
                list_zip(root, background, &mut hasher)?
            } else {
                list_dir(root, background, &mut hasher)?
            };
            entries.extend(set);
        }
        if let Some(keep) = &opts.alphabets {
            entries.retain(|e| keep.contains(&e.info.alphabet));
            hasher.update(format!("alphabets={keep:?}"));
        }
        let key: String = crate::mnist::hex(&hasher.finalize())[..20].to_string();
        let characters: Vec<OmniglotCharacter> = entries.iter().map(|e| e.info.clone()).collect();
        let cache_file = if opts.no_cache {
            None
        } else {
            opts.cache_dir
                .as_deref()
                .map(|d| cache::cache_path(d, "omniglot", &key))
        };
        if let Some(path) = &cache_file {
            match cache::read(path) {
                Ok(Some(c)) if c.shape == [characters.len(), DRAWINGS, SIDE, SIDE] => {
                    tracing::info!(cache = %path.display(), "Omniglot loaded from cache");
                    return Ok(Omniglot {
                        characters,
                        images: c.data,
                        origin: loc.origin,
                        files: loc.files,
                        from_cache: true,
                    });
                }
                Ok(Some(_)) => tracing::warn!(cache = %path.display(), "cache shape mismatch"),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "ignoring unreadable cache"),
            }
        }
        let start = std::time::Instant::now();
        let decoded: Vec<Vec<u8>> = entries
            .par_iter()
            .map(|e| {
                let mut out = Vec::with_capacity(DRAWINGS * PIXELS);
                for src in &e.sources {
                    out.extend(decode_drawing(src)?);
                }
                Ok(out)
            })
            .collect::<Result<_>>()?;
        let images = decoded.concat();
        tracing::info!(
            characters = characters.len(),
            secs = start.elapsed().as_secs_f64(),
            "Omniglot decoded"
        );
        if let Some(path) = &cache_file {
            let meta = serde_json::to_string(&characters).unwrap_or_default();
            let arr = CachedArray {
                shape: vec![characters.len(), DRAWINGS, SIDE, SIDE],
                data: images,
                metadata: [("characters".to_string(), meta)].into_iter().collect(),
            };
            if let Err(e) = cache::write(path, &arr) {
                tracing::warn!(error = %e, "could not write the Omniglot cache");
            }
            return Ok(Omniglot {
                characters,
                images: arr.data,
                origin: loc.origin,
                files: loc.files,
                from_cache: false,
            });
        }
        Ok(Omniglot {
            characters,
            images,
            origin: loc.origin,
            files: loc.files,
            from_cache: false,
        })
    }

    /// Number of characters from `images_background`.
    pub fn background_count(&self) -> usize {
        self.characters.iter().filter(|c| c.background).count()
    }

    /// Number of characters from `images_evaluation`.
    pub fn evaluation_count(&self) -> usize {
        self.characters.len() - self.background_count()
    }

    /// The 20 drawings (`20 * 784` bytes) of character `i`, if it exists.
    pub fn character_images(&self, i: usize) -> Option<&[u8]> {
        self.images
            .get(i * DRAWINGS * PIXELS..(i + 1) * DRAWINGS * PIXELS)
    }
}

/// Where one drawing's bytes come from.
enum Src {
    File(PathBuf),
    Bytes(PathBuf, Vec<u8>),
}

struct Entry {
    info: OmniglotCharacter,
    sources: Vec<Src>,
}

/// Decodes one PNG to 28×28 inverted grey bytes.
fn decode_drawing(src: &Src) -> Result<Vec<u8>> {
    let (path, owned);
    let bytes: &[u8] = match src {
        Src::File(p) => {
            owned = std::fs::read(p).map_err(|e| DataError::io(p, e))?;
            path = p;
            &owned
        }
        Src::Bytes(p, b) => {
            path = p;
            b
        }
    };
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .map_err(|source| DataError::Png {
            path: path.clone(),
            source,
        })?
        .to_luma8();
    if (img.width(), img.height()) != (ORIGINAL_SIDE, ORIGINAL_SIDE) {
        return Err(DataError::format(
            path,
            format!(
                "is {}x{}, Omniglot drawings are {ORIGINAL_SIDE}x{ORIGINAL_SIDE}",
                img.width(),
                img.height()
            ),
        ));
    }
    let small = image::imageops::resize(&img, SIDE as u32, SIDE as u32, FILTER);
    Ok(small.as_raw().iter().map(|&p| 255 - p).collect())
}

fn character_number(name: &str) -> Option<usize> {
    name.strip_prefix("character")?.parse().ok()
}

/// Checks the `characterNN` numbering of one alphabet is 1..=k without gaps.
fn check_numbering(alphabet_path: &Path, names: &[String]) -> Result<()> {
    let mut nums: Vec<usize> = names.iter().filter_map(|n| character_number(n)).collect();
    nums.sort_unstable();
    for (i, n) in nums.iter().enumerate() {
        if *n != i + 1 {
            return Err(DataError::Missing {
                path: alphabet_path.join(format!("character{:02}", i + 1)),
                what: "class folder (gap in the characterNN numbering)".into(),
            });
        }
    }
    Ok(())
}

fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut v = Vec::new();
    for e in rd {
        let e = e.map_err(|e| DataError::io(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            v.push((name, e.path()));
        }
    }
    v.sort();
    Ok(v)
}

fn is_png(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".png")
}

fn list_dir(root: &Path, background: bool, hasher: &mut Sha256) -> Result<Vec<Entry>> {
    let alphabets: Vec<_> = sorted_entries(root)?
        .into_iter()
        .filter(|(_, p)| p.is_dir())
        .collect();
    if alphabets.is_empty() {
        return Err(DataError::EmptyDir { path: root.into() });
    }
    let mut out = Vec::new();
    for (alphabet, apath) in alphabets {
        let chars: Vec<_> = sorted_entries(&apath)?
            .into_iter()
            .filter(|(_, p)| p.is_dir())
            .collect();
        if chars.is_empty() {
            return Err(DataError::EmptyDir { path: apath });
        }
        let names: Vec<String> = chars.iter().map(|(n, _)| n.clone()).collect();
        check_numbering(&apath, &names)?;
        for (name, cpath) in chars {
            let pngs: Vec<PathBuf> = sorted_entries(&cpath)?
                .into_iter()
                .filter(|(n, p)| is_png(n) && p.is_file())
                .map(|(_, p)| p)
                .collect();
            check_count(&cpath, pngs.len())?;
            for p in &pngs {
                let md = std::fs::metadata(p).map_err(|e| DataError::io(p, e))?;
                hash_file(hasher, p.strip_prefix(root).unwrap_or(p), &md);
            }
            out.push(Entry {
                info: OmniglotCharacter {
                    alphabet: alphabet.clone(),
                    name,
                    background,
                },
                sources: pngs.into_iter().map(Src::File).collect(),
            });
        }
    }
    Ok(out)
}

fn check_count(path: &Path, found: usize) -> Result<()> {
    match found {
        0 => Err(DataError::EmptyDir { path: path.into() }),
        DRAWINGS => Ok(()),
        _ => Err(DataError::WrongCount {
            path: path.into(),
            what: "PNG drawings".into(),
            expected: DRAWINGS,
            found,
        }),
    }
}

fn hash_file(hasher: &mut Sha256, rel: &Path, md: &std::fs::Metadata) {
    let mtime = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    hasher.update(format!("{}\0{}\0{}\n", rel.display(), md.len(), mtime));
}

/// (alphabet, character) -> [(inner path, PNG bytes)]
type ZipGroups = BTreeMap<(String, String), Vec<(String, Vec<u8>)>>;

fn list_zip(zip_path: &Path, background: bool, hasher: &mut Sha256) -> Result<Vec<Entry>> {
    let zerr = |source| DataError::Zip {
        path: zip_path.into(),
        source,
    };
    let file = std::fs::File::open(zip_path).map_err(|e| DataError::io(zip_path, e))?;
    let md = file.metadata().map_err(|e| DataError::io(zip_path, e))?;
    hash_file(hasher, zip_path, &md);
    let mut archive = zip::ZipArchive::new(file).map_err(zerr)?;
    // (alphabet, character) -> [(inner path, bytes)]
    let mut groups: ZipGroups = BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).map_err(zerr)?;
        let name = f.name().map_err(zerr)?.to_string();
        let parts: Vec<&str> = name.split('/').filter(|s| !s.is_empty()).collect();
        if f.is_dir() || parts.len() != 4 || !is_png(parts[3]) {
            continue;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(f.size()).unwrap_or(0).min(1 << 20));
        f.read_to_end(&mut bytes)
            .map_err(|e| DataError::io(zip_path.join(&name), e))?;
        groups
            .entry((parts[1].to_string(), parts[2].to_string()))
            .or_default()
            .push((name, bytes));
    }
    if groups.is_empty() {
        return Err(DataError::EmptyDir {
            path: zip_path.into(),
        });
    }
    let mut per_alphabet: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (a, c) in groups.keys() {
        per_alphabet.entry(a.clone()).or_default().push(c.clone());
    }
    for (a, chars) in &per_alphabet {
        check_numbering(&zip_path.join(a), chars)?;
    }
    let mut out = Vec::new();
    for ((alphabet, name), mut files) in groups {
        files.sort_by(|x, y| x.0.cmp(&y.0));
        check_count(&zip_path.join(&alphabet).join(&name), files.len())?;
        out.push(Entry {
            info: OmniglotCharacter {
                alphabet,
                name,
                background,
            },
            sources: files
                .into_iter()
                .map(|(n, b)| Src::Bytes(zip_path.join(n), b))
                .collect(),
        });
    }
    Ok(out)
}
