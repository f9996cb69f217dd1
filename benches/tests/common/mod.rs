//! Helpers shared by the end-to-end tests of the `ufom` binary.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `ufom` with `args`, isolated from the user's data and Hub cache (`hf_home`).
pub fn ufom_isolated(args: &[&str], hf_home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ufom"))
        .args(args)
        .env_remove("UFOM_DATA_DIR")
        .env_remove("UFOM_FEWSHOT_BACKWARD_CLIP")
        .env("HF_HOME", hf_home)
        .env("HF_HUB_CACHE", hf_home.join("hub"))
        .output()
        .expect("run ufom")
}

/// `n` records of the official CIFAR-100 binary format (coarse label, fine label, 3072 pixel
/// bytes), fine label `i % 100`; records of class `skip` are left out.
pub fn cifar_bin(n: usize, offset: usize, skip: Option<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 3074);
    for i in 0..n {
        let fine = (i % 100) as u8;
        if Some(fine) == skip {
            continue;
        }
        out.push(fine / 5);
        out.push(fine);
        // Class-dependent images, so the task is learnable in principle.
        out.extend(
            (0..3072).map(|p| ((p * (usize::from(fine) + 1) + 31 * (i + offset)) % 251) as u8),
        );
    }
    out
}

/// Writes small official-format CIFAR-100 files under `<data>/cifar100/`: 11 train + 1 test
/// image per class (12 pooled: enough for Reptile's 10 train shots + 1 query), class `skip`
/// with its test image only. `offset` varies the pixels.
pub fn write_cifar(data: &Path, offset: usize, skip: Option<u8>) {
    let dir = data.join("cifar100");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("train.bin"), cifar_bin(1100, offset, skip)).expect("train.bin");
    std::fs::write(dir.join("test.bin"), cifar_bin(100, 5000 + offset, None)).expect("test.bin");
}

/// Stdout and stderr as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// (cells run, cells resumed) of `experiment` in the end-of-run summary on stdout.
pub fn summary_cells(stdout: &str, experiment: &str) -> (usize, usize) {
    let row = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(experiment))
        .unwrap_or_else(|| panic!("no summary row for {experiment} in:\n{stdout}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    (
        cols[2].parse().expect("cells run"),
        cols[3].parse().expect("resumed"),
    )
}

/// A report or cell without its timing fields (and the cells' wall-time derived values).
pub fn without_timing(mut v: serde_json::Value) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("wall_s");
                m.remove("seconds_per_call");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}
