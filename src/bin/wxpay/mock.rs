//! `wxpay mock [--port N] [--dir DIR]`: the mock WeChat Pay on 127.0.0.1,
//! until SIGINT or SIGTERM; and `wxpay mock pay|fail|expire|combine|refund|transfer|profit-sharing|…`: the
//! simulated user and back office of a mock that runs, from another
//! terminal (its address from `--base-url`, `WECHATPAY_BASE_URL` or the
//! profile `wxpay mock --dir` wrote).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use wechatpay_chain::mock::MockServer;

use crate::credentials::Credentials;
use crate::exit::{self, write_stdout, Failure};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MockArgs {
    /// Port to listen on; 0 picks a free one. Default: the port recorded
    /// in DIR/mock.json by the mock that ran there before, else a free one.
    #[arg(long)]
    port: Option<u16>,
    /// Keep the mock's state in this directory (DIR/mock.sqlite: orders,
    /// refunds, notifications, the clock, settings; a restart picks up
    /// where it stopped) and write the client profile there (mock.json and
    /// PEM files). One mock per directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Do not print a line on stderr for each request.
    #[arg(long, short)]
    quiet: bool,
    /// Run WeChat Pay's notification retry schedule this many times faster
    /// (1 = real time: 15 s before the first retry).
    #[arg(
        long,
        value_name = "N",
        default_value_t = wechatpay_chain::mock::DEFAULT_SPEEDUP,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    notification_speedup: u32,
    /// Refunds succeed by themselves this many milliseconds after they are
    /// accepted (by default they wait for `wxpay mock refund`).
    #[arg(long, value_name = "MS")]
    refund_auto_resolve: Option<u64>,
    /// The transfers' operating account balance, in fen (a bill larger
    /// than what is left answers 403 NOT_ENOUGH).
    #[arg(long, value_name = "FEN", value_parser = clap::value_parser!(i64).range(0..))]
    transfer_balance: Option<i64>,
    /// How many entries each store keeps (orders, refunds, transfer bills
    /// …), 1 to 100000; past it the oldest is forgotten. Default 20000, or
    /// what DIR kept.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=wechatpay_chain::mock::MAX_RETENTION as u64))]
    retain: Option<u64>,
    /// Let a notify_url name a host other than this machine (by default
    /// only 127.0.0.1, `[::1]` or localhost: the mock's keys are published,
    /// see docs/security.md).
    #[arg(long)]
    allow_remote_notify: bool,
    /// Let requests through without checking them against their
    /// operation's schema (by default a bad one gets 400 PARAM_ERROR).
    #[arg(long)]
    no_schema_check: bool,
    /// Answer operations without a flow with a signed echo of the request
    /// instead of a body shaped like their answer schema.
    #[arg(long)]
    echo: bool,
    #[command(subcommand)]
    action: Option<Action>,
}

/// What to do to a running mock.
#[derive(Subcommand)]
enum Action {
    /// The user pays payment order OUT_TRADE_NO (TRADE_STATE SUCCESS,
    /// TRANSACTION.SUCCESS to its notify_url).
    Pay {
        out_trade_no: String,
        #[command(flatten)]
        sub: SubMchid,
        /// The payer's openid (Native, H5 and APP orders name none).
        #[arg(long)]
        openid: Option<String>,
        /// The front-end parameters (`wxpay invoke …` output), checked as
        /// the WeChat client checks them: JSON, or @FILE.
        #[arg(long, value_name = "JSON|@FILE")]
        invocation: Option<String>,
    },
    /// A payment attempt fails; the order stays NOTPAY.
    Fail {
        out_trade_no: String,
        #[command(flatten)]
        sub: SubMchid,
    },
    /// The unpaid order runs out of time (CLOSED).
    Expire {
        out_trade_no: String,
        #[command(flatten)]
        sub: SubMchid,
    },
    /// Ends refund OUT_REFUND_NO: succeed, abnormal or close (REFUND.* to its notify_url).
    Refund {
        out_refund_no: String,
        #[arg(value_parser = ["succeed", "abnormal", "close"])]
        outcome: String,
        #[command(flatten)]
        sub: SubMchid,
    },
    /// The payee or WeChat Pay acts on transfer bill OUT_BILL_NO: confirm
    /// (SUCCESS), decline (closes the page; it still waits), fail
    /// (--fail-reason), expire (its 24 h pass); MCHTRANSFER.BILL.FINISHED
    /// goes to its notify_url on SUCCESS and FAIL.
    Transfer {
        out_bill_no: String,
        #[arg(value_parser = ["confirm", "decline", "fail", "expire"])]
        action: String,
        #[command(flatten)]
        sub: SubMchid,
        /// Why it fails (fail only), e.g. PAYEE_ACCOUNT_ABNORMAL.
        #[arg(long, value_name = "REASON", default_value = "OTHER_FAIL_REASON_TYPE")]
        fail_reason: String,
        /// The WeChat user on the confirm page (confirm, decline).
        #[arg(long)]
        openid: Option<String>,
        /// The requestMerchantTransfer parameters (`wxpay invoke
        /// merchant-transfer` output), checked as the client checks them: JSON, or @FILE.
        #[arg(long, value_name = "JSON|@FILE")]
        invocation: Option<String>,
    },
    /// Lists the transfer bills.
    Transfers,
    /// Sets the transfers' operating account balance (fen).
    Balance { fen: i64 },
    /// Ends receiver ACCOUNT's share of profit-sharing request OUT_ORDER_NO:
    /// succeed (a MERCHANT_ID receiver is notified), or close with
    /// --fail-reason (RECEIVER_HIGH_RISK, NO_RELATION, …).
    ProfitSharing {
        out_order_no: String,
        account: String,
        #[arg(value_parser = ["succeed", "close"])]
        outcome: String,
        /// Why a closed share failed (GO `DetailFailReason`).
        #[arg(long, value_name = "REASON", required_if_eq("outcome", "close"))]
        fail_reason: Option<String>,
        #[command(flatten)]
        sub: SubMchid,
    },
    /// Lists the profit-sharing and unfreezing requests.
    ProfitSharingOrders,
    /// Pays, fails or expires combine order COMBINE_OUT_TRADE_NO (合单): all
    /// its sub-orders at once; pay sends one TRANSACTION.SUCCESS with every
    /// sub-order.
    Combine {
        combine_out_trade_no: String,
        #[arg(value_parser = ["pay", "fail", "expire"])]
        action: String,
        /// The payer's openid (pay only).
        #[arg(long)]
        openid: Option<String>,
        /// The front-end parameters (`wxpay invoke …` output with the
        /// combine order's prepay_id and combine_appid): JSON, or @FILE (pay only).
        #[arg(long, value_name = "JSON|@FILE")]
        invocation: Option<String>,
    },
    /// Lists the payment orders.
    Transactions,
    /// Lists the combine orders (合单).
    Combines,
    /// Lists the refunds.
    Refunds,
    /// Lists the notifications, every attempt and the merchant's answers.
    Notifications,
    /// Offers notification SEQ again (its `seq` in `notifications`),
    /// signed afresh.
    Resend { seq: u64 },
    /// Shows the mock's clock; `advance 2h` or `set TIME` moves it forward,
    /// firing what falls due on the way (orders closing at time_expire,
    /// notification retries, …) and printing what happened.
    Clock {
        #[command(subcommand)]
        change: Option<ClockChange>,
    },
    /// Lists the failure triggers: markers to write into out_trade_no,
    /// out_refund_no … to get WeChat Pay's error answers on demand.
    Triggers,
    /// Sends EVENT to --notify-url for real: creates and completes the
    /// objects behind it (a 0.01 yuan Native order paid; for a refund,
    /// that order refunded), so the endpoint receives a signed, encrypted
    /// notification on WeChat Pay's retry ladder.
    Trigger {
        #[arg(value_parser = ["TRANSACTION.SUCCESS", "REFUND.SUCCESS"])]
        event: String,
        /// The merchant's notification endpoint.
        #[arg(long, value_name = "URL")]
        notify_url: String,
    },
    /// Waits until the mock the profile (or --base-url) names answers, for
    /// scripts that start `wxpay mock --dir DIR &` and go on.
    Wait {
        /// Give up after this many seconds (exit 4).
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        timeout: u64,
    },
}

/// How to move the clock.
#[derive(Subcommand)]
enum ClockChange {
    /// Forward by DURATION: 90 (seconds), 90s, 15m, 2h, 7d, 1d2h30m, PT2H.
    Advance { duration: String },
    /// Forward to TIME: 2026-01-02T10:00:00+08:00, or a China time
    /// `2026-01-02 10:00:00`; never back.
    Set { time: String },
}

#[derive(Args)]
struct SubMchid {
    /// The sub-merchant of a partner (服务商) order or refund.
    #[arg(long, value_name = "ID")]
    sub_mchid: Option<String>,
}

/// The credential flags a control (`wxpay mock pay …`) reads: where the
/// mock is. Serving reads none: the mock is its own merchant (`--dir`
/// writes its profile).
const CONTROLS_READ: &[&str] = &["base_url", "profile"];

/// The global credential flags, as `Credentials` defines them.
fn credential_flags() -> Vec<clap::Arg> {
    use clap::Args as _;
    Credentials::augment_args(clap::Command::new("credentials"))
        .get_arguments()
        .cloned()
        .collect()
}

/// Gives `wxpay mock` its own copies of the global credential flags, so that
/// clap does not hand it the global ones: hidden where unread (still
/// accepted, to be refused by [`refuse_unread_flags`] with a reason), and
/// global for its controls only where they are read. A control's help then
/// lists `--base-url` and `--profile` alone, and another credential flag
/// typed after a control is clap's "unexpected argument"; serving's help
/// lists those two under a heading that says they are for the controls.
pub fn own_credential_flags(mock: clap::Command) -> clap::Command {
    mock.args(credential_flags().into_iter().map(|arg| {
        let read = CONTROLS_READ.contains(&arg.get_id().as_str());
        arg.global(read)
            .hide(!read)
            .help_heading(read.then_some("Which running mock (for the commands)"))
    }))
}

/// Refuses a credential flag typed for `wxpay mock` that it would ignore
/// (the environment and a profile are ambient: not refused).
pub fn refuse_unread_flags(given: &clap::ArgMatches) -> Result<(), Failure> {
    let (what, reads) = match given.subcommand_name() {
        None => (
            "`wxpay mock` serves its own test merchant (`--dir` writes its profile) and reads no credentials".to_owned(),
            &[][..],
        ),
        Some(name) => (
            format!("`wxpay mock {name}` reads only where the mock is (--base-url or --profile)"),
            CONTROLS_READ,
        ),
    };
    let typed: Vec<String> = credential_flags()
        .iter()
        .filter(|arg| !reads.contains(&arg.get_id().as_str()))
        .filter(|arg| {
            given.ids().any(|id| id == arg.get_id())
                && given.value_source(arg.get_id().as_str())
                    == Some(clap::parser::ValueSource::CommandLine)
        })
        .map(|arg| format!("--{}", arg.get_long().unwrap_or(arg.get_id().as_str())))
        .collect();
    if typed.is_empty() {
        return Ok(());
    }
    Err(Failure::usage(format!(
        "{what}: remove {}",
        typed.join(", ")
    )))
}

pub async fn run(credentials: &Credentials, args: MockArgs) -> Result<(), Failure> {
    match args.action {
        Some(action) => act(credentials, action).await,
        None => serve(args).await,
    }
}

async fn serve(args: MockArgs) -> Result<(), Failure> {
    let recorded = args.dir.as_deref().and_then(recorded_port);
    let port = args.port.or(recorded).unwrap_or(0);
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let server = match &args.dir {
        Some(dir) => MockServer::bind_in(address, dir).await,
        None => MockServer::bind(address).await,
    };
    let server = server.map_err(|e| match (&e, args.port, recorded) {
        (wechatpay_chain::Error::Io { .. }, None, Some(port)) => Failure::usage(format!(
            "port {port}, where the mock of this directory ran before (its mock.json), is taken: \
             give --port 0 for a free one, or stop what uses it ({e})"
        )),
        _ => Failure::from(e),
    })?;
    server.log_to_stderr(!args.quiet);
    // Flags given now win over the settings the directory kept.
    if args.dir.is_none() || args.notification_speedup != wechatpay_chain::mock::DEFAULT_SPEEDUP {
        server.set_notification_speedup(args.notification_speedup);
    }
    if args.dir.is_none() || args.refund_auto_resolve.is_some() {
        server.auto_resolve_refunds(args.refund_auto_resolve.map(Duration::from_millis));
    }
    if let Some(fen) = args.transfer_balance {
        server.set_transfer_balance(fen);
    }
    if let Some(limit) = args.retain {
        server.set_retention(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    server.allow_remote_notify(args.allow_remote_notify);
    server.check_schemas(!args.no_schema_check);
    server.answer_with_echo(args.echo);
    // The profile is written before the first line: a script that waits
    // for "listening on" (or runs `wxpay mock wait`) finds it complete.
    let profile = match &args.dir {
        Some(dir) => Some(server.write_profile(dir)?),
        None => None,
    };
    // The first line is the contract: scripts wait for it.
    write_stdout(format!("listening on {}\n", server.base_url()).as_bytes())?;
    if let Some(path) = profile {
        write_stdout(format!("profile written to {}\n", path.display()).as_bytes())?;
    }
    write_stdout(format!("console at {}_mock/\n", server.base_url()).as_bytes())?;
    server.serve_until(stop_signal()).await;
    Ok(())
}

/// Polls until the mock answers: the profile may not be written yet, or
/// still name a mock of an earlier run (then its port refuses).
async fn wait(credentials: &Credentials, timeout: u64) -> Result<(), Failure> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| Failure::usage(format!("cannot build the HTTP client: {e}")))?;
    loop {
        // Why not yet, and whether that already says how to start the mock.
        let (why, says_how) = match credentials.base_url() {
            Ok(None) => return Err(Failure::usage(WHICH_MOCK)),
            Ok(Some(base)) => match http.get(format!("{base}_mock/transactions")).send().await {
                Ok(answer) if answer.status().is_success() => {
                    return write_stdout(format!("ready at {base}\n").as_bytes());
                }
                Ok(answer) => (
                    format!(
                        "{base} answered {} (is it a `wxpay mock`?)",
                        answer.status()
                    ),
                    false,
                ),
                Err(e) => match stopped_mock(credentials, e) {
                    Ok(stopped) => (stopped, true),
                    Err(other) => (format!("no mock answers at {base}: {other}"), false),
                },
            },
            // Not written yet (or half written): try again.
            Err(failure) => (failure.message, false),
        };
        if tokio::time::Instant::now() >= deadline {
            let how = match says_how {
                true => "",
                false => "; start it with `wxpay mock --dir DIR &` and set WECHATPAY_PROFILE=DIR/mock.json",
            };
            return Err(Failure {
                code: exit::TRANSPORT,
                message: format!("no mock ready within {timeout} s: {why}{how}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What to say when nothing names a mock.
const WHICH_MOCK: &str = "which mock? give --base-url http://127.0.0.1:PORT/, WECHATPAY_BASE_URL or --profile mock.json (as `wxpay mock --dir` wrote it)";

/// One `/_mock/` control of a running mock; its answer on stdout.
async fn act(credentials: &Credentials, action: Action) -> Result<(), Failure> {
    let segment = |text: &str| {
        percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let with_sub = |path: String, sub: &SubMchid| match &sub.sub_mchid {
        Some(id) => format!("{path}?sub_mchid={}", segment(id)),
        None => path,
    };
    let (method, path, body) = match &action {
        Action::Pay {
            out_trade_no,
            sub,
            openid,
            invocation,
        } => {
            let path = with_sub(format!("transactions/{}/pay", segment(out_trade_no)), sub);
            (reqwest::Method::POST, path, pay_body(openid, invocation)?)
        }
        Action::Combine {
            combine_out_trade_no,
            action,
            openid,
            invocation,
        } => (
            reqwest::Method::POST,
            format!(
                "combine-transactions/{}/{action}",
                segment(combine_out_trade_no)
            ),
            pay_body(openid, invocation)?,
        ),
        Action::Combines => (
            reqwest::Method::GET,
            "combine-transactions".to_owned(),
            None,
        ),
        Action::Fail { out_trade_no, sub } => (
            reqwest::Method::POST,
            with_sub(format!("transactions/{}/fail", segment(out_trade_no)), sub),
            None,
        ),
        Action::Expire { out_trade_no, sub } => (
            reqwest::Method::POST,
            with_sub(
                format!("transactions/{}/expire", segment(out_trade_no)),
                sub,
            ),
            None,
        ),
        Action::Refund {
            out_refund_no,
            outcome,
            sub,
        } => (
            reqwest::Method::POST,
            with_sub(format!("refunds/{}/{outcome}", segment(out_refund_no)), sub),
            None,
        ),
        Action::Transfer {
            out_bill_no,
            action,
            sub,
            fail_reason,
            openid,
            invocation,
        } => {
            let mut body = serde_json::Map::new();
            if action == "fail" {
                body.insert("fail_reason".into(), fail_reason.clone().into());
            }
            if let Some(openid) = openid {
                body.insert("openid".into(), openid.clone().into());
            }
            if let Some(text) = invocation {
                body.insert("invocation".into(), read_json(text)?);
            }
            let path = with_sub(
                format!("transfer-bills/{}/{action}", segment(out_bill_no)),
                sub,
            );
            (
                reqwest::Method::POST,
                path,
                (!body.is_empty()).then(|| serde_json::Value::Object(body)),
            )
        }
        Action::Transfers => (reqwest::Method::GET, "transfer-bills".to_owned(), None),
        Action::Balance { fen } => (
            reqwest::Method::PUT,
            "settings".to_owned(),
            Some(serde_json::json!({ "transfer_balance_fen": fen })),
        ),
        Action::ProfitSharing {
            out_order_no,
            account,
            outcome,
            fail_reason,
            sub,
        } => (
            reqwest::Method::POST,
            with_sub(
                format!(
                    "profitsharing/orders/{}/receivers/{}/{outcome}",
                    segment(out_order_no),
                    segment(account)
                ),
                sub,
            ),
            fail_reason
                .as_ref()
                .map(|reason| serde_json::json!({ "fail_reason": reason })),
        ),
        Action::ProfitSharingOrders => (
            reqwest::Method::GET,
            "profitsharing/orders".to_owned(),
            None,
        ),
        Action::Transactions => (reqwest::Method::GET, "transactions".to_owned(), None),
        Action::Refunds => (reqwest::Method::GET, "refunds".to_owned(), None),
        Action::Notifications => (reqwest::Method::GET, "notifications".to_owned(), None),
        Action::Wait { timeout } => return wait(credentials, *timeout).await,
        Action::Resend { seq } => (
            reqwest::Method::POST,
            format!("notifications/{seq}/resend"),
            None,
        ),
        Action::Clock { change: None } => (reqwest::Method::GET, "clock".to_owned(), None),
        Action::Clock {
            change: Some(ClockChange::Advance { duration }),
        } => (
            reqwest::Method::POST,
            "clock/advance".to_owned(),
            Some(serde_json::json!({ "duration": duration })),
        ),
        Action::Clock {
            change: Some(ClockChange::Set { time }),
        } => (
            reqwest::Method::POST,
            "clock/set".to_owned(),
            Some(serde_json::json!({ "time": time })),
        ),
        Action::Triggers => (reqwest::Method::GET, "triggers".to_owned(), None),
        Action::Trigger { event, notify_url } => (
            reqwest::Method::POST,
            "trigger".to_owned(),
            Some(serde_json::json!({ "event": event, "notify_url": notify_url })),
        ),
    };
    let base = credentials
        .base_url()?
        .ok_or_else(|| Failure::usage(WHICH_MOCK))?;
    let base = url::Url::parse(&base)
        .map_err(|e| Failure::usage(format!("--base-url is not a URL ({e})")))?;
    let url = base
        .join(&format!("_mock/{path}"))
        .map_err(|e| Failure::usage(format!("cannot build the control URL ({e})")))?;
    let mut request = reqwest::Client::new().request(method, url.clone());
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let answer = request
        .send()
        .await
        .map_err(|e| unanswered(credentials, e, &url))?;
    let status = answer.status();
    let bytes = answer.bytes().await.map_err(|e| Failure {
        code: exit::TRANSPORT,
        message: format!("the mock's answer was cut: {e}"),
    })?;
    let text = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(value) => serde_json::to_string_pretty(&value).unwrap_or_default() + "\n",
        Err(_) if bytes.is_empty() => String::new(),
        Err(_) => String::from_utf8_lossy(&bytes).into_owned() + "\n",
    };
    if status.is_success() {
        return write_stdout(text.as_bytes());
    }
    Err(Failure {
        code: exit::API_ERROR,
        message: format!("the mock refused ({status}): {}", text.trim_end()),
    })
}

/// What to say when no mock answered a control: that the mock the profile
/// names has stopped and how to start it (a refused connection to its
/// loopback address), else what failed.
fn unanswered(credentials: &Credentials, error: reqwest::Error, url: &url::Url) -> Failure {
    let message = stopped_mock(credentials, error).unwrap_or_else(|other| {
        format!(
            "no mock answered at {}: {other} (is `wxpay mock` running?)",
            url.origin().ascii_serialization()
        )
    });
    Failure {
        code: exit::TRANSPORT,
        message,
    }
}

/// `Ok`: the words for `error` when it is a connection refused by the
/// mock the profile names (it has stopped, and how to start it again);
/// `Err`: the error otherwise.
fn stopped_mock(
    credentials: &Credentials,
    error: reqwest::Error,
) -> Result<String, wechatpay_chain::Error> {
    let error = wechatpay_chain::Error::Transport(error);
    let error = match credentials.profile_of_base_url() {
        Some(profile) => profile.explain(error),
        None => error,
    };
    match error {
        stopped @ wechatpay_chain::Error::MockStopped { .. } => Ok(stopped.to_string()),
        other => Err(other),
    }
}

/// The body of a pay control: `{"openid"?, "invocation"?}`, or none.
fn pay_body(
    openid: &Option<String>,
    invocation: &Option<String>,
) -> Result<Option<serde_json::Value>, Failure> {
    let mut body = serde_json::Map::new();
    if let Some(openid) = openid {
        body.insert("openid".into(), openid.clone().into());
    }
    if let Some(text) = invocation {
        body.insert("invocation".into(), read_json(text)?);
    }
    Ok((!body.is_empty()).then_some(serde_json::Value::Object(body)))
}

/// The port of `dir/mock.json`'s `base_url`, as the last mock there wrote it.
fn recorded_port(dir: &std::path::Path) -> Option<u16> {
    let text = std::fs::read_to_string(dir.join("mock.json")).ok()?;
    let profile: serde_json::Value = serde_json::from_str(&text).ok()?;
    url::Url::parse(profile["base_url"].as_str()?).ok()?.port()
}

/// JSON given inline or as `@FILE`.
fn read_json(text: &str) -> Result<serde_json::Value, Failure> {
    let content = match text.strip_prefix('@') {
        Some(path) => {
            use std::io::Read as _;
            // An invocation is a few hundred bytes: read no more than 64 KiB.
            let mut content = String::new();
            std::fs::File::open(path)
                .and_then(|file| file.take(64 << 10).read_to_string(&mut content))
                .map_err(|e| Failure::usage(format!("cannot read {path}: {e}")))?;
            content
        }
        None => text.to_owned(),
    };
    serde_json::from_str(&content).map_err(|e| {
        Failure::usage(format!(
            "--invocation is not JSON ({e}); pass the object `wxpay invoke` printed, or @FILE"
        ))
    })
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
