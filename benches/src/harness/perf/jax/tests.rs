//! Tests of the JAX comparison; the one that runs the twin skips itself without a Python with jax.

use super::*;
use crate::harness::perf::cases::{bind_oracles, synthetic_mlp, MlpShape};
use crate::harness::perf::engine::{EngineCase, TwinVersions};
use hypergrad::problems::{synthetic_source, ConvNet, Maml, MlpAnalytic, MlpTask};
use hypergrad::Autodiff;
use rand::SeedableRng;

fn engine() -> EngineReport {
    let row = |case: &str, oracles: &str| EngineCase {
        case: case.into(),
        oracles: oracles.into(),
        gradient_ms: 2.0,
        hvp_ms: 4.0,
        hvp_over_gradient: 2.0,
        ..EngineCase::default()
    };
    EngineReport {
        process: Default::default(),
        matmul_gflops: 100.0,
        cases: vec![
            row("a", "autodiff"),
            row("a", "analytic"),
            row("b", "autodiff"),
        ],
        hypergradient_r10_ms: Default::default(),
        notes: vec![],
        jax: None,
    }
}

fn run() -> JaxRun {
    JaxRun {
        command: "test".into(),
        twin: TWIN_SCRIPT.into(),
        git_commit: None,
        versions: TwinVersions {
            jax: "0".into(),
            jaxlib: "0".into(),
            numpy: "0".into(),
            python: "3".into(),
            devices: vec!["cpu".into()],
            x64: false,
        },
        rounds: 1,
        reps: 1,
        warm_up: 0,
        tolerance: TOLERANCE,
        process: Default::default(),
        refused: vec![],
        notes: vec![],
    }
}

fn compared(case: &str, oracles: &str, rel: f64, refused: Option<&str>) -> CaseComparison {
    let t = |g, h| {
        Some(Timing {
            gradient_ms: g,
            hvp_ms: h,
        })
    };
    CaseComparison {
        case: case.into(),
        oracles: oracles.into(),
        rel_error: Some(rel),
        ufom: t(3.0, 6.0),
        jax: t(1.5, 2.0),
        refused: refused.map(String::from),
    }
}

const JAX_KEYS: [&str; 8] = [
    "jax_gradient_ms",
    "jax_hvp_ms",
    "paired_gradient_ms",
    "paired_hvp_ms",
    "gradient_over_jax",
    "hvp_over_jax",
    "jax_rel_error",
    "\"jax\"",
];

#[test]
fn without_a_twin_no_jax_field_is_written() {
    let mut e = engine();
    merge(
        &mut e,
        Some((run(), &[compared("a", "autodiff", 1e-6, None)])),
    );
    assert!(e.jax.is_some());
    merge(&mut e, None);
    let text = serde_json::to_string(&e).unwrap();
    for key in JAX_KEYS {
        assert!(!text.contains(key), "{key} in {text}");
    }
    // A section written before the JAX fields existed reads back unchanged.
    let back: EngineReport = serde_json::from_str(&text).unwrap();
    assert_eq!(back, e);
    assert_eq!(back, engine());
}

#[test]
fn merge_fills_agreeing_rows_and_refuses_the_others() {
    let mut e = engine();
    let why = "the twin disagrees: relative error 1.00e-2 > 1e-4";
    let cs = [
        compared("a", "autodiff", 1e-6, None),
        compared("a", "analytic", 1e-2, Some(why)),
        compared("c", "autodiff", 1e-6, None),
    ];
    merge(&mut e, Some((run(), &cs)));
    let [a, an, b] = &e.cases[..] else { panic!() };
    assert_eq!(a.jax_gradient_ms, Some(1.5));
    assert_eq!(a.paired_hvp_ms, Some(6.0));
    assert_eq!(a.gradient_over_jax, Some(2.0));
    assert_eq!(a.hvp_over_jax, Some(3.0));
    assert_eq!(a.gradient_ms, 2.0, "criterion's figure is left alone");
    assert_eq!(an.jax_rel_error, Some(1e-2));
    assert_eq!((an.jax_gradient_ms, an.hvp_over_jax), (None, None));
    assert_eq!(b, &engine().cases[2]);
    let refused = &e.jax.as_ref().unwrap().refused;
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused[0].contains("a analytic") && refused[0].contains(why));
    assert!(refused[1].contains("c autodiff"));
    // Round trip through JSON, the JAX fields included.
    let text = serde_json::to_string_pretty(&e).unwrap();
    assert_eq!(serde_json::from_str::<EngineReport>(&text).unwrap(), e);
}

#[test]
fn relative_error_of_param_lists() -> Result<()> {
    let dev = &Device::Cpu;
    let p = |v: &[f32]| ParamList::new(vec![Tensor::new(v, dev).unwrap()]).unwrap();
    assert_eq!(relative_error(&p(&[1.0, 2.0]), &p(&[1.0, 2.0]))?, 0.0);
    assert_eq!(relative_error(&p(&[0.0]), &p(&[0.0]))?, 0.0);
    assert_eq!(relative_error(&p(&[1.0]), &p(&[0.0]))?, f64::INFINITY);
    let e = relative_error(&p(&[3.0, 4.0 + 5e-3]), &p(&[3.0, 4.0]))?;
    assert!((e - 1e-3).abs() < 1e-6, "{e}");
    assert!(relative_error(&p(&[1.0]), &p(&[1.0, 2.0])).is_err());
    Ok(())
}

/// The twin's Python, if this machine has one with jax (`just perf-jax` installs it): the
/// twin is exercised where it exists, never required.
fn twin() -> Option<Twin> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .to_path_buf();
    let python = std::env::var_os("UFOM_JAX_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/jax-venv/bin/python"));
    if !python.exists() {
        eprintln!("no {}: the twin is not exercised", python.display());
        return None;
    }
    match Twin::spawn(&python, &root.join(TWIN_SCRIPT)) {
        Ok(t) => Some(t),
        Err(e) => {
            eprintln!("the twin is not exercised: {e:#}");
            None
        }
    }
}

fn check(c: &[CaseComparison], agree: &[bool]) {
    assert_eq!(c.len(), agree.len());
    for (c, &agree) in c.iter().zip(agree) {
        let rel = c.rel_error.unwrap();
        assert_eq!(c.refused.is_none(), agree, "{c:?}");
        if agree {
            assert!(rel <= TOLERANCE, "{c:?}");
            assert!(c.ufom.is_some() && c.jax.is_some(), "{c:?}");
        } else {
            assert!(rel > TOLERANCE && c.jax.is_none(), "{c:?}");
        }
    }
}

/// Small versions of both models against the twin: autodiff and analytic agree with it, and
/// oracles at another point are refused.
#[test]
fn the_twin_agrees_on_small_cases_where_jax_is_installed() -> Result<()> {
    let Some(mut twin) = twin() else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let once = Rounds {
        rounds: 1,
        reps: 1,
        warm_up: 0,
    };
    let shape = MlpShape {
        n_train: 16,
        n_val: 4,
        dim: 6,
        hidden: 5,
        classes: 3,
    };
    let p = synthetic_mlp(shape, 1, &Device::Cpu)?;
    let theta = ParamList::single(Tensor::randn(0f32, 1.0, 16, &Device::Cpu)?);
    let phi = p.phi0().clone();
    let (x, y) = (p.data().train_x.clone(), p.data().train_y.clone());
    let elsewhere = phi.scale(1.5)?;
    let oracles = vec![
        (
            "autodiff".to_string(),
            bind_oracles(
                Autodiff::new(p.clone())?,
                theta.clone(),
                phi.clone(),
                MlpTask::default(),
            ),
        ),
        (
            "analytic".to_string(),
            bind_oracles(
                MlpAnalytic::new(p.clone())?,
                theta.clone(),
                phi,
                MlpTask::default(),
            ),
        ),
        (
            "elsewhere".to_string(),
            bind_oracles(MlpAnalytic::new(p)?, theta, elsewhere, MlpTask::default()),
        ),
    ];
    let c = compare_case(
        &mut twin,
        "mlp_small",
        "mlp",
        &oracles,
        (&x, &y),
        dir.path(),
        once,
    );
    check(&c, &[true, true, false]);

    let net = ConvNet {
        channels: 1,
        filters: 2,
        layers: 2,
        classes: 3,
        in_hw: 8,
    };
    let source = synthetic_source(net.clone(), 1, 1, DType::F32, Device::Cpu);
    let task = source(&mut rand_chacha::ChaCha8Rng::seed_from_u64(3))?;
    let theta = net.init(0, DType::F32, &Device::Cpu)?;
    let (x, y) = (task.support_x.clone(), task.support_y.clone());
    let o = Autodiff::new(Maml::new(net, 1, 0.1)?.with_source(source))?;
    let oracles = vec![(
        "autodiff".to_string(),
        bind_oracles(o, theta.clone(), theta, task),
    )];
    let c = compare_case(
        &mut twin,
        "conv_small",
        "conv",
        &oracles,
        (&x, &y),
        dir.path(),
        once,
    );
    check(&c, &[true]);
    Ok(())
}
