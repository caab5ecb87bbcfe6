//! `Store::migrate_when_reachable` against a real PostgreSQL that starts late, never comes,
//! or answers "no": the wait the chart's init container (`todo-api migrate`) relies on.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};
use throwaway_postgres::PgServer;
use todo_store::{PoolSettings, Store, WaitSettings};

fn quick(budget: Duration) -> WaitSettings {
    WaitSettings {
        budget,
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(500),
    }
}

#[tokio::test]
async fn waits_for_a_database_that_starts_late_then_migrates() {
    let pg = std::sync::Arc::new(PgServer::start().unwrap());
    let url = pg.create_database("late").unwrap();
    pg.stop().unwrap();
    let store = Store::connect_lazy(&url, &PoolSettings::default()).unwrap();
    // Down for real: a single attempt fails.
    let e = store
        .migrate_when_reachable(&quick(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("gave up waiting"), "{e}");

    let starter = {
        let pg = pg.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(2));
            pg.start_again().unwrap();
            Instant::now()
        })
    };
    store
        .migrate_when_reachable(&quick(Duration::from_secs(90)))
        .await
        .unwrap();
    let finished = Instant::now();
    let started_at = starter.join().unwrap();
    assert!(
        finished >= started_at,
        "migrations cannot finish before the server is up"
    );
    store.check_schema().await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn gives_up_when_the_budget_is_spent_naming_the_server() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("postgres://todo:secret-password@127.0.0.1:{port}/todo");
    let store = Store::connect_lazy(&url, &PoolSettings::default()).unwrap();
    let started = Instant::now();
    let e = store
        .migrate_when_reachable(&quick(Duration::from_millis(1500)))
        .await
        .unwrap_err()
        .to_string();
    let elapsed = started.elapsed();
    assert!(
        e.contains(&format!(
            "gave up waiting for PostgreSQL at 127.0.0.1:{port}/todo after 2 s"
        )),
        "{e}"
    );
    assert!(e.contains("attempts; last error:"), "{e}");
    assert!(
        !e.contains("secret-password"),
        "no password in messages: {e}"
    );
    // It did wait (several attempts), and it stopped: generous bounds, not a timing target.
    assert!(elapsed >= Duration::from_millis(1500), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
}

#[tokio::test]
async fn a_database_that_says_no_fails_at_once() {
    let pg = PgServer::start().unwrap();
    let url = pg.database_url("no_such_database");
    let store = Store::connect_lazy(&url, &PoolSettings::default()).unwrap();
    let started = Instant::now();
    let e = store
        .migrate_when_reachable(&quick(Duration::from_secs(120)))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("waiting will not help"), "{e}");
    assert!(e.contains("no_such_database"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "did not spend the 120 s budget"
    );
}
