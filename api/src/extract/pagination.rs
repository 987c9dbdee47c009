//! `?limit=&cursor=` query parameters shared by every list route.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use shared::pagination::PageRequest;
use utoipa::IntoParams;

use crate::problem::AppError;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size: default 50, values above 200 are clamped.
    pub limit: Option<i64>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn request<K: DeserializeOwned>(&self) -> Result<PageRequest<K>, AppError> {
        Ok(PageRequest::parse(self.limit, self.cursor.as_deref())?)
    }
}
