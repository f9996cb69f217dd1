//! Reading the Hugging Face Hub's parquet form of image data sets: one row per example, an
//! image struct column (`{bytes: binary (PNG), path: string}`) and integer label columns.

use std::path::Path;

#[cfg(feature = "parquet")]
use parquet::file::reader::{FileReader, SerializedFileReader};
#[cfg(feature = "parquet")]
use parquet::record::{Field, Row};

use crate::error::{DataError, Result};

/// One row: the encoded image and the requested labels, in the order asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    /// Encoded image bytes (PNG in the Hub's files).
    pub image: Vec<u8>,
    /// The label columns, in the order of `label_columns`.
    pub labels: Vec<i64>,
}

#[cfg(feature = "parquet")]
fn as_int(f: &Field) -> Option<i64> {
    match *f {
        Field::Byte(v) => Some(i64::from(v)),
        Field::Short(v) => Some(i64::from(v)),
        Field::Int(v) => Some(i64::from(v)),
        Field::Long(v) => Some(v),
        Field::UByte(v) => Some(i64::from(v)),
        Field::UShort(v) => Some(i64::from(v)),
        Field::UInt(v) => Some(i64::from(v)),
        Field::ULong(v) => i64::try_from(v).ok(),
        _ => None,
    }
}

#[cfg(feature = "parquet")]
fn image_bytes(f: &Field) -> Option<Vec<u8>> {
    match f {
        Field::Bytes(b) => Some(b.data().to_vec()),
        Field::Group(g) => g.get_column_iter().find_map(|(name, v)| match v {
            Field::Bytes(b) if name == "bytes" => Some(b.data().to_vec()),
            _ => None,
        }),
        _ => None,
    }
}

#[cfg(feature = "parquet")]
fn parse_row(
    row: &Row,
    image_columns: &[&str],
    label_columns: &[&str],
    path: &Path,
    index: usize,
) -> Result<ImageRow> {
    let mut image = None;
    let mut labels = vec![None; label_columns.len()];
    for (name, field) in row.get_column_iter() {
        if image.is_none() && image_columns.contains(&name.as_str()) {
            image = image_bytes(field);
        }
        if let Some(k) = label_columns.iter().position(|c| c == name) {
            labels[k] = as_int(field);
        }
    }
    let image = image.ok_or_else(|| {
        DataError::format(
            path,
            format!("row {index}: no image bytes in any of the columns {image_columns:?}"),
        )
    })?;
    let labels = labels
        .into_iter()
        .zip(label_columns)
        .map(|(l, c)| {
            l.ok_or_else(|| {
                DataError::format(path, format!("row {index}: missing integer column `{c}`"))
            })
        })
        .collect::<Result<Vec<i64>>>()?;
    Ok(ImageRow { image, labels })
}

/// Reads every row of a parquet file (needs the cargo feature `parquet`, on by default), taking the image from the first of `image_columns`
/// present and the integer labels `label_columns`.
///
/// Any failure (including a panic inside the parquet decoder on a damaged file) is reported as
/// an error naming the file.
#[cfg(feature = "parquet")]
pub fn read_image_rows(
    path: &Path,
    image_columns: &[&str],
    label_columns: &[&str],
) -> Result<Vec<ImageRow>> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<Vec<ImageRow>> {
            let perr = |source: parquet::errors::ParquetError| DataError::Parquet {
                path: path.to_path_buf(),
                source: Box::new(source),
            };
            let reader = SerializedFileReader::new(file).map_err(perr)?;
            let n = usize::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0);
            let mut rows = Vec::with_capacity(n.min(1 << 20));
            for (i, row) in reader.get_row_iter(None).map_err(perr)?.enumerate() {
                let row = row.map_err(perr)?;
                rows.push(parse_row(&row, image_columns, label_columns, path, i)?);
            }
            Ok(rows)
        }));
    let rows = result.unwrap_or_else(|_| {
        Err(DataError::format(
            path,
            "the parquet decoder failed on this file",
        ))
    })?;
    if rows.is_empty() {
        return Err(DataError::format(path, "parquet file holds no rows"));
    }
    Ok(rows)
}

/// Without the `parquet` feature: an error naming the file.
#[cfg(not(feature = "parquet"))]
pub fn read_image_rows(
    path: &Path,
    _image_columns: &[&str],
    _label_columns: &[&str],
) -> Result<Vec<ImageRow>> {
    Err(DataError::format(
        path,
        "this build of ufom-datasets cannot read parquet (cargo feature `parquet`)",
    ))
}
