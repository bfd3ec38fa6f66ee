//! Database schema migrations. Applied migrations are never edited: add a new one.
pub use sea_orm_migration::prelude::*;

mod cols;

mod m20261127_000001_foundation;
mod m20261128_000001_resources;
mod m20261128_000002_applications;
mod m20261128_000003_hosts;
mod m20261128_000004_host_search;
mod m20261128_000005_imports;
mod m20261128_000006_list_speed;
mod m20261202_000001_approvals_dns;
mod m20261202_000003_certs;
mod m20261202_000004_bench_indexes;
mod m20261202_000005_cert_key_holders;
mod m20261202_000006_dns_failed;
mod m20261202_000007_change_notify;
mod m20261203_000001_exec;
mod m20261203_000002_power;
mod m20261203_000003_user_keys;
mod m20261203_000004_deploy_config;
mod m20261203_000005_deploy_tasks;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_foundation::Migration),
            Box::new(m20261128_000001_resources::Migration),
            Box::new(m20261128_000002_applications::Migration),
            Box::new(m20261128_000003_hosts::Migration),
            Box::new(m20261128_000004_host_search::Migration),
            Box::new(m20261128_000005_imports::Migration),
            Box::new(m20261128_000006_list_speed::Migration),
            Box::new(m20261202_000001_approvals_dns::Migration),
            Box::new(m20261202_000003_certs::Migration),
            Box::new(m20261202_000004_bench_indexes::Migration),
            Box::new(m20261202_000005_cert_key_holders::Migration),
            Box::new(m20261202_000006_dns_failed::Migration),
            Box::new(m20261202_000007_change_notify::Migration),
            Box::new(m20261203_000001_exec::Migration),
            Box::new(m20261203_000002_power::Migration),
            Box::new(m20261203_000003_user_keys::Migration),
            Box::new(m20261203_000004_deploy_config::Migration),
            Box::new(m20261203_000005_deploy_tasks::Migration),
        ]
    }
}
