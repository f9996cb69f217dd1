//! Damaged inputs: each gets a specific error that names the offending file.

mod common;

use std::path::Path;

use common::*;
use ufom_datasets::omniglot::OmniglotOptions;
use ufom_datasets::{
    cifar, mnist, Cifar100, DataConfig, DataError, Dataset, HubConfig, Mnist, Omniglot, Origin,
};

fn names(err: &DataError, path: &Path) {
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "error `{msg}` does not name {}",
        path.display()
    );
}

fn no_cache() -> OmniglotOptions {
    OmniglotOptions {
        no_cache: true,
        ..Default::default()
    }
}

#[test]
fn truncated_idx_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path(), 20, 10, true);
    let p = dir.path().join("train-images-idx3-ubyte.gz");
    let full = idx_bytes(&[20, 28, 28], &bytes(20 * 784, 1));
    std::fs::write(&p, gzip(&full[..full.len() - 100])).unwrap();
    let err = Mnist::from_dir(dir.path()).unwrap_err();
    assert!(
        matches!(err, DataError::Truncated { expected, found, .. } if expected == full.len() as u64 && found == full.len() as u64 - 100),
        "{err}"
    );
    names(&err, &p);
}

#[test]
fn truncated_gzip_stream_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path(), 20, 10, true);
    let p = dir.path().join("t10k-labels-idx1-ubyte.gz");
    let gz = std::fs::read(&p).unwrap();
    std::fs::write(&p, &gz[..gz.len() / 2]).unwrap();
    let err = Mnist::from_dir(dir.path()).unwrap_err();
    assert!(
        matches!(err, DataError::Gzip { .. } | DataError::Truncated { .. }),
        "{err}"
    );
    names(&err, &p);
}

#[test]
fn wrong_magic_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path(), 20, 10, false);
    let p = dir.path().join("train-labels-idx1-ubyte");
    // an images file where labels are expected
    std::fs::write(&p, idx_bytes(&[20, 28, 28], &bytes(20 * 784, 3))).unwrap();
    let err = Mnist::from_dir(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::BadMagic {
                found: 0x803,
                expected: 0x801,
                ..
            }
        ),
        "{err}"
    );
    names(&err, &p);
}

#[test]
fn wrong_dims_are_named() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path(), 20, 10, false);
    let p = dir.path().join("t10k-images-idx3-ubyte");
    std::fs::write(&p, idx_bytes(&[10, 27, 28], &bytes(10 * 27 * 28, 3))).unwrap();
    let err = Mnist::from_dir(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::BadDims { .. }), "{err}");
    names(&err, &p);
}

#[test]
fn trailing_bytes_count_mismatch_and_bad_labels_are_named() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path(), 20, 10, false);
    let p = dir.path().join("train-labels-idx1-ubyte");
    let mut b = idx_bytes(&[20], &[1; 20]);
    b.push(0);
    std::fs::write(&p, &b).unwrap();
    let err = Mnist::from_dir(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::TrailingBytes { .. }), "{err}");
    names(&err, &p);

    std::fs::write(&p, idx_bytes(&[19], &[1; 19])).unwrap();
    let err = Mnist::from_dir(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                n_images: 20,
                n_labels: 19,
                ..
            }
        ),
        "{err}"
    );
    names(&err, &p);

    let mut labels = vec![1u8; 20];
    labels[7] = 10;
    std::fs::write(&p, idx_bytes(&[20], &labels)).unwrap();
    let err = Mnist::from_dir(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::BadLabel {
                index: 7,
                label: 10,
                ..
            }
        ),
        "{err}"
    );
    names(&err, &p);
}

#[test]
fn missing_mnist_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path(), 20, 10, true);
    std::fs::remove_file(dir.path().join("t10k-images-idx3-ubyte.gz")).unwrap();
    let err = Mnist::from_dir(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err}");
    names(&err, &dir.path().join("t10k-images-idx3-ubyte"));
}

#[test]
fn wrong_cifar_record_size_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut train = cifar_bin(5, |i| i as u8);
    train.pop();
    std::fs::write(dir.path().join("train.bin"), &train).unwrap();
    std::fs::write(dir.path().join("test.bin"), cifar_bin(2, |_| 3)).unwrap();
    let err = Cifar100::from_dir(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::BadRecordSize {
                record: cifar::RECORD,
                ..
            }
        ),
        "{err}"
    );
    names(&err, &dir.path().join("train.bin"));

    std::fs::write(dir.path().join("train.bin"), cifar_bin(3, |i| 98 + i as u8)).unwrap();
    let err = Cifar100::from_dir(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::BadLabel { index: 2, .. }), "{err}");
    names(&err, &dir.path().join("train.bin"));

    std::fs::write(dir.path().join("train.bin"), cifar_bin(3, |i| i as u8)).unwrap();
    std::fs::write(dir.path().join("test.bin"), b"").unwrap();
    let err = Cifar100::from_dir(dir.path()).unwrap_err();
    assert!(
        matches!(err, DataError::BadRecordSize { len: 0, .. }),
        "{err}"
    );
    names(&err, &dir.path().join("test.bin"));
}

#[test]
fn corrupt_parquet_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "train-00000-of-00001.parquet",
        "test-00000-of-00001.parquet",
    ] {
        std::fs::write(dir.path().join(name), b"PAR1 this is not parquet PAR1").unwrap();
    }
    let err = Mnist::from_dir(dir.path()).unwrap_err();
    names(&err, &dir.path().join("train-00000-of-00001.parquet"));
}

#[test]
fn missing_class_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_omniglot(dir.path(), 1, 1, 3);
    let alpha = dir
        .path()
        .join("images_evaluation/Alpha0_images_evaluation");
    std::fs::remove_dir_all(alpha.join("character02")).unwrap();
    let err = Omniglot::from_dir(dir.path(), &no_cache()).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err}");
    names(&err, &alpha.join("character02"));
}

#[test]
fn missing_evaluation_set_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_omniglot(dir.path(), 1, 1, 1);
    std::fs::remove_dir_all(dir.path().join("images_evaluation")).unwrap();
    let err = Omniglot::from_dir(dir.path(), &no_cache()).unwrap_err();
    names(&err, &dir.path().join("images_evaluation"));
}

#[test]
fn corrupt_png_is_named_in_dirs_and_zips() {
    let dir = tempfile::tempdir().unwrap();
    write_omniglot(dir.path(), 1, 1, 2);
    let bad = dir
        .path()
        .join("images_background/Alpha0_images_background/character02/0200_05.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\n garbage").unwrap();
    let err = Omniglot::from_dir(dir.path(), &no_cache()).unwrap_err();
    assert!(matches!(err, DataError::Png { .. }), "{err}");
    names(&err, &bad);

    let zips = tempfile::tempdir().unwrap();
    zip_set(dir.path(), "images_background", zips.path());
    zip_set(dir.path(), "images_evaluation", zips.path());
    let err = Omniglot::from_dir(zips.path(), &no_cache()).unwrap_err();
    assert!(matches!(err, DataError::Png { .. }), "{err}");
    let inner = zips.path().join(
        "images_background.zip/images_background/Alpha0_images_background/character02/0200_05.png",
    );
    names(&err, &inner);
}

#[test]
fn wrong_drawing_count_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_omniglot(dir.path(), 1, 1, 1);
    let c = dir
        .path()
        .join("images_background/Alpha0_images_background/character01");
    std::fs::remove_file(c.join("0100_03.png")).unwrap();
    let err = Omniglot::from_dir(dir.path(), &no_cache()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::WrongCount {
                expected: 20,
                found: 19,
                ..
            }
        ),
        "{err}"
    );
    names(&err, &c);
}

#[test]
fn empty_directories_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("images_background")).unwrap();
    std::fs::create_dir_all(dir.path().join("images_evaluation")).unwrap();
    let err = Omniglot::from_dir(dir.path(), &no_cache()).unwrap_err();
    assert!(matches!(err, DataError::EmptyDir { .. }), "{err}");
    names(&err, &dir.path().join("images_background"));

    let ch = dir.path().join("images_background/Alpha/character01");
    std::fs::create_dir_all(&ch).unwrap();
    let err = Omniglot::from_dir(dir.path(), &no_cache()).unwrap_err();
    assert!(matches!(err, DataError::EmptyDir { .. }), "{err}");
    names(&err, &ch);
}

#[test]
fn empty_data_dir_gives_the_missing_dataset_message() {
    let dir = tempfile::tempdir().unwrap();
    let err = Mnist::from_dir(dir.path()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DataError::MissingDataset { .. }), "{msg}");
    assert!(msg.contains("ufom data fetch mnist"), "{msg}");
    names(&err, dir.path());

    // Full resolution chain (--data-dir, UFOM_DATA_DIR, Hub cache), each place empty: the
    // message names every one and the fetch command.
    let env_dir = tempfile::tempdir().unwrap();
    let hub = tempfile::tempdir().unwrap();
    let config = DataConfig {
        data_dir: Some(dir.path().to_path_buf()),
        env_data_dir: Some(env_dir.path().to_path_buf()),
        hub: HubConfig {
            cache_dir: Some(hub.path().to_path_buf()),
            ..HubConfig::default()
        },
        ..DataConfig::default()
    };
    match ufom_datasets::locate(Dataset::Cifar100, &config) {
        Err(e @ DataError::MissingDataset { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("ufom data fetch cifar100"), "{msg}");
            names(&e, dir.path());
            names(&e, env_dir.path());
            names(&e, &hub.path().join("datasets--uoft-cs--cifar100"));
        }
        other => panic!("unexpected result {other:?}"),
    }
    // A set found in the UFOM_DATA_DIR directory says so.
    write_mnist(&env_dir.path().join("mnist"), 2, 1, false);
    let loc = ufom_datasets::locate(Dataset::Mnist, &config).unwrap();
    assert_eq!(loc.origin, Origin::EnvVar(env_dir.path().to_path_buf()));
    assert!(loc.origin.to_string().starts_with("UFOM_DATA_DIR="));
}

#[test]
fn one_hot_rejects_out_of_range_labels() {
    let d = candle_core::Device::Cpu;
    assert!(ufom_datasets::one_hot(&[0, 10], mnist::CLASSES, &d, candle_core::DType::F32).is_err());
}

#[test]
#[cfg(feature = "parquet")]
fn corrupt_png_in_parquet_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let rows = |bad: bool| -> Vec<(Vec<u8>, Vec<i64>)> {
        (0..3)
            .map(|i| {
                let png = if bad && i == 1 {
                    b"not a png".to_vec()
                } else {
                    png_gray(28, 28, bytes(784, i))
                };
                (png, vec![i as i64])
            })
            .collect()
    };
    let train = dir.path().join("train-00000-of-00001.parquet");
    write_image_parquet(&train, "image", &["label"], &rows(true));
    write_image_parquet(
        &dir.path().join("test-00000-of-00001.parquet"),
        "image",
        &["label"],
        &rows(false),
    );
    let err = Mnist::from_dir(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::Png { .. }), "{err}");
    names(&err, &train.join("row1"));
}

#[test]
fn corrupt_zip_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let bg = dir.path().join("images_background.zip");
    std::fs::write(&bg, b"PK\x03\x04 truncated").unwrap();
    std::fs::write(dir.path().join("images_evaluation.zip"), b"").unwrap();
    let err = Omniglot::from_dir(dir.path(), &no_cache()).unwrap_err();
    assert!(matches!(err, DataError::Zip { .. }), "{err}");
    names(&err, &bg);
}

/// `--data-dir` naming nothing, or a file, is an error naming it (no silent fallback to
/// `UFOM_DATA_DIR` or the Hub cache); an existing directory is accepted (control).
#[test]
fn data_dir_must_be_an_existing_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-dir");
    match ufom_datasets::locate(Dataset::Mnist, &DataConfig::with_data_dir(&missing)) {
        Err(e @ DataError::Missing { .. }) => assert!(e.to_string().contains("no-such-dir")),
        other => panic!("missing --data-dir accepted: {other:?}"),
    }
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    match ufom_datasets::locate(Dataset::Mnist, &DataConfig::with_data_dir(&file)) {
        Err(e @ DataError::BadFormat { .. }) => assert!(e.to_string().contains("a-file")),
        other => panic!("a file as --data-dir accepted: {other:?}"),
    }
    // Control: an existing empty directory passes this check (the search then goes on).
    if let Err(e) = ufom_datasets::locate(Dataset::Mnist, &DataConfig::with_data_dir(dir.path())) {
        assert!(matches!(e, DataError::MissingDataset { .. }), "{e}");
    }
}

/// A drawing that is not 105×105 (the size of every drawing in the official release) is named
/// as a format error instead of being resized silently; the well-formed tree loads (control).
#[test]
fn wrong_size_drawing_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_omniglot(dir.path(), 1, 1, 2);
    Omniglot::from_dir(dir.path(), &no_cache()).expect("a well-formed tree loads");
    let bad = dir
        .path()
        .join("images_background/Alpha0_images_background/character01/0100_07.png");
    std::fs::write(&bad, png_gray(50, 50, vec![255u8; 50 * 50])).unwrap();
    let err = Omniglot::from_dir(dir.path(), &no_cache()).unwrap_err();
    assert!(matches!(err, DataError::BadFormat { .. }), "{err}");
    assert!(err.to_string().contains("50x50"), "{err}");
    names(&err, &bad);
}

/// The tree digest of `data verify`: stable, and changed by any byte of any file.
#[test]
fn tree_sha256_changes_with_content() {
    let dir = tempfile::tempdir().unwrap();
    write_omniglot(dir.path(), 1, 0, 1);
    let root = dir.path().join("images_background");
    let a = ufom_datasets::source::sha256_path(&root).unwrap();
    assert_eq!(a, ufom_datasets::source::sha256_path(&root).unwrap());
    assert_eq!(a.len(), 64);
    let f = root.join("Alpha0_images_background/character01/0100_01.png");
    let mut bytes = std::fs::read(&f).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&f, bytes).unwrap();
    assert_ne!(a, ufom_datasets::source::sha256_path(&root).unwrap());
}
