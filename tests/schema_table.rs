//! The embedded schema table is what `tools/schema/gen.py` wrote for the
//! pinned wechatpay-openapi commit (no network: the generator records the
//! digest of its output), and its examples pass their own check.

use wechatpay_chain::catalog::{
    schema_table_json, Catalog, RequestParts, SCHEMA_DIGEST, SCHEMA_LICENSE, SCHEMA_SOURCE_COMMIT,
};

#[test]
fn the_embedded_table_is_the_generators_output_for_the_pinned_commit() {
    let json = schema_table_json();
    let digest: String = openssl::sha::sha256(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let recorded = SCHEMA_DIGEST.split_whitespace().next().unwrap();
    assert_eq!(digest, recorded, "src/catalog/data/schema.json.gz was changed by hand or regenerated without schema.sha256: run tools/schema/gen.py");
    assert!(SCHEMA_DIGEST.contains(SCHEMA_SOURCE_COMMIT));
    let table: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(table["source"]["commit"], SCHEMA_SOURCE_COMMIT);
    assert_eq!(table["source"]["repo"], "TheNorthMemory/wechatpay-openapi");
    // The MIT notice travels with the table.
    assert!(SCHEMA_LICENSE.contains("Copyright (c) 2020-present James ZHANG(TheNorthMemory)"));
    assert!(SCHEMA_LICENSE
        .contains("The above copyright notice and this permission notice shall be included"));
    assert!(SCHEMA_LICENSE.contains(SCHEMA_SOURCE_COMMIT));
    let generator = std::fs::read_to_string("tools/schema/gen.py").unwrap();
    assert!(generator.contains(&format!("COMMIT = \"{SCHEMA_SOURCE_COMMIT}\"")));
}

#[test]
fn the_catalog_counts_the_operations_with_a_request_schema() {
    let (described, with_request) = Catalog::embedded().schema_counts();
    println!("{described} operations described, {with_request} with a request body schema");
    // 1019 APIv3 operations in the corpus; the description lacks one of the
    // newest (GET v3/ecommerce/subject-sub-merchants) at the pinned commit.
    assert_eq!(described, 1018);
    // FLOWS.md §9 counts 613 operations with inline request properties,
    // APIv2's XML ones included; the generator reports the APIv3 ones (568
    // at the pinned commit), docs/cli.md and docs/mock.md quote the figure.
    assert_eq!(with_request, 568);
}

#[test]
fn every_example_body_passes_its_own_check() {
    let mut checked = 0;
    for op in Catalog::embedded().operations() {
        let Some(schema) = op.schema() else { continue };
        let Some(body) = schema.example_body() else {
            continue;
        };
        let mut parts = RequestParts::body(&body).with_header("Wechatpay-Serial");
        for (name, value) in schema.example_query() {
            parts = parts.with_query(name, value);
        }
        for (name, value) in schema.example_path() {
            parts = parts.with_path(name, value);
        }
        let found = schema.check(&parts);
        assert!(
            found.is_empty(),
            "{} {}: {body}\n{found:#?}",
            op.method(),
            op.template()
        );
        checked += 1;
    }
    assert!(checked > 500);
}

#[test]
fn every_answer_built_passes_the_answer_schema() {
    for op in Catalog::embedded().operations() {
        let Some(schema) = op.schema() else { continue };
        let body = schema.example_body();
        let parts = match &body {
            Some(body) => RequestParts::body(body),
            None => RequestParts::new(),
        };
        let Some(answer) = schema.answer_for(&parts) else {
            continue;
        };
        let answer_schema = schema.answer().unwrap();
        let found = answer_schema.check_value(&answer);
        assert!(
            found.is_empty(),
            "{} {}: {answer}\n{found:#?}",
            op.method(),
            op.template()
        );
    }
}
