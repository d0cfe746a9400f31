//! `[params.ai_target]` of a `rule`: the rule fires only when the role or user its event
//! changes is an AI principal, by name or by what it was seen doing.
//!
//! ```toml
//! [params.ai_target]
//! roles = ["requestParameters.roleName"]     # paths naming the changed role
//! users = ["requestParameters.userName"]     # paths naming the changed user
//! names = ["*sagemaker*", "*bedrock*"]       # names that mark an AI principal (globs)
//! services = ["bedrock.amazonaws.com", "sagemaker.amazonaws.com"]
//! ```
//!
//! Learning: a successful call to one of `services` by a role (any session of it) or a user
//! marks that role or user as an AI principal of its account, on the entity
//! `g#ai/<account>/<role|user>/<name>` (one small item per AI principal, read with the
//! objects that call AI services or change IAM principals, written at most once a day per
//! principal and service, so concurrent objects rarely contend for it). Roles are keyed by
//! name without their path, as IAM events name them (`roleName`), and as the caller's ARN
//! ends. The rule's `[match]` must let those AI calls through (an `any_of` group); they
//! are learned from, never reported.
//!
//! A changed principal is an AI principal when its name matches `names`, or when it was
//! marked within the last 90 days (seen-set memory). In the templates, `{ai_principal}` is
//! the changed principal (`role <name>`, `user <name>`) and `{ai_why}` why it is an AI one
//! (`-` for rules without `ai_target`).

use serde::Deserialize;

use crate::activity::Activity;
use crate::detect::Ctx;
use crate::detect::matcher::Glob;
use crate::record::cloudtrail::{JsonPath, PathId};
use crate::state::SeenSet;

/// The seen set of AI services called, on the marker entity.
const USED: &str = "ai-services";
/// A marker is refreshed at most this often (seconds).
const REFRESH: i64 = 86_400;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AiTargetParams {
    /// Request paths naming the changed role.
    #[serde(default)]
    roles: Vec<String>,
    /// Request paths naming the changed user.
    #[serde(default)]
    users: Vec<String>,
    /// Globs on the role or user name that mark an AI principal without history.
    #[serde(default)]
    names: Vec<String>,
    /// Event sources whose successful calls mark the caller as an AI principal.
    #[serde(default)]
    services: Vec<String>,
}

pub(super) struct AiTarget {
    roles: Vec<PathId>,
    users: Vec<PathId>,
    names: Vec<Glob>,
    services: Vec<String>,
}

/// What the target logic made of an activity.
pub(super) enum Judged {
    /// An AI call: learned from, not reported.
    Learned,
    /// An IAM change whose target is no AI principal (or names none).
    NotAi,
    /// An IAM change on an AI principal (`role <name>`, `user <name>`), and why it is one.
    Ai { target: String, why: String },
}

impl AiTarget {
    /// Compiles the table, declaring its paths on the spec's filter for `events`.
    pub(super) fn new(
        p: &AiTargetParams,
        declare: &mut dyn FnMut(JsonPath),
    ) -> Result<Self, (String, String)> {
        let mut ids = |paths: &[String], field: &str| {
            paths
                .iter()
                .map(|t| {
                    let jp =
                        JsonPath::parse(t).map_err(|e| (format!("params.ai_target.{field}"), e))?;
                    let id = jp.id();
                    declare(jp);
                    Ok(id)
                })
                .collect::<Result<Vec<_>, (String, String)>>()
        };
        let roles = ids(&p.roles, "roles")?;
        let users = ids(&p.users, "users")?;
        if roles.is_empty() && users.is_empty() {
            return Err((
                "params.ai_target".into(),
                "name at least one path in roles or users".into(),
            ));
        }
        Ok(AiTarget {
            roles,
            users,
            names: p.names.iter().map(|g| Glob::new(g)).collect(),
            services: p.services.clone(),
        })
    }

    fn is_ai_call(&self, a: &Activity) -> bool {
        a.error_code.is_none() && self.services.iter().any(|s| **s == *a.event_source)
    }

    /// The marker entities `a` reads or writes: the caller's for an AI call, the changed
    /// principals' for an IAM change.
    pub(super) fn entities(&self, a: &Activity, out: &mut Vec<String>) {
        if self.is_ai_call(a) {
            out.extend(caller(a).map(|(acct, kind, name)| marker(acct, kind, name)));
        } else {
            for (kind, name) in self.targets(a) {
                out.push(marker(&a.account, kind, name));
            }
        }
    }

    fn targets<'a>(&'a self, a: &'a Activity) -> impl Iterator<Item = (&'static str, &'a str)> {
        let named = |ids: &'a [PathId], kind: &'static str| {
            ids.iter().flat_map(move |id| {
                a.param(*id)
                    .filter_map(|v| v.as_str())
                    .filter(|n| !n.is_empty())
                    .map(move |n| (kind, n))
            })
        };
        named(&self.roles, "role").chain(named(&self.users, "user"))
    }

    pub(super) fn judge(&self, ctx: &mut Ctx<'_>, a: &Activity) -> Judged {
        if self.is_ai_call(a) {
            if let Some((acct, kind, name)) = caller(a) {
                let state = ctx.others.entry(marker(acct, kind, name)).or_default();
                let used = SeenSet::named(&mut state.seen, USED);
                let fresh = used
                    .values
                    .get(&*a.event_source)
                    .is_some_and(|t| a.time - *t < REFRESH);
                if !fresh {
                    state.touch(a.time);
                    SeenSet::named(&mut state.seen, USED).insert(&a.event_source, a.time);
                }
            }
            return Judged::Learned;
        }
        for (kind, name) in self.targets(a) {
            if let Some(g) = self.names.iter().find(|g| g.is_match(name)) {
                return Judged::Ai {
                    target: format!("{kind} {name}"),
                    why: format!("its name marks it as an AI {kind} (matches {})", g.as_str()),
                };
            }
            let seen = ctx
                .others
                .get(&marker(&a.account, kind, name))
                .and_then(|s| s.seen.get(USED))
                .and_then(|s| s.values.iter().max_by_key(|(_, t)| **t));
            if let Some((service, t)) = seen {
                let day = crate::time::format(*t);
                return Judged::Ai {
                    target: format!("{kind} {name}"),
                    why: format!("the {kind} called {service} (last seen {})", &day[..10]),
                };
            }
        }
        Judged::NotAi
    }
}

fn marker(account: &str, kind: &str, name: &str) -> String {
    crate::concat::concat(&[
        crate::state::AI_MARKER_PREFIX,
        account,
        "/",
        kind,
        "/",
        name,
    ])
}

/// The caller's `(account, role|user, name)`: a role by its name (an assumed-role session or
/// a role key), an IAM user by its name; `None` for roots, services and federated callers.
fn caller(a: &Activity) -> Option<(&str, &'static str, &str)> {
    let key: &str = &a.principal_key;
    let rest = key.strip_prefix("arn:")?;
    let mut f = rest.splitn(5, ':');
    let (_partition, _service, _region, account, resource) =
        (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
    if let Some(r) = resource.strip_prefix("role/") {
        return Some((account, "role", r.rsplit('/').next()?));
    }
    if let Some(r) = resource.strip_prefix("assumed-role/") {
        return Some((account, "role", r.split('/').next()?));
    }
    if let Some(u) = resource.strip_prefix("user/") {
        return Some((account, "user", u.rsplit('/').next()?));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::Source;

    #[test]
    fn callers_are_keyed_by_role_or_user_name_without_path() {
        let who = |key: &str| {
            let a = Activity::new(0, Source::Cloudtrail, key);
            caller(&a).map(|(a, k, n)| format!("{a}/{k}/{n}"))
        };
        assert_eq!(
            who("arn:aws:iam::111122223333:role/service-role/AmazonSageMaker-ExecutionRole-1"),
            Some("111122223333/role/AmazonSageMaker-ExecutionRole-1".into())
        );
        assert_eq!(
            who("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ML_0a/alice@example.com"),
            Some("111122223333/role/AWSReservedSSO_ML_0a".into())
        );
        assert_eq!(
            who("arn:aws:iam::111122223333:user/ops/bob"),
            Some("111122223333/user/bob".into())
        );
        assert_eq!(who("arn:aws:iam::111122223333:root"), None);
        assert_eq!(who("bedrock.amazonaws.com"), None);
    }
}
