//! Small real HTTP servers standing in for other services.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use uuid::Uuid;

/// Auth's effective-access endpoint: `GET /access?user_id=&org_id=`.
#[derive(Clone, Default)]
pub struct FakeAuth {
    inner: Arc<FakeAuthInner>,
}

#[derive(Default)]
struct FakeAuthInner {
    memberships: Mutex<HashMap<(String, Uuid), Value>>,
    /// When set, every call answers this status.
    failing: Mutex<Option<u16>>,
    hits: AtomicUsize,
    seen_keys: Mutex<Vec<String>>,
}

impl FakeAuth {
    /// Starts the fake; returns it with its access URL.
    pub async fn start() -> (Self, String) {
        let fake = Self::default();
        let app = Router::new()
            .route("/access", get(access))
            .with_state(fake.clone());
        let addr = serve(app).await;
        (fake, format!("http://{addr}/access"))
    }

    pub fn grant(&self, user: &str, org: Uuid, role: &str, permissions: Option<&[&str]>) {
        let mut body = json!({"user_id": user, "org_id": org, "role": role});
        if let Some(p) = permissions {
            body["permissions"] = json!(p);
        }
        self.inner
            .memberships
            .lock()
            .unwrap()
            .insert((user.to_owned(), org), body);
    }

    pub fn revoke(&self, user: &str, org: Uuid) {
        self.inner
            .memberships
            .lock()
            .unwrap()
            .remove(&(user.to_owned(), org));
    }

    pub fn fail_with(&self, status: Option<u16>) {
        *self.inner.failing.lock().unwrap() = status;
    }

    pub fn hits(&self) -> usize {
        self.inner.hits.load(Ordering::SeqCst)
    }

    pub fn seen_keys(&self) -> Vec<String> {
        self.inner.seen_keys.lock().unwrap().clone()
    }
}

async fn access(
    State(fake): State<FakeAuth>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    fake.inner.hits.fetch_add(1, Ordering::SeqCst);
    if let Some(key) = headers
        .get("x-internal-api-key")
        .and_then(|v| v.to_str().ok())
    {
        fake.inner.seen_keys.lock().unwrap().push(key.to_owned());
    }
    if let Some(status) = *fake.inner.failing.lock().unwrap() {
        return StatusCode::from_u16(status).unwrap().into_response();
    }
    let user = q.get("user_id").cloned().unwrap_or_default();
    let Some(org) = q.get("org_id").and_then(|o| o.parse().ok()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match fake.inner.memberships.lock().unwrap().get(&(user, org)) {
        Some(body) => axum::Json(body.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A JWKS endpoint serving a fixed key set, counting fetches.
#[derive(Clone, Default)]
pub struct FakeJwks {
    pub fetches: Arc<AtomicUsize>,
}

impl FakeJwks {
    pub async fn start(jwks: Value) -> (Self, String) {
        let fake = Self::default();
        let fetches = fake.fetches.clone();
        let app = Router::new().route(
            "/.well-known/jwks.json",
            get(move || {
                let fetches = fetches.clone();
                let jwks = jwks.clone();
                async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    axum::Json(jwks)
                }
            }),
        );
        let addr = serve(app).await;
        (fake, format!("http://{addr}/.well-known/jwks.json"))
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// One webhook delivery: its headers and exact body bytes.
pub type Delivery = (HeaderMap, Vec<u8>);

/// How a scripted receiver answers one POST.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    Status(u16),
    /// This status with `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
    /// No answer for this long (past the sender's timeout), then 204.
    Hang(std::time::Duration),
}

/// A webhook receiver (notifications, Finance): records every POST with
/// its headers and exact body bytes, and answers 204, or as scripted.
#[derive(Clone, Default)]
pub struct FakeWebhooks {
    received: Arc<Mutex<Vec<Delivery>>>,
    script: Arc<Mutex<std::collections::VecDeque<Answer>>>,
}

impl FakeWebhooks {
    /// Starts the fake; returns it with its URL.
    pub async fn start() -> (Self, String) {
        Self::scripted(Vec::new()).await
    }

    /// Starts a fake answering the first POSTs as `script` says, in order,
    /// and 204 after; every POST is recorded, answered or not.
    pub async fn scripted(script: Vec<Answer>) -> (Self, String) {
        let fake = Self {
            received: Arc::default(),
            script: Arc::new(Mutex::new(script.into())),
        };
        let received = fake.received.clone();
        let script = fake.script.clone();
        let app = Router::new().route(
            "/webhooks",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let received = received.clone();
                let answer = script.lock().unwrap().pop_front();
                async move {
                    received.lock().unwrap().push((headers, body.to_vec()));
                    match answer {
                        None => StatusCode::NO_CONTENT.into_response(),
                        Some(Answer::Status(s)) => StatusCode::from_u16(s).unwrap().into_response(),
                        Some(Answer::RetryAfter(s, secs)) => (
                            StatusCode::from_u16(s).unwrap(),
                            [("retry-after", secs.to_string())],
                        )
                            .into_response(),
                        Some(Answer::Hang(d)) => {
                            tokio::time::sleep(d).await;
                            StatusCode::NO_CONTENT.into_response()
                        }
                    }
                }
            }),
        );
        let addr = serve(app).await;
        (fake, format!("http://{addr}/webhooks"))
    }

    /// Every delivery so far: headers and body.
    pub fn received(&self) -> Vec<Delivery> {
        self.received.lock().unwrap().clone()
    }
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}
