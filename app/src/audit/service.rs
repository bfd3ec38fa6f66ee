//! Writing and reading audit records.
use super::types::*;
use crate::common::{Page, PageQuery};
use crate::ctx::{Actor, Ctx};
use crate::entities::audit_log;
use crate::error::AppResult;
use crate::perms::service::authorize_module;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, Set,
};
use serde_json::{json, Value};

/// One audit record to write. Build it with `Entry::new(category, op_type)` and the setters.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub category: &'static str,
    pub op_type: String,
    pub target_type: String,
    pub target_id: Option<i64>,
    pub target_name: String,
    pub module_name: String,
    pub perm_name: String,
    pub action: String,
    pub authorized_target_type: String,
    pub authorized_target_name: String,
    pub detail: Value,
}

impl Entry {
    pub fn new(category: &'static str, op_type: impl Into<String>) -> Self {
        Entry {
            category,
            op_type: op_type.into(),
            detail: json!({}),
            ..Default::default()
        }
    }
    pub fn target(mut self, kind: &str, id: Option<i64>, name: impl Into<String>) -> Self {
        self.target_type = kind.into();
        self.target_id = id;
        self.target_name = name.into();
        self
    }
    /// Before and after values of a change.
    pub fn change(mut self, before: Value, after: Value) -> Self {
        self.detail = json!({ "before": before, "after": after });
        self
    }
    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
    /// A grant (`enable`) or revoke (`disable`) of `perm` to a user or role.
    pub fn grant(mut self, perm: &str, enable: bool, target_type: &str, target_name: &str) -> Self {
        self.perm_name = perm.into();
        self.action = if enable { "enable" } else { "disable" }.into();
        self.authorized_target_type = target_type.into();
        self.authorized_target_name = target_name.into();
        self
    }
}

/// Writes an audit record on `db`, which should be the transaction of the change it records.
pub async fn record<C: ConnectionTrait>(db: &C, actor: &Actor, e: Entry) -> AppResult<()> {
    audit_log::ActiveModel {
        category: Set(e.category.to_string()),
        op_type: Set(e.op_type),
        operator_id: Set((actor.id > 0).then_some(actor.id)),
        operator: Set(actor.username.clone()),
        target_type: Set(e.target_type),
        target_id: Set(e.target_id),
        target_name: Set(e.target_name),
        module_name: Set(e.module_name),
        perm_name: Set(e.perm_name),
        action: Set(e.action),
        authorized_target_type: Set(e.authorized_target_type),
        authorized_target_name: Set(e.authorized_target_name),
        detail: Set(e.detail.to_string()),
        request_id: Set(actor.request_id.clone()),
        ip: Set(actor.ip.clone()),
        op_time: Set(crate::time::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

fn eq_opt(
    q: Select<audit_log::Entity>,
    col: audit_log::Column,
    v: &Option<String>,
) -> Select<audit_log::Entity> {
    match v.as_deref().filter(|s| !s.is_empty()) {
        Some(v) => q.filter(col.eq(v)),
        None => q,
    }
}

fn time_range(
    mut q: Select<audit_log::Entity>,
    gt: &Option<String>,
    lt: &Option<String>,
) -> AppResult<Select<audit_log::Entity>> {
    if let Some(s) = gt.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(audit_log::Column::OpTime.gte(crate::time::parse("op_time__gt", s)?));
    }
    if let Some(s) = lt.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(audit_log::Column::OpTime.lte(crate::time::parse("op_time__lt", s)?));
    }
    Ok(q)
}

async fn page_of<C: ConnectionTrait>(
    db: &C,
    q: Select<audit_log::Entity>,
    page: &PageQuery,
) -> AppResult<Page<audit_log::Model>> {
    let count = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(audit_log::Column::Id)
        .offset(page.offset())
        .limit(page.size())
        .all(db)
        .await?;
    Ok(Page::new(count, page, rows))
}

fn auth_op_query(f: &AuthOpFilter, category: &str) -> AppResult<Select<audit_log::Entity>> {
    use audit_log::Column as C;
    let mut q = audit_log::Entity::find().filter(C::Category.eq(category));
    q = eq_opt(q, C::Operator, &f.operator);
    q = eq_opt(q, C::ModuleName, &f.module_name);
    q = eq_opt(q, C::TargetType, &f.resource_type);
    if let Some(id) = f.resource_id {
        q = q.filter(C::TargetId.eq(id));
    }
    q = eq_opt(q, C::PermName, &f.perm_name);
    q = eq_opt(q, C::Action, &f.action);
    q = eq_opt(q, C::AuthorizedTargetType, &f.authorized_target_type);
    q = eq_opt(q, C::AuthorizedTargetName, &f.authorized_target_name);
    time_range(q, &f.op_time_gt, &f.op_time_lt)
}

/// `GET /audit/authorize-operations/modules/`: module grants and revokes.
pub async fn module_auth_ops(
    ctx: &Ctx,
    actor: &Actor,
    f: AuthOpFilter,
) -> AppResult<Page<ModuleAuthOp>> {
    authorize_module(ctx, actor, "system", "view_audit").await?;
    let page = page_of(&ctx.db, auth_op_query(&f, "module_perm")?, &f.page).await?;
    Ok(page.map(|r| ModuleAuthOp {
        id: r.id,
        operator: r.operator,
        module_name: r.module_name,
        perm_name: r.perm_name,
        action: r.action,
        authorized_target_type: r.authorized_target_type,
        authorized_target_name: r.authorized_target_name,
        op_time: crate::time::fmt(&r.op_time),
    }))
}

/// `GET /audit/authorize-operations/resources/`: resource grants and revokes.
pub async fn resource_auth_ops(
    ctx: &Ctx,
    actor: &Actor,
    f: AuthOpFilter,
) -> AppResult<Page<ResourceAuthOp>> {
    authorize_module(ctx, actor, "system", "view_audit").await?;
    let page = page_of(&ctx.db, auth_op_query(&f, "resource_perm")?, &f.page).await?;
    Ok(page.map(|r| ResourceAuthOp {
        id: r.id,
        operator: r.operator,
        resource: json!({ "id": r.target_id, "name": r.target_name }),
        resource_type: r.target_type,
        resource_id: r.target_id,
        perm_name: r.perm_name,
        action: r.action,
        authorized_target_type: r.authorized_target_type,
        authorized_target_name: r.authorized_target_name,
        op_time: crate::time::fmt(&r.op_time),
    }))
}

/// `GET /audit/logs/`: every audit record, newest first.
pub async fn list(ctx: &Ctx, actor: &Actor, f: AuditFilter) -> AppResult<Page<AuditEntry>> {
    use audit_log::Column as C;
    authorize_module(ctx, actor, "system", "view_audit").await?;
    let mut q = audit_log::Entity::find();
    q = eq_opt(q, C::Category, &f.category);
    q = eq_opt(q, C::OpType, &f.op_type);
    q = eq_opt(q, C::Operator, &f.operator);
    q = eq_opt(q, C::TargetType, &f.target_type);
    if let Some(s) = f.q.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(
            sea_orm::Condition::any()
                .add(C::TargetName.contains(s))
                .add(C::Operator.contains(s))
                .add(C::AuthorizedTargetName.contains(s))
                .add(C::PermName.contains(s)),
        );
    }
    q = time_range(q, &f.op_time_gt, &f.op_time_lt)?;
    let page = page_of(&ctx.db, q, &f.page).await?;
    Ok(page.map(entry))
}

fn entry(r: audit_log::Model) -> AuditEntry {
    let mut detail: Value = serde_json::from_str(&r.detail).unwrap_or(Value::Null);
    if !r.perm_name.is_empty() {
        detail["perm_name"] = json!(r.perm_name);
        detail["action"] = json!(r.action);
        detail["authorized_target"] = json!(format!(
            "{}:{}",
            r.authorized_target_type, r.authorized_target_name
        ));
        if !r.module_name.is_empty() {
            detail["module_name"] = json!(r.module_name);
        }
    }
    AuditEntry {
        id: r.id,
        category: r.category,
        op_type: r.op_type,
        operator: r.operator,
        target_type: r.target_type,
        target_id: r.target_id,
        target_name: r.target_name,
        detail,
        request_id: r.request_id,
        ip: r.ip,
        op_time: crate::time::fmt(&r.op_time),
    }
}

/// `GET /audit/app-operations/` (`category` "app") and `/audit/host-operations/` ("host").
pub async fn object_ops(
    ctx: &Ctx,
    actor: &Actor,
    category: &'static str,
    f: ObjectOpFilter,
) -> AppResult<Page<ObjectOp>> {
    use audit_log::Column as C;
    authorize_module(ctx, actor, "system", "view_audit").await?;
    let mut q = audit_log::Entity::find().filter(C::Category.eq(category));
    q = eq_opt(q, C::Operator, &f.operator);
    let op = f.op_type.as_deref().map(|o| o.replace("deatach", "detach"));
    q = eq_opt(q, C::OpType, &op);
    let name = if category == "app" {
        &f.app_name
    } else {
        &f.hostname
    };
    if let Some(n) = name.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(C::TargetName.contains(n));
    }
    if let Some(d) = f.op_detail.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(C::Detail.contains(d));
    }
    q = time_range(q, &f.op_time_gt, &f.op_time_lt)?;
    let page = page_of(&ctx.db, q, &f.page).await?;
    Ok(page.map(|r| ObjectOp {
        id: r.id,
        app_name: (category == "app").then(|| r.target_name.clone()),
        hostname: (category == "host").then(|| r.target_name.clone()),
        op_type: r.op_type,
        op_detail: r.detail,
        op_time: crate::time::fmt(&r.op_time),
        operator: r.operator,
    }))
}

/// `GET /audit/dns-operations/`: DNS servers, zones and records (`category` "dns"); `op_target`
/// is the target kind (`server`, `domain`, `record`), `op_detail` the human message.
pub async fn dns_ops(
    ctx: &Ctx,
    actor: &Actor,
    f: crate::dns::types::DnsOpFilter,
) -> AppResult<Page<crate::dns::types::DnsOp>> {
    use audit_log::Column as C;
    authorize_module(ctx, actor, "system", "view_audit").await?;
    let mut q = audit_log::Entity::find().filter(C::Category.eq("dns"));
    q = eq_opt(q, C::Operator, &f.operator);
    q = eq_opt(q, C::OpType, &f.op_type);
    q = eq_opt(q, C::TargetType, &f.op_target);
    if let Some(d) = f.op_detail.as_deref().filter(|s| !s.is_empty()) {
        q = q.filter(C::Detail.contains(d));
    }
    q = time_range(q, &f.op_time_gt, &f.op_time_lt)?;
    let page = page_of(&ctx.db, q, &f.page).await?;
    Ok(page.map(|r| {
        let detail: Value = serde_json::from_str(&r.detail).unwrap_or(Value::Null);
        crate::dns::types::DnsOp {
            id: r.id,
            op_target: r.target_type,
            op_type: r.op_type,
            op_detail: detail["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or(r.detail),
            op_time: crate::time::fmt(&r.op_time),
            operator: r.operator,
        }
    }))
}
