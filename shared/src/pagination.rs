//! Keyset pagination: `?limit=` (default 50, clamped to 200) and an opaque
//! `?cursor=` that encodes the sort key of the last item served. Lists read
//! `limit + 1` rows to know whether another page exists, so a page never
//! repeats or skips a row when rows are inserted meanwhile.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::DomainError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// A validated page request; `K` is the list's sort key.
#[derive(Clone, Debug)]
pub struct PageRequest<K> {
    pub limit: i64,
    pub after: Option<K>,
}

impl<K: DeserializeOwned> PageRequest<K> {
    /// From raw query values: a limit below 1 is 422, above the maximum is
    /// clamped; a cursor that does not decode is 422.
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, DomainError> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(l) if l < 1 => return Err(DomainError::invalid("limit", "must be at least 1")),
            Some(l) => l.min(MAX_LIMIT),
        };
        let after = cursor
            .filter(|c| !c.is_empty())
            .map(|c| {
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|raw| serde_json::from_slice(&raw).ok())
                    .ok_or_else(|| {
                        DomainError::invalid("cursor", "is not a cursor this list issued")
                    })
            })
            .transpose()?;
        Ok(Self { limit, after })
    }

    /// Rows to fetch: one more than the page, to detect a next page.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `fetch_limit()` rows in list order.
    pub fn from_rows<K: Serialize>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> K) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last()
                .and_then(|last| serde_json::to_vec(&key(last)).ok())
                .map(|raw| URL_SAFE_NO_PAD.encode(raw))
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_clamp_and_cursors_round_trip() {
        let req = PageRequest::<(i64, String)>::parse(Some(10_000), None).unwrap();
        assert_eq!(req.limit, MAX_LIMIT);
        assert!(PageRequest::<i64>::parse(Some(0), None).is_err());
        assert!(PageRequest::<i64>::parse(None, Some("!!")).is_err());

        let page = Page::from_rows(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(page.items, vec![1, 2]);
        let next = PageRequest::<i64>::parse(None, page.next_cursor.as_deref()).unwrap();
        assert_eq!(next.after, Some(2));
        assert!(Page::from_rows(vec![1, 2], 2, |n| *n).next_cursor.is_none());
    }
}
