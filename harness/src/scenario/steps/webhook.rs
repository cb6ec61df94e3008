//! The `webhook` step: waits for deliveries at the scenario's sink endpoint and
//! judges their count, the last one's content, signatures, ids and spacing.

use serde_json::{Value, json};

use crate::scenario::expect::{Observed, check};
use crate::scenario::model::{Level, WebhookSpec};
use crate::scenario::outcome::{
    Exchange, ExpectationFailure, RequestRecord, ResponseRecord, StepRecord, excerpt, redact,
};
use crate::scenario::runner::{ScenarioRun, StepError};
use crate::sink::Delivery;
use crate::sink::signature::verify;

/// Waits up to the step's timeout for `count` deliveries, then judges them.
pub(crate) async fn run_webhook(
    run: &mut ScenarioRun<'_>,
    spec: &WebhookSpec,
    record: &mut StepRecord,
) -> Result<(), StepError> {
    let sink = &run.ctx.sink;
    let key = run.sink_endpoint_key(spec.endpoint.as_deref());
    let deliveries = sink.wait_for(&key, spec.count as usize, spec.timeout).await;
    let url = sink.url_for(&key);
    record.exchanges.extend(
        deliveries
            .iter()
            .map(|delivery| exchange_of(&url, delivery)),
    );
    let mut fail = |expectation: &str, expected: Value, actual: Value| {
        record.failures.push(ExpectationFailure {
            expectation: expectation.into(),
            expected,
            actual,
            level: Level::Must,
        });
    };

    if deliveries.len() as u64 != spec.count {
        fail("webhook count", json!(spec.count), json!(deliveries.len()));
    }
    let Some(last) = deliveries.last() else {
        return Ok(());
    };

    if let Some(secret_name) = &spec.signature_secret {
        let Some(secret) = run
            .templates
            .get(secret_name)
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return Err(StepError::Scenario(format!(
                "no captured secret named {secret_name:?}; capture it from the webhook configuration answer"
            )));
        };
        for (index, delivery) in deliveries.iter().enumerate() {
            let verified = verify(
                &secret,
                delivery.header("webhook-id"),
                delivery.header("webhook-timestamp"),
                delivery.header("webhook-signature"),
                &delivery.body,
            );
            if let Err(error) = verified {
                fail(
                    &format!("webhook signature of delivery {}", index + 1),
                    json!("a valid v1 signature"),
                    json!(error.to_string()),
                );
            }
        }
    }
    if spec.same_webhook_id {
        let ids: Vec<Option<&str>> = deliveries.iter().map(|d| d.header("webhook-id")).collect();
        if ids.iter().any(Option::is_none) || ids.windows(2).any(|pair| pair[0] != pair[1]) {
            fail(
                "same webhook-id on every delivery",
                json!(ids.first()),
                json!(ids),
            );
        }
    }
    if let Some(min_spacing) = spec.min_spacing {
        for (index, pair) in deliveries.windows(2).enumerate() {
            let spacing = pair[1].received.duration_since(pair[0].received);
            if spacing < min_spacing {
                let expectation =
                    format!("spacing between deliveries {} and {}", index + 1, index + 2);
                fail(
                    &expectation,
                    json!(format!(">= {min_spacing:?}")),
                    json!(format!("{spacing:?}")),
                );
            }
        }
    }

    let text = String::from_utf8_lossy(&last.body).into_owned();
    let mut json: Option<Value> = serde_json::from_slice(&last.body).ok();
    if let Some(body) = json.as_mut() {
        run.dialect.map_delivery(body, &run.deviations);
    }
    let observed = Observed {
        status: 0,
        headers: &last.headers,
        json: json.as_ref(),
        text: &text,
        elapsed: None,
    };
    record.failures.extend(check(
        &spec.expect,
        &observed,
        &run.templates,
        &run.ctx.schemas,
    ));
    Ok(())
}

/// A delivery shown as an exchange: the target's request and the sink's answer.
fn exchange_of(url: &str, delivery: &Delivery) -> Exchange {
    let body = String::from_utf8_lossy(&delivery.body);
    Exchange {
        request: RequestRecord {
            method: delivery.method.clone(),
            url: url.to_string(),
            headers: delivery
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), redact(v)))
                .collect(),
            body: Some(redact(&excerpt(&body))),
        },
        response: Some(ResponseRecord {
            status: delivery.status,
            headers: Vec::new(),
            body: None,
        }),
        elapsed_ms: 0,
    }
}
