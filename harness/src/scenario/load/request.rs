//! Checks the request part of a step: method, path, query, headers, auth,
//! the one body source and the captures.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{FileChecker, METHODS, Site};
use crate::scenario::file::{CaptureSource, GenerateTable, StepTable};
use crate::scenario::model::*;

impl FileChecker<'_> {
    pub(super) fn check_request(
        &mut self,
        site: &Site,
        step: &mut StepTable,
        orgs: &BTreeMap<String, String>,
    ) -> Option<RequestSpec> {
        let method = step
            .method
            .take()
            .map(|m| m.to_ascii_uppercase())
            .unwrap_or_else(|| {
                self.problem(
                    site,
                    "",
                    "a request needs `method`, such as \"POST\"".into(),
                );
                String::new()
            });
        if !method.is_empty() && !METHODS.contains(&method.as_str()) {
            self.problem(
                site,
                "method",
                format!("method {method:?} is unknown; use one of {METHODS:?}"),
            );
        }
        let path = step.path.take().unwrap_or_else(|| {
            self.problem(
                site,
                "",
                "a request needs `path`, such as \"/api/events\"".into(),
            );
            "/".to_string()
        });
        if !path.starts_with('/') {
            self.problem(site, &path, format!("path {path:?} must start with '/'"));
        }
        self.template(site, &path);

        let query: Vec<(String, Value)> =
            step.query.take().unwrap_or_default().into_iter().collect();
        query
            .iter()
            .for_each(|(_, value)| self.template_value(site, value));
        let headers: Vec<(String, String)> = step
            .headers
            .take()
            .unwrap_or_default()
            .into_iter()
            .collect();
        headers
            .iter()
            .for_each(|(_, value)| self.template(site, value));

        let auth = match step.auth.take() {
            None => Auth::Org("main".to_string()),
            Some(auth) if auth == "none" => Auth::None,
            Some(auth) if orgs.contains_key(&auth) => Auth::Org(auth),
            Some(auth) if auth.contains("{{") => {
                self.template(site, &auth);
                Auth::Literal(auth)
            }
            Some(auth) => {
                let message = format!(
                    "auth {auth:?} names no organisation of this scenario; use \"main\", a name from [scenario.orgs], \"none\" or a key template such as \"{{{{ old_key }}}}\" (a fixed key goes in `headers`)"
                );
                self.problem(site, &auth, message);
                Auth::None
            }
        };

        let body = self.check_body(site, step);
        let captures = self.check_captures(site, step);
        let expect = self.check_expect(site, step.expect.take().unwrap_or_default(), true);
        Some(RequestSpec {
            method,
            path,
            query,
            headers,
            auth,
            body,
            captures,
            expect,
        })
    }

    fn check_body(&mut self, site: &Site, step: &mut StepTable) -> Body {
        let json = step.json.take();
        let raw = step.body.take();
        let generate = step.generate.take();
        let sources = [json.is_some(), raw.is_some(), generate.is_some()];
        if sources.iter().filter(|set| **set).count() > 1 {
            let message =
                "a request has more than one body; keep only one of `json`, `body` and `generate`";
            self.problem(site, "", message.into());
        }
        if let Some(json) = json {
            self.template_value(site, &json);
            return Body::Json(json);
        }
        if let Some(raw) = raw {
            self.template(site, &raw);
            return Body::Raw(raw);
        }
        match generate {
            Some(generate) => self.check_generate(site, generate),
            None => Body::Empty,
        }
    }

    fn check_generate(&mut self, site: &Site, table: GenerateTable) -> Body {
        let generate = match (table.kind.as_str(), table.bytes, table.depth) {
            ("event", Some(bytes), None) if bytes >= 64 => Generate::Event { bytes },
            ("nested", None, Some(depth)) if depth >= 1 => Generate::Nested { depth },
            ("filler", Some(bytes), None) => Generate::Filler { bytes },
            (kind, _, _) => {
                let message = format!(
                    "generate {kind:?} is malformed; use {{ kind = \"event\", bytes = N >= 64 }}, {{ kind = \"nested\", depth = N }} or {{ kind = \"filler\", bytes = N }}"
                );
                self.problem(site, "generate", message);
                Generate::Filler { bytes: 0 }
            }
        };
        Body::Generate(generate)
    }

    fn check_captures(&mut self, site: &Site, step: &mut StepTable) -> Vec<Capture> {
        let mut captures = Vec::new();
        for (name, source) in step.capture.take().unwrap_or_default() {
            let source = match source {
                CaptureSource::Path(text) => self.json_path(site, &text).map(CaptureFrom::Path),
                CaptureSource::Header(header) => {
                    Some(CaptureFrom::Header(header.header.to_ascii_lowercase()))
                }
            };
            if let Some(source) = source {
                captures.push(Capture { name, source });
            }
        }
        captures
    }
}
