//! Contract templates: checking and rendering a body with minijinja.
//!
//! A template body is Markdown with minijinja placeholders (`{{ deal.guarantee }}`,
//! `{% if deal.radius_km %}`, loops over `deal.bonuses`, filters). A contract
//! version is a body rendered with one booking's [`Terms`]; the rendered
//! Markdown is what gets hashed and signed, so rendering must stay:
//!
//! - closed: a body may name only the variables of [`VARIABLES`] (checked
//!   when it is saved), and a name outside the context fails the render
//!   instead of printing nothing (strict undefined);
//! - literal: every value is Markdown-escaped on output, so a party's free
//!   text (hospitality, a company name) cannot add headings, lists, links
//!   or HTML to the contract; a body cannot switch this off (`safe` is not
//!   available and the formatter escapes in every auto-escape mode);
//! - deterministic: money, percentages and dates are formatted from
//!   integers and dates, never from the locale or the clock, so the same
//!   terms give the same bytes;
//! - bounded: bodies are at most [`MAX_BODY_BYTES`] and each render has a
//!   fixed work budget (minijinja fuel).
//!
//! Where the parts live: [`terms`] gathers what a contract says about a
//! booking, [`variables`] is the catalogue of names and their values,
//! [`markdown`] escapes values for Markdown; money and percentages are
//! formatted by [`crate::money`].

mod markdown;
mod terms;
mod variables;

use std::borrow::Cow;
use std::collections::BTreeSet;

use anyhow::Context as _;
use minijinja::syntax::SyntaxConfig;
use minijinja::{
    AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior, Value,
};
use serde::Serialize;

pub use markdown::escape_markdown;
pub use terms::{
    ArtistTerms, BookingTerms, CompanyTerms, ContractTerms, Terms, VenueTerms, booking_reference,
    sample_terms, terms_for_booking,
};
pub use variables::{VARIABLES, Variable};

use crate::{DomainError, FieldError};
use terms::minimal_terms;
use variables::context;

/// The largest template body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 200 * 1024;

/// The work budget of one render: instructions plus roughly one unit per 64
/// bytes of data made. The starter agreement uses about 600 of it;
/// a body that exhausts it (a runaway loop) is refused when it is saved.
const FUEL: u64 = 100_000;

/// A template an agency can start its library from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Starter {
    /// Stable key, for copying a starter into a library.
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub body: &'static str,
}

/// The starter templates; each passes [`check`].
pub const STARTERS: &[Starter] = &[Starter {
    key: "performance_agreement",
    name: "Performance agreement",
    description: "An engagement contract between the promoter and the agency on the artist's behalf: engagement, compensation, radius, hospitality and travel, riders, cancellation and force majeure, recording, merchandising, insurance, governing law and signatures.",
    body: include_str!("../starters/performance_agreement.md"),
}];

/// Checks a template body before it is saved: its size, its syntax, that
/// every variable it names is in [`VARIABLES`], and that it renders with
/// [`sample_terms`] and with a minimal flat deal (which catches unknown
/// filters, bad attribute names on loop items and runaway loops). Returns
/// the variables it uses, sorted. Every problem is a 422 on `body`.
pub fn check(body: &str) -> Result<Vec<String>, DomainError> {
    let env = environment(body)?;
    let template = env
        .template_from_named_str("body", body)
        .map_err(|e| template_error(body, &e))?;
    let globals: Vec<&str> = env.globals().map(|(name, _)| name).collect();
    let mut used = BTreeSet::new();
    let mut unknown = Vec::new();
    for name in template.undeclared_variables(true) {
        let root = name.split('.').next().unwrap_or(&name);
        if globals.contains(&root) {
            continue;
        }
        match catalogue_name(&name) {
            Some(known) => {
                used.insert(known.to_owned());
            }
            None => unknown.push(name),
        }
    }
    if !unknown.is_empty() {
        unknown.sort();
        return Err(DomainError::Validation(
            unknown
                .iter()
                .map(|name| FieldError::new("body", unknown_message(body, name)))
                .collect(),
        ));
    }
    for terms in [sample_terms(), minimal_terms()] {
        template
            .render(context(&terms))
            .map_err(|e| template_error(body, &e))?;
    }
    Ok(used.into_iter().collect())
}

/// Renders a body with one booking's terms into the Markdown text of a
/// contract version. Strict: a name outside the context, a failing filter
/// or an exhausted work budget is a 422 on `body` naming the line, never a
/// silently blank clause. The same body and terms always give the same text.
pub fn render(body: &str, terms: &Terms) -> Result<String, DomainError> {
    let env = environment(body)?;
    env.template_from_named_str("body", body)
        .and_then(|template| template.render(context(terms)))
        .map_err(|e| template_error(body, &e))
}

/// The one environment every check and render uses.
fn environment(body: &str) -> Result<Environment<'_>, DomainError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(DomainError::invalid(
            "body",
            format!("must be at most {} KB", MAX_BODY_BYTES / 1024),
        ));
    }
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Custom(Cow::Borrowed("markdown")));
    env.set_formatter(write_markdown);
    env.set_fuel(Some(FUEL));
    env.remove_filter("safe");
    env.remove_global("debug");
    // Block tags on a line of their own leave no blank line behind.
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .context("template syntax configuration")?;
    env.set_syntax(syntax);
    Ok(env)
}

/// The formatter: none prints as nothing, a value made safe by the
/// `escape` filter as it is, anything else Markdown-escaped, whatever
/// auto-escape mode a body asks for.
fn write_markdown(out: &mut Output, _: &mut State, value: &Value) -> Result<(), Error> {
    if value.is_none() || value.is_undefined() {
        return Ok(());
    }
    match value.as_str() {
        Some(text) if value.is_safe() => out.write_str(text),
        _ => out.write_str(&escape_markdown(&value.to_string())),
    }
    .map_err(Error::from)
}

/// A template error as a 422 on `body`, with the line and the source text
/// the error points at.
fn template_error(body: &str, error: &Error) -> DomainError {
    let what = match error.kind() {
        ErrorKind::OutOfFuel => {
            "the template does too much work (a loop that runs too long?)".to_owned()
        }
        ErrorKind::UndefinedError => "names something that is not defined".to_owned(),
        kind => match error.detail() {
            Some(detail) => format!("{kind}: {detail}"),
            None => kind.to_string(),
        },
    };
    let near = error
        .range()
        .and_then(|range| body.get(range))
        .map(str::trim)
        .filter(|text| !text.is_empty() && text.len() <= 80)
        .map(|text| format!(" (at `{text}`)"))
        .unwrap_or_default();
    let message = match error.line() {
        Some(line) => format!("line {line}: {what}{near}"),
        None => format!("{what}{near}"),
    };
    DomainError::invalid("body", message)
}

/// The catalogue entry (or group, such as `deal`) a used name resolves to:
/// itself, or the entry it reaches into (`artist.name.upper` is a method
/// call on `artist.name`, which the trial render then judges).
fn catalogue_name(name: &str) -> Option<&'static str> {
    VARIABLES.iter().find_map(|v| {
        let group = v.name.split('.').next().unwrap_or(v.name);
        if name == group {
            Some(group)
        } else if name == v.name
            || name
                .strip_prefix(v.name)
                .is_some_and(|rest| rest.starts_with('.'))
        {
            Some(v.name)
        } else {
            None
        }
    })
}

fn unknown_message(body: &str, name: &str) -> String {
    let line = body
        .lines()
        .position(|l| mentions(l, name))
        .map(|i| format!("line {}: ", i + 1))
        .unwrap_or_default();
    let hint = closest(name)
        .map(|known| format!("; did you mean {known}?"))
        .unwrap_or_default();
    format!("{line}unknown variable {name}{hint}")
}

/// Whether a line names `name` itself, not a longer name it begins
/// (`deal.guarante` is not in `deal.guarantee`).
fn mentions(line: &str, name: &str) -> bool {
    let is_name = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    line.match_indices(name).any(|(at, _)| {
        !line[..at].ends_with(is_name) && !line[at + name.len()..].starts_with(is_name)
    })
}

/// The catalogue name a misspelt one most likely meant: the only entry
/// ending in it (`guarantee` → `deal.guarantee`), else the entry of the same
/// group it extends (`deal.guarantee_amnt` → `deal.guarantee`), else the
/// nearest by edit distance when that is small for the length of the name.
fn closest(name: &str) -> Option<&'static str> {
    let leaf_of = |n: &'static str| n.rsplit('.').next().unwrap_or(n);
    let mut by_leaf = VARIABLES.iter().filter(|v| leaf_of(v.name) == name);
    if let (Some(only), None) = (by_leaf.next(), by_leaf.next()) {
        return Some(only.name);
    }
    let (group, leaf) = name.split_once('.').unwrap_or(("", name));
    let extended = VARIABLES
        .iter()
        .filter(|v| {
            v.name.split_once('.').is_some_and(|(g, l)| {
                g == group
                    && leaf
                        .strip_prefix(l)
                        .is_some_and(|rest| rest.starts_with('_'))
            })
        })
        .max_by_key(|v| v.name.len());
    if let Some(v) = extended {
        return Some(v.name);
    }
    let limit = (leaf.chars().count() / 3).max(1);
    VARIABLES
        .iter()
        .map(|v| (edit_distance(name, v.name), v.name))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, known)| known)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests;
