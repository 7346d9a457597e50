//! Property tests of the filter language (tokenizer, parser and the SQL of every
//! search): any input is either accepted or refused with INVALID_PARAMETER_VALUE, never
//! a panic; the size limits hold; and the largest accepted filters still run on SQLite
//! (whose expression depth is limited to 1000 and whose bound values to 32766).
//!
//! The default number of cases keeps `cargo test` quick; `PROPTEST_CASES=100000`
//! searches longer.

use super::limits::{MAX_FILTER_CLAUSES, MAX_FILTER_VALUES, MAX_ORDER_BY_ITEMS};
use super::parser::parse_order_by;
use super::registry;
use super::{experiments, runs};
use crate::error::{ApiResult, ErrorCode};
use crate::store::db::DbExt;
use crate::store::testing;
use proptest::prelude::*;

/// SQLite's default bound on `?` parameters of one statement (the host's build).
const SQLITE_MAX_VARIABLES: usize = 32_766;

/// Every consumer of a filter string, as one list.
fn every_search(filter: &str) -> Vec<(&'static str, ApiResult<usize>)> {
    let params = |f: ApiResult<super::sql::Fragment>| f.map(|f| f.params.len());
    vec![
        ("runs", params(runs::filter_sql(filter))),
        ("experiments", params(experiments::filter_sql(filter))),
        (
            "registered models",
            params(registry::registered_models_filter(filter)),
        ),
        (
            "model versions",
            params(registry::model_versions_filter(filter)),
        ),
        (
            "logged models",
            params(registry::logged_models_filter(filter)),
        ),
        ("order_by", parse_order_by(filter).map(|_| 0)),
    ]
}

fn assert_user_error_or_ok(filter: &str) {
    for (search, outcome) in every_search(filter) {
        if let Err(e) = outcome {
            assert_eq!(
                e.code,
                ErrorCode::InvalidParameterValue,
                "{search}: {filter:?} gave {e:?}"
            );
            assert!(!e.message.contains("SELECT"), "{search}: {}", e.message);
        }
    }
}

/// Pieces of the language (and of broken filters), joined in any order.
const PIECES: &[&str] = &[
    "metrics.a",
    "params.`b c`",
    "tags.\"d\"",
    "attributes.status",
    "run_id",
    "name",
    "datasets.name",
    "version_number",
    "=",
    "!=",
    "<>",
    "<=",
    ">",
    "LIKE",
    "ILIKE",
    "IN",
    "NOT",
    "IS",
    "NULL",
    "AND",
    "OR",
    "ASC",
    "'x'",
    "'it''s'",
    "\"q\"",
    "1.5",
    "-2e3",
    "1e999",
    "(",
    ")",
    ",",
    "`",
    "'",
    "é",
    "%",
    ";",
    "--",
    "\u{0}",
];

fn piece_filter() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|p| p.join(" "))
}

/// `n` clauses joined by AND, in forms every search understands on `name`/`tags`.
fn and_chain(n: usize) -> String {
    (0..n)
        .map(|i| format!("tags.t{i} = 'v{i}'"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn in_list(column: &str, n: usize) -> String {
    let items: Vec<String> = (0..n).map(|i| format!("'{i:032x}'")).collect();
    format!("{column} IN ({})", items.join(", "))
}

proptest! {
    #[test]
    fn any_text_is_accepted_or_refused_as_a_user_error(filter in ".{0,200}") {
        assert_user_error_or_ok(&filter);
    }

    #[test]
    fn any_arrangement_of_pieces_is_accepted_or_refused(filter in piece_filter()) {
        assert_user_error_or_ok(&filter);
    }

    #[test]
    fn clause_count_is_bounded(n in 1usize..(2 * MAX_FILTER_CLAUSES)) {
        let filter = and_chain(n);
        for (search, outcome) in every_search(&filter) {
            if search == "order_by" {
                continue;
            }
            match outcome {
                Ok(_) => prop_assert!(n <= MAX_FILTER_CLAUSES, "{search} took {n} clauses"),
                Err(e) => {
                    prop_assert!(n > MAX_FILTER_CLAUSES, "{search}: {n} clauses refused: {}", e.message);
                    prop_assert_eq!(e.code, ErrorCode::InvalidParameterValue);
                }
            }
        }
    }

    #[test]
    fn in_list_size_is_bounded(extra in 0usize..3, over in any::<bool>()) {
        let n = if over { MAX_FILTER_VALUES + 1 + extra } else { MAX_FILTER_VALUES - extra };
        let outcome = runs::filter_sql(&in_list("attributes.run_id", n));
        prop_assert_eq!(outcome.is_ok(), !over);
        if let Err(e) = outcome {
            prop_assert_eq!(e.code, ErrorCode::InvalidParameterValue);
            prop_assert!(e.message.contains("10000"), "{}", e.message);
        }
    }
}

#[test]
fn the_largest_accepted_filters_run_on_sqlite() {
    let db = testing::db();
    // As many clauses as allowed, each of the heaviest kind (an EXISTS subquery).
    let clauses = and_chain(MAX_FILTER_CLAUSES);
    // As many values as allowed, in one IN list.
    let values = in_list("attributes.run_id", MAX_FILTER_VALUES);
    let order_by: Vec<String> = (0..MAX_ORDER_BY_ITEMS)
        .map(|i| format!("params.p{i} DESC"))
        .collect();
    let experiment_ids: Vec<String> = (0..super::limits::MAX_SEARCH_EXPERIMENT_IDS)
        .map(|i| i.to_string())
        .collect();
    for filter in [clauses, values] {
        let request = mlflow_wire::tracking::SearchRuns {
            experiment_ids: experiment_ids.clone(),
            filter: Some(filter.clone()),
            order_by: order_by.clone(),
            ..Default::default()
        };
        let (sql, binds, _, _) = crate::services::runs::search_runs_sql(&request)
            .unwrap()
            .unwrap();
        assert!(binds.len() <= SQLITE_MAX_VARIABLES, "{} binds", binds.len());
        db.query(&sql, &binds).unwrap();

        let request = mlflow_wire::tracking::SearchExperiments {
            filter: Some(filter.replace("attributes.run_id", "name")),
            order_by: vec!["name".into(); MAX_ORDER_BY_ITEMS],
            ..Default::default()
        };
        crate::services::experiments::search_experiments(&db, &request).unwrap();
        let models =
            registry::registered_models_filter(&filter.replace("attributes.run_id", "name"));
        db.query(
            &format!(
                "SELECT rm.name FROM registered_models rm WHERE 1 = 1{}",
                models.as_ref().unwrap().sql
            ),
            &models.unwrap().params,
        )
        .unwrap();
    }
}

#[test]
fn one_past_each_limit_is_a_user_error() {
    let too_many_clauses = and_chain(MAX_FILTER_CLAUSES + 1);
    let too_many_values = in_list("name", MAX_FILTER_VALUES + 1);
    let too_long = format!("name = '{}'", "x".repeat(super::limits::MAX_FILTER_BYTES));
    for filter in [&too_many_clauses, &too_many_values, &too_long] {
        for (search, outcome) in every_search(filter) {
            let e = outcome.expect_err(search);
            assert_eq!(e.code, ErrorCode::InvalidParameterValue, "{search}");
            assert!(
                e.message.len() < 600,
                "{search}: the message echoes the input: {}",
                &e.message[..600]
            );
        }
    }
    let order_by = vec!["name".to_string(); MAX_ORDER_BY_ITEMS + 1];
    assert!(experiments::order_sql(&order_by).is_err());
    assert!(runs::order_sql(&order_by).is_err());
    assert!(registry::registered_models_order(&order_by).is_err());
    assert!(registry::model_versions_order(&order_by).is_err());
}
