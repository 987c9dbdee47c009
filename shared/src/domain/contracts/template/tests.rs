#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use super::terms::minimal_terms;
use super::variables::values;
use super::*;
use crate::domain::booking::deal::{DealType, RadiusClause};
use crate::money::Percent;

fn messages(error: DomainError) -> Vec<String> {
    match error {
        DomainError::Validation(errors) => {
            assert!(errors.iter().all(|e| e.field == "body"));
            errors.into_iter().map(|e| e.message).collect()
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn rendered(body: &str) -> String {
    render(body, &sample_terms()).unwrap()
}

#[test]
fn the_context_holds_exactly_the_catalogue() {
    for terms in [sample_terms(), minimal_terms()] {
        let names: Vec<&str> = values(&terms).into_iter().map(|(n, _)| n).collect();
        let catalogue: Vec<&str> = VARIABLES.iter().map(|v| v.name).collect();
        assert_eq!(names, catalogue);
    }
    let unique: BTreeSet<&str> = VARIABLES.iter().map(|v| v.name).collect();
    assert_eq!(unique.len(), VARIABLES.len());
}

#[test]
fn catalogue_examples_are_the_sample_values() {
    for (name, value) in values(&sample_terms()) {
        if name == "deal.bonuses" {
            continue;
        }
        let example = VARIABLES.iter().find(|v| v.name == name).unwrap().example;
        assert_eq!(value.to_string(), example, "{name}");
    }
}

#[test]
fn absent_values_are_none_and_print_nothing() {
    let terms = minimal_terms();
    let out = render(
        "[{{ deal.percentage }}][{{ deal.radius_km }}][{{ deal.deposit }}][{{ venue.name }}]\
         {% if deal.radius_km %}radius{% endif %}{% for b in deal.bonuses %}bonus{% endfor %}",
        &terms,
    )
    .unwrap();
    assert_eq!(out, "[][][][]");
}

#[test]
fn unknown_variables_are_refused_by_name() {
    let body = "# Deal\n\nFee: {{ deal.guarantee }}\nAlso {{ deal.guarantee_amnt }} and {{ deal.guarante }} and {{ guarantee }}.\n";
    let errors = messages(check(body).unwrap_err());
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors.iter().any(|m| {
        m == "line 4: unknown variable deal.guarantee_amnt; did you mean deal.guarantee?"
    }));
    assert!(
        errors.iter().any(|m| {
            m == "line 4: unknown variable deal.guarante; did you mean deal.guarantee?"
        })
    );
    assert!(
        errors
            .iter()
            .any(|m| m.contains("unknown variable guarantee; did you mean deal.guarantee?"))
    );
    let errors = messages(check("{{ nothing_like_this }}\n{{ deal.nope }}").unwrap_err());
    assert_eq!(
        errors,
        [
            "line 2: unknown variable deal.nope",
            "line 1: unknown variable nothing_like_this"
        ]
    );
    let errors = messages(check("{{ artst.name }}").unwrap_err());
    assert_eq!(
        errors,
        ["line 1: unknown variable artst.name; did you mean artist.name?"]
    );
}

#[test]
fn syntax_errors_name_the_line() {
    let errors = messages(check("# Title\n\n{% if deal.radius_km %}\nradius\n").unwrap_err());
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("line "), "{}", errors[0]);
    assert!(errors[0].contains("syntax error"), "{}", errors[0]);
    let errors = messages(check("ok\n{{ deal.guarantee }\n").unwrap_err());
    assert!(
        errors[0].starts_with("line 2: syntax error"),
        "{}",
        errors[0]
    );
}

#[test]
fn loop_and_set_variables_and_globals_are_accepted() {
    let body = "{% for bonus in deal.bonuses %}- {{ loop.index }}. {{ bonus.tickets_sold }}: {{ bonus.amount }}\n{% endfor %}\
                {% set fee = deal.guarantee %}{{ fee }}{% for i in range(2) %}{{ i }}{% endfor %}\
                {% set ns = namespace(n=0) %}{{ ns.n }}{{ artist.name | upper }}";
    let used = check(body).unwrap();
    assert_eq!(used, ["artist.name", "deal.bonuses", "deal.guarantee"]);
}

#[test]
fn bad_names_on_loop_items_and_unknown_filters_fail_the_trial_render() {
    let errors =
        messages(check("{% for b in deal.bonuses %}{{ b.tickets }}{% endfor %}").unwrap_err());
    assert!(errors[0].starts_with("line 1:"), "{}", errors[0]);
    let errors = messages(check("{{ artist.name | shout }}").unwrap_err());
    assert!(errors[0].contains("unknown filter"), "{}", errors[0]);
    let errors = messages(check("{{ deal.hospitality | safe }}").unwrap_err());
    assert!(errors[0].contains("unknown filter"), "{}", errors[0]);
}

#[test]
fn rendering_is_strict() {
    let terms = sample_terms();
    for body in [
        "{{ deal.nope }}",
        "{{ nope }}",
        "{% if deal.nope %}x{% endif %}",
        "{% for b in deal.bonuses %}{{ b.nope }}{% endfor %}",
    ] {
        let errors = messages(render(body, &terms).unwrap_err());
        assert!(errors[0].starts_with("line 1:"), "{body}: {errors:?}");
    }
}

#[test]
fn runaway_templates_run_out_of_fuel() {
    let body = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
    let errors = messages(check(body).unwrap_err());
    assert!(errors[0].contains("too much work"), "{}", errors[0]);
    let big = "x".repeat(MAX_BODY_BYTES + 1);
    let errors = messages(check(&big).unwrap_err());
    assert_eq!(errors, ["must be at most 200 KB"]);
}

#[test]
fn free_text_is_escaped_for_markdown() {
    let mut terms = sample_terms();
    terms.deal.hospitality = Some("# Heading *x* <b>".into());
    assert_eq!(
        render("{{ deal.hospitality }}", &terms).unwrap(),
        "\\# Heading \\*x\\* \\<b\\>"
    );
    terms.deal.hospitality = Some(
        "  - rider: [link](http://x) `code` _em_ | ~s~ &amp; R&B\n\n\n1. first\n2) second\n   ---\n+ plus\n=== \\ $x$"
            .into(),
    );
    assert_eq!(
        render("Hospitality: {{ deal.hospitality }}\n", &terms).unwrap(),
        "Hospitality: \\- rider: \\[link\\](http://x) \\`code\\` \\_em\\_ \\| \\~s\\~ \\&amp; R\\&B\\\n\
         1\\. first\\\n2\\) second\\\n\\---\\\n\\+ plus\\\n\\=== \\\\ \\$x\\$\n"
    );
    for plain in [
        "12.5% of 1.000 & more",
        "+49 30 1234567",
        "-5 degrees",
        "#1 act",
        "2027-03-13",
    ] {
        assert_eq!(escape_markdown(plain), plain);
    }
    assert_eq!(
        escape_markdown("## x\n#\n2024. y\n-"),
        "\\## x\\\n\\#\\\n2024\\. y\\\n\\-"
    );
    // A value escaped explicitly is not escaped twice, and escaping cannot be turned off.
    terms.deal.hospitality = Some("*x*".into());
    assert_eq!(
        render(
            "{{ deal.hospitality | e }} {% autoescape false %}{{ deal.hospitality }}{% endautoescape %}",
            &terms
        )
        .unwrap(),
        "\\*x\\* \\*x\\*"
    );
}

#[test]
fn template_markup_is_kept() {
    assert_eq!(
        rendered(
            "# {{ artist.name }}\n\n{% if deal.radius_km %}\n- radius {{ deal.radius_km }} km\n{% endif %}\n**{{ deal.guarantee }}**\n"
        ),
        "# Nova Lux\n\n- radius 100 km\n**EUR 12,500.00**\n"
    );
    assert_eq!(rendered("a{% if true %}b{% endif %}\nc"), "abc");
    assert_eq!(rendered("a{% if true %}b{% endif +%}\nc"), "ab\nc");
}

#[test]
fn percentages_render_exactly() {
    let mut terms = sample_terms();
    for (text, shown, bps) in [
        ("85", "85%", "8500"),
        ("12.5", "12.5%", "1250"),
        ("12.35", "12.35%", "1235"),
        ("33.33", "33.33%", "3333"),
        ("1.235e1", "12.35%", "1235"),
        ("0.05", "0.05%", "5"),
        ("100", "100%", "10000"),
    ] {
        terms.deal.percentage = Some(text.parse().unwrap());
        assert_eq!(
            render("{{ deal.percentage }} {{ deal.percentage_bps }}", &terms).unwrap(),
            format!("{shown} {bps}"),
            "{text}"
        );
    }
}

#[test]
fn the_deposit_is_the_guarantee_times_the_exact_percentage() {
    let mut terms = sample_terms();
    terms.deal.currency = "JPY".into();
    terms.deal.guarantee_amount = Some(1_000_001);
    terms.deal.deposit_percent = Some("33.33".parse().unwrap());
    assert_eq!(
        render(
            "{{ deal.deposit }} {{ deal.deposit_minor }} {{ deal.balance }} {{ deal.deposit_percent }}",
            &terms
        )
        .unwrap(),
        "JPY 333,300 333300 JPY 666,701 33.33%"
    );
    terms.deal.deposit_percent = Some(Percent::ZERO);
    assert_eq!(
        render("[{{ deal.deposit }}][{{ deal.balance }}]", &terms).unwrap(),
        "[][JPY 1,000,001]"
    );
}

#[test]
fn words_dates_and_bonuses() {
    assert_eq!(
        rendered(
            "{{ booking.event_date }} / {{ booking.event_date_iso }} / {{ deal.radius_from_iso }}"
        ),
        "Saturday 13 March 2027 / 2027-03-13 / 2027-01-12"
    );
    assert_eq!(
        rendered(
            "{% for b in deal.bonuses %}{{ b.tickets_sold }}={{ b.amount }} ({{ b.amount_minor }});{% endfor %}"
        ),
        "1000=EUR 1,000.00 (100000);1400=EUR 2,500.00 (250000);"
    );
    let mut terms = sample_terms();
    for (kind, percentage, guarantee, words) in [
        (
            DealType::Flat,
            None,
            Some(100),
            "a flat guarantee of EUR 1.00",
        ),
        (
            DealType::Plus,
            Some(Percent::from_bp(1000)),
            Some(100),
            "a guarantee of EUR 1.00 plus 10% of net box office receipts",
        ),
        (
            DealType::Door,
            Some(Percent::from_bp(7000)),
            None,
            "70% of net box office receipts",
        ),
    ] {
        terms.deal.kind = kind;
        terms.deal.percentage = percentage;
        terms.deal.guarantee_amount = guarantee;
        assert_eq!(render("{{ deal.compensation }}", &terms).unwrap(), words);
    }
    terms.deal.radius = Some(RadiusClause {
        km: 50,
        days_before: 1,
        days_after: 0,
    });
    terms.deal.set_length_minutes = Some(1);
    assert_eq!(
        render("{{ deal.radius }}; {{ deal.set_length }}", &terms).unwrap(),
        "within 50 km of the venue from 1 day before until 0 days after the performance date; 1 minute"
    );
}

#[test]
fn the_starter_checks_and_renders() {
    let starter = STARTERS
        .iter()
        .find(|s| s.key == "performance_agreement")
        .unwrap();
    let used = check(starter.body).unwrap();
    assert!(used.contains(&"deal.radius".to_owned()), "{used:?}");
    let full = render(starter.body, &sample_terms()).unwrap();
    let bare = render(starter.body, &minimal_terms()).unwrap();
    for text in [&full, &bare] {
        assert!(text.starts_with("# Performance Agreement\n"), "{text}");
        assert!(text.contains("## Signatures"));
        assert!(!text.contains("\n\n\n"), "{text}");
        assert!(!text.contains("{{") && !text.contains("{%"));
        assert!(!text.split_whitespace().any(|w| w == "none"), "{text}");
    }
    for expected in [
        "EUR 12,500.00",
        "85% of net box office receipts",
        "EUR 3,750.00",
        "Friday 15 January 2027",
        "EUR 8,750.00",
        "100 km",
        "Grosse Freiheit 36",
        "1,000.00",
        "Saturday 13 March 2027",
    ] {
        assert!(full.contains(expected), "{expected} missing from\n{full}");
    }
    assert!(bare.contains("a flat guarantee of EUR 5,000.00"), "{bare}");
    for absent in ["radius", "deposit of", "Bonus", "%"] {
        assert!(!bare.contains(absent), "{absent} in\n{bare}");
    }
    let words = full.split_whitespace().count();
    assert!((1200..2500).contains(&words), "{words} words");
}

#[test]
fn rendering_is_deterministic() {
    let terms = sample_terms();
    let body = STARTERS[0].body;
    let first = render(body, &terms).unwrap();
    for _ in 0..3 {
        assert_eq!(render(body, &terms).unwrap(), first);
    }
    let copy: Terms = serde_json::from_str(&serde_json::to_string(&terms).unwrap()).unwrap();
    assert_eq!(render(body, &copy).unwrap(), first);
}

#[test]
fn references_come_from_the_booking() {
    assert_eq!(sample_terms().contract.reference, "K-20270313-5F6A7B8C");
}

/// `docs/contract-variables.md`, generated from the catalogue.
fn catalogue_markdown() -> String {
    let mut out = String::from(
        "# Contract template variables\n\n\
         Generated from `shared/src/domain/contracts/template/variables.rs` by its tests; do not edit.\n\
         Regenerate with `UPDATE_SNAPSHOTS=1 cargo test -p kisum-shared --lib contracts::template`.\n\n\
         A template body is Markdown with [minijinja](https://docs.rs/minijinja) placeholders:\n\
         `{{ deal.guarantee }}`, `{% if deal.radius_km %}...{% endif %}`,\n\
         `{% for bonus in deal.bonuses %}...{% endfor %}`, filters such as `{{ artist.name | upper }}`.\n\n\
         - Only the names below may be used; any other is refused when the template is saved.\n\
         - Every name is always there. An absent value (a flat deal has no percentage) is *none*:\n  \
         it prints as nothing and is false in `{% if %}`.\n\
         - Values are Markdown-escaped when printed, so text written by a party prints literally.\n\
         - A block tag alone on its line (`{% if %}`, `{% endfor %}`) leaves no blank line behind;\n  \
         a block tag at the end of a line of text also removes that line break (write `+%}` to keep it).\n\
         - Money is the currency code and the amount with the currency's decimals (`EUR 12,500.00`,\n  \
         `JPY 1,250,000`); `*_minor` is the same amount in minor units. Dates are long\n  \
         (`Saturday 13 March 2027`) and ISO 8601 (`*_iso`).\n\n\
         | Variable | Description | Example |\n|---|---|---|\n",
    );
    for v in VARIABLES {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            v.name,
            v.description.replace('|', "\\|"),
            v.example.replace('|', "\\|")
        ));
    }
    out
}

#[test]
fn the_variables_document_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/contract-variables.md");
    let current = catalogue_markdown();
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(path, &current).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == current,
        "docs/contract-variables.md is out of date: run `UPDATE_SNAPSHOTS=1 cargo test -p kisum-shared --lib contracts::template` and commit it"
    );
}
