//! `cargo xtask`: builds the web app's browser bundle and the server without cargo-leptos, using
//! only tools that come from package registries.
//!
//!   cargo xtask build [--release]   wasm bundle + stylesheet into target/site/pkg, then the server
//!   cargo xtask site [--release]    only the wasm bundle + stylesheet
//!   cargo xtask setup               install the wasm target and the wasm-bindgen CLI if missing

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

const FRONTEND_CRATE: &str = "gatehouse-frontend";
const BUNDLE_NAME: &str = "gatehouse";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let release = args.iter().any(|a| a == "--release");
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("setup") => setup(&root),
        Some("site") => {
            setup(&root)?;
            build_site(&root, release)
        }
        Some("build") => {
            setup(&root)?;
            build_site(&root, release)?;
            build_server(release)
        }
        _ => bail!("usage: cargo xtask <setup|site|build> [--release]"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Idempotent: does nothing when the wasm target and the right wasm-bindgen are present.
fn setup(root: &Path) -> Result<()> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if !installed.lines().any(|l| l.trim() == WASM_TARGET) {
        run(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    }
    let wanted = locked_version(root, "wasm-bindgen")?;
    let have = output("wasm-bindgen", &["--version"]).unwrap_or_default();
    if have.split_whitespace().nth(1) != Some(wanted.as_str()) {
        eprintln!("xtask: installing wasm-bindgen-cli {wanted} (matches Cargo.lock)");
        // Not --locked: the CLI's own lock file names a yanked crate the registry no longer serves.
        run(Command::new("cargo").args(["install", "wasm-bindgen-cli", "--version", &wanted]))?;
    }
    Ok(())
}

/// The frontend for the browser: cargo → wasm-bindgen → (release) wasm-opt, plus the stylesheet.
fn build_site(root: &Path, release: bool) -> Result<()> {
    let profile = if release { "wasm-release" } else { "dev" };
    run(Command::new(cargo()).args(["build", "-p", FRONTEND_CRATE, "--target", WASM_TARGET, "--profile", profile]))?;
    let target_dir = target_dir(root);
    let profile_dir = if release { "wasm-release" } else { "debug" };
    let wasm = target_dir.join(WASM_TARGET).join(profile_dir).join("gatehouse_frontend.wasm");
    let pkg = root.join("target/site/pkg");
    // Start from an empty folder: bundles of earlier builds (other hashes) must not linger.
    let _ = std::fs::remove_dir_all(&pkg);
    std::fs::create_dir_all(&pkg)?;
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--no-typescript", "--out-name", BUNDLE_NAME, "--out-dir"])
        .arg(&pkg)
        .arg(&wasm))?;
    let bundle = pkg.join(format!("{BUNDLE_NAME}_bg.wasm"));
    if release {
        // The wasm-opt pinned in tools/ (npm's binaryen), installed by scripts/setup.sh.
        let wasm_opt = root.join("tools/node_modules/.bin/wasm-opt");
        if wasm_opt.exists() {
            run(Command::new(&wasm_opt)
                .arg("-Oz")
                // The features rustc's wasm32 target and wasm-bindgen use: without reference
                // types, wasm-opt's output fails at run time (`WebAssembly.Table.set()`).
                .arg("--enable-bulk-memory")
                .arg("--enable-nontrapping-float-to-int")
                .arg("--enable-reference-types")
                .arg("--enable-sign-ext")
                .arg("--enable-mutable-globals")
                .arg("--enable-multivalue")
                .arg(&bundle)
                .arg("-o")
                .arg(&bundle))?;
        } else {
            eprintln!("xtask: tools/node_modules/.bin/wasm-opt not found (run scripts/setup.sh); the bundle is not size-optimised");
        }
    }
    std::fs::copy(root.join("style/gatehouse.css"), pkg.join("gatehouse.css"))
        .context("copying style/gatehouse.css")?;
    let size = std::fs::metadata(&bundle)?.len();
    let name = name_by_content(&pkg)?;
    eprintln!("xtask: site built in {} as {name}.* ({} KiB wasm)", pkg.display(), size / 1024);
    Ok(())
}

/// Renames the bundle to `gatehouse.<hash>.js`, `gatehouse.<hash>_bg.wasm` and
/// `gatehouse.<hash>.css`, the hash covering all three: a changed bundle gets new URLs, so
/// the server can let browsers cache these files forever (`immutable`). The JS glue is told
/// the wasm URL by the page, so renaming does not break it. Returns the new base name.
fn name_by_content(pkg: &Path) -> Result<String> {
    let files = [("gatehouse.js", ".js"), ("gatehouse_bg.wasm", "_bg.wasm"), ("gatehouse.css", ".css")];
    let mut hasher = Sha256::new();
    for (file, _) in files {
        hasher.update(std::fs::read(pkg.join(file)).with_context(|| format!("reading {file}"))?);
    }
    let hash: String = hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let name = format!("{BUNDLE_NAME}.{hash}");
    for (file, suffix) in files {
        std::fs::rename(pkg.join(file), pkg.join(format!("{name}{suffix}")))?;
    }
    Ok(name)
}

fn build_server(release: bool) -> Result<()> {
    let mut cmd = Command::new(cargo());
    cmd.args(["build", "-p", "gatehouse-server", "--bin", "gatehouse"]);
    if release {
        cmd.arg("--release");
    }
    run(&mut cmd)
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"))
}

/// The version of `package` recorded in Cargo.lock.
fn locked_version(root: &Path, package: &str) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{package}\"") {
            if let Some(version) = lines.next().and_then(|l| l.trim().strip_prefix("version = ")) {
                return Ok(version.trim_matches('"').to_string());
            }
        }
    }
    bail!("{package} is not in Cargo.lock")
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}
