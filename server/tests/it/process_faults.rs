//! Faults of the machine around the real `gatehouse` process (issue 19): a full disk under
//! SQLite's data directory, and an open-file limit left at a low soft value.

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::gatehouse;
use crate::process::serve;

/// The process raises its soft open-file limit to the hard limit at start, so the common soft
/// default (1,024) does not cap the connections it can hold.
#[tokio::test]
async fn the_open_file_limit_is_raised_to_the_hard_limit_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (server_bin, envs) = program_and_env(gatehouse(dir.path()));
    // The shell lowers the soft limit, then becomes the server (same process, same limits).
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -Sn 256 && exec \"$0\" \"$@\"")
        .arg(&server_bin)
        .env_clear()
        .envs(envs)
        .current_dir(std::env::temp_dir())
        .kill_on_drop(true);
    let server = serve(command).await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).expect("a line for open files");
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers[0], numbers[1], "soft limit raised to the hard one: {line}");
    assert_ne!(numbers[0], "256", "{line}");
    server.stop().await;
}

/// SQLite's data directory on a small file system of its own (a tmpfs in a mount namespace of
/// the server's, so no privilege is needed beyond unprivileged user namespaces): once it is
/// full, `/readyz` says so and a sign-up answers 503 `storage_full`, not 500; once there is
/// room again, both recover without a restart.
#[tokio::test]
async fn a_full_disk_is_reported_by_readiness_and_answered_503_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let (server_bin, mut envs) = program_and_env(gatehouse(&data));
    // SQLite's file is what fills the disk here, whatever database the suite runs on.
    envs.retain(|(key, _)| key != "GATEHOUSE_DATABASE_URL");
    let mut shell = tokio::process::Command::new("unshare");
    shell
        .args(["--user", "--map-root-user", "--mount", "sh", "-c"])
        .arg("mount -t tmpfs -o size=8m tmpfs \"$1\" && shift && exec \"$0\" \"$@\"")
        .arg(&server_bin)
        .arg(&data)
        .env_clear()
        .envs(envs)
        .env("GATEHOUSE_REQUIRE_EMAIL_VERIFICATION", "false")
        .current_dir(std::env::temp_dir())
        .kill_on_drop(true);
    let server = serve(shell).await;
    let register = |n: u32| {
        server.post(
            "/api/v1/auth/register/",
            json!({ "email": format!("full{n}@example.com"), "password": "a long enough password" }),
        )
    };
    assert_eq!(register(0).await.status(), 201);

    // The server's view of its data directory: the tmpfs, through its own root.
    let seen = std::path::PathBuf::from(format!("/proc/{}/root{}", server.pid(), data.display()));
    let filler = seen.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    drop(file);

    let client = reqwest::Client::new();
    let readyz = || async { client.get(format!("{}/readyz", server.base)).send().await.unwrap() };
    let ready = readyz().await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["writes"], "storage_full", "{body}");
    let refused = register(1).await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "storage_full", "{body}");

    std::fs::remove_file(&filler).unwrap();
    let mut recovered = false;
    // The write probe runs at most every 5 s: wait for its next run, bounded.
    for _ in 0..200 {
        if readyz().await.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "ready again once there is room, without a restart");
    assert_eq!(register(2).await.status(), 201);
    server.stop().await;
}

/// The program and environment of a `gatehouse` command, to run it through a wrapper.
fn program_and_env(
    command: tokio::process::Command,
) -> (std::ffi::OsString, Vec<(std::ffi::OsString, std::ffi::OsString)>) {
    let command = command.as_std();
    let envs = command.get_envs().filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))).collect();
    (command.get_program().to_owned(), envs)
}
