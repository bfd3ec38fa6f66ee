//! UI text in English and Chinese. The language lives in the `opsdeck_lang` cookie, read on the
//! server for the first render and in the browser when hydrating, so both render the same text.
use leptos::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }
    pub fn from_code(s: &str) -> Lang {
        if s.starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }
}

/// (key, English, Chinese).
const TEXT: &[(&str, &str, &str)] = &[
    ("app.name", "Opsdeck", "Opsdeck 运维平台"),
    ("nav.dashboard", "Dashboard", "概览"),
    ("nav.users", "Users", "用户"),
    ("nav.roles", "Roles", "角色"),
    ("nav.audit", "Audit log", "审计日志"),
    ("nav.explain", "Why can…?", "权限溯源"),
    ("hosts.ip", "IP addresses", "IP 地址"),
    ("hosts.type", "Host type", "主机类型"),
    ("hosts.os_status", "OS status", "系统状态"),
    ("hosts.location", "Location", "位置"),
    ("hosts.columns", "Columns", "显示列"),
    ("apps.search", "Search applications (name, path, description)", "搜索应用（名称、路径、描述）"),
    ("apps.full_name", "Full name", "完整路径"),
    ("apps.type", "Type", "类型"),
    ("apps.no_line", "No product line", "无产品线"),
    ("apps.new", "New application", "新建应用"),
    ("apps.parent", "Parent (full name, optional)", "父应用（完整路径，可选）"),
    ("apps.run_user", "Run user", "运行用户"),
    ("apps.directory", "Directory", "目录"),
    ("apps.startup_cmd", "Start command", "启动命令"),
    ("apps.stop_cmd", "Stop command", "停止命令"),
    ("apps.confirm_force", "Delete anyway? Dependency links and instances go with it.", "仍要删除？依赖关系和实例将一并删除。"),
    ("apps.force_delete", "Delete anyway", "强制删除"),
    ("apps.dependencies", "Dependencies", "依赖关系"),
    ("apps.children", "Child applications", "子应用"),
    ("apps.instances", "Instances", "实例"),
    ("apps.owners", "Response persons", "负责人"),
    ("apps.host", "Host", "主机"),
    ("apps.version", "Version", "版本"),
    ("apps.detach", "Detach", "解除"),
    ("apps.confirm_detach", "Remove this instance?", "删除此实例？"),
    ("apps.attach_on", "Attach an instance on host", "在主机上添加实例"),
    ("apps.attach", "Attach", "添加"),
    ("apps.depends_on", "Depends on (full name)", "依赖于（完整路径）"),
    ("apps.no_dependencies", "No dependencies either way.", "没有依赖关系。"),
    ("apps.hidden", "not visible to you", "你不可见"),
    ("apps.graph_truncated", "The picture is cut short; the full lists are in the API.", "图已截断；完整列表见 API。"),
    ("apps.what_depends", "What depends on this", "依赖此应用的"),
    ("apps.nothing_depends", "Nothing depends on this application.", "没有应用依赖此应用。"),
    ("apps.steps", "step(s) away", "层"),
    ("common.edit", "Edit", "编辑"),
    ("dash.none", "Nothing to show yet", "暂无数据"),
    ("dash.instances", "Instances", "实例"),
    ("dash.hosts_by_type", "Hosts by type", "按类型的主机"),
    ("dash.hosts_by_status", "Hosts by status", "按状态的主机"),
    ("dash.apps_by_production", "Applications per product line", "各产品线的应用"),
    ("bulk.title", "Import / export CSV", "导入 / 导出 CSV"),
    ("bulk.export", "Export CSV", "导出 CSV"),
    ("bulk.export_hint", "the rows of the current filter that you may see", "当前筛选下你可见的行"),
    ("bulk.file", "CSV file (same columns as the export)", "CSV 文件（列与导出相同）"),
    ("bulk.all_or_nothing", "All or nothing: import nothing if any row is refused", "全部或不导入：任一行被拒绝则不导入"),
    ("bulk.import", "Import", "导入"),
    ("bulk.created", "created", "新增"),
    ("bulk.updated", "updated", "更新"),
    ("bulk.unchanged", "unchanged", "未变"),
    ("bulk.refused", "refused", "拒绝"),
    ("bulk.line", "Line", "行号"),
    ("bulk.field", "Field", "字段"),
    ("bulk.problem", "Problem", "问题"),
    ("task.title", "Task", "任务"),
    ("nav.ssh_keys", "My SSH keys", "我的 SSH 公钥"),
    ("keys.hint", "Host init installs these keys on the hosts you may log in to.", "主机初始化时会把这些公钥安装到您有登录权限的主机上。"),
    ("keys.public", "Public key (one OpenSSH line)", "公钥（一行 OpenSSH 格式）"),
    ("keys.add", "Add key", "添加公钥"),
    ("keys.fingerprint", "Fingerprint", "指纹"),
    ("task.init", "Init", "初始化"),
    ("task.zabbix_groups", "Zabbix groups (comma separated)", "Zabbix 主机组（逗号分隔）"),
    ("task.zabbix_templates", "Zabbix templates (comma separated)", "Zabbix 模板（逗号分隔）"),
    ("task.zabbix_save", "Save Zabbix settings", "保存 Zabbix 配置"),
    ("task.saved", "Saved", "已保存"),
    ("task.all", "All host tasks", "全部主机任务"),
    ("task.host_tasks", "Host tasks", "主机任务"),
    ("task.creator", "Creator", "创建者"),
    ("task.created", "Created", "创建时间"),
    ("task.finished", "Finished", "结束时间"),
    ("task.error", "Error", "错误"),
    ("task.cancel", "Cancel task", "取消任务"),
    ("deploy.tasks", "Deploy tasks", "发布任务"),
    ("deploy.task", "Deploy task", "发布任务"),
    ("deploy.new_task", "New deploy task", "新建发布任务"),
    ("deploy.mine", "Mine", "我的"),
    ("deploy.inbox", "Waiting for me", "待我审批"),
    ("deploy.application", "Application", "应用"),
    ("deploy.pick_app", "Choose an application", "请选择应用"),
    ("deploy.version", "Version", "版本"),
    ("deploy.level", "Level", "级别"),
    ("deploy.level_hint", "Levels S and A need two approvers.", "S、A 级任务需要两人审批。"),
    ("deploy.approvals", "Approvals", "审批"),
    ("deploy.planned", "Planned time", "计划发布时间"),
    ("deploy.description", "Description", "上线描述"),
    ("deploy.source", "Package", "发布包"),
    ("deploy.source_hint", "artifact:<id> of a package uploaded to Opsdeck (POST /api/application/artifacts/?filename=…), or an http(s) URL.", "已上传到 Opsdeck 的发布包 artifact:<id>（POST /api/application/artifacts/?filename=…），或 http(s) 地址。"),
    ("deploy.checklist", "Checklist", "上线 checklist"),
    ("deploy.steps", "Upgrade steps", "更新步骤"),
    ("deploy.rollback", "Rollback steps", "回滚步骤"),
    ("deploy.file", "File for approval", "提交审批"),
    ("deploy.start", "Start", "开始发布"),
    ("deploy.confirm_start", "Start this deploy task?", "开始这个发布任务？"),
    ("deploy.close", "Close", "关闭任务"),
    ("deploy.confirm_close", "Close this deploy task?", "关闭这个发布任务？"),
    ("deploy.delegate", "Delegate", "委托"),
    ("deploy.delegate_to", "User id", "被委托人用户 ID"),
    ("deploy.instances", "Instances", "实例"),
    ("deploy.kept", "Kept versions", "保留版本"),
    ("deploy.upgrade", "Upgrade selected", "更新所选实例"),
    ("deploy.confirm_upgrade", "Upgrade the selected instances?", "更新所选实例？"),
    ("deploy.revert", "Revert selected", "回滚所选实例"),
    ("deploy.revert_to", "Revert to…", "回滚到…"),
    ("deploy.confirm_revert", "Revert the selected instances?", "回滚所选实例？"),
    ("deploy.concurrency", "At once", "并发数"),
    ("deploy.sub_tasks", "Sub-tasks", "子任务"),
    ("deploy.sub_task", "Sub-task", "子任务"),
    ("deploy.kind", "Kind", "类型"),
    ("deploy.log", "Log", "日志"),
    ("deploy.log_type", "Log type", "日志类型"),
    ("deploy.follow", "Follow", "实时跟踪"),
    ("nav.deploy", "Deploys", "发布"),
    ("deploy.scripts", "Deploy scripts", "发布脚本"),
    ("deploy.templates", "Deploy templates", "发布模板"),
    ("deploy.settings", "Deploy settings", "发布配置"),
    ("deploy.language", "Language", "语言"),
    ("deploy.content", "Script (Jinja)", "脚本（Jinja）"),
    ("deploy.jinja_hint", "Values print quoted for the script's language; | raw prints them as they are. Names: application, instance, host, version, previous_version, task, deploy.", "变量按脚本语言自动加引号；| raw 原样输出。可用变量：application、instance、host、version、previous_version、task、deploy。"),
    ("deploy.new_script", "New script", "新建脚本"),
    ("deploy.edit_script", "Edit script", "编辑脚本"),
    ("deploy.new_template", "New template", "新建模板"),
    ("deploy.edit_template", "Edit template", "编辑模板"),
    ("deploy.confirm_delete", "Delete it?", "确定删除？"),
    ("deploy.repository", "Repository", "代码仓库"),
    ("deploy.branch", "Branch", "分支"),
    ("deploy.deploy_path", "Deploy path", "发布路径"),
    ("deploy.running_user", "Running user", "运行用户"),
    ("deploy.timeout", "Step timeout (s)", "步骤超时（秒）"),
    ("deploy.keep_backups", "Releases kept", "保留版本数"),
    ("deploy.hooks_user", "Hooks run as", "钩子运行用户"),
    ("deploy.applications", "Applications (ids)", "应用（ID）"),
    ("deploy.linked", "Deploys with the template", "使用发布模板"),
    ("deploy.enabled", "Deploys enabled", "启用发布"),
    ("deploy.preview", "Preview", "预览"),
    ("deploy.no_hooks", "No hooks configured.", "未配置钩子脚本。"),
    ("deploy.hook", "Hook", "钩子"),
    ("status.deploying", "Deploying", "发布中"),
    ("task.host", "Host", "主机"),
    ("task.hosts", "Hosts", "主机"),
    ("task.step", "Step", "步骤"),
    ("task.exit", "Exit code", "退出码"),
    ("task.progress", "Progress", "进度"),
    ("task.start", "Start", "启动"),
    ("task.stop", "Stop", "停止"),
    ("task.restart", "Restart", "重启"),
    ("task.selected", "Selected hosts", "已选主机"),
    ("task.force", "Force", "强制"),
    ("task.change_status", "Change status…", "更改状态…"),
    ("task.select_all", "Select all on this page", "选择本页全部"),
    ("hosts.search", "Search name, description, IP prefix", "搜索主机名、描述、IP 前缀"),
    ("hosts.new", "New host", "新建主机"),
    ("hosts.ips_hint", "IP addresses, one per line: 10.0.0.5/24", "IP 地址，每行一个：10.0.0.5/24"),
    ("perms.via_role", "role", "角色"),
    ("nav.api", "API reference", "API 文档"),
    ("perms.resources", "Resource permissions", "资源权限"),
    ("perms.rtype.application", "Applications", "应用"),
    ("perms.rtype.host", "Hosts", "主机"),
    ("perms.rtype.business", "Product lines", "业务线"),
    ("perms.resource_id", "Resource id", "资源 ID"),
    ("perms.grant", "Grant", "授权"),
    ("perms.revoke_all", "Revoke all", "全部撤销"),
    ("perms.why", "Why can…?", "权限溯源"),
    ("perms.why_hint", "Ask why a user may (or may not) do something: a module (module:dns) or a resource (application:5, host:3, business:2) and a permission.", "查询用户为何拥有（或没有）某项权限：模块（module:dns）或资源（application:5、host:3、business:2）及权限名。"),
    ("perms.allowed", "Allowed", "允许"),
    ("perms.denied", "Not allowed", "不允许"),
    ("perms.ask", "Explain", "查询"),
    ("nav.tokens", "API tokens", "API 令牌"),
    ("nav.password", "Change password", "修改密码"),
    ("nav.logout", "Log out", "退出登录"),
    ("nav.admin", "Administration", "系统管理"),
    ("nav.account", "My account", "我的账户"),
    ("module.resource_request", "Resource requests", "资源申请"),
    ("module.application", "Applications", "应用管理"),
    ("module.dns", "DNS", "DNS 管理"),
    ("module.host", "Hosts", "主机管理"),
    ("module.business", "Product lines", "业务管理"),
    ("module.navigator", "Navigators", "第三方导航"),
    ("module.common_tools", "Common tools", "常用工具"),
    ("module.deploy_template", "Deploy templates", "发布模板"),
    ("module.system", "System", "系统管理"),
    ("login.title", "Sign in to Opsdeck", "登录 Opsdeck"),
    ("login.username", "Username", "用户名"),
    ("login.password", "Password", "密码"),
    ("login.submit", "Sign in", "登录"),
    ("login.forgot", "Forgot password?", "忘记密码？"),
    ("forgot.title", "Reset your password", "重置密码"),
    (
        "forgot.hint",
        "Enter your username or e-mail; we mail a link that works once, for one hour.",
        "输入用户名或邮箱，我们会发送一个一小时内有效的一次性链接。",
    ),
    ("forgot.submit", "Send reset link", "发送重置链接"),
    (
        "forgot.sent",
        "If the account exists and has an e-mail address, a link is on its way.",
        "如果账户存在且设置了邮箱，重置链接已发送。",
    ),
    ("reset.title", "Choose a new password", "设置新密码"),
    (
        "reset.done",
        "Password changed. You can sign in now.",
        "密码已修改，请重新登录。",
    ),
    ("pw.original", "Current password", "原密码"),
    ("pw.new", "New password", "新密码"),
    ("pw.changed", "Password changed.", "密码已修改。"),
    ("common.email", "E-mail", "邮箱"),
    ("common.phone", "Phone", "手机号码"),
    ("common.display_name", "Display name", "显示名"),
    ("common.status", "Status", "状态"),
    ("common.roles", "Roles", "角色"),
    ("common.actions", "Actions", "操作"),
    ("common.search", "Search", "搜索"),
    ("common.all", "All", "全部"),
    ("common.enabled", "enabled", "已启用"),
    ("common.disabled", "disabled", "已禁用"),
    ("common.enable", "Enable", "启用"),
    ("common.disable", "Disable", "禁用"),
    ("common.save", "Save", "保存"),
    ("common.saved", "Saved.", "已保存。"),
    ("common.create", "Create", "创建"),
    ("common.delete", "Delete", "删除"),
    ("common.remove", "Remove", "移除"),
    ("common.add", "Add", "添加"),
    ("common.name", "Name", "名称"),
    ("common.description", "Description", "描述"),
    ("common.created", "Created", "创建时间"),
    ("common.loading", "Loading…", "加载中…"),
    ("common.prev", "Previous", "上一页"),
    ("common.next", "Next", "下一页"),
    ("common.total", "total", "共计"),
    ("common.page", "Page", "第"),
    (
        "common.confirm_delete",
        "Delete this? This cannot be undone.",
        "确定删除吗？此操作不可撤销。",
    ),
    ("common.none", "Nothing here yet.", "暂无数据。"),
    ("common.last_login", "Last login", "最近登录"),
    ("common.open", "Open", "打开"),
    ("users.new", "New user", "新建用户"),
    ("users.profile", "Profile", "基本信息"),
    ("users.add_role", "Add to role", "加入角色"),
    ("users.password_optional", "Password (superusers only; leave empty to mail the user a link)", "密码（仅超级管理员；留空则向用户发送设置密码的链接）"),
    ("users.current_password", "Your current password (needed to change your e-mail)", "当前密码（修改邮箱时需要）"),
    ("roles.new", "New role", "新建角色"),
    ("roles.members", "Members", "成员"),
    (
        "roles.add_member",
        "Add member (username)",
        "添加成员（用户名）",
    ),
    ("roles.builtin", "built-in", "内置"),
    ("perms.modules", "Module permissions", "模块权限"),
    ("perms.effective", "Effective permissions", "有效权限"),
    (
        "perms.explain_hint",
        "Every permission this user holds and the grant it comes from.",
        "该用户拥有的每项权限及其来源。",
    ),
    ("perms.object", "Object", "对象"),
    ("perms.perm", "Permission", "权限"),
    ("perms.source", "Granted by", "来源"),
    (
        "perms.superuser",
        "Superuser: holds every permission.",
        "超级管理员：拥有全部权限。",
    ),
    ("perms.direct", "direct grant", "直接授权"),
    ("audit.category", "Category", "类别"),
    ("audit.operation", "Operation", "操作"),
    ("audit.operator", "Operator", "操作人"),
    ("audit.target", "Target", "对象"),
    ("audit.detail", "Detail", "详情"),
    ("audit.time", "Time", "时间"),
    ("audit.from", "From", "开始"),
    ("audit.to", "To", "结束"),
    ("tokens.new", "New token", "新建令牌"),
    ("tokens.prefix", "Prefix", "前缀"),
    (
        "tokens.expires",
        "Expires in days (empty: never)",
        "有效天数（留空为永久）",
    ),
    ("tokens.expires_at", "Expires", "过期时间"),
    ("tokens.last_used", "Last used", "最近使用"),
    (
        "tokens.copy_once",
        "Copy this token now: it will not be shown again.",
        "请立即复制此令牌：它不会再次显示。",
    ),
    ("tokens.copy", "Copy", "复制"),
    ("tokens.copied", "Copied", "已复制"),
    ("dash.welcome", "Welcome", "欢迎"),
    ("dash.modules", "Your modules", "您可用的模块"),
    (
        "dash.no_modules",
        "You have no module permissions yet. Ask an administrator.",
        "您还没有任何模块权限，请联系管理员。",
    ),
    (
        "module.home_hint",
        "Your permissions in this module:",
        "您在此模块中的权限：",
    ),
    (
        "module.coming",
        "The pages of this module arrive with its own release; its permissions already apply.",
        "此模块的页面将随其版本发布；其权限现已生效。",
    ),
    // Resource requests and approvals.
    ("common.cancel", "Cancel", "取消"),
    ("status.wait_review", "Waiting for review", "待审批"),
    ("status.approved", "Approved", "已批准"),
    ("status.finished", "Finished", "已完成"),
    ("status.rejected", "Rejected", "已驳回"),
    ("status.closed", "Closed", "已关闭"),
    ("status.unknown", "Unknown", "未知"),
    ("timeline.filed", "Filed", "提交申请"),
    ("timeline.edited", "Edited", "修改申请"),
    ("timeline.approved", "Approved", "批准"),
    ("timeline.rejected", "Rejected", "驳回"),
    ("timeline.closed", "Closed", "关闭"),
    ("timeline.fulfilment_started", "Fulfilment started", "开始交付"),
    ("timeline.fulfilment_failed", "Fulfilment failed", "交付失败"),
    ("timeline.fulfilled", "Fulfilled", "交付完成"),
    ("timeline.finished", "Finished", "已完成"),
    ("timeline.other", "Event", "事件"),
    ("timeline.cancelled", "Cancelled", "已取消"),
    ("timeline.started", "Started", "开始发布"),
    ("timeline.delegated", "Delegated", "委托"),
    ("timeline.upgrade", "Upgrade", "更新"),
    ("timeline.revert", "Revert", "回滚"),
    ("requests.cancel", "Give up", "取消交付"),
    ("requests.cancel_title", "Give up this approved request", "放弃此已批准的申请"),
    ("approvals.no_decisions", "No decisions yet.", "尚无审批意见。"),
    ("approvals.approver", "Approver", "审批人"),
    ("approvals.decision", "Decision", "审批结果"),
    ("approvals.reason", "Reason", "理由"),
    ("approvals.approve", "Approve", "批准"),
    ("approvals.reject", "Reject", "驳回"),
    ("approvals.reject_title", "Reject this request", "驳回此申请"),
    ("approvals.confirm_approve", "Approve this request? Approved requests are fulfilled at once.", "确定批准此申请吗？批准后将立即交付。"),
    ("approvals.decisions", "Decisions", "审批意见"),
    ("approvals.timeline", "Timeline", "处理记录"),
    ("requests.inbox_badge", "Requests waiting for your decision", "等待您审批的申请"),
    ("requests.kind", "Kind of request", "申请类型"),
    ("requests.kind.host", "Host request", "主机申请"),
    ("requests.kind.domain", "Domain request", "域名申请"),
    ("requests.kind.ssl", "SSL certificate request", "SSL 证书申请"),
    ("requests.new", "New request", "新建申请"),
    ("requests.new_host", "Request hosts", "申请主机"),
    ("requests.new_domain", "Request DNS records", "申请域名"),
    ("requests.new_ssl", "Request an SSL certificate", "申请 SSL 证书"),
    ("requests.view", "Which requests", "申请范围"),
    ("requests.mine", "My requests", "我的申请"),
    ("requests.inbox", "Inbox", "待我审批"),
    ("requests.all", "All", "全部"),
    ("requests.creator", "Requester", "申请人"),
    ("requests.what", "Asked for", "申请内容"),
    ("requests.approvals", "Approvals", "批准数"),
    ("requests.updated", "Updated", "更新时间"),
    ("requests.purpose", "Purpose", "用途"),
    ("requests.delivery_days", "Deliver within (days)", "期望交付天数"),
    ("requests.never_expires", "Never expires", "永不过期"),
    ("requests.expiration", "Expires on", "到期日期"),
    ("requests.login_users", "Users who may log in", "可登录用户"),
    ("requests.apps", "Associated applications", "关联应用"),
    ("requests.cert_domain", "Certificate domain", "证书域名"),
    ("requests.cert_type", "Certificate type", "证书类型"),
    ("requests.cert_normal", "Normal: this name only", "普通：仅此域名"),
    ("requests.cert_wizard", "Wildcard: the name and every name directly under it", "通配符：此域名及其下一级所有域名"),
    ("requests.cert_covers", "The certificate will cover:", "证书将包含："),
    ("requests.submit", "Submit request", "提交申请"),
    ("requests.hosts", "Hosts", "主机"),
    ("requests.cpu", "CPU cores", "CPU 核数"),
    ("requests.mem", "Memory (MB)", "内存（MB）"),
    ("requests.storage", "Storage (MB)", "存储（MB）"),
    ("requests.os", "Operating system", "操作系统"),
    ("requests.remove_row", "Remove row", "删除行"),
    ("requests.add_host", "Add a host", "添加主机"),
    ("requests.records", "DNS records", "DNS 记录"),
    ("requests.records_hint", "Full names (www.example.com); each must lie in a zone Opsdeck manages.", "填写完整域名（如 www.example.com），须位于 Opsdeck 管理的区域内。"),
    ("requests.ttl", "TTL (seconds)", "TTL（秒）"),
    ("requests.add_record", "Add a record", "添加记录"),
    ("requests.close", "Withdraw", "撤回申请"),
    ("requests.confirm_close", "Withdraw this request?", "确定撤回此申请吗？"),
    ("requests.deliver", "Mark hosts delivered", "标记主机已交付"),
    ("requests.confirm_deliver", "Mark the registered hosts delivered and finish the request?", "确认主机已交付并完成此申请吗？"),
    ("requests.registered_hosts", "Registered hosts", "已登记主机"),
    ("dns.type", "Type", "类型"),
    ("dns.search_services", "Search services by name", "按名称搜索服务"),
    ("dns.endpoint", "Endpoint", "接入地址"),
    ("dns.endpoint_pdns", "PowerDNS API URL", "PowerDNS API 地址"),
    ("dns.endpoint_bind", "BIND server (host:port)", "BIND 服务器（主机:端口）"),
    ("dns.connection", "Connection", "连接"),
    ("dns.test", "Test connection", "测试连接"),
    ("dns.test_ok", "Answers", "连接正常"),
    ("dns.test_failed", "Failed", "连接失败"),
    ("dns.new_service", "New DNS service", "新建 DNS 服务"),
    ("dns.api_key", "API key (write-only)", "API 密钥（只写）"),
    ("dns.server_id", "Server id", "服务器 ID"),
    ("dns.tsig_key_name", "TSIG key name", "TSIG 密钥名"),
    ("dns.tsig_algorithm", "TSIG algorithm", "TSIG 算法"),
    ("dns.tsig_secret", "TSIG secret (base64, write-only)", "TSIG 密钥（base64，只写）"),
    ("dns.zones", "Zones", "域名区域"),
    ("dns.zone", "Zone", "区域"),
    ("dns.search_zones", "Search zones", "搜索区域"),
    ("dns.add_zone", "Add zone", "添加区域"),
    ("dns.adopt", "Adopt the zone the server already serves", "接管服务器上已有的区域"),
    ("dns.push_state", "Push state", "同步状态"),
    ("dns.pending", "pending", "待同步"),
    ("dns.synced", "synced", "已同步"),
    ("dns.failed", "refused by the server", "服务器拒绝"),
    ("dns.failed_hint", "records the server refused; edit the set to retry", "服务器拒绝的记录；修改该记录集后重试"),
    ("dns.push_failing", "push failing", "同步失败"),
    ("dns.push_error", "The DNS server refused or did not answer the last push; changes wait and are retried:", "DNS 服务器拒绝或未响应上次同步，变更将保留并重试："),
    ("dns.pending_hint", "change(s) wait for the DNS server.", "项变更等待同步到 DNS 服务器。"),
    ("dns.records", "Records", "解析记录"),
    ("dns.drift", "Drift", "差异检查"),
    ("dns.filter_name", "Name contains", "名称包含"),
    ("dns.filter_value", "Value contains", "记录值包含"),
    ("dns.add_record", "Add record", "添加记录"),
    ("dns.drift_hint", "Compares Opsdeck's records with what the DNS server serves, per name and type.", "按名称和类型比较 Opsdeck 的记录与 DNS 服务器实际提供的记录。"),
    ("dns.check_drift", "Check now", "立即检查"),
    ("dns.no_drift", "The server serves exactly Opsdeck's records.", "服务器与 Opsdeck 的记录一致。"),
    ("dns.ours", "Opsdeck", "Opsdeck"),
    ("dns.theirs", "DNS server", "DNS 服务器"),
    ("dns.absent", "none", "无"),
    ("dns.push_ours", "Push ours", "推送本地"),
    ("dns.adopt_theirs", "Adopt theirs", "采用服务器"),
    ("dns.value", "Value", "记录值"),
    ("dns.priority", "Priority", "优先级"),
    ("certs.certificate", "Certificate", "证书"),
    ("nav.certificates", "Certificates", "证书"),
    ("certs.title", "Certificates", "证书"),
    ("certs.ca_hint", "Certificates issued by Opsdeck chain to its own CA; install its certificate as trusted.", "Opsdeck 签发的证书由其自有 CA 签名；请将 CA 证书安装为受信任证书。"),
    ("certs.ca_download", "Download the CA certificate", "下载 CA 证书"),
    ("certs.search", "Search by name (example.com)", "按域名搜索（example.com）"),
    ("certs.expiring", "Expires within days", "到期天数"),
    ("certs.names", "Names", "域名"),
    ("certs.expires", "Expires", "到期时间"),
    ("certs.days_left", "Days left", "剩余天数"),
    ("certs.days", "days", "天"),
    ("certs.issuer", "Issuer", "颁发者"),
    ("certs.owner", "Owner", "所有者"),
    ("certs.request", "Request", "申请单"),
    ("certs.download", "Download", "下载"),
    ("certs.dl_cert", "Certificate", "证书"),
    ("certs.dl_chain", "Chain", "证书链"),
    ("certs.dl_fullchain", "Full chain", "完整链"),
    ("certs.dl_key", "Private key", "私钥"),
    ("certs.upload", "Upload a certificate", "上传证书"),
    ("certs.cert_pem", "Certificate (PEM)", "证书（PEM）"),
    ("certs.chain_pem", "Chain (PEM, optional)", "证书链（PEM，可选）"),
    ("certs.key_pem", "Private key (PEM, optional)", "私钥（PEM，可选）"),
    ("certs.serial", "Serial number", "序列号"),
    ("certs.valid_from", "Valid from", "生效时间"),
    ("certs.source", "Source", "来源"),
    ("certs.source_ca", "Issued by Opsdeck's CA", "由 Opsdeck CA 签发"),
    ("certs.source_upload", "Uploaded", "上传"),
    ("certs.key", "Private key", "私钥"),
    ("certs.key_none", "Not held by Opsdeck", "Opsdeck 未保存"),
    ("certs.key_yours", "Held; you may download it", "已保存，您可以下载"),
    ("certs.key_not_yours", "Held; only its owners download it", "已保存，仅所有者可下载"),
    ("theme.toggle", "Toggle dark mode", "切换深色模式"),
    ("lang.switch", "中文", "English"),
    (
        "error.forbidden",
        "You do not have permission to see this.",
        "您没有权限查看此内容。",
    ),
];

/// The text key of a module's name.
pub fn module_key(name: &str) -> &'static str {
    match name {
        "resource_request" => "module.resource_request",
        "application" => "module.application",
        "dns" => "module.dns",
        "host" => "module.host",
        "business" => "module.business",
        "navigator" => "module.navigator",
        "common_tools" => "module.common_tools",
        "deploy_template" => "module.deploy_template",
        _ => "module.system",
    }
}

/// The text for `key` in `lang` (the key itself when missing, so gaps are visible).
pub fn text(lang: Lang, key: &'static str) -> &'static str {
    TEXT.iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, en, zh)| if lang == Lang::Zh { *zh } else { *en })
        .unwrap_or(key)
}

/// The language signal provided by the app root.
pub fn use_lang() -> RwSignal<Lang> {
    use_context::<RwSignal<Lang>>().unwrap_or_else(|| RwSignal::new(Lang::En))
}

/// A reactive translation: `{t("nav.users")}` in a view.
pub fn t(key: &'static str) -> impl Fn() -> &'static str + Clone + Send + Sync + 'static {
    let lang = use_lang();
    move || text(lang.get(), key)
}

/// Reads a cookie from the current request (server) or `document.cookie` (browser).
pub fn read_cookie(name: &str) -> Option<String> {
    let all: Option<String> = {
        #[cfg(feature = "ssr")]
        {
            use_context::<axum::http::request::Parts>().and_then(|p| {
                p.headers
                    .get(axum::http::header::COOKIE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            })
        }
        #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
        {
            use wasm_bindgen::JsCast;
            web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.dyn_into::<web_sys::HtmlDocument>().ok())
                .and_then(|d| d.cookie().ok())
        }
        #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
        {
            None
        }
    };
    all?.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// Sets a long-lived cookie in the browser (language, theme).
pub fn write_cookie(_name: &str, _value: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(d) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.dyn_into::<web_sys::HtmlDocument>().ok())
        {
            let _ = d.set_cookie(&format!(
                "{_name}={_value}; path=/; max-age=31536000; samesite=lax"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn every_key_has_both_languages_and_no_duplicates() {
        let mut seen = std::collections::HashSet::new();
        for (k, en, zh) in TEXT {
            assert!(seen.insert(k), "duplicate key {k}");
            assert!(!en.is_empty() && !zh.is_empty(), "missing text for {k}");
        }
        assert_eq!(text(Lang::Zh, "nav.users"), "用户");
    }

    fn sources(dir: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(std::fs::read_to_string(&p).unwrap());
            }
        }
    }

    #[test]
    fn every_key_used_in_the_ui_exists() {
        let mut files = vec![];
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut missing = vec![];
        for f in &files {
            for (i, _) in f.match_indices("t(\"") {
                // Only calls of `t(` itself, not e.g. `format!(` or `set(`.
                let before = f[..i].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &f[i + 3..];
                let key = &rest[..rest.find('"').unwrap()];
                if key.contains('.') && !TEXT.iter().any(|(k, _, _)| *k == key) {
                    missing.push(key.to_string());
                }
            }
        }
        assert!(
            missing.is_empty(),
            "UI text keys without a translation: {missing:?}"
        );
        assert_eq!(text(Lang::En, "missing.key"), "missing.key");
    }
}
