//! The endpoint catalog ([`crate::catalog`]) as the mock's router: every
//! APIv3 operation WeChat Pay publishes, matched by method and path
//! template, and the APIv2 paths as they arrive (without `v2/`).

pub use crate::catalog::ENDPOINTS_TSV;
use crate::catalog::{Api, Catalog as Corpus, Operation};

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

/// The corpus, seen from the wire.
pub(crate) struct Catalog {
    corpus: &'static Corpus,
}

impl Catalog {
    pub(crate) fn load() -> Self {
        Catalog {
            corpus: Corpus::embedded(),
        }
    }

    /// The whole corpus, for suggestions.
    pub(crate) fn corpus(&self) -> &'static Corpus {
        self.corpus
    }

    /// Number of APIv3 operations.
    pub(crate) fn len(&self) -> usize {
        self.corpus
            .operations()
            .iter()
            .filter(|op| op.api() == Api::V3)
            .count()
    }

    /// Whether `path` (as received, no `v2/`) is an APIv2 operation.
    pub(crate) fn is_v2(&self, path: &str) -> bool {
        self.corpus
            .lookup_path(&format!("v2/{path}"))
            .iter()
            .any(|m| m.operation.api() == Api::V2)
    }

    /// Matches an APIv3 `path` (relative, percent-encoded, no query). A
    /// literal segment beats a placeholder at the first place two
    /// templates differ, so `images/upload` wins over `images/{media_id}`.
    pub(crate) fn route(&self, method: &str, path: &str) -> Route<'static> {
        let matches: Vec<_> = self
            .corpus
            .lookup_path(path)
            .into_iter()
            .filter(|m| m.operation.api() == Api::V3)
            .collect();
        if matches.is_empty() {
            return Route::NotFound;
        }
        match matches.iter().find(|m| m.operation.method() == method) {
            Some(found) => Route::Found {
                operation: found.operation,
                params: found
                    .placeholders
                    .iter()
                    .map(|p| (p.name.clone(), p.value.clone().unwrap_or_default()))
                    .collect(),
            },
            None => {
                let mut allowed: Vec<&'static str> =
                    matches.iter().map(|m| m.operation.method()).collect();
                allowed.dedup();
                Route::MethodNotAllowed { allowed }
            }
        }
    }
}
