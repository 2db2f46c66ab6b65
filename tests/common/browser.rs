//! A headless Chromium driven over WebDriver (W3C, through Debian's
//! `chromedriver`), for the tests of the mock's pages. A dozen plain
//! WebDriver commands over the reqwest the crate already has, rather than
//! `fantoccini` (whose `webdriver` dependency brings in the ICU segmenter,
//! `time` and a hyper client stack of its own, all to build for tests).
//!
//! `Browser::start` returns `None` when a program the test needs
//! (`chromium`, `chromedriver`, and `zbarimg` where asked) is not on `PATH`,
//! after printing one line on stderr naming the test and what to install, so
//! `cargo test` passes on a fresh machine and says what it did not run.
//! `WECHATPAY_REQUIRE_BROWSER=1` (set by `.ci/run`) turns that skip into a
//! failure, so CI cannot pass without running the browser tests.
#![allow(dead_code)]

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Flags without which Chromium hangs or phones home on a closed network.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
    driver_port: u16,
    driver: Child,
    profile: PathBuf,
}

/// An element found on the page.
#[derive(Debug, Clone)]
pub struct Element(String);

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// What to install for the browser tests (Debian package names).
pub const INSTALL: &str = "apt-get install chromium chromium-driver zbar-tools";

/// The variable CI sets so that a browser test can never be skipped there.
pub const REQUIRE: &str = "WECHATPAY_REQUIRE_BROWSER";

/// Says on stderr, in one line, that `test` is skipped and what to install;
/// fails the test instead when `WECHATPAY_REQUIRE_BROWSER=1`.
fn skip(test: &str, absent: &[&str]) {
    let line = format!(
        "SKIPPED {test}: {} not found on PATH; to run it: {INSTALL} (.ci/run does)",
        absent.join(", ")
    );
    if std::env::var(REQUIRE).as_deref() == Ok("1") {
        panic!("{line}; {REQUIRE}=1 forbids skipping a browser test");
    }
    // Straight to the stderr handle: libtest captures `eprintln!` of a
    // passing test, and a skip must be seen.
    let _ = writeln!(std::io::stderr(), "{line}");
}

impl Browser {
    /// A fresh browser (own profile, JavaScript on or off) for the test
    /// named `test`, or `None` (after saying so) when Chromium is absent.
    pub async fn start(test: &str, javascript: bool) -> Option<Browser> {
        Browser::start_needing(test, javascript, &[]).await
    }

    /// As [`Browser::start`], when the test also runs `tools` (e.g.
    /// `zbarimg`): `None` (after saying so) when any of them is absent.
    pub async fn start_needing(test: &str, javascript: bool, tools: &[&str]) -> Option<Browser> {
        let chromium_names = ["chromium", "chromium-browser", "google-chrome"];
        let chromium = find_program(&chromium_names);
        let mut absent: Vec<&str> = Vec::new();
        if chromium.is_none() {
            absent.push("chromium");
        }
        for tool in std::iter::once(&"chromedriver").chain(tools) {
            if find_program(&[tool]).is_none() {
                absent.push(tool);
            }
        }
        if !absent.is_empty() {
            skip(test, &absent);
            return None;
        }
        let (Some(chromium), Some(driver_bin)) = (chromium, find_program(&["chromedriver"])) else {
            unreachable!("both were found above");
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile =
            std::env::temp_dir().join(format!("wxpay-browser-{}-{port}", std::process::id()));
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http.get(format!("{base}/status")).send().await;
            if let Ok(ready) = ready {
                if ready
                    .bytes()
                    .await
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .and_then(|v| v["value"]["ready"].as_bool())
                    == Some(true)
                {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut args: Vec<String> = FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        if !javascript {
            args.push("--blink-settings=scriptEnabled=false".to_owned());
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let mut browser = Browser {
            http,
            session: String::new(),
            driver_port: port,
            driver,
            profile,
        };
        let created = browser
            .command(
                reqwest::Method::POST,
                &format!("{base}/session"),
                Some(capabilities),
            )
            .await;
        let id = created["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        browser.session = format!("{base}/session/{id}");
        Some(browser)
    }

    async fn command(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> Value {
        self.try_command(method, url, body)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// One WebDriver command: its `value`, or the error the driver gave.
    async fn try_command(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut request = self.http.request(method.clone(), url);
        let body = match (body, &method) {
            (Some(body), _) => Some(body),
            (None, &reqwest::Method::POST) => Some(json!({})),
            _ => None,
        };
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let answer = request.send().await.map_err(|e| format!("{url}: {e}"))?;
        let status = answer.status();
        let bytes = answer.bytes().await.unwrap_or_default();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!(
                "WebDriver {method} {url}: {status} {}",
                value["value"]["message"]
            ));
        }
        Ok(value["value"].clone())
    }

    /// The text of every element matching `selector`, or `None` when the
    /// page changed under the reading (a live table was swapped): read again.
    pub async fn texts(&self, selector: &str) -> Option<Vec<String>> {
        let mut texts = Vec::new();
        for element in self.find_all(selector).await {
            let url = format!("{}/element/{}/text", self.session, element.0);
            let text = self
                .try_command(reqwest::Method::GET, &url, None)
                .await
                .ok()?;
            texts.push(text.as_str().unwrap_or("").to_owned());
        }
        Some(texts)
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(
            reqwest::Method::POST,
            &format!("{}/{path}", self.session),
            Some(body),
        )
        .await
    }

    async fn get(&self, path: &str) -> Value {
        self.command(
            reqwest::Method::GET,
            &format!("{}/{path}", self.session),
            None,
        )
        .await
    }

    pub async fn goto(&self, url: &str) {
        self.post("url", json!({ "url": url })).await;
    }

    /// Every element matching the CSS `selector`.
    pub async fn find_all(&self, selector: &str) -> Vec<Element> {
        let found = self
            .post(
                "elements",
                json!({"using": "css selector", "value": selector}),
            )
            .await;
        found
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|e| e[ELEMENT].as_str())
                    .map(|id| Element(id.to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The one element matching `selector`, waiting up to 10 s for it.
    pub async fn find(&self, selector: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(first) = self.find_all(selector).await.into_iter().next() {
                return first;
            }
            assert!(Instant::now() < deadline, "no element matches {selector:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn text(&self, element: &Element) -> String {
        self.element_command(reqwest::Method::GET, element, "text", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// A command on an element, tried again for a moment when the driver
    /// says the page is still settling (a freshly added element not yet
    /// interactable, a click landing as a layer is laid out): a loaded CI
    /// machine is slower than the page.
    async fn element_command(
        &self,
        method: reqwest::Method,
        element: &Element,
        command: &str,
        body: Option<Value>,
    ) -> Value {
        let url = format!("{}/element/{}/{command}", self.session, element.0);
        let mut last = String::new();
        for _ in 0..20 {
            match self.try_command(method.clone(), &url, body.clone()).await {
                Ok(value) => return value,
                Err(e)
                    if ["not interactable", "click intercepted", "stale element"]
                        .iter()
                        .any(|transient| e.contains(transient)) =>
                {
                    last = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{e}"),
            }
        }
        panic!("{last} (still after 2 s)")
    }

    pub async fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        self.get(&format!("element/{}/attribute/{name}", element.0))
            .await
            .as_str()
            .map(str::to_owned)
    }

    pub async fn click(&self, element: &Element) {
        self.element_command(reqwest::Method::POST, element, "click", Some(json!({})))
            .await;
    }

    /// Types `text` into the focused element (`\u{E007}` is Enter).
    pub async fn send_keys(&self, element: &Element, text: &str) {
        self.post(
            &format!("element/{}/value", element.0),
            json!({ "text": text }),
        )
        .await;
    }

    /// The element that has the keyboard focus.
    pub async fn active(&self) -> Element {
        let value = self.get("element/active").await;
        Element(
            value[ELEMENT]
                .as_str()
                .expect("an active element")
                .to_owned(),
        )
    }

    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.post("execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// The whole page's text.
    pub async fn page_text(&self) -> String {
        let body = self.find("body").await;
        self.text(&body).await
    }

    /// Waits up to `seconds` for `selector`'s text to contain `needle`.
    pub async fn wait_for_text(&self, selector: &str, needle: &str, seconds: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut seen = String::new();
        loop {
            if let Some(texts) = self.texts(selector).await {
                seen = texts.join("\n");
                if seen.contains(needle) {
                    return seen;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{selector:?} never showed {needle:?}; last: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let encoded = self.get("screenshot").await;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("base64 PNG"))
            .expect("a PNG")
    }

    /// A PNG of one element.
    pub async fn element_screenshot(&self, element: &Element) -> Vec<u8> {
        let encoded = self.get(&format!("element/{}/screenshot", element.0)).await;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("base64 PNG"))
            .expect("a PNG")
    }

    /// Resizes the window (for screenshots).
    pub async fn resize(&self, width: u32, height: u32) {
        self.post("window/rect", json!({"width": width, "height": height}))
            .await;
    }
}

impl Drop for Browser {
    /// Ends the session (Chromium quits), then the driver, even after a
    /// failed assertion: a plain blocking DELETE, since Drop cannot await.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        if let Some(path) = self
            .session
            .split_once(&format!("127.0.0.1:{}", self.driver_port))
            .map(|(_, p)| p.to_owned())
        {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.driver_port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let request = format!("DELETE {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", self.driver_port);
                if stream.write_all(request.as_bytes()).is_ok() {
                    // chromedriver keeps the connection open: read up to
                    // the end of the answer's body, not to EOF.
                    let mut answer = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while let Ok(n @ 1..) = stream.read(&mut chunk) {
                        answer.extend_from_slice(&chunk[..n]);
                        if complete_http_answer(&answer) {
                            break;
                        }
                    }
                }
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Whether `bytes` hold a whole HTTP/1.1 answer (headers and the
/// `Content-Length` bytes of body).
fn complete_http_answer(bytes: &[u8]) -> bool {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    bytes.len() >= end + 4 + length
}
