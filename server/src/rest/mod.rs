//! The JSON API under `/api/`: thin adapters over the services, with the seed's paths.
//! Routes are mounted through `crate::api::Api`, which documents them as it mounts them.
pub mod applications;
pub mod audit;
pub mod auth;
pub mod bulk;
pub mod certs;
pub mod dashboard;
pub mod deploy;
pub mod dns;
pub mod hosts;
pub mod hosttasks;
pub mod perms;
pub mod productions;
pub mod requests;
pub mod roles;
pub mod tasks;
pub mod tokens;
pub mod users;

use crate::api::Api;

/// Every REST route, documented.
pub fn api() -> Api {
    let api = Api::default();
    let api = auth::routes(api);
    let api = users::routes(api);
    let api = roles::routes(api);
    let api = perms::routes(api);
    let api = productions::routes(api);
    let api = applications::routes(api);
    let api = bulk::routes(api);
    let api = certs::routes(api);
    let api = dashboard::routes(api);
    let api = dns::routes(api);
    let api = hosts::routes(api);
    let api = tokens::routes(api);
    let api = requests::routes(api);
    let api = tasks::routes(api);
    let api = hosttasks::routes(api);
    let api = deploy::routes(api);
    audit::routes(api)
}
