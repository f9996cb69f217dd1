//! Few-shot class splits (REFERENCE §6) and the N-way K-shot task sampler.
//!
//! * Omniglot: all 1623 characters shuffled by the seed; the first 1200 are meta-train, each
//!   augmented ×4 by rotations of 0°, 90°, 180°, 270° (counter-clockwise) into 4800 distinct
//!   classes; the remaining 423 are meta-test (unrotated).
//! * CIFAR-100: train and test images of each fine class pooled (600 per class); the 100
//!   classes shuffled by the seed, the first 80 meta-train, the last 20 meta-test.
//!
//! A task picks `n_way` distinct classes and, per class, `k_shot + n_query` distinct images
//! (all draws from the caller's `ChaCha8Rng`, so a seed reproduces the task exactly). The
//! `j`-th picked class gets label `j`. Support and query are laid out class-major: the `k_shot`
//! images of label 0, then those of label 1, ...

use candle_core::{DType, Device, Tensor};
use rand::seq::{index, SliceRandom};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cifar::{self, Cifar100};
use crate::error::{DataError, Result};
use crate::omniglot::{self, Omniglot};
use crate::tensor::{one_hot, pixels_to_tensor};

/// Meta-train characters in the Omniglot split.
pub const OMNIGLOT_META_TRAIN: usize = 1200;
/// Meta-train classes in the CIFAR-100 split.
pub const CIFAR_META_TRAIN: usize = 80;

/// The images of one class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassImages {
    /// Human-readable name (`Alphabet/characterNN/rot90`, `fine42`).
    pub name: String,
    /// `count * C * H * W` bytes.
    pub images: Vec<u8>,
    /// Number of images.
    pub count: usize,
}

/// Meta-train and meta-test classes of a few-shot benchmark.
#[derive(Debug, Clone)]
pub struct FewShotSplit {
    /// Meta-training classes.
    pub train_classes: Vec<ClassImages>,
    /// Meta-test classes.
    pub test_classes: Vec<ClassImages>,
    /// Image shape `(C, H, W)`.
    pub image_shape: [usize; 3],
}

/// Which side of the split to sample from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Meta-training classes.
    Train,
    /// Meta-test classes.
    Test,
}

impl Split {
    /// `meta-train` or `meta-test`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "meta-train",
            Split::Test => "meta-test",
        }
    }
}

/// Rotates a square `side × side` image by `quarter_turns × 90°` counter-clockwise.
pub fn rotate90(img: &[u8], side: usize, quarter_turns: usize) -> Vec<u8> {
    let mut cur = img.to_vec();
    for _ in 0..quarter_turns % 4 {
        let mut next = vec![0u8; cur.len()];
        for r in 0..side {
            for c in 0..side {
                // new[r][c] = old[c][side-1-r]
                next[r * side + c] = cur[c * side + (side - 1 - r)];
            }
        }
        cur = next;
    }
    cur
}

/// The Omniglot split of the papers: 1200 meta-train characters (×4 rotations), rest meta-test.
pub fn omniglot_split(om: &Omniglot, seed: u64) -> Result<FewShotSplit> {
    omniglot_split_with(om, OMNIGLOT_META_TRAIN, seed)
}

/// The Omniglot split with `n_meta_train` meta-train characters (for subsets in tests).
pub fn omniglot_split_with(om: &Omniglot, n_meta_train: usize, seed: u64) -> Result<FewShotSplit> {
    let n = om.characters.len();
    if n_meta_train >= n {
        return Err(DataError::Config(format!(
            "{n_meta_train} meta-train characters leave none of the {n} for meta-test"
        )));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let class = |i: usize, rot: usize| -> Result<ClassImages> {
        let c = &om.characters[i];
        let imgs = om
            .character_images(i)
            .ok_or_else(|| DataError::Config(format!("character {i} has no images")))?;
        let images = imgs
            .chunks_exact(omniglot::PIXELS)
            .flat_map(|im| rotate90(im, omniglot::SIDE, rot))
            .collect();
        Ok(ClassImages {
            name: format!("{}/{}/rot{}", c.alphabet, c.name, rot * 90),
            images,
            count: omniglot::DRAWINGS,
        })
    };
    let mut train_classes = Vec::with_capacity(n_meta_train * 4);
    for &i in &order[..n_meta_train] {
        for rot in 0..4 {
            train_classes.push(class(i, rot)?);
        }
    }
    let test_classes = order[n_meta_train..]
        .iter()
        .map(|&i| class(i, 0))
        .collect::<Result<_>>()?;
    Ok(FewShotSplit {
        train_classes,
        test_classes,
        image_shape: [1, omniglot::SIDE, omniglot::SIDE],
    })
}

/// The CIFAR-100 split: train+test pooled per fine class, 80/20 classes by seed.
pub fn cifar100_split(c: &Cifar100, seed: u64) -> Result<FewShotSplit> {
    let mut pooled: Vec<ClassImages> = (0..cifar::FINE_CLASSES)
        .map(|k| ClassImages {
            name: format!("fine{k}"),
            images: Vec::new(),
            count: 0,
        })
        .collect();
    for split in [&c.train, &c.test] {
        for (img, &label) in split.images.chunks_exact(cifar::PIXELS).zip(&split.fine) {
            if let Some(cls) = pooled.get_mut(usize::from(label)) {
                cls.images.extend_from_slice(img);
                cls.count += 1;
            }
        }
    }
    let mut order: Vec<usize> = (0..cifar::FINE_CLASSES).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut slots: Vec<Option<ClassImages>> = pooled.into_iter().map(Some).collect();
    let mut take = |ids: &[usize]| -> Vec<ClassImages> {
        ids.iter().filter_map(|&k| slots[k].take()).collect()
    };
    let train_classes = take(&order[..CIFAR_META_TRAIN]);
    let test_classes = take(&order[CIFAR_META_TRAIN..]);
    Ok(FewShotSplit {
        train_classes,
        test_classes,
        image_shape: [cifar::CHANNELS, cifar::SIDE, cifar::SIDE],
    })
}

/// One N-way K-shot task.
#[derive(Debug, Clone)]
pub struct Task {
    /// Support images `(N·K, C, H, W)`.
    pub support_x: Tensor,
    /// Support labels in `0..N`.
    pub support_y: Vec<u32>,
    /// Query images `(N·Q, C, H, W)`.
    pub query_x: Tensor,
    /// Query labels in `0..N`.
    pub query_y: Vec<u32>,
    /// Indices (into the split's class list) of the classes, by label.
    pub classes: Vec<usize>,
}

impl Task {
    /// Number of classes of the task.
    pub fn n_way(&self) -> usize {
        self.classes.len()
    }

    /// One-hot support labels `(N·K, N)`.
    pub fn support_y_one_hot(&self, dtype: DType) -> Result<Tensor> {
        one_hot(
            &self.support_y,
            self.n_way(),
            self.support_x.device(),
            dtype,
        )
    }

    /// One-hot query labels `(N·Q, N)`.
    pub fn query_y_one_hot(&self, dtype: DType) -> Result<Tensor> {
        one_hot(&self.query_y, self.n_way(), self.query_x.device(), dtype)
    }
}

/// Samples tasks from a [`FewShotSplit`] onto a device, in a dtype.
#[derive(Debug, Clone)]
pub struct TaskSampler {
    /// The classes.
    pub split: FewShotSplit,
    device: Device,
    dtype: DType,
}

impl TaskSampler {
    /// A sampler producing tensors on `device` in `dtype` (f32 or f64).
    pub fn new(split: FewShotSplit, device: Device, dtype: DType) -> Self {
        TaskSampler {
            split,
            device,
            dtype,
        }
    }

    /// The classes of one side of the split.
    pub fn classes(&self, split: Split) -> &[ClassImages] {
        match split {
            Split::Train => &self.split.train_classes,
            Split::Test => &self.split.test_classes,
        }
    }

    /// Checks that every `n_way`-way `k_shot`-shot task with `n_query` queries per class can
    /// be drawn from `split` (enough classes, enough images in every class), so a run fails
    /// before training rather than at the first unlucky draw. Names the first culprit.
    pub fn check(&self, split: Split, n_way: usize, k_shot: usize, n_query: usize) -> Result<()> {
        let classes = self.classes(split);
        if n_way == 0 || k_shot == 0 || n_way > classes.len() {
            return Err(DataError::Config(format!(
                "{n_way}-way {k_shot}-shot needs n_way, k_shot > 0 and n_way <= {} {} classes",
                classes.len(),
                split.name()
            )));
        }
        match classes.iter().find(|c| c.count < k_shot + n_query) {
            Some(c) => Err(DataError::Config(format!(
                "{} class {} has {} images, fewer than the {k_shot} + {n_query} a {n_way}-way \
                 {k_shot}-shot task with {n_query} queries per class needs",
                split.name(),
                c.name,
                c.count
            ))),
            None => Ok(()),
        }
    }

    /// Samples an `n_way`-way `k_shot`-shot task with `n_query` query images per class.
    pub fn sample(
        &self,
        split: Split,
        n_way: usize,
        k_shot: usize,
        n_query: usize,
        rng: &mut dyn RngCore,
    ) -> Result<Task> {
        let classes = self.classes(split);
        if n_way == 0 || k_shot == 0 || n_way > classes.len() {
            return Err(DataError::Config(format!(
                "{n_way}-way {k_shot}-shot needs n_way, k_shot > 0 and n_way <= {} classes",
                classes.len()
            )));
        }
        let [c, h, w] = self.split.image_shape;
        let size = c * h * w;
        let picked = index::sample(rng, classes.len(), n_way).into_vec();
        let (mut sx, mut qx) = (Vec::new(), Vec::new());
        let (mut sy, mut qy) = (Vec::new(), Vec::new());
        for (label, &ci) in picked.iter().enumerate() {
            let cls = &classes[ci];
            if k_shot + n_query > cls.count {
                return Err(DataError::Config(format!(
                    "class {} has {} images, fewer than {k_shot} + {n_query}",
                    cls.name, cls.count
                )));
            }
            let imgs = index::sample(rng, cls.count, k_shot + n_query).into_vec();
            for (j, &ii) in imgs.iter().enumerate() {
                let px = cls
                    .images
                    .get(ii * size..(ii + 1) * size)
                    .ok_or_else(|| DataError::Config(format!("class {} is short", cls.name)))?;
                if j < k_shot {
                    sx.extend_from_slice(px);
                    sy.push(label as u32);
                } else {
                    qx.extend_from_slice(px);
                    qy.push(label as u32);
                }
            }
        }
        Ok(Task {
            support_x: pixels_to_tensor(&sx, &[sy.len(), c, h, w], &self.device, self.dtype)?,
            support_y: sy,
            query_x: pixels_to_tensor(&qx, &[qy.len(), c, h, w], &self.device, self.dtype)?,
            query_y: qy,
            classes: picked,
        })
    }

    /// [`TaskSampler::sample`] with a fresh `ChaCha8Rng` seeded from `seed`.
    pub fn sample_seeded(
        &self,
        split: Split,
        n_way: usize,
        k_shot: usize,
        n_query: usize,
        seed: u64,
    ) -> Result<Task> {
        self.sample(
            split,
            n_way,
            k_shot,
            n_query,
            &mut ChaCha8Rng::seed_from_u64(seed),
        )
    }
}
