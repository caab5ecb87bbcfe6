//! The backup CronJob's script, run for real: the chart renders it, this runs it with `sh`
//! against a throwaway PostgreSQL (its `/backup` mount pointed at a temp dir), and the dump
//! must be a valid `pg_dump -Fc` file while only the newest `keep` dumps remain.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use chart_policy::objects::{Object, Rendered};
use chart_policy::tools::{Helm, RenderRequest};

#[test]
fn the_backup_script_dumps_and_keeps_the_newest() {
    let helm = Helm::primary().unwrap_or_else(|e| panic!("{e:#}"));
    let request = RenderRequest::new()
        .set("postgresql.backup.enabled=true")
        .set("postgresql.backup.keep=2");
    let rendered = Rendered::parse(&helm.template(&request).unwrap()).unwrap();
    let container = rendered
        .objects
        .iter()
        .find_map(|o| match o {
            Object::CronJob(c) => Some(c),
            _ => None,
        })
        .and_then(|c| {
            let spec = c.spec.as_ref()?.job_template.spec.as_ref()?;
            spec.template.spec.as_ref()?.containers.first().cloned()
        })
        .expect("the backup container");
    let command = container.command.clone().unwrap();
    assert_eq!(command, ["/bin/sh", "-ec"]);
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().display().to_string();
    let script = container.args.unwrap()[0].replace("/backup", &backup);

    let server = throwaway_postgres::PgServer::start().unwrap();
    server.create_database("todo").unwrap();
    let bin = throwaway_postgres::bin_dir().unwrap();
    // Older dumps, and a partial one a killed run left behind.
    for old in ["todo-20200101T000000Z.dump", "todo-20200102T000000Z.dump"] {
        std::fs::write(dir.path().join(old), b"old").unwrap();
    }
    std::fs::write(
        dir.path().join("todo-20200103T000000Z.dump.partial"),
        b"cut",
    )
    .unwrap();

    let mut run = Command::new(&command[0]);
    run.arg(&command[1]).arg(&script);
    for env in container.env.iter().flatten() {
        if let Some(value) = &env.value {
            run.env(&env.name, value);
        }
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let output = run
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", server.port().to_string())
        .env("PGUSER", "postgres")
        .env("PGPASSWORD", "")
        .env("PATH", format!("{}:{path}", bin.display()))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the backup script failed:\n{log}");

    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        2,
        "keep=2 leaves two dumps and no partial: {files:?}\n{log}"
    );
    assert_eq!(files[0], "todo-20200102T000000Z.dump", "{files:?}");
    let newest = dir.path().join(&files[1]);
    assert!(files[1].starts_with("todo-2") && files[1].ends_with("Z.dump"));
    let list = Command::new(bin.join("pg_restore"))
        .arg("--list")
        .arg(&newest)
        .output()
        .unwrap();
    assert!(
        list.status.success(),
        "the new dump is not a pg_dump custom-format file: {}",
        String::from_utf8_lossy(&list.stderr)
    );
    assert!(log.contains("backup: removed"), "{log}");
}
