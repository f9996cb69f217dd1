//! The IDX and CIFAR-100 parsers never panic, whatever the bytes.

use std::path::Path;

use proptest::prelude::*;
use ufom_datasets::{cifar, idx};

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn idx_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        for magic in [idx::MAGIC_LABELS, idx::MAGIC_IMAGES] {
            let _ = idx::parse_idx(&data, magic, Path::new("fuzz.idx"));
        }
    }

    #[test]
    fn idx_valid_header_random_dims(
        dims in proptest::collection::vec(any::<u32>(), 3),
        tail in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut data = vec![0, 0, 8, 3];
        for d in &dims {
            data.extend_from_slice(&d.to_be_bytes());
        }
        data.extend_from_slice(&tail);
        let r = idx::parse_idx(&data, idx::MAGIC_IMAGES, Path::new("fuzz.idx"));
        let expected = dims.iter().map(|&d| d as u128).product::<u128>() + 16;
        prop_assert_eq!(r.is_ok(), expected == data.len() as u128);
    }

    #[test]
    fn cifar_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..7000)) {
        let r = cifar::parse_cifar100_bin(&data, Path::new("fuzz.bin"));
        if let Ok(s) = r {
            prop_assert_eq!(s.len() * cifar::RECORD, data.len());
        }
    }

    #[test]
    fn cifar_whole_records(n in 1usize..4, labels in proptest::collection::vec(any::<u8>(), 8)) {
        let mut data = vec![0u8; n * cifar::RECORD];
        for i in 0..n {
            data[i * cifar::RECORD] = labels[2 * i];
            data[i * cifar::RECORD + 1] = labels[2 * i + 1];
        }
        let ok = (0..n).all(|i| labels[2 * i] < 20 && labels[2 * i + 1] < 100);
        prop_assert_eq!(cifar::parse_cifar100_bin(&data, Path::new("fuzz.bin")).is_ok(), ok);
    }
}
