//! The SLURM job array over the tasks of a plan that still have unfinished cells.

use super::task::finished_cells;
use super::{read_plan, task_cells, task_count};
use crate::harness::record::CodeIdentity;
use crate::harness::runner;
use crate::harness::store::write_atomic;
use anyhow::Result;
use std::path::{Path, PathBuf};
use ufom_datasets::DataConfig;

/// Settings of the job array.
#[derive(Clone, Debug, Default)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time` (e.g. `04:00:00`).
    pub time: Option<String>,
    /// `--gpus-per-task`.
    pub gpus_per_task: Option<u32>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<u32>,
    /// At most this many tasks at once (`%K`).
    pub max_parallel: Option<u32>,
    /// Cells per task.
    pub cells_per_task: usize,
    /// The `ufom` the tasks run (absolute path, or a launcher such as the GPU bundle's).
    pub ufom: PathBuf,
}

/// `0-3,5,7-9`: the sorted indices as SLURM array ranges.
pub fn array_ranges(indices: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            i += 1;
            end = indices[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// The sbatch script of a job array over the tasks of the plan in `dir` that still have
/// unfinished cells (all of them the first time; only those left after a failure or a kill),
/// and those task indices. `None` when every cell is finished by `code` (a cell of other code
/// is run again, as `ufom cell run` would). `data` locates the data sets as for [`options`].
pub fn sbatch_script(
    dir: &Path,
    o: &SlurmOptions,
    data: &DataConfig,
    code: &CodeIdentity,
) -> Result<Option<(String, Vec<usize>)>> {
    let (plan, cells) = read_plan(dir)?;
    let done = finished_cells(dir, &plan, &cells, data, code)?;
    let per = o.cells_per_task.max(1);
    let pending: Vec<usize> = (0..task_count(cells.len(), per))
        .filter(|&t| task_cells(&cells, t, per).iter().any(|c| !done[c.index]))
        .collect();
    if pending.is_empty() {
        return Ok(None);
    }
    let dir = std::fs::canonicalize(dir)?;
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "#SBATCH --job-name=ufom-{}\n",
        runner::scale_name(plan.scale)
    ));
    let limit = o.max_parallel.map(|k| format!("%{k}")).unwrap_or_default();
    s.push_str(&format!(
        "#SBATCH --array={}{limit}\n",
        array_ranges(&pending)
    ));
    s.push_str("#SBATCH --ntasks=1\n");
    s.push_str(&format!(
        "#SBATCH --output={}/logs/%A_%a.out\n",
        dir.display()
    ));
    if let Some(p) = &o.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(t) = &o.time {
        s.push_str(&format!("#SBATCH --time={t}\n"));
    }
    if let Some(g) = o.gpus_per_task {
        s.push_str(&format!("#SBATCH --gpus-per-task={g}\n"));
    }
    if let Some(c) = o.cpus_per_task {
        s.push_str(&format!("#SBATCH --cpus-per-task={c}\n"));
    }
    s.push_str(&format!(
        "# {} cells in {} task(s) of {per}; finished cells are skipped, so resubmitting this \
         script (or regenerating it with `ufom slurm`) only runs what is left.\n",
        cells.len(),
        task_count(cells.len(), per)
    ));
    s.push_str("set -euo pipefail\n");
    s.push_str(&format!(
        "exec {} cell run --plan {} --cells-per-task {per}\n",
        quote(&o.ufom),
        quote(&dir)
    ));
    Ok(Some((s, pending)))
}

/// Writes `dir/array.sbatch` (and `dir/logs/`); see [`sbatch_script`].
pub fn write_sbatch(
    dir: &Path,
    o: &SlurmOptions,
    data: &DataConfig,
    code: &CodeIdentity,
) -> Result<Option<(PathBuf, Vec<usize>)>> {
    let Some((script, tasks)) = sbatch_script(dir, o, data, code)? else {
        return Ok(None);
    };
    std::fs::create_dir_all(dir.join("logs"))?;
    let path = dir.join("array.sbatch");
    write_atomic(&path, script.as_bytes())?;
    Ok(Some((path, tasks)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::cluster::CellLine;

    #[test]
    fn array_ranges_compress_runs() {
        assert_eq!(array_ranges(&[0, 1, 2, 3]), "0-3");
        assert_eq!(array_ranges(&[0, 2, 3, 4, 7]), "0,2-4,7");
        assert_eq!(array_ranges(&[5]), "5");
        assert_eq!(task_count(7, 2), 4);
        let cells: Vec<CellLine> = (0..7)
            .map(|i| CellLine {
                index: i,
                experiment: crate::harness::record::ExperimentId::Synthetic,
                method: "m".into(),
                digest: "d".into(),
                seed: i as u64,
            })
            .collect();
        assert_eq!(task_cells(&cells, 3, 2).len(), 1);
        assert!(task_cells(&cells, 4, 2).is_empty());
    }
}
