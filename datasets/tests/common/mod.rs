//! Helpers shared by the integration tests: writers for small files in the official formats
//! and the lookup of the real data.
#![allow(dead_code)]

use std::fs::File;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

/// The real data root holding `<subdir>/`: `UFOM_DATA_DIR` if set, else
/// `<manifest>/../../shared/datasets`; `None`, with a printed `SKIPPED:` reason, when that
/// directory does not hold `subdir`.
pub fn real_data_root(test: &str, subdir: &str) -> Option<PathBuf> {
    let (root, what) = match std::env::var_os("UFOM_DATA_DIR").filter(|v| !v.is_empty()) {
        Some(d) => (PathBuf::from(d), "UFOM_DATA_DIR"),
        None => (
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"),
            "the fallback (UFOM_DATA_DIR unset)",
        ),
    };
    if root.join(subdir).is_dir() {
        return Some(root);
    }
    skipped(&format!(
        "{test}: no real data: {what} {} has no {subdir}/",
        root.display()
    ));
    None
}

/// Prints `SKIPPED: <reason>` straight to the process's stderr, bypassing the test
/// harness's output capture so the skip is visible even when the test passes.
pub fn skipped(reason: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED: {reason}");
}

/// IDX bytes: magic `0x0000_08_<ndims>`, dims, data.
pub fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

/// Gzip-compresses bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A deterministic pseudo-random byte stream.
pub fn bytes(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as u8
        })
        .collect()
}

/// Writes a small MNIST (IDX, optionally gzip) with `n_train`/`n_test` images into `dir`.
pub fn write_mnist(dir: &Path, n_train: usize, n_test: usize, gz: bool) {
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, n) in [("train", n_train), ("t10k", n_test)] {
        let images = idx_bytes(&[n as u32, 28, 28], &bytes(n * 784, n as u32));
        let labels = idx_bytes(
            &[n as u32],
            &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>(),
        );
        for (name, data) in [
            (format!("{prefix}-images-idx3-ubyte"), images),
            (format!("{prefix}-labels-idx1-ubyte"), labels),
        ] {
            if gz {
                std::fs::write(dir.join(format!("{name}.gz")), gzip(&data)).unwrap();
            } else {
                std::fs::write(dir.join(name), data).unwrap();
            }
        }
    }
}

/// A CIFAR-100 binary file: record `i` has fine label `fine(i)`, coarse `fine/5`.
pub fn cifar_bin(n: usize, fine: impl Fn(usize) -> u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(n * 3074);
    for i in 0..n {
        let f = fine(i);
        v.push(f / 5);
        v.push(f);
        v.extend(bytes(3072, i as u32 + 7));
    }
    v
}

/// PNG-encodes a grey image.
pub fn png_gray(w: u32, h: u32, data: Vec<u8>) -> Vec<u8> {
    let img = image::GrayImage::from_raw(w, h, data).unwrap();
    let mut buf = Vec::new();
    img.write_to(&mut Cursor::new(&mut buf), image::ImageFormat::Png)
        .unwrap();
    buf
}

/// PNG-encodes an RGB image (HWC bytes).
pub fn png_rgb(w: u32, h: u32, data: Vec<u8>) -> Vec<u8> {
    let img = image::RgbImage::from_raw(w, h, data).unwrap();
    let mut buf = Vec::new();
    img.write_to(&mut Cursor::new(&mut buf), image::ImageFormat::Png)
        .unwrap();
    buf
}

/// Writes a parquet file in the Hub's image layout: a struct column `image_col`
/// `{bytes, path}` and int64 label columns.
#[cfg(feature = "parquet")]
pub fn write_image_parquet(
    path: &Path,
    image_col: &str,
    label_cols: &[&str],
    rows: &[(Vec<u8>, Vec<i64>)],
) {
    use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use std::sync::Arc;
    let labels: String = label_cols
        .iter()
        .map(|c| format!("required int64 {c}; "))
        .collect();
    let schema = format!(
        "message schema {{ required group {image_col} {{ required binary bytes; \
         optional binary path (STRING); }} {labels}}}"
    );
    let schema = Arc::new(parse_message_type(&schema).unwrap());
    let props = Arc::new(WriterProperties::builder().build());
    let mut w = SerializedFileWriter::new(File::create(path).unwrap(), schema, props).unwrap();
    let mut rg = w.next_row_group().unwrap();
    let mut col = rg.next_column().unwrap().unwrap();
    let vals: Vec<ByteArray> = rows.iter().map(|r| ByteArray::from(r.0.clone())).collect();
    col.typed::<ByteArrayType>()
        .write_batch(&vals, None, None)
        .unwrap();
    col.close().unwrap();
    let mut col = rg.next_column().unwrap().unwrap();
    col.typed::<ByteArrayType>()
        .write_batch(&[], Some(&vec![0i16; rows.len()]), None)
        .unwrap();
    col.close().unwrap();
    for k in 0..label_cols.len() {
        let mut col = rg.next_column().unwrap().unwrap();
        let vals: Vec<i64> = rows.iter().map(|r| r.1[k]).collect();
        col.typed::<Int64Type>()
            .write_batch(&vals, None, None)
            .unwrap();
        col.close().unwrap();
    }
    rg.close().unwrap();
    w.close().unwrap();
}

/// A 105×105 grey drawing: white background with a dark square whose position depends on `k`.
pub fn drawing(k: usize) -> Vec<u8> {
    let mut v = vec![255u8; 105 * 105];
    let off = (k * 7) % 60;
    for r in off..off + 40 {
        for c in off..off + 20 {
            v[r * 105 + c] = 0;
        }
    }
    png_gray(105, 105, v)
}

/// Writes a small Omniglot tree under `dir`: `images_background` with `bg` alphabets and
/// `images_evaluation` with `ev` alphabets, `chars` characters each, 20 drawings each.
pub fn write_omniglot(dir: &Path, bg: usize, ev: usize, chars: usize) {
    for (set, n_alpha) in [("images_background", bg), ("images_evaluation", ev)] {
        for a in 0..n_alpha {
            for c in 1..=chars {
                let d = dir
                    .join(set)
                    .join(format!("Alpha{a}_{set}"))
                    .join(format!("character{c:02}"));
                std::fs::create_dir_all(&d).unwrap();
                for k in 1..=20 {
                    std::fs::write(
                        d.join(format!("{c:02}{a:02}_{k:02}.png")),
                        drawing(a * 31 + c * 5 + k),
                    )
                    .unwrap();
                }
            }
        }
    }
}

/// Zips `dir/<set>` into `out/<set>.zip` (deflated), with entries `<set>/...`.
pub fn zip_set(dir: &Path, set: &str, out: &Path) {
    let file = File::create(out.join(format!("{set}.zip"))).unwrap();
    let mut z = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut stack = vec![dir.join(set)];
    let mut files = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    for p in files {
        let name = p
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        z.start_file(name, opts).unwrap();
        z.write_all(&std::fs::read(&p).unwrap()).unwrap();
    }
    z.finish().unwrap();
}
