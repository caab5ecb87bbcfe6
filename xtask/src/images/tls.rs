//! TLS for the image run check: a throwaway CA (openssl CLI), PostgreSQL with TLS on, and a
//! fake OpenAI-compatible endpoint behind TLS, so the check proves the static binaries reach
//! external services (Neon, OpenAI) over verified TLS from inside the images.

use anyhow::{Context, Result, ensure};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use xshell::{Shell, cmd};

/// A throwaway CA and a server certificate for 127.0.0.1 signed by it (openssl CLI).
pub struct TestTls {
    pub ca_path: PathBuf,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub server_cert: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl TestTls {
    pub fn generate(sh: &Shell, dir: &Path) -> Result<TestTls> {
        let openssl = oci_image::tools::require("openssl")?;
        let ca_key = dir.join("ca.key");
        let ca = dir.join("ca.pem");
        let key = dir.join("server.key");
        let csr = dir.join("server.csr");
        let cert = dir.join("server.pem");
        let ext = dir.join("server.ext");
        std::fs::write(
            &ext,
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        )?;
        let curve = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        cmd!(sh, "{openssl} req -x509 {curve...} -keyout {ca_key} -out {ca} -days 2 -subj /CN=todo-ci-test-ca -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign")
            .quiet()
            .ignore_stderr()
            .run()
            .context("creating the test CA with openssl")?;
        cmd!(
            sh,
            "{openssl} req {curve...} -keyout {key} -out {csr} -subj /CN=127.0.0.1"
        )
        .quiet()
        .ignore_stderr()
        .run()
        .context("creating the server key with openssl")?;
        cmd!(sh, "{openssl} x509 -req -in {csr} -CA {ca} -CAkey {ca_key} -CAcreateserial -out {cert} -days 2 -extfile {ext}")
            .quiet()
            .ignore_stderr()
            .run()
            .context("signing the server certificate with openssl")?;
        Ok(TestTls {
            ca_path: ca,
            server_cert: std::fs::read(&cert)?,
            server_key: std::fs::read(&key)?,
            cert_path: cert,
            key_path: key,
        })
    }
}

/// Fails unless every connection the services hold to the CI database is encrypted.
pub fn require_tls_connections(pg: &throwaway_postgres::PgServer, database: &str) -> Result<()> {
    let psql = throwaway_postgres::bin_dir()?.join("psql");
    let url = pg.url();
    let out = std::process::Command::new(&psql)
        .args(["-X", "-A", "-t", "-q", "-d", &url, "-c"])
        .arg(format!(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a \
             JOIN pg_stat_ssl s USING (pid) WHERE a.datname = '{database}'"
        ))
        .output()
        .with_context(|| format!("running {}", psql.display()))?;
    ensure!(
        out.status.success(),
        "asking PostgreSQL about TLS failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let (encrypted, total) = text
        .trim()
        .split_once('|')
        .context("unexpected pg_stat_ssl answer")?;
    ensure!(
        total != "0" && encrypted == total,
        "only {encrypted} of the services' {total} database connections use TLS"
    );
    eprintln!("  database connections from the images: {total}, all TLS (verify-full)");
    Ok(())
}

/// What the fake LLM answers when the request is the one todo-api should send.
pub const LLM_ANSWER: &str = "answered over verified TLS";
/// The model name todo-api is configured with in the check (the fake insists on it).
pub const LLM_MODEL: &str = "ci-model";

/// A fake OpenAI-compatible `/v1/chat/completions` behind TLS (Python's http.server + ssl),
/// killed on drop.
pub struct FakeLlm {
    child: Child,
}

const FAKE_LLM: &str = r#"
import http.server, json, ssl, sys
port, cert, key, model, answer = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
        right = self.path == "/v1/chat/completions" and body.get("model") == model
        text = answer if right else "unexpected request %s %s" % (self.path, body.get("model"))
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
"#;

impl FakeLlm {
    pub fn start(tls: &TestTls, port: u16) -> Result<FakeLlm> {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(FAKE_LLM)
            .arg(port.to_string())
            .arg(&tls.cert_path)
            .arg(&tls.key_path)
            .args([LLM_MODEL, LLM_ANSWER])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the fake TLS LLM endpoint with python3")?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            BufReader::new(out).read_line(&mut line)?;
        }
        ensure!(
            line.trim() == "ready",
            "the fake TLS LLM endpoint did not start (python3 said {line:?})"
        );
        Ok(FakeLlm { child })
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One chat turn through todo-api (in its image): the answer must be the fake LLM's, which
/// todo-api can only have fetched over TLS verified against the test CA.
pub fn chat_over_tls(api_port: u16) -> Result<()> {
    let api = format!("http://127.0.0.1:{api_port}");
    // One user per run: every run check (runc, qemu, Docker) shares the database.
    let email = format!("tls-{api_port}@example.com");
    let runtime = tokio::runtime::Runtime::new()?;
    let turn: serde_json::Value = runtime.block_on(async {
        let client = reqwest::Client::new();
        let session: serde_json::Value = client
            .post(format!("{api}/api/auth/register"))
            .json(&serde_json::json!({"email": email, "password": "tls-check-password", "name": "TLS"}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = session["token"].as_str().context("no token from register")?;
        let turn = client
            .post(format!("{api}/api/chat"))
            .bearer_auth(token)
            .json(&serde_json::json!({"message": "hello"}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        anyhow::Ok(turn)
    })?;
    ensure!(
        turn["engine"] == "llm" && turn["response"] == LLM_ANSWER,
        "todo-api in its image did not get the LLM's answer over TLS; its turn: {turn}"
    );
    eprintln!("  todo-api -> LLM endpoint over TLS (SSL_CERT_FILE roots): answered");
    Ok(())
}
