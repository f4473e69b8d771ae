//! HTTP: topic feeds and health, served until the shutdown token fires.

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::publish;
use crate::store::Store;
use crate::topics::Topic;

/// What request handlers share. Topics sit behind a lock so a reload can
/// swap them without restarting the server.
pub struct AppState {
    store: Store,
    topics: RwLock<Arc<Vec<Topic>>>,
    base_url: RwLock<String>,
}

impl AppState {
    pub fn new(store: Store, cfg: &Config) -> AppState {
        AppState {
            store,
            topics: RwLock::new(Arc::new(cfg.topics.clone())),
            base_url: RwLock::new(cfg.server.base_url.clone()),
        }
    }

    pub fn set_topics(&self, cfg: &Config) {
        *self
            .topics
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(cfg.topics.clone());
        *self
            .base_url
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = cfg.server.base_url.clone();
    }

    fn topic(&self, slug: &str) -> Option<Topic> {
        self.topics
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|t| t.slug == slug)
            .cloned()
    }

    fn base_url(&self) -> String {
        self.base_url
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/topics/{file}", get(topic_feed))
        .with_state(state)
}

/// Serves until `stop` is cancelled, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
}

fn not_found(msg: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg,
    )
        .into_response()
}

async fn topic_feed(State(state): State<Arc<AppState>>, Path(file): Path<String>) -> Response {
    let Some(slug) = file.strip_suffix(".atom") else {
        return not_found("not found: topic feeds are at /topics/SLUG.atom\n".into());
    };
    let Some(topic) = state.topic(slug) else {
        return not_found(format!("no topic {slug:?} in config.toml\n"));
    };
    let data = match state
        .store
        .topic_entries(topic.slug.clone(), topic.limit, topic.by_story)
        .await
    {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(topic = %topic.slug, error = %e, "cannot read the topic");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable\n",
            )
                .into_response();
        }
    };
    match publish::atom_feed(&topic, &state.base_url(), &data) {
        Ok(body) => (
            [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(topic = %topic.slug, error = %e, "cannot render the topic");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot render this feed\n",
            )
                .into_response()
        }
    }
}
