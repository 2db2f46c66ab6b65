//! `wxpay endpoints [WORDS…]` and `wxpay describe [METHOD] PATH`: the
//! endpoint catalog from the command line; and the "did you mean" hint a
//! call prints for a path the catalog does not know.

use clap::Args;
use wechatpay_chain::catalog::{
    chain_macro_path, Api, Catalog, Field, Kind, Match, Operation, OperationSchema,
};
use wechatpay_chain::path::ident_segment;
use wechatpay_chain::Method;

use crate::exit::{write_stdout, Failure};

#[derive(Args)]
pub struct EndpointsArgs {
    /// Words that must all match: a path segment or part of one, part of
    /// the Chinese summary, or a method (GET, POST…). None lists all.
    words: Vec<String>,
    /// One JSON array, every field of each operation.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct DescribeArgs {
    /// `[METHOD] PATH`: a template, a concrete path (placeholders filled),
    /// the dotted chain form, or a URL; `POST v3/…` in one argument works too.
    #[arg(value_name = "[METHOD] PATH", required = true, num_args = 1..=2)]
    words: Vec<String>,
    /// The operation(s) as a JSON array, with the placeholder values.
    #[arg(long)]
    json: bool,
}

/// `wxpay endpoints`: `METHOD TEMPLATE SUMMARY`, best match first.
pub fn list(args: EndpointsArgs) -> Result<(), Failure> {
    let query = args.words.join(" ");
    let found = Catalog::embedded().search(&query);
    if args.json {
        return print_json(&found);
    }
    if found.is_empty() {
        eprintln!("no endpoint matches `{query}`; try fewer or other words");
        return Ok(());
    }
    let width = found
        .iter()
        .map(|op| op.template().len())
        .max()
        .unwrap_or(0)
        .min(72);
    let mut out = String::new();
    for op in &found {
        out.push_str(&format!(
            "{:<6} {:<width$}  {}\n",
            op.method(),
            op.template(),
            op.summary()
        ));
    }
    write_stdout(out.as_bytes())
}

/// `wxpay describe`: one operation (or each method the path takes).
pub fn describe(args: DescribeArgs) -> Result<(), Failure> {
    let (method, path) = method_and_path(&args.words)?;
    let catalog = Catalog::embedded();
    let matches: Vec<Match<'_>> = match &method {
        Some(method) => catalog.lookup(method, &path).into_iter().collect(),
        None => catalog.lookup_path(&path),
    };
    if matches.is_empty() {
        let what = match &method {
            Some(method) => format!("{method} {path}"),
            None => path.clone(),
        };
        return Err(Failure::usage(format!(
            "{what} is not a known WeChat Pay endpoint{}",
            did_you_mean(method.as_deref(), &path)
        )));
    }
    if args.json {
        let list: Vec<serde_json::Value> = matches
            .iter()
            .map(|m| {
                let mut value = serde_json::to_value(m.operation).unwrap_or_default();
                value["values"] = m
                    .placeholders
                    .iter()
                    .map(|p| (p.name.clone(), serde_json::json!(p.value)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
                if let Some(schema) = m.operation.schema() {
                    value["schema"] = serde_json::to_value(schema).unwrap_or_default();
                    value["example_body"] = schema.example_body().unwrap_or_default();
                }
                value
            })
            .collect();
        let text = serde_json::to_string_pretty(&list).unwrap_or_default() + "\n";
        return write_stdout(text.as_bytes());
    }
    // Same-shaped templates (`{applyment_id}` and `{business_code}`) with
    // the same method: describe the first, name the others.
    let mut out = String::new();
    let mut shown: Vec<&str> = Vec::new();
    for found in &matches {
        let op = found.operation;
        if shown.contains(&op.method()) {
            out.push_str(&format!(
                "(the path also matches {} {}: {})\n",
                op.method(),
                op.template(),
                op.summary()
            ));
            continue;
        }
        if !shown.is_empty() {
            out.push('\n');
        }
        shown.push(op.method());
        out.push_str(&explain(found));
    }
    write_stdout(out.as_bytes())
}

/// `["POST", "v3/…"]`, `["POST v3/…"]` or `["v3/…"]`; the dotted chain form
/// translated as `chain!` does.
fn method_and_path(words: &[String]) -> Result<(Option<String>, String), Failure> {
    let split: Vec<&str> = words.iter().flat_map(|w| w.split_whitespace()).collect();
    let (method, path) = match split.as_slice() {
        [path] => (None, *path),
        [method, path]
            if ["GET", "POST", "PUT", "PATCH", "DELETE"]
                .iter()
                .any(|m| m.eq_ignore_ascii_case(method)) =>
        {
            (Some(method.to_ascii_uppercase()), *path)
        }
        _ => {
            return Err(Failure::usage(format!(
                "describe takes [METHOD] PATH, got `{}`",
                words.join(" ")
            )))
        }
    };
    let path = if !path.contains('/') && path.contains('.') {
        let segments: Vec<String> = path.split('.').map(ident_segment).collect();
        segments.join("/")
    } else {
        path.to_owned()
    };
    Ok((method, path))
}

/// One operation, for reading.
fn explain(found: &Match<'_>) -> String {
    let op = found.operation;
    let mut out = format!("{} {}\n  {}\n", op.method(), op.template(), op.summary());
    let protocol = match op.api() {
        Api::V3 => "APIv3: JSON, signed with the merchant key (Authorization)",
        _ => "APIv2: XML fields, `sign` with the APIv2 key; sent without the `v2/`",
    };
    out.push_str(&format!("  {protocol}\n"));
    let statuses: Vec<String> = op.statuses().iter().map(u16::to_string).collect();
    out.push_str(&format!("  success: {}\n", statuses.join(", ")));
    let (consumes, produces) = match op.api() {
        Api::V3 => {
            let bodiless = matches!(op.method(), "GET" | "DELETE");
            (
                op.consumes().unwrap_or(if bodiless {
                    "no body"
                } else {
                    "application/json"
                }),
                op.produces().unwrap_or(if op.statuses() == [204] {
                    "no body (204)"
                } else {
                    "application/json"
                }),
            )
        }
        _ => (
            op.consumes().unwrap_or("application/xml"),
            op.produces().unwrap_or("application/xml"),
        ),
    };
    out.push_str(&format!("  request: {consumes}; answer: {produces}\n"));
    if op.unsigned_response() && op.file_response() {
        out.push_str("  the answer is an unsigned file: checked by its hash, not a signature\n");
    } else if op.unsigned_response() {
        out.push_str("  the answer is unsigned: WeChat Pay does not sign it\n");
    } else if op.file_response() {
        out.push_str("  the answer is a file (XML only when refused)\n");
    } else {
        out.push_str("  the answer is signed and verified\n");
    }
    if op.needs_wechatpay_serial() {
        out.push_str(
            "  sensitive fields: encrypt them with `wxpay encrypt`; Wechatpay-Serial names the key\n",
        );
    }
    if op.needs_client_certificate() {
        out.push_str("  needs the merchant TLS client certificate (\"security\": true)\n");
    }
    if op.is_upload() {
        out.push_str("  an upload: multipart/form-data, a `meta` JSON part and the file\n");
    }
    if !found.placeholders.is_empty() {
        out.push_str("placeholders:\n");
        for p in &found.placeholders {
            match &p.value {
                Some(value) => out.push_str(&format!("  {} = {value}\n", p.name)),
                None => out.push_str(&format!("  {} (no value given)\n", p.name)),
            }
        }
    }
    let example = op.schema().and_then(OperationSchema::example_body);
    if let Some(schema) = op.schema() {
        out.push_str(&fields_section(schema));
        if let Some(body) = &example {
            let pretty = serde_json::to_string_pretty(body).unwrap_or_default();
            out.push_str("example body (every required field; passes the check):\n");
            for line in pretty.lines() {
                out.push_str(&format!("  {line}\n"));
            }
            if pretty.contains(PLACEHOLDER_CIPHERTEXT_START) {
                out.push_str(
                    "  (encrypted fields hold a ciphertext-shaped placeholder: WeChat Pay and the mock \
                     refuse it; put `wxpay encrypt TEXT`'s output there)\n",
                );
            }
        }
    }
    out.push_str("try it:\n");
    let command = wxpay_command(found, example.as_ref());
    out.push_str(&format!("  {command}\n"));
    if op.api() == Api::V3 && !op.is_upload() {
        // The same request sent, refused first if it breaks a rule.
        let sent = command.replace(" --dry-run", " --check");
        out.push_str(&format!(
            "  {sent}   # sends it (against `wxpay mock`, or for real)\n"
        ));
    }
    out.push_str("in Rust:\n");
    for spelling in rust_spellings(found) {
        out.push_str(&format!("  {spelling}\n"));
    }
    out
}

/// How the example's placeholder for an encrypted field begins (base64 of zero bytes).
const PLACEHOLDER_CIPHERTEXT_START: &str = "\"AAAAAAAAAAAAAAAAAAAA";

/// The schema's fields for reading: the request body, query, path and
/// header parameters, and the answer, each a tree (`*` required).
fn fields_section(schema: &OperationSchema) -> String {
    let mut out = String::new();
    let mut params = |title: &str, fields: &[Field]| {
        if !fields.is_empty() {
            out.push_str(&format!("{title} (* required):\n"));
            for field in fields {
                tree(&mut out, field, 1);
            }
        }
    };
    params("path parameters", schema.path());
    params("query parameters", schema.query());
    if !schema.headers().is_empty() {
        out.push_str("headers:\n");
        for header in schema.headers() {
            // OA marks the serial required everywhere; WeChat Pay wants it
            // when an encrypted field is sent (FLOWS.md §8.1), and the
            // client always sends it.
            let when = match header.name().eq_ignore_ascii_case("Wechatpay-Serial") {
                true => "needed when an encrypted field is sent; wxpay sends it",
                false if header.required() => "required",
                false => "optional",
            };
            let title = header.title().unwrap_or_default();
            out.push_str(&format!("  {} ({when}) {title}\n", header.name()));
        }
    }
    if let Some(body) = schema.body().filter(|b| !b.children().is_empty()) {
        out.push_str("request body (* required):\n");
        for field in body.children() {
            tree(&mut out, field, 1);
        }
    }
    if let Some(answer) = schema.answer().filter(|a| !a.children().is_empty()) {
        out.push_str("answer (* always present):\n");
        for field in answer.children() {
            tree(&mut out, field, 1);
        }
    }
    out
}

/// `  * appid (string) 商户AppID`, then the children one level deeper; an
/// array of objects is `name[]` with its item's fields below.
fn tree(out: &mut String, field: &Field, depth: usize) {
    let mark = if field.required() { "* " } else { "  " };
    let mut kind = field.kind().to_string();
    let mut inner = field;
    let mut name = field.name().to_owned();
    if let Some(items) = field.items() {
        kind = format!("array of {}", items.kind());
        name.push_str("[]");
        inner = items;
    }
    let mut notes = vec![kind];
    if let Some(format) = field.format().filter(|f| *f != "base64") {
        notes.push(format.to_owned());
    }
    if field.encrypted() || inner.encrypted() {
        notes.push("encrypted".to_owned());
    }
    if let Some(max) = field.max_length() {
        notes.push(format!("≤ {max} chars"));
    }
    let mut line = format!("{}{mark}{name} ({})", "  ".repeat(depth), notes.join(", "));
    if let Some(title) = field.title() {
        line.push(' ');
        line.push_str(title);
    }
    let values: Vec<String> = inner
        .enumeration()
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect();
    if !values.is_empty() {
        line.push_str(&format!("  one of {}", values.join("|")));
    }
    out.push_str(&line);
    out.push('\n');
    if inner.kind() == Kind::Object {
        for child in inner.children() {
            tree(out, child, depth + 1);
        }
    }
}

/// `wxpay post 'v3/…/{x}/modify' -p x=1 -d '{…}' --dry-run`, the body the
/// schema's example where there is one.
fn wxpay_command(found: &Match<'_>, example: Option<&serde_json::Value>) -> String {
    let op = found.operation;
    let mut command = format!(
        "wxpay {} {}",
        op.method().to_ascii_lowercase(),
        shell_quote(op.template())
    );
    let schema = op.schema();
    let example_path = schema
        .map(OperationSchema::example_path)
        .unwrap_or_default();
    for p in &found.placeholders {
        let fallback = example_path
            .iter()
            .find(|(name, _)| *name == p.name)
            .map_or("VALUE", |(_, value)| value.as_str());
        let pair = format!("{}={}", p.name, p.value.as_deref().unwrap_or(fallback));
        command.push_str(&format!(" -p {}", shell_quote(&pair)));
    }
    for (name, value) in schema
        .map(OperationSchema::example_query)
        .unwrap_or_default()
    {
        command.push_str(&format!(" -q {}", shell_quote(&format!("{name}={value}"))));
    }
    let has_body = !op.is_upload() && op.method() != "GET" && op.method() != "DELETE";
    if has_body {
        // APIv3: the JSON body; APIv2: the XML fields, as a JSON object.
        let body = example.map_or_else(|| "{}".to_owned(), ToString::to_string);
        command.push_str(&format!(" -d {}", shell_quote(&body)));
    }
    if op.api() == Api::V2 && op.method() == "GET" {
        // The signed URL a browser opens (or the query the GET sends).
        command.push_str(" -q NAME=VALUE --url-only");
    } else {
        command.push_str(" --dry-run");
    }
    if op.is_upload() {
        command.push_str("   # the CLI sends JSON; upload from Rust");
    }
    command
}

/// The three Rust spellings of the call (`chain!` only where identifiers
/// can spell every segment).
fn rust_spellings(found: &Match<'_>) -> Vec<String> {
    let op = found.operation;
    let mut fields: Vec<String> = found
        .placeholders
        .iter()
        .map(|p| {
            let value = p.value.as_deref().unwrap_or("…");
            format!(
                "{}: {}",
                serde_json::Value::from(p.name.as_str()),
                serde_json::Value::from(value)
            )
        })
        .collect();
    let verb = op.method().to_ascii_lowercase();
    let call = if op.is_upload() {
        let media = "Media::from_path(\"FILE\")?";
        match fields.is_empty() {
            true => format!("upload({media})"),
            false => format!("upload_with(json!({{{}}}), {media})", fields.join(", ")),
        }
    } else {
        match op.api() {
            Api::V3 if op.method() != "GET" && op.method() != "DELETE" => {
                fields.push("\"json\": {}".to_owned());
            }
            Api::V3 => {}
            _ if op.method() == "GET" => fields.push("\"query\": {}".to_owned()),
            _ => {
                fields.push("\"xml\": {}".to_owned());
                if op.needs_client_certificate() {
                    fields.push("\"security\": true".to_owned());
                }
            }
        }
        match fields.is_empty() {
            true => format!("{verb}(())"),
            false => format!("{verb}(json!({{{}}}))", fields.join(", ")),
        }
    };
    let template = op.template();
    let mut spellings = vec![
        format!("client.chain({template:?}).{call}.await?"),
        format!("client[{template:?}].{call}.await?"),
    ];
    match chain_macro_path(template) {
        Some(idents) => spellings.push(format!("chain!(client.{idents}).{call}.await?")),
        None => spellings.push(format!(
            "// chain!(…) cannot spell {template}: a segment has capitals"
        )),
    }
    spellings
}

fn shell_quote(text: &str) -> String {
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,%+".contains(c));
    match plain && !text.is_empty() {
        true => text.to_owned(),
        false => format!("'{}'", text.replace('\'', r"'\''")),
    }
}

fn print_json(ops: &[&Operation]) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(ops).unwrap_or_default() + "\n";
    write_stdout(text.as_bytes())
}

/// `; did you mean POST v3/…, GET v3/…?`, or nothing when the catalog has
/// nothing close.
fn did_you_mean(method: Option<&str>, path: &str) -> String {
    let suggestions: Vec<String> = Catalog::embedded()
        .suggest(method, path, 3)
        .iter()
        .map(|s| format!("{} {}", s.operation.method(), s.operation.template()))
        .collect();
    match suggestions.as_slice() {
        [] => String::new(),
        [one] => format!("; did you mean {one}?"),
        [init @ .., last] => format!("; did you mean {} or {last}?", init.join(", ")),
    }
}

/// For a call whose path the catalog does not know: the hint on stderr. The
/// request is sent (or dry-run) all the same: new endpoints must work.
pub fn warn_if_unknown(method: &Method, template: &str) {
    if Catalog::embedded()
        .lookup(method.as_str(), template)
        .is_none()
    {
        eprintln!(
            "wxpay: {method} {template} is not a known WeChat Pay endpoint{}",
            did_you_mean(Some(method.as_str()), template)
        );
    }
}
