//! Black-box tests of the API and worker: real HTTP, real Postgres, real
//! processes. One binary, one module per area.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod availability;
mod booking;
mod booking_input;
mod config;
mod contracts;
mod cors;
mod cross_tenant;
mod deal_terms;
mod demo;
mod deploy_manifests;
mod directory;
mod docs;
mod events;
mod finance;
mod finance_handoff;
mod health;
mod history;
mod holds;
mod http;
mod itinerary;
mod layers;
mod logistics;
mod migrations;
mod openapi;
mod ops;
mod ops_browser;
mod ownership;
mod plans;
mod privacy;
mod public_routes;
mod queue;
mod read_models;
mod reference_data;
mod relationships;
mod replicas;
mod representation;
mod restore;
mod scale_out;
mod schemathesis;
mod shortlists;
mod touring;
mod typescript_client;
