//! Tests on the real data (UFOM_DATA_DIR, else ../../shared/datasets); they skip with a printed
//! `SKIPPED:` reason when it is absent.

mod common;

use std::time::Instant;

use candle_core::{DType, Device};
use common::real_data_root;
use ufom_datasets::omniglot::OmniglotOptions;
use ufom_datasets::*;

#[test]
fn real_mnist_counts_stats_and_checksums() {
    let Some(root) = real_data_root("real_mnist", "mnist") else {
        return;
    };
    let t = Instant::now();
    let m = Mnist::load(&DataConfig::with_data_dir(&root)).unwrap();
    eprintln!("MNIST load: {:.2} s", t.elapsed().as_secs_f64());
    assert_eq!((m.train.len(), m.test.len()), (60000, 10000));
    let (mean, std) = m.train.pixel_mean_std();
    eprintln!("MNIST train pixel mean {mean:.6} std {std:.6}");
    assert_eq!(format!("{mean:.4}"), "0.1307");
    assert_eq!(format!("{std:.4}"), "0.3081");
    for c in mnist::checksums(&m.files).unwrap() {
        assert_eq!(c.canonical, Some(true), "{}", c.path.display());
    }
}

#[test]
fn real_hypercleaning_split() {
    let Some(root) = real_data_root("real_hypercleaning", "mnist") else {
        return;
    };
    let m = Mnist::load(&DataConfig::with_data_dir(&root)).unwrap();
    let d = Device::Cpu;
    let s = hypercleaning_split(&m, &HypercleaningConfig::default(), &d, DType::F32).unwrap();
    assert_eq!(s.train_x.dims(), &[5000, 784]);
    assert_eq!(s.val_x.dims(), &[5000, 784]);
    assert_eq!(s.test_x.dims(), &[10000, 784]);
    assert_eq!(s.corrupted_indices().len(), 2500);
    let changed = s.changed_fraction();
    eprintln!("hypercleaning default: resampled 0.5, changed {changed:.4}");
    assert!((0.42..0.48).contains(&changed), "{changed}");
    let cfg = HypercleaningConfig {
        n_train: 20000,
        n_val: 5000,
        corruption: 0.2,
        seed: 1,
        layout: ImageLayout::Nchw,
    };
    let s = hypercleaning_split(&m, &cfg, &d, DType::F64).unwrap();
    assert_eq!(s.train_x.dims(), &[20000, 1, 28, 28]);
    assert_eq!(s.corrupted_indices().len(), 4000);
    assert!((s.corrupted_fraction() - 0.2).abs() < 1e-12);
}

#[test]
fn real_omniglot_full_decode_cache_and_tasks() {
    let Some(root) = real_data_root("real_omniglot", "omniglot") else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let opts = OmniglotOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..Default::default()
    };
    let loc = locate(Dataset::Omniglot, &DataConfig::with_data_dir(&root)).unwrap();
    let t = Instant::now();
    let a = Omniglot::from_located(loc.clone(), &opts).unwrap();
    let decode = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let b = Omniglot::from_located(loc, &opts).unwrap();
    let cached = t.elapsed().as_secs_f64();
    eprintln!("Omniglot decode {decode:.2} s, from cache {cached:.2} s");
    assert!(!a.from_cache && b.from_cache);
    assert_eq!(a.images, b.images);
    assert_eq!((a.background_count(), a.evaluation_count()), (964, 659));
    assert_eq!(a.images.len(), 1623 * 20 * 784);

    let split = omniglot_split(&a, 0).unwrap();
    assert_eq!(
        (split.train_classes.len(), split.test_classes.len()),
        (4800, 423)
    );
    let sampler = TaskSampler::new(split, Device::Cpu, DType::F32);
    let t1 = sampler.sample_seeded(Split::Train, 20, 1, 1, 42).unwrap();
    let t2 = sampler.sample_seeded(Split::Train, 20, 1, 1, 42).unwrap();
    let t3 = sampler.sample_seeded(Split::Train, 20, 1, 1, 43).unwrap();
    assert_eq!(t1.support_x.dims(), &[20, 1, 28, 28]);
    assert_eq!(t1.support_y, (0..20).collect::<Vec<u32>>());
    let diff = |x: &candle_core::Tensor, y: &candle_core::Tensor| {
        (x - y)
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    assert_eq!(t1.classes, t2.classes);
    assert_eq!(diff(&t1.support_x, &t2.support_x), 0.0);
    assert_eq!(diff(&t1.query_x, &t2.query_x), 0.0);
    assert_ne!(t1.classes, t3.classes);
    assert!(diff(&t1.support_x, &t3.support_x) > 0.0);
    let test = sampler.sample_seeded(Split::Test, 40, 1, 1, 1).unwrap();
    assert_eq!(test.query_x.dims(), &[40, 1, 28, 28]);
    // Another split seed gives other meta-test characters.
    let other = omniglot_split(&a, 1).unwrap();
    assert_ne!(
        sampler
            .split
            .test_classes
            .iter()
            .map(|c| &c.name)
            .collect::<Vec<_>>(),
        other
            .test_classes
            .iter()
            .map(|c| &c.name)
            .collect::<Vec<_>>()
    );
}
