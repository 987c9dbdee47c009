//! Serde helpers for request types.

/// For `Option<Option<T>>` fields with `#[serde(default, with = "double_option")]`:
/// an absent field is `None`, an explicit `null` is `Some(None)`.
pub mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}
