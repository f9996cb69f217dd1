//! The GPU bundle's launcher (`scripts/ufom-gpu`) puts the CUDA library folders it finds on
//! LD_LIBRARY_PATH before running the bundled binary: `$UFOM_CUDA_LIBS` first, then the
//! `nvidia/*/lib` folders of the Python it is given (here a fake site-packages on PYTHONPATH);
//! `--run NAME` runs another program of the bundle instead.

use std::path::Path;
use std::process::Command;

#[test]
fn the_launcher_finds_the_wheels_libraries() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!("ufom-gpu-launcher-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(bundle.join("bin")).expect("bundle dir");
    std::fs::copy(root.join("scripts/ufom-gpu"), bundle.join("ufom-gpu")).expect("launcher");
    // A stand-in binary that prints its library path and arguments.
    let fake = bundle.join("bin/ufom");
    std::fs::write(&fake, "#!/bin/sh\necho \"$LD_LIBRARY_PATH\"\necho \"$@\"\n").expect("fake");
    let site = dir.join("site");
    let wheel_lib = site.join("nvidia/cu13/lib");
    std::fs::create_dir_all(&wheel_lib).expect("wheel lib");
    let chmod = |p: &Path| {
        Command::new("chmod")
            .arg("+x")
            .arg(p)
            .status()
            .expect("chmod")
    };
    chmod(&fake);
    chmod(&bundle.join("ufom-gpu"));
    let out = Command::new(bundle.join("ufom-gpu"))
        .args(["doctor", "--device", "cuda"])
        .env("UFOM_CUDA_LIBS", "/opt/extra-cuda")
        .env("UFOM_PYTHON", "python3")
        .env("PYTHONPATH", &site)
        .env("LD_LIBRARY_PATH", "/already/there")
        .output()
        .expect("run launcher");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let path = lines.next().expect("library path");
    let dirs: Vec<&str> = path.split(':').collect();
    assert_eq!(dirs.first(), Some(&"/opt/extra-cuda"), "{path}");
    assert!(
        dirs.iter().any(|d| Path::new(d) == wheel_lib),
        "{path} lacks {}",
        wheel_lib.display()
    );
    assert_eq!(dirs.last(), Some(&"/already/there"), "{path}");
    assert_eq!(lines.next(), Some("doctor --device cuda"));
    // `--run NAME` runs another program of the bundle with the same library path.
    let other = bundle.join("bin/verify-device");
    std::fs::write(&other, "#!/bin/sh\necho \"verify $@\"\n").expect("fake verify");
    chmod(&other);
    let run = |args: &[&str]| {
        Command::new(bundle.join("ufom-gpu"))
            .args(args)
            .env("UFOM_PYTHON", "/nonexistent")
            .output()
            .expect("run launcher")
    };
    let out = run(&["--run", "verify-device", "--nocapture"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().last(),
        Some("verify --nocapture")
    );
    let out = run(&["--run", "verify-nothing"]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no program verify-nothing"));
    let _ = std::fs::remove_dir_all(&dir);
}
