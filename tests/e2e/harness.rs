//! The harness itself: every process a test system starts (first,
//! restarted or replica) is gone once the system is dropped.

use hotline_tests::{Options, System, process_alive};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_process_outlives_its_system() {
    let mut sys = System::start(Options::default())
        .await
        .expect("system starts");
    let first = sys.pid("dispatch").expect("dispatch runs");
    // Restarted while running, as a test that checks what survives a
    // restart does.
    sys.restart("dispatch").await.expect("dispatch restarts");
    let second = sys.pid("dispatch").expect("dispatch runs again");
    assert_ne!(first, second, "a restart starts a new process");
    assert!(!process_alive(first), "the first dispatch was stopped");
    // Killed, then restarted.
    sys.kill("intake");
    sys.restart("intake").await.expect("intake restarts");
    sys.add_replica("supervision")
        .await
        .expect("replica starts");
    let mut started = sys.pids();
    assert_eq!(started.len(), 5, "four services and a replica: {started:?}");
    assert!(started.contains(&second));
    started.push(first);

    drop(sys);
    let left: Vec<u32> = started.into_iter().filter(|p| process_alive(*p)).collect();
    // Leave nothing behind even when the check fails.
    for pid in &left {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    assert!(left.is_empty(), "still running after the drop: {left:?}");
}
