//! The endpoint corpus as a router: every APIv3 operation WeChat Pay
//! publishes, matched by method and path template.

use percent_encoding::percent_decode_str;

/// The corpus, embedded: METHOD, PATH, API, RESPONSES, … (tab-separated).
pub const ENDPOINTS_TSV: &str = include_str!("data/endpoints.tsv");

/// One operation of the corpus.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub(crate) method: String,
    pub(crate) template: String,
    /// First success status the documentation lists (200, 202, 204).
    pub(crate) status: u16,
    /// Consumes `multipart/form-data` (an upload).
    pub(crate) multipart: bool,
}

/// What a request path matched.
#[derive(Debug)]
pub(crate) enum Route<'a> {
    Found {
        operation: &'a Operation,
        /// Placeholder names and their percent-decoded values.
        params: Vec<(String, String)>,
    },
    /// The path exists, not with this method.
    MethodNotAllowed {
        allowed: Vec<&'a str>,
    },
    NotFound,
}

/// The operations of the corpus: APIv3, and APIv2 (paths without `v2/`).
pub(crate) struct Catalog {
    operations: Vec<Operation>,
    v2: Vec<Operation>,
}

impl Catalog {
    pub(crate) fn load() -> Self {
        let mut lines = ENDPOINTS_TSV.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
        let column = |name: &str| header.iter().position(|h| *h == name);
        let (Some(method), Some(path), Some(api), Some(responses), Some(consumes)) = (
            column("METHOD"),
            column("PATH"),
            column("API"),
            column("RESPONSES"),
            column("CONSUMES"),
        ) else {
            return Catalog {
                operations: Vec::new(),
                v2: Vec::new(),
            };
        };
        let (v3, v2): (Vec<_>, Vec<_>) = lines
            .filter_map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                let is_v3 = fields.get(api) == Some(&"v3");
                let status = fields
                    .get(responses)?
                    .split(',')
                    .filter_map(|s| s.trim().parse().ok())
                    .next()
                    .unwrap_or(200);
                let operation = Operation {
                    method: fields.get(method)?.to_string(),
                    template: fields.get(path)?.to_string(),
                    status,
                    multipart: fields
                        .get(consumes)
                        .is_some_and(|c| c.contains("multipart/form-data")),
                };
                Some((is_v3, operation))
            })
            .partition(|(is_v3, _)| *is_v3);
        Catalog {
            operations: v3.into_iter().map(|(_, op)| op).collect(),
            v2: v2.into_iter().map(|(_, op)| op).collect(),
        }
    }

    /// Number of operations.
    pub(crate) fn len(&self) -> usize {
        self.operations.len()
    }

    /// Whether `path` is an APIv2 operation (matched like APIv3 paths).
    pub(crate) fn is_v2(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').collect();
        self.v2
            .iter()
            .any(|op| shape_of(&op.template, &segments).is_some())
    }

    /// Matches `path` (relative, percent-encoded, no query). A literal
    /// segment beats a placeholder at the first place two templates differ,
    /// so `images/upload` wins over `images/{media_id}`.
    pub(crate) fn route(&self, method: &str, path: &str) -> Route<'_> {
        let segments: Vec<&str> = path.split('/').collect();
        let mut best: Option<(Vec<bool>, &str)> = None;
        for op in &self.operations {
            if let Some(shape) = shape_of(&op.template, &segments) {
                if best.as_ref().is_none_or(|(b, _)| shape > *b) {
                    best = Some((shape, &op.template));
                }
            }
        }
        let Some((_, template)) = best else {
            return Route::NotFound;
        };
        let candidates: Vec<&Operation> = self
            .operations
            .iter()
            .filter(|op| op.template == template)
            .collect();
        match candidates.iter().find(|op| op.method == method) {
            Some(operation) => Route::Found {
                operation,
                params: params(template, &segments),
            },
            None => Route::MethodNotAllowed {
                allowed: candidates.iter().map(|op| op.method.as_str()).collect(),
            },
        }
    }
}

/// For a template that matches, which segments were literal (true) — the
/// ordering of these vectors ranks literal-first matches higher.
fn shape_of(template: &str, segments: &[&str]) -> Option<Vec<bool>> {
    let parts: Vec<&str> = template.split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    parts
        .iter()
        .zip(segments)
        .map(|(part, segment)| {
            if is_placeholder(part) {
                (!segment.is_empty()).then_some(false)
            } else {
                (part == segment).then_some(true)
            }
        })
        .collect()
}

fn is_placeholder(part: &str) -> bool {
    part.starts_with('{') && part.ends_with('}')
}

fn params(template: &str, segments: &[&str]) -> Vec<(String, String)> {
    template
        .split('/')
        .zip(segments)
        .filter(|(part, _)| is_placeholder(part))
        .map(|(part, segment)| {
            (
                part[1..part.len() - 1].to_owned(),
                percent_decode_str(segment).decode_utf8_lossy().into_owned(),
            )
        })
        .collect()
}
