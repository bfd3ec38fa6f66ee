//! Wire conventions shared by every domain: pagination and list envelopes.
pub mod components;
pub mod de;
pub mod i18n;
pub mod validate;

use serde::{Deserialize, Serialize};

pub const DEFAULT_PAGE_SIZE: u64 = 10;
pub const MAX_PAGE_SIZE: u64 = 100;

/// `?page=&page_size=` (seed 003 also says `page_number`, accepted as an alias of `page`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PageQuery {
    #[serde(default, alias = "page_number", deserialize_with = "de::opt_num")]
    pub page: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_num")]
    pub page_size: Option<u64>,
}

impl PageQuery {
    /// The 1-based page number, at least 1, and small enough that its offset fits the database's
    /// 64-bit signed integers (a huge `?page=` is an empty page, not an overflow).
    pub fn page(&self) -> u64 {
        const MAX_PAGE: u64 = i64::MAX as u64 / MAX_PAGE_SIZE;
        self.page.unwrap_or(1).clamp(1, MAX_PAGE)
    }
    /// The page size, defaulting to 10 and capped at 100.
    pub fn size(&self) -> u64 {
        self.page_size
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE)
    }
    pub fn offset(&self) -> u64 {
        (self.page() - 1) * self.size()
    }
}

/// A page of results: `{"count","next","prev","results"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub count: u64,
    pub next: Option<String>,
    pub prev: Option<String>,
    pub results: Vec<T>,
}

impl<T> Page<T> {
    /// Builds the envelope; `next`/`prev` are `?page=N&page_size=M` suffixes that adapters prefix with their path.
    pub fn new(count: u64, q: &PageQuery, results: Vec<T>) -> Self {
        let (page, size) = (q.page(), q.size());
        let next = (page * size < count).then(|| format!("?page={}&page_size={}", page + 1, size));
        let prev = (page > 1).then(|| format!("?page={}&page_size={}", page - 1, size));
        Page {
            count,
            next,
            prev,
            results,
        }
    }
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            count: self.count,
            next: self.next,
            prev: self.prev,
            results: self.results.into_iter().map(f).collect(),
        }
    }
    /// Prefixes `next`/`prev` with the request path (keeping the other query parameters is the adapter's job).
    pub fn with_base(mut self, base: &str, extra_query: &str) -> Self {
        let fix = |s: Option<String>| s.map(|s| format!("{base}{s}{extra_query}"));
        self.next = fix(self.next.take());
        self.prev = fix(self.prev.take());
        self
    }
}

/// `{"message": "success"}`, the seed's answer to most actions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Message {
    pub message: String,
}

impl Message {
    pub fn success() -> Self {
        Message {
            message: "success".into(),
        }
    }
}

/// `{"id": N}`, the seed's element of id lists (`[{"id":1},{"id":2}]`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IdRef {
    pub id: i64,
}
