//! `wxpay <get|post|put|patch|delete> PATH …`: any endpoint, signed and
//! verified, or `--dry-run` to see exactly what would be signed.

use std::io::Read;

use clap::Args;
use wechatpay_chain::{Chain, Client, Error, Method, Options, PreparedRequest, Response, Value};

use crate::credentials::Credentials;
use crate::exit::{write_stdout, Failure, API_ERROR, REFUSED};

#[derive(Args)]
pub struct CallArgs {
    /// `v3/payscore/serviceorder/{out_order_no}/modify` or `v3.payscore.serviceorder._out_order_no_.modify`.
    path: String,
    /// Fills placeholder NAME (repeatable).
    #[arg(short = 'p', value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Adds query parameter NAME (repeatable).
    #[arg(short = 'q', value_name = "NAME=VALUE")]
    query: Vec<String>,
    /// Adds a request header (repeatable).
    #[arg(short = 'H', value_name = "Name: value")]
    headers: Vec<String>,
    /// JSON body: inline, @FILE, or @- for standard input.
    #[arg(short = 'd', value_name = "JSON|@FILE|@-")]
    data: Option<String>,
    /// Print the status line and headers before the body.
    #[arg(short = 'i', long)]
    include: bool,
    /// Send nothing: print the request and the exact signed message.
    #[arg(long)]
    dry_run: bool,
    /// Send nothing: print the signed URL of an APIv2 GET (the 代扣签约
    /// pages a browser opens, e.g. v2/papay/entrustweb).
    #[arg(long, conflicts_with = "dry_run")]
    url_only: bool,
    /// Accept a 2xx answer without checking WeChat Pay's signature.
    #[arg(long)]
    skip_verify: bool,
    /// Check the request against the operation's schema first and send
    /// nothing if it breaks a rule (exit 5). With --dry-run: exit 5 too.
    #[arg(long)]
    check: bool,
}

pub async fn run(credentials: &Credentials, method: Method, args: CallArgs) -> Result<(), Failure> {
    let client = if args.dry_run || args.url_only {
        credentials.signing_client()?
    } else {
        credentials.client()?
    };
    let node = node(&client, &args.path);
    let options = options(&args, wechatpay_chain::path::is_apiv2(node.template()))?;
    if args.url_only {
        if method != Method::GET {
            return Err(Failure::usage("--url-only is for `wxpay get v2/…`"));
        }
        let url = node.signed_url(options)?;
        return write_stdout(format!("{url}\n").as_bytes());
    }
    if args.dry_run {
        crate::endpoints::warn_if_unknown(&method, node.template());
        let request = node.prepare(method, options)?;
        dry_run(&client, &request)?;
        return report_check(&request, args.check);
    }
    if args.check {
        report_check(&node.prepare(method.clone(), options.clone())?, true)?;
    }
    match node.send(method.clone(), options).await {
        Ok(res) => {
            print_answer(args.include, res.status(), res.headers(), res.bytes())?;
            eprintln!("{}", summary(&res, args.skip_verify));
            Ok(())
        }
        Err(Error::Api(api)) => {
            print_answer(args.include, api.status, &api.headers, &api.body)?;
            eprintln!(
                "{} {}, Request-ID {}, WeChat Pay answered an error",
                api.status,
                api.code,
                api.request_id.as_deref().unwrap_or("-")
            );
            if api.status == 404 {
                crate::endpoints::warn_if_unknown(&method, node.template());
            }
            Err(Failure {
                code: API_ERROR,
                message: String::new(),
            })
        }
        Err(Error::ApiV2(refusal)) => {
            // The fields WeChat Pay answered, as JSON on stdout like any answer.
            let fields = serde_json::to_vec(&refusal.fields).unwrap_or_default();
            print_answer(false, 200, &reqwest::header::HeaderMap::new(), &fields)?;
            eprintln!("200, WeChat Pay APIv2 answered an error: {refusal}");
            Err(Failure {
                code: API_ERROR,
                message: String::new(),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Slash form is literal; dotted form is translated like `chain!`.
fn node(client: &Client, path: &str) -> Chain {
    if !path.contains('/') && path.contains('.') {
        let idents: Vec<&str> = path.split('.').collect();
        client.chain_idents(&idents)
    } else {
        client.chain(path)
    }
}

/// The options from the flags; for an APIv2 path `-d` holds the XML fields
/// (as a JSON object), which are signed and sent as XML.
fn options(args: &CallArgs, apiv2: bool) -> Result<Options, Failure> {
    let mut options = Options::new();
    for pair in &args.params {
        let (name, value) = split(pair, '=', "-p takes NAME=VALUE")?;
        options = options.path(name, value);
    }
    for pair in &args.query {
        let (name, value) = split(pair, '=', "-q takes NAME=VALUE")?;
        options = options.query(name, value);
    }
    for header in &args.headers {
        let (name, value) = split(header, ':', "-H takes 'Name: value'")?;
        options = options.header(name.trim(), value.trim());
    }
    if let Some(data) = &args.data {
        let body = read_data(data)?;
        if apiv2 {
            let fields: serde_json::Map<String, Value> =
                serde_json::from_slice(&body).map_err(|e| {
                    Failure::usage(format!(
                        "-d for an APIv2 path is a JSON object of its XML fields: {e}"
                    ))
                })?;
            options = options.xml(&fields);
        } else {
            serde_json::from_slice::<serde::de::IgnoredAny>(&body)
                .map_err(|e| Failure::usage(format!("-d is not JSON: {e}")))?;
            options = options.body(body);
        }
    }
    if args.skip_verify {
        options = options.skip_verification();
    }
    Ok(options)
}

fn split<'a>(text: &'a str, separator: char, usage: &str) -> Result<(&'a str, &'a str), Failure> {
    text.split_once(separator)
        .ok_or_else(|| Failure::usage(format!("{usage}, got `{text}`")))
}

fn read_data(data: &str) -> Result<Vec<u8>, Failure> {
    match data.strip_prefix('@') {
        Some("-") => {
            let mut body = Vec::new();
            std::io::stdin().read_to_end(&mut body).map_err(|e| {
                Failure::usage(format!("reading the body from standard input: {e}"))
            })?;
            Ok(body)
        }
        Some(file) => std::fs::read(file)
            .map_err(|e| Failure::usage(format!("reading the body from {file}: {e}"))),
        None => Ok(data.as_bytes().to_vec()),
    }
}

/// The schema check of `request` on stderr: `check: N problem(s)` and one
/// line each; nothing when it passes (or the operation has no schema).
/// With `refuse`, problems are a failure (exit 5).
fn report_check(request: &PreparedRequest, refuse: bool) -> Result<(), Failure> {
    let found = wechatpay_chain::catalog::check_prepared(request);
    if found.is_empty() {
        return Ok(());
    }
    eprintln!(
        "check: {} problem(s) against the schema (WeChat Pay would answer 400 PARAM_ERROR):",
        found.len()
    );
    for violation in &found {
        eprintln!("  {violation}");
    }
    if refuse {
        return Err(Failure {
            code: REFUSED,
            message: "not sent: the request breaks the operation's schema (see above; `wxpay describe` lists the fields)".to_owned(),
        });
    }
    Ok(())
}

/// `METHOD URL`, headers (Authorization included), blank line, body,
/// `--- signed message ---`, the message.
fn dry_run(client: &Client, request: &PreparedRequest) -> Result<(), Failure> {
    let mut out = Vec::new();
    out.extend_from_slice(format!("{} {}\n", request.method(), request.url()).as_bytes());
    write_headers(&mut out, request.headers());
    // APIv2 carries its `sign` in the body (or the query): nothing to add.
    let signature = match request.is_apiv2() {
        true => None,
        false => Some(client.sign(request)?),
    };
    if let Some(signature) = &signature {
        out.extend_from_slice(format!("Authorization: {}\n", signature.authorization).as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(request.body());
    if let Some(signature) = &signature {
        out.extend_from_slice(b"\n--- signed message ---\n");
        out.extend_from_slice(&signature.message);
    } else {
        out.push(b'\n');
    }
    write_stdout(&out)
}

/// `Name: value` lines, names capitalized for reading.
fn write_headers(out: &mut Vec<u8>, headers: &reqwest::header::HeaderMap) {
    for (name, value) in headers {
        out.extend_from_slice(format!("{}: ", canonical(name.as_str())).as_bytes());
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
}

/// `wechatpay-serial` → `Wechatpay-Serial`, for reading.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn print_answer(
    include: bool,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> Result<(), Failure> {
    let mut out = Vec::new();
    if include {
        let reason = reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        out.extend_from_slice(format!("HTTP/1.1 {status} {reason}\n").as_bytes());
        write_headers(&mut out, headers);
        out.push(b'\n');
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(json) => {
            let pretty = serde_json::to_string_pretty(&json).unwrap_or_default();
            out.extend_from_slice(pretty.as_bytes());
            out.push(b'\n');
        }
        Err(_) => out.extend_from_slice(body),
    }
    write_stdout(&out)
}

fn summary(res: &Response, skipped: bool) -> String {
    let verification = match res.verified_by() {
        Some(key) => format!("verified by {key}"),
        None if skipped => "not verified (--skip-verify)".to_owned(),
        None => "unsigned download, not verified".to_owned(),
    };
    format!(
        "{}, Request-ID {}, {verification}",
        res.status(),
        res.request_id().unwrap_or("-")
    )
}
