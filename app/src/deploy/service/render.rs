//! Deploy scripts are Jinja templates (minijinja), rendered per instance with a documented
//! context (docs/api.md, "Deploy scripts"). Every value a script prints is quoted for its
//! language (shell: single quotes; python: a literal), so an application's fields cannot
//! inject commands; `| raw` prints a value as it is, `| shell` quotes explicitly. Undefined
//! names are errors; rendering has a fuel budget (no endless loops) and at most 1 MB of output.
//! A script that does not parse or render is refused when saved, with its line.
use crate::error::{AppError, AppResult};
use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::json;
use std::io::Write;

/// Instructions one render may run.
const FUEL: u64 = 100_000;
/// Most bytes a render may produce.
const MAX_OUTPUT: usize = 1 << 20;

/// Shell single quotes.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn python_literal(v: &Value) -> String {
    if v.is_none() || v.is_undefined() {
        return "None".into();
    }
    if let Some(b) = v.as_str() {
        return serde_json::to_string(b).unwrap_or_default();
    }
    match v.kind() {
        minijinja::value::ValueKind::Bool => {
            if v.is_true() {
                "True".into()
            } else {
                "False".into()
            }
        }
        minijinja::value::ValueKind::Number => v.to_string(),
        _ => serde_json::to_string(&v.to_string()).unwrap_or_default(),
    }
}

fn env(language: &str) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    let python = language == "python";
    env.set_formatter(move |out, _state, v| {
        let text = if v.is_safe() {
            v.to_string()
        } else if python {
            python_literal(v)
        } else {
            shell_quote(&v.to_string())
        };
        out.write_str(&text)
            .map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "output failed"))
    });
    env.add_filter("shell", |v: String| {
        Value::from_safe_string(shell_quote(&v))
    });
    env.add_filter("raw", |v: Value| Value::from_safe_string(v.to_string()));
    env
}

/// A writer that refuses more than `MAX_OUTPUT` bytes.
struct Capped(Vec<u8>);

impl Write for Capped {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + b.len() > MAX_OUTPUT {
            return Err(std::io::Error::other("too long"));
        }
        self.0.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn error(e: minijinja::Error) -> AppError {
    let at = e.line().map(|l| format!("line {l}: ")).unwrap_or_default();
    let what = match e.kind() {
        minijinja::ErrorKind::WriteFailure => "the script renders to more than 1 MB".to_string(),
        minijinja::ErrorKind::OutOfFuel => "the script runs too long (a loop too big?)".to_string(),
        _ => e
            .detail()
            .map(str::to_string)
            .unwrap_or_else(|| e.kind().to_string()),
    };
    AppError::invalid("content", format!("{at}{what}"))
}

/// Renders a script of `language` (`bash` or `python`) with a context.
pub fn render(language: &str, content: &str, ctx: &serde_json::Value) -> AppResult<String> {
    let env = env(language);
    let t = env.template_from_str(content).map_err(error)?;
    let mut out = Capped(Vec::new());
    t.render_captured_to(ctx, &mut out).map_err(error)?;
    String::from_utf8(out.0).map_err(|_| AppError::invalid("content", "not UTF-8"))
}

/// Renders off the runtime's threads (rendering is bounded, but not free).
pub async fn render_blocking(
    language: String,
    content: String,
    ctx: serde_json::Value,
) -> AppResult<String> {
    tokio::task::spawn_blocking(move || render(&language, &content, &ctx))
        .await
        .map_err(AppError::internal)?
}

/// A context with every name a script may use, for checking scripts when they are saved.
pub fn sample_context() -> serde_json::Value {
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
pub async fn check(language: &str, content: &str) -> AppResult<()> {
    render_blocking(language.into(), content.into(), sample_context())
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_and_errors_have_lines() {
        let c = sample_context();
        let out = render(
            "bash",
            "cd {{ deploy.release_path }}\necho {{ version | raw }}",
            &c,
        )
        .unwrap();
        assert_eq!(out, "cd '/srv/app/releases/1.0.1'\necho 1.0.1");
        let evil = json!({"application": {"directory": "/x'; rm -rf / #"}});
        assert_eq!(
            render("bash", "cd {{ application.directory }}", &evil).unwrap(),
            "cd '/x'\\''; rm -rf / #'"
        );
        assert_eq!(
            render("bash", "{{ x | shell }}", &json!({"x": "a'b"})).unwrap(),
            "'a'\\''b'"
        );
        assert_eq!(
            render(
                "python",
                "p = {{ x }}; n = {{ n }}; b = {{ b }}",
                &json!({"x": "a\"b", "n": 5, "b": true})
            )
            .unwrap(),
            "p = \"a\\\"b\"; n = 5; b = True"
        );
        let e = render("bash", "echo ok\n{% if version %}\necho x\n", &c).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("content"));
        assert!(e.message.contains("line"), "{}", e.message);
        let e = render("bash", "echo {{ nosuch.thing }}", &c).unwrap_err();
        assert!(e.message.starts_with("line 1"), "{}", e.message);
        let e = render(
            "bash",
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            &c,
        )
        .unwrap_err();
        assert!(e.message.contains("too long"), "{}", e.message);
        let e = render(
            "bash",
            "{% for a in range(2000) %}{{ 'x' * 1000 }}{% endfor %}",
            &c,
        )
        .unwrap_err();
        assert!(e.message.contains("1 MB"), "{}", e.message);
    }
}
