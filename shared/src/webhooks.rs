//! Outbound webhooks per the Standard Webhooks specification: headers
//! `webhook-id` (stable across retries), `webhook-timestamp` (Unix seconds,
//! fresh per attempt) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">`, one per secret, space-separated, so a
//! receiver can rotate). The bytes signed are the bytes sent; only a 2xx
//! answer is success.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use standardwebhooks::Webhook;

/// The secrets messages are signed with (`whsec_...`).
#[derive(Clone)]
pub struct Signer {
    keys: Arc<[Webhook]>,
}

impl Signer {
    pub fn new(secrets: &[SecretString]) -> Result<Self, standardwebhooks::WebhookError> {
        Ok(Self {
            keys: secrets
                .iter()
                .map(|s| Webhook::new(s.expose_secret()))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The `webhook-signature` value of a message.
    pub fn signature(
        &self,
        id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<String, standardwebhooks::WebhookError> {
        let signatures = self
            .keys
            .iter()
            .map(|k| k.sign(id, timestamp, body))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(signatures.join(" "))
    }
}

/// What one attempt got back.
#[derive(Debug)]
pub struct Attempt {
    pub status: u16,
    /// The start of the answer's body, for the record.
    pub excerpt: String,
    /// The answer's `Retry-After`, in seconds (the HTTP-date form is not
    /// honoured).
    pub retry_after: Option<Duration>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// POSTs one signed message; an error is a transport failure (no answer).
pub async fn post(
    http: &reqwest::Client,
    url: &reqwest::Url,
    signer: &Signer,
    id: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> anyhow::Result<Attempt> {
    let timestamp = chrono::Utc::now().timestamp();
    let signature = signer.signature(id, timestamp, &body)?;
    let response = http
        .post(url.clone())
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = response.text().await.unwrap_or_default();
    Ok(Attempt {
        status,
        excerpt: text.chars().take(500).collect(),
        retry_after,
    })
}
