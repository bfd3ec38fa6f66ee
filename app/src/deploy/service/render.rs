//! Deploy scripts are Jinja templates (minijinja: strict undefined, no auto-escaping), rendered
//! per instance with a documented context (docs/api.md, "Deploy scripts"). `shell` quotes a
//! value for the shell. A script that does not parse, or names something the context lacks, is
//! refused when saved, with its line.
use crate::error::{AppError, AppResult};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{json, Value};

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("shell", |v: String| -> String {
        format!("'{}'", v.replace('\'', "'\\''"))
    });
    env
}

fn error(e: minijinja::Error) -> AppError {
    let at = e.line().map(|l| format!("line {l}: ")).unwrap_or_default();
    let what = e
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| e.kind().to_string());
    AppError::invalid("content", format!("{at}{what}"))
}

/// Renders a script with a context.
pub fn render(content: &str, ctx: &Value) -> AppResult<String> {
    let env = env();
    let t = env.template_from_str(content).map_err(error)?;
    t.render(ctx).map_err(error)
}

/// A context with every name a script may use, for checking scripts when they are saved.
pub fn sample_context() -> Value {
    json!({
        "application": {"id": 1, "name": "app", "full_name": "line.app", "run_user": "work",
            "directory": "/srv/app", "startup_cmd": "./start", "stop_cmd": "./stop",
            "stdout_path": "/srv/app/logs/out.log", "stderr_path": "/srv/app/logs/err.log",
            "pid_path": "/srv/app/app.pid"},
        "instance": {"id": 1, "status": "running", "version": "1.0.0"},
        "host": {"id": 1, "name": "host-1", "address": "10.0.0.1", "os_type": "debian-12",
            "location": "dc-1"},
        "version": "1.0.1",
        "previous_version": "1.0.0",
        "task": {"id": 1, "sub_task_id": 1, "kind": "deploy_upgrade", "level": "B",
            "description": "", "creator": "admin"},
        "deploy": {"path": "/srv/app", "release_path": "/srv/app/releases/1.0.1",
            "current_path": "/srv/app/current", "running_user": "work", "keep_backups": 5},
    })
}

/// Checks a script: it parses and renders against the full sample context.
pub fn check(content: &str) -> AppResult<()> {
    render(content, &sample_context()).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_refuses_with_the_line() {
        let out = render(
            "cd {{ deploy.release_path | shell }}\necho {{ version }}",
            &sample_context(),
        )
        .unwrap();
        assert_eq!(out, "cd '/srv/app/releases/1.0.1'\necho 1.0.1");
        let e = check("echo ok\n{% if version %}\necho x\n").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("content"));
        assert!(e.message.contains("line"), "{}", e.message);
        let e = check("echo {{ nosuch.thing }}").unwrap_err();
        assert!(e.message.starts_with("line 1"), "{}", e.message);
        assert_eq!(
            render("{{ x | shell }}", &json!({"x": "a'b"})).unwrap(),
            "'a'\\''b'"
        );
    }
}
