//! Column, key and index helpers for migrations written from issue 10 on (earlier migrations
//! keep their own copies: applied migrations are not edited).
use sea_orm_migration::prelude::*;

pub fn col(name: &str) -> ColumnDef {
    ColumnDef::new(Alias::new(name))
}
pub fn id() -> ColumnDef {
    let mut c = col("id");
    c.big_integer().not_null().auto_increment().primary_key();
    c
}
pub fn text(name: &str) -> ColumnDef {
    let mut c = col(name);
    c.text().not_null();
    c
}
pub fn text_null(name: &str) -> ColumnDef {
    let mut c = col(name);
    c.text().null();
    c
}
pub fn big(name: &str) -> ColumnDef {
    let mut c = col(name);
    c.big_integer().not_null();
    c
}
pub fn big_null(name: &str) -> ColumnDef {
    let mut c = col(name);
    c.big_integer().null();
    c
}
pub fn int(name: &str, default: i32) -> ColumnDef {
    let mut c = col(name);
    c.integer().not_null().default(default);
    c
}
pub fn int_null(name: &str) -> ColumnDef {
    let mut c = col(name);
    c.integer().null();
    c
}
pub fn time(name: &str) -> ColumnDef {
    let mut c = col(name);
    c.timestamp_with_time_zone().not_null();
    c
}
pub fn time_null(name: &str) -> ColumnDef {
    let mut c = col(name);
    c.timestamp_with_time_zone().null();
    c
}
pub fn fk(
    table: &str,
    column: &str,
    to: &str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Alias::new(table), Alias::new(column))
        .to(Alias::new(to), Alias::new("id"))
        .on_delete(on_delete)
        .to_owned()
}
pub async fn index(
    m: &SchemaManager<'_>,
    table: &str,
    name: &str,
    cols: &[&str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut i = Index::create();
    i.name(name).table(Alias::new(table));
    for c in cols {
        i.col(Alias::new(*c));
    }
    if unique {
        i.unique();
    }
    m.create_index(i.to_owned()).await
}
