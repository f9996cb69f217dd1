//! Readers, splits and the sampler on small files written in the official formats.

mod common;

use candle_core::{DType, Device};
use common::*;
use ufom_datasets::omniglot::OmniglotOptions;
use ufom_datasets::*;

#[test]
fn mnist_idx_raw_and_gz_agree() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_mnist(a.path(), 30, 12, false);
    write_mnist(b.path(), 30, 12, true);
    let (ma, mb) = (
        Mnist::from_dir(a.path()).unwrap(),
        Mnist::from_dir(b.path()).unwrap(),
    );
    assert_eq!(ma.train, mb.train);
    assert_eq!(ma.test, mb.test);
    assert_eq!((ma.train.len(), ma.test.len()), (30, 12));
    let d = Device::Cpu;
    let flat = ma
        .train
        .images_tensor(ImageLayout::Flat, &d, DType::F32)
        .unwrap();
    assert_eq!(flat.dims(), &[30, 784]);
    let nchw = ma
        .test
        .images_tensor(ImageLayout::Nchw, &d, DType::F64)
        .unwrap();
    assert_eq!(nchw.dims(), &[12, 1, 28, 28]);
    assert_eq!(nchw.dtype(), DType::F64);
    let oh = ma.train.labels_one_hot(&d, DType::F32).unwrap();
    assert_eq!(oh.dims(), &[30, 10]);
    let v: Vec<Vec<f32>> = oh.to_vec2().unwrap();
    assert_eq!(v[3][3], 1.0);
    assert_eq!(v[3].iter().sum::<f32>(), 1.0);
}

#[test]
#[cfg(feature = "parquet")]
fn mnist_parquet_reader() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("mnist");
    std::fs::create_dir_all(&sub).unwrap();
    let rows = |n: usize| -> Vec<(Vec<u8>, Vec<i64>)> {
        (0..n)
            .map(|i| {
                (
                    png_gray(28, 28, bytes(784, i as u32)),
                    vec![(i % 10) as i64],
                )
            })
            .collect()
    };
    write_image_parquet(
        &sub.join("train-00000-of-00001.parquet"),
        "image",
        &["label"],
        &rows(7),
    );
    write_image_parquet(
        &sub.join("test-00000-of-00001.parquet"),
        "image",
        &["label"],
        &rows(3),
    );
    // Hub layout: <snapshot>/mnist/*.parquet, found from the snapshot root too.
    let m = Mnist::from_dir(dir.path()).unwrap();
    assert_eq!((m.train.len(), m.test.len()), (7, 3));
    assert_eq!(m.train.labels, vec![0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(&m.train.images[784 * 2..784 * 3], bytes(784, 2).as_slice());
    assert!(matches!(m.files, DatasetFiles::Parquet { .. }));
}

#[cfg(feature = "parquet")]
fn cifar_rows(n: usize, off: usize) -> Vec<(Vec<u8>, Vec<i64>)> {
    (0..n)
        .map(|i| {
            let f = ((i + off) % 100) as i64;
            (
                png_rgb(32, 32, bytes(3072, (i + off) as u32)),
                vec![f, f / 5],
            )
        })
        .collect()
}

#[test]
fn cifar_binary_reader() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("cifar-100-binary");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(
        bin.join("train.bin"),
        cifar_bin(6, |i| (i * 17 % 100) as u8),
    )
    .unwrap();
    std::fs::write(bin.join("test.bin"), cifar_bin(2, |i| i as u8)).unwrap();
    let c = Cifar100::from_dir(dir.path()).unwrap();
    assert_eq!((c.train.len(), c.test.len()), (6, 2));
    assert_eq!(c.train.fine[3], 51);
    assert_eq!(c.train.coarse[3], 10);
    assert_eq!(&c.train.images[3072..6144], bytes(3072, 8).as_slice());
    let t = c
        .train
        .select_images(&[0, 5], &Device::Cpu, DType::F32)
        .unwrap();
    assert_eq!(t.dims(), &[2, 3, 32, 32]);
}

#[test]
#[cfg(feature = "parquet")]
fn cifar_parquet_reader() {
    let pq = tempfile::tempdir().unwrap();
    let cols = ["fine_label", "coarse_label"];
    write_image_parquet(
        &pq.path().join("train-00000-of-00001.parquet"),
        "img",
        &cols,
        &cifar_rows(5, 0),
    );
    write_image_parquet(
        &pq.path().join("test-00000-of-00001.parquet"),
        "img",
        &cols,
        &cifar_rows(2, 40),
    );
    let c = Cifar100::from_dir(pq.path()).unwrap();
    assert_eq!((c.train.len(), c.test.len()), (5, 2));
    assert_eq!(c.test.fine, vec![40, 41]);
    assert_eq!(c.test.coarse, vec![8, 8]);
    // HWC in the PNG -> CHW: the red plane is every third byte.
    let hwc = bytes(3072, 1);
    let red: Vec<u8> = hwc.iter().step_by(3).copied().collect();
    assert_eq!(&c.train.images[3072..3072 + 1024], red.as_slice());
}

#[test]
fn cifar_fewshot_split_and_sampler() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("train.bin"),
        cifar_bin(500, |i| (i % 100) as u8),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("test.bin"),
        cifar_bin(100, |i| (i % 100) as u8),
    )
    .unwrap();
    let c = Cifar100::from_dir(dir.path()).unwrap();
    let s = cifar100_split(&c, 3).unwrap();
    assert_eq!((s.train_classes.len(), s.test_classes.len()), (80, 20));
    assert!(s.train_classes.iter().all(|k| k.count == 6));
    let mut all: Vec<&str> = s
        .train_classes
        .iter()
        .chain(&s.test_classes)
        .map(|k| k.name.as_str())
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 100);
    let other = cifar100_split(&c, 4).unwrap();
    assert_ne!(
        s.test_classes.iter().map(|k| &k.name).collect::<Vec<_>>(),
        other
            .test_classes
            .iter()
            .map(|k| &k.name)
            .collect::<Vec<_>>()
    );
    let sampler = TaskSampler::new(s, Device::Cpu, DType::F64);
    let t = sampler.sample_seeded(Split::Test, 5, 2, 3, 9).unwrap();
    assert_eq!(t.support_x.dims(), &[10, 3, 32, 32]);
    assert_eq!(t.query_x.dims(), &[15, 3, 32, 32]);
    assert_eq!(t.support_y, vec![0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    assert_eq!(t.query_y_one_hot(DType::F32).unwrap().dims(), &[15, 5]);
    assert!(
        sampler.sample_seeded(Split::Test, 5, 4, 3, 9).is_err(),
        "7 > 6 images per class"
    );
    assert!(
        sampler.sample_seeded(Split::Test, 21, 1, 1, 9).is_err(),
        "21 > 20 classes"
    );
}

#[test]
fn hypercleaning_on_small_mnist() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path(), 200, 20, true);
    let m = Mnist::from_dir(dir.path()).unwrap();
    let cfg = HypercleaningConfig {
        n_train: 100,
        n_val: 60,
        corruption: 0.3,
        seed: 5,
        ..Default::default()
    };
    let s = hypercleaning_split(&m, &cfg, &Device::Cpu, DType::F32).unwrap();
    assert_eq!(s.train_x.dims(), &[100, 784]);
    assert_eq!(s.val_x.dims(), &[60, 784]);
    assert_eq!(s.test_x.dims(), &[20, 784]);
    assert_eq!(s.corrupted_indices().len(), 30);
    assert!(s.changed_fraction() <= 0.3);
    for i in s.clean_indices() {
        assert_eq!(s.train_y[i], s.train_y_clean[i]);
    }
    let mut seen: Vec<usize> = s
        .train_indices
        .iter()
        .chain(&s.val_indices)
        .copied()
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 160, "train and val are disjoint");
    let again = hypercleaning_split(&m, &cfg, &Device::Cpu, DType::F32).unwrap();
    assert_eq!(
        (again.train_indices, again.train_y),
        (s.train_indices.clone(), s.train_y.clone())
    );
    let too_big = HypercleaningConfig {
        n_train: 150,
        n_val: 60,
        ..cfg
    };
    assert!(hypercleaning_split(&m, &too_big, &Device::Cpu, DType::F32).is_err());
}

#[test]
fn omniglot_dirs_zips_cache_and_sampler() {
    let dir = tempfile::tempdir().unwrap();
    write_omniglot(dir.path(), 2, 1, 3);
    let cache = tempfile::tempdir().unwrap();
    let opts = OmniglotOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..Default::default()
    };
    let a = Omniglot::from_dir(dir.path(), &opts).unwrap();
    assert!(!a.from_cache);
    assert_eq!((a.background_count(), a.evaluation_count()), (6, 3));
    assert_eq!(a.images.len(), 9 * 20 * 784);
    let b = Omniglot::from_dir(dir.path(), &opts).unwrap();
    assert!(b.from_cache, "second load uses the cache");
    assert_eq!(a.images, b.images);
    // A damaged cache (its tail overwritten, the file still parses) is never trusted: the
    // content checksum catches it and the data are decoded again, identical.
    let file = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .expect("cache file");
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len();
    bytes[n - 1000..].iter_mut().for_each(|b| *b = 0xAB);
    std::fs::write(&file, &bytes).unwrap();
    let c = Omniglot::from_dir(dir.path(), &opts).unwrap();
    assert!(!c.from_cache, "a damaged cache was trusted");
    assert_eq!(c.images, a.images);
    // Rewritten: the next load uses the cache again.
    assert!(Omniglot::from_dir(dir.path(), &opts).unwrap().from_cache);
    assert_eq!(a.characters, b.characters);
    // Inverted: background 0, strokes bright.
    let first = a.character_images(0).unwrap();
    assert_eq!(first[0], 0);
    assert!(first.iter().any(|&p| p > 200));
    // Zips decode to the same bytes.
    let zips = tempfile::tempdir().unwrap();
    zip_set(dir.path(), "images_background", zips.path());
    zip_set(dir.path(), "images_evaluation", zips.path());
    let z = Omniglot::from_dir(
        zips.path(),
        &OmniglotOptions {
            no_cache: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(z.images, a.images);
    assert_eq!(z.characters, a.characters);

    let s = omniglot_split_with(&a, 5, 1).unwrap();
    assert_eq!((s.train_classes.len(), s.test_classes.len()), (20, 4));
    assert!(omniglot_split(&a, 1).is_err(), "1200 > 9 characters");
    let sampler = TaskSampler::new(s, Device::Cpu, DType::F32);
    let t1 = sampler.sample_seeded(Split::Train, 4, 1, 2, 7).unwrap();
    let t2 = sampler.sample_seeded(Split::Train, 4, 1, 2, 7).unwrap();
    assert_eq!(t1.support_x.dims(), &[4, 1, 28, 28]);
    assert_eq!(t1.classes, t2.classes);
    let d = (t1.query_x - t2.query_x)
        .unwrap()
        .abs()
        .unwrap()
        .sum_all()
        .unwrap();
    assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0);
}

#[test]
fn rotations_compose() {
    let img: Vec<u8> = (0..16).collect();
    let r1 = fewshot::rotate90(&img, 4, 1);
    assert_eq!(r1[0], 3, "top-left after a CCW turn is the old top-right");
    assert_eq!(fewshot::rotate90(&r1, 4, 3), img);
    assert_eq!(fewshot::rotate90(&img, 4, 4), img);
}

#[test]
fn dataset_names_parse() {
    for d in Dataset::ALL {
        assert_eq!(d.name().parse::<Dataset>().unwrap(), d);
    }
    assert!("cifar10".parse::<Dataset>().is_err());
}
