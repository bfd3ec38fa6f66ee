//! ANSI colour codes (SGR) of task output as CSS classes; other escape sequences are dropped.

/// Splits `s` into runs of text with the classes of their colour state (`ansi-fg<N>`,
/// `ansi-bold`; empty for plain text).
pub fn ansi_runs(s: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![];
    let (mut fg, mut bold) = (None::<u8>, false);
    let mut buf = String::new();
    let class = |fg: Option<u8>, bold: bool| {
        let mut c = vec![];
        if let Some(n) = fg {
            c.push(format!("ansi-fg{n}"));
        }
        if bold {
            c.push("ansi-bold".to_string());
        }
        c.join(" ")
    };
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch != '\u{1b}' {
            buf.push(ch);
            continue;
        }
        if chars.peek() != Some(&'[') {
            chars.next();
            continue;
        }
        chars.next();
        let mut params = String::new();
        let mut last = None;
        for d in chars.by_ref() {
            if d.is_ascii_digit() || d == ';' {
                params.push(d);
            } else {
                last = Some(d);
                break;
            }
        }
        if last != Some('m') {
            continue;
        }
        if !buf.is_empty() {
            out.push((class(fg, bold), std::mem::take(&mut buf)));
        }
        for p in params.split(';') {
            match p.parse::<u8>().unwrap_or(0) {
                0 => (fg, bold) = (None, false),
                1 => bold = true,
                22 => bold = false,
                n @ 30..=37 => fg = Some(n - 30),
                39 => fg = None,
                n @ 90..=97 => fg = Some(n - 90 + 8),
                _ => {}
            }
        }
    }
    if !buf.is_empty() {
        out.push((class(fg, bold), buf));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_become_classes_and_other_escapes_vanish() {
        let r = ansi_runs("a\u{1b}[32mgreen\u{1b}[0m \u{1b}[1;91mred\u{1b}[m\u{1b}[2Kz");
        assert_eq!(
            r,
            vec![
                ("".into(), "a".into()),
                ("ansi-fg2".into(), "green".into()),
                ("".into(), " ".into()),
                ("ansi-fg9 ansi-bold".into(), "red".into()),
                ("".into(), "z".into()),
            ]
        );
        assert_eq!(ansi_runs("plain\n"), vec![("".into(), "plain\n".into())]);
        assert_eq!(ansi_runs("\u{1b}[31"), vec![]);
    }
}
