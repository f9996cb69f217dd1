//! Resolution through the Hugging Face Hub cache, and `fetch` failing cleanly when offline.
//! The Hub settings are values in a `DataConfig`: nothing here reads or sets the environment.
#![cfg(feature = "parquet")]

mod common;

use common::*;
use ufom_datasets::{
    fetch, locate, Cifar100, DataConfig, DataError, Dataset, DatasetFiles, HubConfig, Origin,
};

#[test]
fn hub_cache_is_searched_last_and_fetch_fails_cleanly_offline() {
    let home = tempfile::tempdir().unwrap();
    // Fake snapshot of uoft-cs/cifar100 in the hf-hub cache layout.
    let repo = home.path().join("hub/datasets--uoft-cs--cifar100");
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "abc123").unwrap();
    let snap = repo.join("snapshots/abc123/cifar100");
    std::fs::create_dir_all(&snap).unwrap();
    let rows = |n: usize| -> Vec<(Vec<u8>, Vec<i64>)> {
        (0..n)
            .map(|i| (png_rgb(32, 32, bytes(3072, i as u32)), vec![i as i64, 0]))
            .collect()
    };
    let cols = ["fine_label", "coarse_label"];
    write_image_parquet(
        &snap.join("train-00000-of-00001.parquet"),
        "img",
        &cols,
        &rows(4),
    );
    write_image_parquet(
        &snap.join("test-00000-of-00001.parquet"),
        "img",
        &cols,
        &rows(2),
    );

    let empty = tempfile::tempdir().unwrap();
    let mut config = DataConfig {
        data_dir: Some(empty.path().to_path_buf()),
        hub: HubConfig {
            cache_dir: Some(home.path().join("hub")),
            ..HubConfig::default()
        },
        ..DataConfig::default()
    };
    let loc = locate(Dataset::Cifar100, &config).unwrap();
    assert_eq!(loc.origin, Origin::HubCache(home.path().join("hub")));
    assert!(matches!(loc.files, DatasetFiles::Parquet { .. }));
    let c = Cifar100::from_located(loc).unwrap();
    assert_eq!((c.train.len(), c.test.len()), (4, 2));

    // Missing everywhere: the message lists the Hub cache too.
    let err = locate(Dataset::Mnist, &config).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("datasets--ylecun--mnist"), "{msg}");
    assert!(msg.contains("ufom data fetch mnist"), "{msg}");

    // Offline fetch: an endpoint nothing listens on gives a named error, not a panic.
    config.hub.endpoint = Some("http://127.0.0.1:9".into());
    let err = fetch(Dataset::Mnist, &config.hub).unwrap_err();
    assert!(matches!(err, DataError::Fetch { .. }), "{err}");
    assert!(err.to_string().contains("ylecun/mnist"), "{err}");

    // The configured Omniglot repository names both the download and the cache folder.
    config.hub.omniglot_repo = "someone/omniglot-zips".into();
    let err = fetch(Dataset::Omniglot, &config.hub).unwrap_err();
    assert!(err.to_string().contains("someone/omniglot-zips"), "{err}");
    let err = locate(Dataset::Omniglot, &config).unwrap_err();
    assert!(
        err.to_string().contains("datasets--someone--omniglot-zips"),
        "{err}"
    );

    // Without a Hub cache directory, fetching says how to get one.
    let err = fetch(Dataset::Mnist, &HubConfig::default()).unwrap_err();
    assert!(err.to_string().contains("no cache directory"), "{err}");
}
