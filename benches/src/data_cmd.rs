//! `ufom data info|verify|fetch <mnist|omniglot|cifar100>`: inspect, check and download the
//! data sets of the benchmarks.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use ufom_datasets::source::{self, Dataset, Located};
use ufom_datasets::{cifar, mnist, Cifar100, DataConfig, Mnist, Omniglot};

use crate::config::Config;

/// Arguments of `ufom data`.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Directory holding `mnist/`, `omniglot/`, `cifar100/` (searched before `UFOM_DATA_DIR`
    /// and the Hugging Face Hub cache).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: DataCommand,
}

/// The `ufom data` subcommands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Print counts and where the data came from.
    Info {
        /// The data set.
        dataset: DatasetArg,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check structure (every file decoded) and checksums.
    Verify {
        /// The data set.
        dataset: DatasetArg,
    },
    /// Download from the Hugging Face Hub into its cache (honours HF_HOME, HF_ENDPOINT).
    Fetch {
        /// The data set.
        dataset: DatasetArg,
    },
}

/// A data set name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetArg {
    /// MNIST digits.
    Mnist,
    /// Omniglot characters.
    Omniglot,
    /// CIFAR-100.
    Cifar100,
}

impl From<DatasetArg> for Dataset {
    fn from(d: DatasetArg) -> Self {
        match d {
            DatasetArg::Mnist => Dataset::Mnist,
            DatasetArg::Omniglot => Dataset::Omniglot,
            DatasetArg::Cifar100 => Dataset::Cifar100,
        }
    }
}

/// Runs `ufom data ...`.
pub fn run(args: &DataArgs, config: &Config) -> Result<()> {
    let data = config.data(args.data_dir.clone());
    match &args.command {
        DataCommand::Info { dataset, json } => info((*dataset).into(), &data, *json),
        DataCommand::Verify { dataset } => verify((*dataset).into(), &data),
        DataCommand::Fetch { dataset } => {
            if let Some(dir) = &args.data_dir {
                return Err(crate::cli::UsageError(format!(
                    "--data-dir {} does not apply to `data fetch`: it downloads into the Hugging \
                     Face cache (set HF_HOME to choose where); to use files you already have, put \
                     them under <DIR>/{}/ and pass --data-dir to the other commands",
                    dir.display(),
                    Dataset::from(*dataset)
                ))
                .into());
            }
            let d: Dataset = (*dataset).into();
            let loc = ufom_datasets::hub::fetch(d, &data.hub).with_context(|| {
                format!(
                    "fetching {d} (offline? set HF_ENDPOINT to a mirror, or put the files in \
                     --data-dir / UFOM_DATA_DIR under `{d}/`)"
                )
            })?;
            println!(
                "{d}: fetched from {}/datasets/{}",
                data.hub.endpoint().trim_end_matches('/'),
                data.hub.repo(d)
            );
            print_files(&loc);
            Ok(())
        }
    }
}

fn print_files(loc: &Located) {
    println!("  source: {}", loc.origin);
    for p in loc.files.paths() {
        println!("  file:   {}", p.display());
    }
}

fn info(d: Dataset, data: &DataConfig, as_json: bool) -> Result<()> {
    let loc = ufom_datasets::locate(d, data)?;
    let start = std::time::Instant::now();
    let (counts, extra) = match d {
        Dataset::Mnist => {
            let m = Mnist::from_located(loc.clone())?;
            let (mean, std) = m.train.pixel_mean_std();
            (
                json!({"train": m.train.len(), "test": m.test.len(), "classes": mnist::CLASSES}),
                json!({"train_pixel_mean": mean, "train_pixel_std": std, "image": [1, 28, 28]}),
            )
        }
        Dataset::Omniglot => {
            let o = Omniglot::from_located(loc.clone(), &data.omniglot_options())?;
            (
                json!({"background_characters": o.background_count(),
                       "evaluation_characters": o.evaluation_count(),
                       "drawings_per_character": ufom_datasets::omniglot::DRAWINGS}),
                json!({"from_cache": o.from_cache, "image": [1, 28, 28],
                       "resize_filter": "Lanczos3"}),
            )
        }
        Dataset::Cifar100 => {
            let c = Cifar100::from_located(loc.clone())?;
            (
                json!({"train": c.train.len(), "test": c.test.len(),
                       "fine_classes": cifar::FINE_CLASSES}),
                json!({"image": [3, 32, 32]}),
            )
        }
    };
    let secs = start.elapsed().as_secs_f64();
    if as_json {
        let out = json!({"dataset": d, "origin": loc.origin, "files": loc.files,
                         "counts": counts, "details": extra, "load_seconds": secs});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{d}: loaded in {secs:.2} s");
        print_files(&loc);
        for (k, v) in counts.as_object().into_iter().flatten() {
            println!("  {k}: {v}");
        }
        for (k, v) in extra.as_object().into_iter().flatten() {
            println!("  {k}: {v}");
        }
    }
    Ok(())
}

fn verify(d: Dataset, data: &DataConfig) -> Result<()> {
    let loc = ufom_datasets::locate(d, data)?;
    println!("{d}: verifying");
    print_files(&loc);
    let mut problems = Vec::new();
    match d {
        Dataset::Mnist => {
            let m = Mnist::from_located(loc.clone())?;
            println!(
                "  structure ok: {} train, {} test",
                m.train.len(),
                m.test.len()
            );
            if (m.train.len(), m.test.len()) != (60000, 10000) {
                problems.push(format!(
                    "expected 60000/10000 images, found {}/{}",
                    m.train.len(),
                    m.test.len()
                ));
            }
            for c in mnist::checksums(&loc.files)? {
                let verdict = match c.canonical {
                    Some(true) => "matches canonical",
                    Some(false) => "DIFFERS from canonical",
                    None => "no canonical value",
                };
                println!("  sha256 {} {} ({verdict})", c.sha256, c.path.display());
                if c.canonical == Some(false) {
                    problems.push(format!("{}: checksum differs", c.path.display()));
                }
            }
        }
        Dataset::Omniglot => {
            let opts = ufom_datasets::OmniglotOptions {
                no_cache: true,
                ..Default::default()
            };
            let o = Omniglot::from_located(loc.clone(), &opts)?;
            println!(
                "  every PNG decoded (105x105): {} + {} characters x 20",
                o.background_count(),
                o.evaluation_count()
            );
            for p in loc.files.paths() {
                println!("  sha256 {} {}", source::sha256_path(p)?, p.display());
            }
            // The decoded-image cache, if there is one, must hold exactly these images.
            if let Some(dir) = &data.cache_dir {
                let cached = Omniglot::from_located(
                    loc.clone(),
                    &ufom_datasets::OmniglotOptions {
                        cache_dir: Some(dir.clone()),
                        ..Default::default()
                    },
                )?;
                if !cached.from_cache {
                    println!(
                        "  cache in {}: absent or damaged; rebuilt from the PNGs",
                        dir.display()
                    );
                } else if cached.images == o.images {
                    println!(
                        "  cache in {}: ok (checksum and contents match the PNGs)",
                        dir.display()
                    );
                } else {
                    problems.push(format!(
                        "the cache in {} differs from the PNGs",
                        dir.display()
                    ));
                }
            }
            if (o.background_count(), o.evaluation_count()) != (964, 659) {
                problems.push(format!(
                    "expected 964 + 659 characters, found {} + {}",
                    o.background_count(),
                    o.evaluation_count()
                ));
            }
        }
        Dataset::Cifar100 => {
            let c = Cifar100::from_located(loc.clone())?;
            println!(
                "  structure ok: {} train, {} test",
                c.train.len(),
                c.test.len()
            );
            if (c.train.len(), c.test.len()) != (50000, 10000) {
                problems.push(format!(
                    "expected 50000/10000 images, found {}/{}",
                    c.train.len(),
                    c.test.len()
                ));
            }
            let mut per_class = [0usize; cifar::FINE_CLASSES];
            for &l in c.train.fine.iter().chain(&c.test.fine) {
                per_class[usize::from(l)] += 1;
            }
            for c in mnist::checksums(&loc.files)? {
                println!("  sha256 {} {}", c.sha256, c.path.display());
            }
            let empty = per_class.iter().filter(|&&n| n == 0).count();
            if empty > 0 {
                problems.push(format!("{empty} fine classes have no image"));
            }
        }
    }
    if problems.is_empty() {
        println!("{d}: OK");
        Ok(())
    } else {
        bail!("{d}: verification failed:\n  {}", problems.join("\n  "))
    }
}
